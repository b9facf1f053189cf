"""
Log observers for C{twistd --logger}.

C{twistd -n --logger twisted_ice.log.json_logger mcs-ice ...} writes one
JSON object a line to standard output, with every field of each event: the
C{event} field names the lifecycle events (C{session.created},
C{allocation.deleted}, C{reload.done}, ...) that C{docs/operations.md}
lists.
"""

from __future__ import annotations

import sys

from twisted.logger import ILogObserver, jsonFileLogObserver


def json_logger() -> ILogObserver:
    """
    Return an observer that writes JSON lines to standard output.
    """
    # No RFC 7464 record separator: plain JSON lines, as log shippers expect.
    return jsonFileLogObserver(sys.stdout, recordSeparator="")
