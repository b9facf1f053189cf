"""
The allocation table of the TURN core: allocations by client path and by
relayed address, with their permissions, channel bindings, reservations and
timers. It changes state on request and decides nothing about the protocol.
"""

from __future__ import annotations

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.interfaces import IRelayAllocator
from twisted_ice.turn.allocation import Allocation, Channel, Permission, Reservation
from twisted_ice.turn.config import (
    CHANNEL_COOLDOWN,
    CHANNEL_LIFETIME,
    PERMISSION_LIFETIME,
    RESERVATION_LIFETIME,
)
from twisted_ice.turn.events import AllocationDeleted, DeletionReason, TurnAction
from twisted_ice.turn.policy import PeerRule
from twisted_ice.turn.states import (
    ALLOCATION_TRANSITIONS,
    CHANNEL_TRANSITIONS,
    PERMISSION_TRANSITIONS,
    AllocationInput,
    ChannelInput,
    ChannelState,
    PermissionInput,
    transition,
)
from twisted_ice.turn.timers import DeadlineHeap

_DELETION_INPUTS = {
    DeletionReason.REFRESH: AllocationInput.DELETE,
    DeletionReason.EXPIRED: AllocationInput.EXPIRE,
    DeletionReason.PATH_CLOSED: AllocationInput.CLOSE,
}


