"""
Snapshots of a session's state, as the Python API returns them and the HTTP
API serializes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted_ice.addresses import Path


class SessionLimitError(Exception):
    """
    The session manager has as many sessions as it may hold, so it creates
    no more until some close.
    """


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """
    The state of one media stream at one moment.

    @ivar mid: The media id from the offer.
    @ivar state: C{new}, C{checking}, C{connected}, C{completed},
        C{disconnected} or C{closed}.
    @ivar selected: The nominated path, or L{None} before any nomination.
    @ivar packets_dropped: Packets the stream's handler sent that had no path
        to leave on.
    """

    mid: str
    state: str
    selected: Path | None = None
    packets_received: int = 0
    packets_sent: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    packets_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        """
        Return the stream as the HTTP API writes it.
        """
        selected = None
        if self.selected is not None:
            selected = {
                "transport": str(self.selected.transport),
                "address": self.selected.remote[0],
                "port": self.selected.remote[1],
            }
        return {
            "mid": self.mid,
            "state": self.state,
            "selected": selected,
            "packets_received": self.packets_received,
            "packets_sent": self.packets_sent,
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
            "packets_dropped": self.packets_dropped,
        }


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """
    The state of one ICE session at one moment.

    @ivar id: The session id, used in the API's C{/sessions/{id}} location.
    @ivar answer: The SDP answer, which carries the session's ICE passwords:
        hand it to the client and never log it.
    @ivar state: The session's ICE state, with the same names as a stream's.
    """

    id: str
    answer: str
    state: str
    streams: tuple[StreamInfo, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """
        Return the session as C{GET /sessions/{id}} writes it, without the
        answer.
        """
        return {
            "id": self.id,
            "state": self.state,
            "streams": [stream.to_json() for stream in self.streams],
        }
