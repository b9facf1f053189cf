"""
The states of allocations, permissions and channel bindings, as transition
tables: C{(state, input) -> next state}. A pair that is not in a table is a
bug in the caller and raises L{InvalidTransitionError}.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar


class AllocationState(enum.Enum):
    """
    The state of an allocation (RFC 8656 section 6).
    """

    ACTIVE = "active"
    DELETED = "deleted"


class AllocationInput(enum.Enum):
    """
    The inputs of the allocation table.
    """

    REFRESH = "refresh"
    DELETE = "delete"
    EXPIRE = "expire"
    CLOSE = "close"


ALLOCATION_TRANSITIONS: Mapping[
    tuple[AllocationState, AllocationInput], AllocationState
] = {
    (AllocationState.ACTIVE, AllocationInput.REFRESH): AllocationState.ACTIVE,
    (AllocationState.ACTIVE, AllocationInput.DELETE): AllocationState.DELETED,
    (AllocationState.ACTIVE, AllocationInput.EXPIRE): AllocationState.DELETED,
    (AllocationState.ACTIVE, AllocationInput.CLOSE): AllocationState.DELETED,
}
"""
An allocation is refreshed while active; a Refresh with LIFETIME 0, its
lifetime running out, or its TCP connection closing deletes it.
"""


class PermissionState(enum.Enum):
    """
    The state of a permission (RFC 8656 section 9).
    """

    ACTIVE = "active"
    EXPIRED = "expired"


class PermissionInput(enum.Enum):
    """
    The inputs of the permission table.
    """

    REFRESH = "refresh"
    EXPIRE = "expire"


PERMISSION_TRANSITIONS: Mapping[
    tuple[PermissionState, PermissionInput], PermissionState
] = {
    (PermissionState.ACTIVE, PermissionInput.REFRESH): PermissionState.ACTIVE,
    (PermissionState.ACTIVE, PermissionInput.EXPIRE): PermissionState.EXPIRED,
}
"""
A permission is refreshed by CreatePermission or ChannelBind while active. An
expired permission is removed; a later CreatePermission installs a new one.
"""


class ChannelState(enum.Enum):
    """
    The state of a channel binding (RFC 8656 section 12).
    """

    BOUND = "bound"
    COOLING = "cooling"
    RELEASED = "released"


class ChannelInput(enum.Enum):
    """
    The inputs of the channel binding table.
    """

    BIND = "bind"
    EXPIRE = "expire"
    COOLDOWN_END = "cooldown end"


CHANNEL_TRANSITIONS: Mapping[tuple[ChannelState, ChannelInput], ChannelState] = {
    (ChannelState.BOUND, ChannelInput.BIND): ChannelState.BOUND,
    (ChannelState.BOUND, ChannelInput.EXPIRE): ChannelState.COOLING,
    (ChannelState.COOLING, ChannelInput.BIND): ChannelState.BOUND,
    (ChannelState.COOLING, ChannelInput.COOLDOWN_END): ChannelState.RELEASED,
}
"""
A bound channel relays data and is refreshed by a ChannelBind of the same
number and peer. When it expires it relays nothing, but for 5 more minutes its
number and peer can be bound only to each other again (RFC 8656 section 12);
then it is released.
"""


class InvalidTransitionError(LookupError):
    """
    An input that the transition table has no row for in the current state.

    @ivar state: The current state.
    @ivar event: The input.
    """

    def __init__(self, state: enum.Enum, event: enum.Enum) -> None:
        super().__init__(f"no transition from {state.name} on {event.name}")
        self.state = state
        self.event = event


_State = TypeVar("_State", bound=enum.Enum)
_Input = TypeVar("_Input", bound=enum.Enum)


def transition(
    table: Mapping[tuple[_State, _Input], _State], state: _State, event: _Input
) -> _State:
    """
    Return the state that C{event} leads to from C{state} in C{table}.

    @raise InvalidTransitionError: The table has no row for the pair.
    """
    try:
        return table[state, event]
    except KeyError:
        raise InvalidTransitionError(state, event) from None
