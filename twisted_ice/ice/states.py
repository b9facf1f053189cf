"""
The states of an ICE stream and session, and the stream's transition table.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class IceState(enum.StrEnum):
    """
    The state of a stream or a session of the lite agent.
    """

    NEW = "new"
    CHECKING = "checking"
    CONNECTED = "connected"
    COMPLETED = "completed"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


class StreamInput(enum.Enum):
    """
    An input to the stream state machine.

    @cvar CHECK_PASSED: A check with the current credentials passed.
    @cvar NOMINATED: A check with the current credentials passed and
        nominated its path, or arrived on the selected path.
    @cvar PREVIOUS_CHECK_PASSED: A check with the credentials before an ICE
        restart passed (with or without nomination).
    @cvar CONSENT_EXPIRED: No check passed for the consent timeout.
    @cvar RESTARTED: An ICE restart issued new local credentials.
    @cvar SELECTED_PATH_CLOSED: The TCP or TLS connection of the nominated
        component-1 path closed, and other valid paths remain.
    @cvar LAST_PATH_CLOSED: The TCP or TLS connection of the stream's last
        valid path closed.
    @cvar CLOSED: The session was closed.
    """

    CHECK_PASSED = enum.auto()
    NOMINATED = enum.auto()
    PREVIOUS_CHECK_PASSED = enum.auto()
    CONSENT_EXPIRED = enum.auto()
    RESTARTED = enum.auto()
    SELECTED_PATH_CLOSED = enum.auto()
    LAST_PATH_CLOSED = enum.auto()
    CLOSED = enum.auto()


class InvalidTransitionError(Exception):
    """
    A stream input that its current state has no transition for: a bug in
    the agent, never a reaction to network input.
    """

    def __init__(self, state: IceState, stream_input: StreamInput) -> None:
        super().__init__(f"no transition from {state.value} on {stream_input.name}")
        self.state = state
        self.stream_input = stream_input


_S = IceState
_I = StreamInput

STREAM_TRANSITIONS: dict[tuple[IceState, StreamInput], IceState] = {
    (_S.NEW, _I.CHECK_PASSED): _S.CONNECTED,
    (_S.NEW, _I.NOMINATED): _S.COMPLETED,
    (_S.NEW, _I.RESTARTED): _S.CHECKING,
    (_S.NEW, _I.CLOSED): _S.CLOSED,
    (_S.CHECKING, _I.CHECK_PASSED): _S.CONNECTED,
    (_S.CHECKING, _I.NOMINATED): _S.COMPLETED,
    (_S.CHECKING, _I.PREVIOUS_CHECK_PASSED): _S.CHECKING,
    (_S.CHECKING, _I.CONSENT_EXPIRED): _S.DISCONNECTED,
    (_S.CHECKING, _I.RESTARTED): _S.CHECKING,
    (_S.CHECKING, _I.SELECTED_PATH_CLOSED): _S.CHECKING,
    (_S.CHECKING, _I.LAST_PATH_CLOSED): _S.DISCONNECTED,
    (_S.CHECKING, _I.CLOSED): _S.CLOSED,
    (_S.CONNECTED, _I.CHECK_PASSED): _S.CONNECTED,
    (_S.CONNECTED, _I.NOMINATED): _S.COMPLETED,
    (_S.CONNECTED, _I.PREVIOUS_CHECK_PASSED): _S.CONNECTED,
    (_S.CONNECTED, _I.CONSENT_EXPIRED): _S.DISCONNECTED,
    (_S.CONNECTED, _I.RESTARTED): _S.CHECKING,
    # A connected stream can still have a selected path: one nominated
    # before consent expired and revived by a check on another path.
    (_S.CONNECTED, _I.SELECTED_PATH_CLOSED): _S.CONNECTED,
    (_S.CONNECTED, _I.LAST_PATH_CLOSED): _S.DISCONNECTED,
    (_S.CONNECTED, _I.CLOSED): _S.CLOSED,
    # A check without USE-CANDIDATE leaves the nomination in place.
    (_S.COMPLETED, _I.CHECK_PASSED): _S.COMPLETED,
    (_S.COMPLETED, _I.NOMINATED): _S.COMPLETED,
    (_S.COMPLETED, _I.PREVIOUS_CHECK_PASSED): _S.COMPLETED,
    (_S.COMPLETED, _I.CONSENT_EXPIRED): _S.DISCONNECTED,
    (_S.COMPLETED, _I.RESTARTED): _S.CHECKING,
    # Without its nominated path the stream has valid paths but no
    # selection, which is what connected means, until the client nominates
    # again.
    (_S.COMPLETED, _I.SELECTED_PATH_CLOSED): _S.CONNECTED,
    (_S.COMPLETED, _I.LAST_PATH_CLOSED): _S.DISCONNECTED,
    (_S.COMPLETED, _I.CLOSED): _S.CLOSED,
    # A passed check after consent expired is fresh consent: the stream
    # revives.
    (_S.DISCONNECTED, _I.CHECK_PASSED): _S.CONNECTED,
    (_S.DISCONNECTED, _I.NOMINATED): _S.COMPLETED,
    (_S.DISCONNECTED, _I.PREVIOUS_CHECK_PASSED): _S.CONNECTED,
    (_S.DISCONNECTED, _I.RESTARTED): _S.CHECKING,
    (_S.DISCONNECTED, _I.CLOSED): _S.CLOSED,
}
"""
The stream state machine: C{(state, input) -> next state}. A consent timer
runs only once a check has passed, so C{new} has no C{CONSENT_EXPIRED} row, and
C{closed} has no rows at all. A stream whose last valid path closed is
C{disconnected}, as if its consent had expired; C{new} and C{disconnected}
streams have no valid path, so they have no C{*_PATH_CLOSED} rows.
"""


def next_stream_state(state: IceState, stream_input: StreamInput) -> IceState:
    """
    Return the state a stream in C{state} moves to on C{stream_input}.

    @raise InvalidTransitionError: The table has no such pair.
    """
    try:
        return STREAM_TRANSITIONS[state, stream_input]
    except KeyError:
        raise InvalidTransitionError(state, stream_input) from None


def session_state(stream_states: Iterable[IceState]) -> IceState:
    """
    Derive a session's state from the states of its streams: C{disconnected}
    if any stream is, C{completed} if all are, C{connected} if all are
    connected or completed, C{new} if all are new (or there are none), and
    C{checking} otherwise. A closed session is C{closed} whatever its streams.
    """
    states = set(stream_states)
    if IceState.DISCONNECTED in states:
        return IceState.DISCONNECTED
    if not states or states == {IceState.NEW}:
        return IceState.NEW
    if states == {IceState.COMPLETED}:
        return IceState.COMPLETED
    if states <= {IceState.CONNECTED, IceState.COMPLETED}:
        return IceState.CONNECTED
    return IceState.CHECKING