class AllocationTable:
    """
    Every live allocation and what belongs to it.

    @ivar by_path: Allocations by client 5-tuple.
    @ivar by_relay: Allocations by relayed address.
    @ivar reservations: Held ports by RESERVATION-TOKEN.
    """

    def __init__(self, allocator: IRelayAllocator) -> None:
        self.allocator = allocator
        self.by_path: dict[Path, Allocation] = {}
        self.by_relay: dict[Address, Allocation] = {}
        self.reservations: dict[bytes, Reservation] = {}
        self.timers = DeadlineHeap()
        self._per_user: dict[str, int] = {}

    def user_allocations(self, username: str) -> int:
        """
        Return how many live allocations C{username} has.
        """
        return self._per_user.get(username, 0)

    # --- Allocations ---------------------------------------------------------

    def create(
        self,
        path: Path,
        username: str,
        transaction_id: bytes,
        relays: dict[int, Address],
        expires: float,
    ) -> Allocation:
        """
        Add an allocation whose relayed addresses the allocator has bound.
        """
        allocation = Allocation(
            expires,
            path=path,
            username=username,
            transaction_id=transaction_id,
            relays=relays,
            stream=path.transport is not Transport.UDP,
        )
        self.by_path[path] = allocation
        for relay in relays.values():
            self.by_relay[relay] = allocation
        self._per_user[username] = self._per_user.get(username, 0) + 1
        self.timers.add(allocation)
        return allocation

    def refresh(self, allocation: Allocation, expires: float) -> None:
        """
        Set the expiry of C{allocation}.
        """
        allocation.state = transition(
            ALLOCATION_TRANSITIONS, allocation.state, AllocationInput.REFRESH
        )
        self.timers.update(allocation, expires)

    def delete(
        self, allocation: Allocation, reason: DeletionReason
    ) -> AllocationDeleted:
        """
        Remove C{allocation}, stop its timers and release its relayed
        addresses.
        """
        allocation.state = transition(
            ALLOCATION_TRANSITIONS, allocation.state, _DELETION_INPUTS[reason]
        )
        self.timers.cancel(allocation)
        for permission in allocation.permissions.values():
            self.timers.cancel(permission)
        for channel in allocation.channels.values():
            self.timers.cancel(channel)
        del self.by_path[allocation.path]
        relays = tuple(allocation.relays.values())
        for relay in relays:
            self.by_relay.pop(relay, None)
            self.allocator.release(relay)
        username = allocation.username
        remaining = self._per_user.get(username, 1) - 1
        if remaining > 0:
            self._per_user[username] = remaining
        else:
            self._per_user.pop(username, None)
        return AllocationDeleted(allocation.path, relays, username, reason)

    def release_family(self, allocation: Allocation, family: int) -> None:
        """
        Release the relayed address of one family of a dual allocation, and
        the channels that send from it.
        """
        relay = allocation.relays.pop(family)
        self.by_relay.pop(relay, None)
        self.allocator.release(relay)
        for channel in list(allocation.channels.values()):
            if channel.relay == relay:
                self._remove_channel(channel)

    # --- Permissions and channels ---------------------------------------------

    def permit(
        self, allocation: Allocation, host: str, rule: PeerRule, now: float
    ) -> None:
        """
        Install or refresh the permission of C{allocation} for C{host}; it
        lasts 300 s (RFC 8656 section 9).
        """
        expires = now + PERMISSION_LIFETIME
        permission = allocation.permissions.get(host)
        if permission is not None:
            permission.state = transition(
                PERMISSION_TRANSITIONS, permission.state, PermissionInput.REFRESH
            )
            self.timers.update(permission, expires)
            return
        permission = Permission(
            expires,
            allocation=allocation,
            host=host,
            any_port=rule.any_port,
            ports=rule.ports,
        )
        allocation.permissions[host] = permission
        self.timers.add(permission)

    def bind(
        self,
        allocation: Allocation,
        number: int,
        peer: Address,
        relay: Address,
        target: Address,
        now: float,
    ) -> None:
        """
        Bind channel C{number} to C{peer}, or refresh that binding; it lasts
        600 s (RFC 8656 section 12). The caller has checked that neither the
        number nor the peer is bound to something else. C{target} is where
        the relay sends the channel's data: C{peer}, or its private address
        behind the relay's NAT.
        """
        expires = now + CHANNEL_LIFETIME
        channel = allocation.channels.get(number)
        if channel is not None:
            channel.state = transition(
                CHANNEL_TRANSITIONS, channel.state, ChannelInput.BIND
            )
            channel.expires = expires
            self.timers.update(channel, expires)
            return
        channel = Channel(
            expires,
            allocation=allocation,
            number=number,
            header=number.to_bytes(2, "big"),
            peer=peer,
            relay=relay,
            target=target,
            expires=expires,
        )
        allocation.channels[number] = channel
        allocation.channels_by_peer[peer] = channel
        self.timers.add(channel)

    def _remove_channel(self, channel: Channel) -> None:
        allocation = channel.allocation
        self.timers.cancel(channel)
        if allocation.channels.get(channel.number) is channel:
            del allocation.channels[channel.number]
        if allocation.channels_by_peer.get(channel.peer) is channel:
            del allocation.channels_by_peer[channel.peer]

    # --- Reservations ----------------------------------------------------------

    def hold(self, token: bytes, address: Address, family: int, now: float) -> None:
        """
        Keep the held port C{address} for C{token} for 30 s.
        """
        reservation = Reservation(
            now + RESERVATION_LIFETIME, token=token, address=address, family=family
        )
        self.reservations[token] = reservation
        self.timers.add(reservation)

    def take(self, token: bytes) -> Reservation | None:
        """
        Remove and return the reservation of C{token}, or L{None}.
        """
        reservation = self.reservations.pop(token, None)
        if reservation is not None:
            self.timers.cancel(reservation)
        return reservation

    # --- Timers ----------------------------------------------------------------

    def expire(self, now: float) -> list[TurnAction]:
        """
        Fire every timer due at C{now}: expired permissions are removed,
        expired channels cool down and then are released, expired allocations
        are deleted, and expired reservations release their port.
        """
        actions: list[TurnAction] = []
        # A channel that expires starts a cooldown that may be due already,
        # so repeat until nothing is due.
        fired = self.timers.pop_due(now)
        while fired:
            for record in fired:
                if isinstance(record, Allocation):
                    actions.append(self.delete(record, DeletionReason.EXPIRED))
                elif isinstance(record, Permission):
                    self._expire_permission(record)
                elif isinstance(record, Channel):
                    self._expire_channel(record)
                elif isinstance(record, Reservation):
                    self._expire_reservation(record)
            fired = self.timers.pop_due(now)
        return actions

    def _expire_reservation(self, reservation: Reservation) -> None:
        if self.reservations.get(reservation.token) is reservation:
            del self.reservations[reservation.token]
            self.allocator.release(reservation.address)

    def _expire_permission(self, permission: Permission) -> None:
        permission.state = transition(
            PERMISSION_TRANSITIONS, permission.state, PermissionInput.EXPIRE
        )
        permissions = permission.allocation.permissions
        if permissions.get(permission.host) is permission:
            del permissions[permission.host]

    def _expire_channel(self, channel: Channel) -> None:
        if channel.state is ChannelState.BOUND:
            channel.state = transition(
                CHANNEL_TRANSITIONS, channel.state, ChannelInput.EXPIRE
            )
            channel.due = channel.expires + CHANNEL_COOLDOWN
            self.timers.add(channel)
            return
        channel.state = transition(
            CHANNEL_TRANSITIONS, channel.state, ChannelInput.COOLDOWN_END
        )
        self._remove_channel(channel)
