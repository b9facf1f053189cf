"""
A sans-I/O TURN server (RFC 8656) with long-term credentials (RFC 8489
section 9.2): allocations, permissions, channel bindings, relaying and their
timers. It never does I/O; L{twisted_ice.transport.turn} is its adapter.
"""

from twisted_ice.turn import channeldata
from twisted_ice.turn.config import (
    CHANNEL_COOLDOWN,
    CHANNEL_LIFETIME,
    PERMISSION_LIFETIME,
    RESERVATION_LIFETIME,
    RETRANSMISSION_WINDOW,
    TurnConfig,
)
from twisted_ice.turn.core import TurnCore
from twisted_ice.turn.events import (
    AllocationCreated,
    AllocationDeleted,
    DeletionReason,
    NeedKeys,
    SendToClient,
    SendToPeer,
    TurnAction,
)
from twisted_ice.turn.methods import address_family
from twisted_ice.turn.nat import RelayNat
from twisted_ice.turn.policy import PeerPolicy, PeerRule
from twisted_ice.turn.states import InvalidTransitionError

__all__ = [
    "CHANNEL_COOLDOWN",
    "CHANNEL_LIFETIME",
    "PERMISSION_LIFETIME",
    "RESERVATION_LIFETIME",
    "RETRANSMISSION_WINDOW",
    "AllocationCreated",
    "AllocationDeleted",
    "DeletionReason",
    "InvalidTransitionError",
    "NeedKeys",
    "PeerPolicy",
    "PeerRule",
    "RelayNat",
    "SendToClient",
    "SendToPeer",
    "TurnAction",
    "TurnConfig",
    "TurnCore",
    "address_family",
    "channeldata",
]
