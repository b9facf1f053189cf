"""
The C{twistd mcs-ice} options and the service tree they build.
"""

from __future__ import annotations

from twisted.application.service import IService, MultiService
from twisted.python import usage


class Options(usage.Options):
    """
    Command-line options of C{twistd mcs-ice}.
    """

    optParameters = [
        # --- UDP mux and STUN ---------------------------------------------
        ["interface", None, "", "Address to listen on (default: all addresses)."],
        ["udp-port", None, "9000", "UDP port for ICE, STUN and TURN.", int],
        # --- ICE and the session API --------------------------------------
        # --- TURN ----------------------------------------------------------
    ]


def makeService(options: Options) -> IService:
    """
    Build the service tree for C{options}.
    """
    service = MultiService()
    return service
