"""
The TURN request methods (RFC 8656 sections 7 to 11): Allocate, Refresh,
CreatePermission and ChannelBind, run after authentication. Each returns the
attributes of its success response and its events, or raises the L{StunError}
of its error response.
"""

from __future__ import annotations

import ipaddress
import secrets

from twisted_ice.addresses import Address, Path
from twisted_ice.interfaces import IRelayAllocator
from twisted_ice.stun import (
    AddressErrorCode,
    AddressFamily,
    AddressFamilyNotSupported,
    AllocationMismatch,
    AllocationQuotaReached,
    AttributeType,
    BadRequest,
    Forbidden,
    InsufficientCapacity,
    PeerAddressFamilyMismatch,
    StunMessage,
    TransportProtocol,
    UnknownAttribute,
    UnsupportedTransportProtocol,
    default_reason,
)
from twisted_ice.stun.message import Attribute
from twisted_ice.turn import channeldata
from twisted_ice.turn.allocation import Allocation
from twisted_ice.turn.config import TurnConfig
from twisted_ice.turn.events import AllocationCreated, DeletionReason, TurnAction
from twisted_ice.turn.nat import RelayNat
from twisted_ice.turn.policy import PeerPolicy, PeerRule
from twisted_ice.turn.table import AllocationTable

MethodResult = tuple[list[Attribute], list[TurnAction]]
"""
The attributes of a success response and the events of the request.
"""


def address_family(host: str) -> int:
    """
    Return the L{AddressFamily} of an IP address string.
    """
    return AddressFamily.IPV6 if ":" in host else AddressFamily.IPV4


