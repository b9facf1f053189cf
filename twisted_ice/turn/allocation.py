"""
The records of the TURN core: allocations, permissions, channel bindings and
port reservations. They hold state only; L{twisted_ice.turn.TurnCore} changes
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted_ice.addresses import Address, Path
from twisted_ice.turn.states import AllocationState, ChannelState, PermissionState
from twisted_ice.turn.timers import Timed


@dataclass(slots=True, eq=False)
class Permission(Timed):
    """
    A permission for one peer IP address (RFC 8656 section 9).

    @ivar allocation: The allocation it belongs to.
    @ivar host: The peer IP address, in canonical text form.
    @ivar any_port: Every port of C{host} may be reached.
    @ivar ports: When not C{any_port}, the ports that may be reached.
    @ivar state: A L{PermissionState}.
    """

    allocation: Allocation = field(kw_only=True)
    host: str = field(kw_only=True)
    any_port: bool = field(kw_only=True)
    ports: frozenset[int] = field(kw_only=True)
    state: PermissionState = field(default=PermissionState.ACTIVE, kw_only=True)


@dataclass(slots=True, eq=False)
class Channel(Timed):
    """
    A channel binding (RFC 8656 section 12). C{due} is the binding's expiry
    while bound, and the end of the cooldown after it.

    @ivar allocation: The allocation it belongs to.
    @ivar number: The channel number, 0x4000 to 0x4FFF.
    @ivar header: The channel number as the first 2 bytes of ChannelData.
    @ivar peer: The peer transport address.
    @ivar relay: The relayed address that sends to the peer.
    @ivar target: The address the relay sends to: C{peer}, or the private
        address of an own ICE address behind the relay's 1:1 NAT.
    @ivar expires: When the binding expires.
    @ivar state: A L{ChannelState}.
    """

    allocation: Allocation = field(kw_only=True)
    number: int = field(kw_only=True)
    header: bytes = field(kw_only=True)
    peer: Address = field(kw_only=True)
    relay: Address = field(kw_only=True)
    target: Address = field(kw_only=True)
    expires: float = field(kw_only=True)
    state: ChannelState = field(default=ChannelState.BOUND, kw_only=True)


@dataclass(slots=True, eq=False)
class Reservation(Timed):
    """
    A port held for a RESERVATION-TOKEN (RFC 8656 section 7.2).

    @ivar token: The 8-byte token.
    @ivar address: The held relay address.
    @ivar family: Its address family.
    """

    token: bytes = field(kw_only=True)
    address: Address = field(kw_only=True)
    family: int = field(kw_only=True)


@dataclass(slots=True, eq=False)
class Allocation(Timed):
    """
    An allocation (RFC 8656 section 6), keyed by the client's 5-tuple. C{due}
    is its expiry.

    @ivar path: The client's 5-tuple.
    @ivar username: The USERNAME that created it; later requests must use it.
    @ivar transaction_id: The transaction id of the Allocate request.
    @ivar response: The encoded success response, sent again to a
        retransmission of the Allocate.
    @ivar relays: The relayed addresses by address family.
    @ivar stream: The client reached us over TCP or TLS, so ChannelData to it
        is padded.
    @ivar permissions: Permissions by peer IP address.
    @ivar channels: Channel bindings by number.
    @ivar channels_by_peer: The same channel bindings by peer address.
    @ivar state: An L{AllocationState}.
    """

    path: Path = field(kw_only=True)
    username: str = field(kw_only=True)
    transaction_id: bytes = field(kw_only=True)
    relays: dict[int, Address] = field(kw_only=True)
    stream: bool = field(kw_only=True)
    response: bytes = field(default=b"", kw_only=True)
    permissions: dict[str, Permission] = field(default_factory=dict, kw_only=True)
    channels: dict[int, Channel] = field(default_factory=dict, kw_only=True)
    channels_by_peer: dict[Address, Channel] = field(default_factory=dict, kw_only=True)
    state: AllocationState = field(default=AllocationState.ACTIVE, kw_only=True)
