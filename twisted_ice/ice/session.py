"""
The sessions and streams of the lite agent.

The agent owns and changes them; the adapter reads them, sets C{handler} and
increments the media counters.
"""

from __future__ import annotations

from typing import Any

from twisted_ice.addresses import Path
from twisted_ice.ice.candidates import Candidate
from twisted_ice.ice.credentials import Credentials
from twisted_ice.ice.states import IceState, StreamInput, next_stream_state

LIVE_STATES = frozenset({IceState.CHECKING, IceState.CONNECTED, IceState.COMPLETED})
"""
The states in which consent is live and media may be sent on C{selected}.
"""


class Stream:
    """
    One ICE transport of a session: a BUNDLE group or an unbundled m-line.

    @ivar mid: The first mid of its m-lines, or L{None} when they have none.
    @ivar credentials: The current local and remote credentials.
    @ivar previous_credentials: The credentials before an ICE restart, still
        accepted until a check with the new ones passes, or L{None}.
    @ivar selected: The nominated component-1 path, or L{None}.
    @ivar selected_rtcp: The nominated component-2 path, or L{None}.
    @ivar valid_paths: Each path that passed a check while consent was live,
        with its component.
    @ivar last_check: The C{now} of the last passed check, or L{None}.
    @ivar handler: An opaque slot for the adapter's media handler.
    """

    __slots__ = (
        "session",
        "mids",
        "credentials",
        "previous_credentials",
        "rtcp_mux",
        "state",
        "selected",
        "selected_rtcp",
        "valid_paths",
        "last_check",
        "consent_scheduled",
        "packets_received",
        "packets_sent",
        "bytes_received",
        "bytes_sent",
        "handler",
    )

    def __init__(
        self,
        session: Session,
        mids: tuple[str, ...],
        credentials: Credentials,
        rtcp_mux: bool,
    ) -> None:
        self.session = session
        self.mids = mids
        self.credentials = credentials
        self.previous_credentials: Credentials | None = None
        self.rtcp_mux = rtcp_mux
        self.state = IceState.NEW
        self.selected: Path | None = None
        self.selected_rtcp: Path | None = None
        self.valid_paths: dict[Path, int] = {}
        self.last_check: float | None = None
        # The deadline of this stream's entry in the agent's consent heap, or
        # None when it has none.
        self.consent_scheduled: float | None = None
        self.packets_received = 0
        self.packets_sent = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.handler: Any = None

    @property
    def mid(self) -> str | None:
        """
        The first mid of this stream's m-lines, or L{None}.
        """
        return self.mids[0] if self.mids else None

    @property
    def local_ufrag(self) -> str:
        """
        The current local ice-ufrag.
        """
        return self.credentials.local_ufrag

    @property
    def local_pwd(self) -> str:
        """
        The current local ice-pwd.
        """
        return self.credentials.local_pwd

    @property
    def remote_ufrag(self) -> str:
        """
        The offer's ice-ufrag.
        """
        return self.credentials.remote_ufrag

    @property
    def remote_pwd(self) -> str:
        """
        The offer's ice-pwd.
        """
        return self.credentials.remote_pwd

    @property
    def components(self) -> int:
        """
        The number of components: 1 with rtcp-mux, else 2 (RTP and RTCP).
        """
        return 1 if self.rtcp_mux else 2

    @property
    def send_path(self) -> Path | None:
        """
        The path to send media on: C{selected} while consent is live on it,
        else L{None} (RFC 7675 section 5.1: no sending without consent).
        """
        selected = self.selected
        if selected is None or self.state not in LIVE_STATES:
            return None
        # Consent expiry clears valid_paths, a closed TCP or TLS connection
        # removes its path, and only a passed check on the path adds it back.
        return selected if selected in self.valid_paths else None

    def apply(self, stream_input: StreamInput) -> IceState:
        """
        Move to the next state by the transition table and return the old
        state.

        @raise twisted_ice.ice.states.InvalidTransitionError: The table has no
            row for the current state and C{stream_input}.
        """
        old = self.state
        self.state = next_stream_state(old, stream_input)
        return old

    def to_json(self) -> dict[str, Any]:
        """
        Describe this stream for the session API.
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
            "mids": list(self.mids),
            "state": str(self.state),
            "selected": selected,
            "packets_received": self.packets_received,
            "packets_sent": self.packets_sent,
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
        }


class Session:
    """
    The ICE side of one client's offer/answer exchange.

    @ivar id: A random, URL-safe identifier.
    @ivar answer: The SDP answer to send to the client.
    @ivar streams: The streams, in the order of their first m-line.
    @ivar created: The C{now} at which the session was created.
    @ivar candidates: The candidates advertised in C{answer}.
    @ivar fingerprint: The fingerprint given at creation, reused on restart.
    @ivar origin_id: The session id of the answer's C{o=} line.
    @ivar version: The session version of the answer's C{o=} line.
    """

    __slots__ = (
        "id",
        "answer",
        "streams",
        "state",
        "created",
        "candidates",
        "fingerprint",
        "origin_id",
        "version",
    )

    def __init__(
        self,
        session_id: str,
        created: float,
        candidates: tuple[Candidate, ...],
        fingerprint: str | None,
        origin_id: int,
    ) -> None:
        self.id = session_id
        self.answer = ""
        self.streams: tuple[Stream, ...] = ()
        self.state = IceState.NEW
        self.created = created
        self.candidates = candidates
        self.fingerprint = fingerprint
        self.origin_id = origin_id
        self.version = 1

    def to_json(self) -> dict[str, Any]:
        """
        Describe this session for the session API.
        """
        return {
            "id": self.id,
            "state": str(self.state),
            "streams": [stream.to_json() for stream in self.streams],
        }