class MethodHandlers:
    """
    The four TURN request methods, on the state of one L{AllocationTable}.
    """

    def __init__(
        self,
        config: TurnConfig,
        allocator: IRelayAllocator,
        table: AllocationTable,
        policy: PeerPolicy,
        nat: RelayNat,
    ) -> None:
        self.config = config
        self.policy = policy
        self.nat = nat
        self._allocator = allocator
        self._table = table

    def _lifetime(self, requested: int | None) -> float:
        """
        Return the lifetime to grant for a requested one: the default when
        absent or shorter, capped at the maximum (RFC 8656 sections 7.2 and
        8.2).
        """
        default = self.config.default_lifetime
        if requested is None or requested < default:
            return default
        return min(float(requested), self.config.max_lifetime)

    def allocate(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> MethodResult:
        """
        Create an allocation (RFC 8656 section 7.2, checks in its order).
        """
        table = self._table
        if path in table.by_path:
            raise AllocationMismatch()

        transport = message.get(AttributeType.REQUESTED_TRANSPORT)
        if transport is None:
            raise BadRequest("REQUESTED-TRANSPORT is missing")
        if transport != TransportProtocol.UDP:
            raise UnsupportedTransportProtocol()

        # The DF bit cannot be set portably, so DONT-FRAGMENT is treated as an
        # unknown comprehension-required attribute (RFC 8656 section 7.2).
        if message.has(AttributeType.DONT_FRAGMENT):
            raise UnknownAttribute((AttributeType.DONT_FRAGMENT,))

        token = message.get(AttributeType.RESERVATION_TOKEN)
        even_port = message.get(AttributeType.EVEN_PORT)
        requested_family = message.get(AttributeType.REQUESTED_ADDRESS_FAMILY)
        additional_family = message.get(AttributeType.ADDITIONAL_ADDRESS_FAMILY)
        if token is not None and (
            even_port is not None
            or requested_family is not None
            or additional_family is not None
        ):
            raise BadRequest(
                "RESERVATION-TOKEN cannot come with EVEN-PORT or an address family"
            )
        if token is not None:
            reservation = table.reservations.get(token)
            if reservation is None or reservation.due <= now:
                raise InsufficientCapacity("RESERVATION-TOKEN is unknown or expired")
        if requested_family is not None and additional_family is not None:
            raise BadRequest(
                "REQUESTED-ADDRESS-FAMILY cannot come with ADDITIONAL-ADDRESS-FAMILY"
            )

        families = self._allocator.families()
        if requested_family is not None and requested_family not in families:
            raise AddressFamilyNotSupported()
        if requested_family is None and token is None:
            if AddressFamily.IPV4 not in families:
                raise AddressFamilyNotSupported()
        if even_port is True and additional_family is not None:
            raise BadRequest("EVEN-PORT with R cannot come with a dual allocation")
        if additional_family is not None and additional_family != AddressFamily.IPV6:
            raise BadRequest("ADDITIONAL-ADDRESS-FAMILY must be IPv6")

        self._check_quota(username)
        lifetime = self._lifetime(message.get(AttributeType.LIFETIME))
        relays, address_error, reservation_token = self._bind_relays(
            token, even_port, requested_family, additional_family, families, now
        )

        allocation = table.create(
            path, username, message.transaction_id, relays, now + lifetime
        )
        # Behind a 1:1 NAT the client gets the public address of the socket.
        attributes: list[Attribute] = [
            (AttributeType.XOR_RELAYED_ADDRESS, self.nat.public(relay))
            for relay in allocation.relays.values()
        ]
        if address_error is not None:
            attributes.append((AttributeType.ADDRESS_ERROR_CODE, address_error))
        attributes.append((AttributeType.LIFETIME, int(lifetime)))
        if reservation_token is not None:
            attributes.append((AttributeType.RESERVATION_TOKEN, reservation_token))
        attributes.append((AttributeType.XOR_MAPPED_ADDRESS, path.remote))
        created = AllocationCreated(
            path, tuple(allocation.relays.values()), username, lifetime
        )
        return attributes, [created]

    def _check_quota(self, username: str) -> None:
        config = self.config
        if (
            config.max_allocations is not None
            and len(self._table.by_path) >= config.max_allocations
        ):
            raise AllocationQuotaReached()
        if (
            config.user_quota is not None
            and self._table.user_allocations(username) >= config.user_quota
        ):
            raise AllocationQuotaReached()

    def _bind_relays(
        self,
        token: bytes | None,
        even_port: bool | None,
        requested_family: int | None,
        additional_family: int | None,
        families: frozenset[int],
        now: float,
    ) -> tuple[dict[int, Address], AddressErrorCode | None, bytes | None]:
        """
        Bind the relayed addresses of a new allocation.

        @return: The relayed addresses by family, the ADDRESS-ERROR-CODE of a
            dual allocation that got one family only, and the
            RESERVATION-TOKEN of a held next port.
        @raise InsufficientCapacity: No relayed address could be bound.
        """
        allocator = self._allocator
        if token is not None:
            reservation = self._table.take(token)
            if reservation is None or not allocator.take_reserved(reservation.address):
                raise InsufficientCapacity("the reserved port is no longer held")
            return {reservation.family: reservation.address}, None, None

        family = AddressFamily.IPV4 if requested_family is None else requested_family
        reserve_next = even_port is True
        relay = allocator.reserve(family, even_port is not None, reserve_next)

        relays: dict[int, Address] = {}
        address_error = None
        if relay is not None:
            relays[family] = relay
        elif additional_family is None:
            raise InsufficientCapacity()
        else:
            address_error = AddressErrorCode(family, 508, default_reason(508))

        if additional_family is not None:
            if additional_family not in families:
                second = None
                code = 440
            else:
                second = allocator.reserve(additional_family, False, False)
                code = 508
            if second is not None:
                relays[additional_family] = second
            elif not relays:
                raise InsufficientCapacity()
            else:
                address_error = AddressErrorCode(
                    additional_family, code, default_reason(code)
                )

        reservation_token = None
        if reserve_next and relay is not None:
            reservation_token = secrets.token_bytes(8)
            held = (relay[0], relay[1] + 1)
            self._table.hold(reservation_token, held, family, now)
        return relays, address_error, reservation_token

    def refresh(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> MethodResult:
        """
        Refresh or delete an allocation (RFC 8656 section 8.2).
        """
        table = self._table
        allocation = table.by_path[path]
        family = message.get(AttributeType.REQUESTED_ADDRESS_FAMILY)
        if family is not None and family not in allocation.relays:
            raise PeerAddressFamilyMismatch()

        requested = message.get(AttributeType.LIFETIME)
        if requested == 0:
            if family is not None and len(allocation.relays) > 1:
                table.release_family(allocation, family)
                return [(AttributeType.LIFETIME, 0)], []
            deleted = table.delete(allocation, DeletionReason.REFRESH)
            return [(AttributeType.LIFETIME, 0)], [deleted]

        lifetime = self._lifetime(requested)
        table.refresh(allocation, now + lifetime)
        return [(AttributeType.LIFETIME, int(lifetime))], []

    def _peer(self, allocation: Allocation, value: Address) -> tuple[Address, PeerRule]:
        """
        Return an XOR-PEER-ADDRESS in canonical form and its policy rule.

        @raise PeerAddressFamilyMismatch: The allocation has no relayed address
            of the peer's family.
        @raise Forbidden: The policy denies the peer.
        """
        host, port = value
        try:
            # The form socket.inet_ntop gives, as relay sockets report peers.
            canonical = ipaddress.ip_address(host).compressed
        except ValueError:
            raise BadRequest("XOR-PEER-ADDRESS is not an IP address") from None
        if address_family(canonical) not in allocation.relays:
            raise PeerAddressFamilyMismatch()
        rule = self.policy.rule_for(canonical)
        if not rule.permits(port):
            raise Forbidden()
        return (canonical, port), rule

    def create_permission(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> MethodResult:
        """
        Install or refresh permissions (RFC 8656 section 9.2). One peer that
        fails the checks fails the whole request, and nothing is installed.
        """
        allocation = self._table.by_path[path]
        values = message.get_all(AttributeType.XOR_PEER_ADDRESS)
        if not values:
            raise BadRequest("XOR-PEER-ADDRESS is missing")
        peers = [self._peer(allocation, value) for value in values]
        new_hosts = {peer[0] for peer, _rule in peers} - allocation.permissions.keys()
        if len(allocation.permissions) + len(new_hosts) > self.config.max_permissions:
            raise InsufficientCapacity("too many permissions on this allocation")
        for (host, _port), rule in peers:
            self._table.permit(allocation, host, rule, now)
        return [], []

    def channel_bind(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> MethodResult:
        """
        Bind a channel or refresh a binding (RFC 8656 section 11.2).
        """
        allocation = self._table.by_path[path]
        number = message.get(AttributeType.CHANNEL_NUMBER)
        value = message.get(AttributeType.XOR_PEER_ADDRESS)
        if number is None:
            raise BadRequest("CHANNEL-NUMBER is missing")
        if value is None:
            raise BadRequest("XOR-PEER-ADDRESS is missing")
        max_channel = self.config.max_channel
        if not channeldata.CHANNEL_MIN <= number <= max_channel:
            raise BadRequest(f"CHANNEL-NUMBER is outside 0x4000-0x{max_channel:04X}")
        peer, rule = self._peer(allocation, value)

        bound = allocation.channels.get(number)
        if bound is not None and bound.peer != peer:
            raise BadRequest("the channel is bound to another peer")
        by_peer = allocation.channels_by_peer.get(peer)
        if by_peer is not None and by_peer.number != number:
            raise BadRequest("the peer is bound to another channel")
        host = peer[0]
        if (
            host not in allocation.permissions
            and len(allocation.permissions) >= self.config.max_permissions
        ):
            raise InsufficientCapacity("too many permissions on this allocation")

        relay = allocation.relays[address_family(peer[0])]
        target = self.nat.outbound.get(peer, peer)
        self._table.bind(allocation, number, peer, relay, target, now)
        self._table.permit(allocation, host, rule, now)
        return [], []
