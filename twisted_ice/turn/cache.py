"""
The responses to authenticated requests, kept so that a retransmission gets
the same bytes (RFC 8656 section 7.2, RFC 8489 section 6.3.1).
"""

from __future__ import annotations

from collections import OrderedDict

from twisted_ice.addresses import Path
from twisted_ice.turn.config import RETRANSMISSION_WINDOW


class ResponseCache:
    """
    Encoded responses by client path and transaction id, kept for 40 s and at
    most C{max_entries} of them (the oldest is dropped first).
    """

    def __init__(self, max_entries: int, window: float = RETRANSMISSION_WINDOW) -> None:
        self._max_entries = max_entries
        self._window = window
        self._entries: OrderedDict[tuple[Path, bytes], tuple[float, int, bytes]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, path: Path, transaction_id: bytes, method: int, now: float
    ) -> bytes | None:
        """
        Return the response sent to the request C{transaction_id} of
        C{method} on C{path} within the last 40 s, or L{None}.
        """
        entry = self._entries.get((path, transaction_id))
        if entry is None:
            return None
        expires, cached_method, data = entry
        if expires <= now or cached_method != method:
            return None
        return data

    def put(
        self, path: Path, transaction_id: bytes, method: int, data: bytes, now: float
    ) -> None:
        """
        Keep the response C{data} to a request.
        """
        entries = self._entries
        key = (path, transaction_id)
        entries.pop(key, None)
        entries[key] = (now + self._window, method, data)
        # Entries are in insertion order, so the expired ones are first.
        while entries:
            oldest_expires = next(iter(entries.values()))[0]
            if len(entries) <= self._max_entries and oldest_expires > now:
                break
            entries.popitem(last=False)
