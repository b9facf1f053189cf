"""
The sans-I/O TURN server (RFC 8656, UDP relays) with long-term credentials
(RFC 8489 section 9.2).

Requests go through two calls so the core never waits: L{TurnCore.receive_request}
answers what needs no credentials or asks for the keys of a username, and
L{TurnCore.authenticated_request} checks the request against those keys and
runs it. Indications, ChannelData and peer datagrams are one call each.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections import Counter
from collections.abc import Callable

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
    MessageClass,
    Method,
    PeerAddressFamilyMismatch,
    StunError,
    StunMessage,
    TransportProtocol,
    UnknownAttribute,
    UnsupportedTransportProtocol,
    WrongCredentials,
    default_reason,
)
from twisted_ice.stun.message import Attribute
from twisted_ice.turn import channeldata
from twisted_ice.turn.allocation import Allocation
from twisted_ice.turn.cache import ResponseCache
from twisted_ice.turn.config import TurnConfig
from twisted_ice.turn.events import (
    AllocationCreated,
    DeletionReason,
    NeedKeys,
    SendToClient,
    SendToPeer,
    TurnAction,
)
from twisted_ice.turn.indications import encode_data_indication
from twisted_ice.turn.nonces import NonceIssuer
from twisted_ice.turn.policy import PeerPolicy, PeerRule
from twisted_ice.turn.table import AllocationTable

_TURN_METHODS = frozenset(
    {Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND}
)

# A Data indication has a 20-byte header, XOR-PEER-ADDRESS (up to 24 bytes) and
# the DATA header (4 bytes) before the data, all within a 65535-byte body.
_MAX_INDICATION_DATA = 0xFFFF - 24 - 4 - 3

_Handler = Callable[
    [StunMessage, Path, str, float], tuple[list[Attribute], list[TurnAction]]
]


def address_family(host: str) -> int:
    """
    Return the L{AddressFamily} of an IP address string.
    """
    return AddressFamily.IPV6 if ":" in host else AddressFamily.IPV4


class TurnCore:
    """
    The state and rules of a TURN server, without I/O.

    @ivar drops: Counts of dropped packets by reason: C{no_allocation},
        C{no_permission}, C{no_channel}, C{bad_channel_data},
        C{bad_indication}, and C{too_long} for a peer datagram too long to
        fit in a ChannelData message or a Data indication.
    """

    def __init__(
        self,
        config: TurnConfig,
        allocator: IRelayAllocator,
        policy: PeerPolicy | None = None,
    ) -> None:
        self.config = config
        self.policy = PeerPolicy() if policy is None else policy
        self.drops: Counter[str] = Counter()
        self._allocator = allocator
        self._table = AllocationTable(allocator)
        self._nonces = NonceIssuer(config.nonce_secret, config.nonce_lifetime)
        self._cache = ResponseCache(config.max_cached_responses)
        self._handlers: dict[int, _Handler] = {
            Method.ALLOCATE: self._allocate,
            Method.REFRESH: self._refresh,
            Method.CREATE_PERMISSION: self._create_permission,
            Method.CHANNEL_BIND: self._channel_bind,
        }

    @property
    def allocation_count(self) -> int:
        """
        The number of live allocations.
        """
        return len(self._table.by_path)

    def allocation(self, path: Path) -> Allocation | None:
        """
        Return the allocation of C{path}, or L{None}. For inspection only.
        """
        return self._table.by_path.get(path)

    # --- Requests: authentication ------------------------------------------

    def receive_request(
        self, message: StunMessage, path: Path, now: float
    ) -> SendToClient | NeedKeys | None:
        """
        Start handling a TURN request.

        @return: A reply that needs no credentials (a 401 or 400 challenge,
            400 for a method that is not TURN's, or the cached response of a
            retransmission); L{NeedKeys} when the request must be checked
            against the keys of its USERNAME; L{None} when it is to be dropped
            (not a request, or a wrong FINGERPRINT).
        """
        if message.message_class is not MessageClass.REQUEST:
            return None
        if message.has_fingerprint and not message.check_fingerprint():
            return None

        cached = self._cache.get(path, message.transaction_id, message.method, now)
        if cached is not None:
            return SendToClient(path, cached)

        if message.method not in _TURN_METHODS:
            return self._unsigned_error(message, path, 400)

        # RFC 8489 section 9.2.4, in its order.
        if not message.has_integrity:
            return self._challenge(message, path, now, 401)
        username = message.get(AttributeType.USERNAME)
        realm = message.get(AttributeType.REALM)
        nonce = message.get(AttributeType.NONCE)
        if username is None or realm is None or nonce is None:
            return self._unsigned_error(message, path, 400)
        if realm != self.config.realm:
            # No user of another realm is valid here.
            return self._challenge(message, path, now, 401)
        return NeedKeys(username, realm)

    def authenticated_request(
        self, message: StunMessage, path: Path, keys: list[bytes], now: float
    ) -> list[TurnAction]:
        """
        Finish handling a request that L{receive_request} answered with
        L{NeedKeys}, once the credential store has returned C{keys} (empty
        for an unknown user).

        @return: The response as one L{SendToClient}, and the events of the
            request.
        """
        first = self.receive_request(message, path, now)
        if first is None:
            return []
        if isinstance(first, SendToClient):
            return [first]

        key = None
        for candidate in keys:
            if message.check_integrity(candidate):
                key = candidate
                break
        if key is None:
            return [self._challenge(message, path, now, 401)]
        # RFC 8489 section 9.2.4 checks the nonce after the integrity.
        if not self._nonces.is_valid(message.get(AttributeType.NONCE), path, now):
            return [self._challenge(message, path, now, 438)]

        return self._run(message, path, first.username, key, now)

    def _run(
        self, message: StunMessage, path: Path, username: str, key: bytes, now: float
    ) -> list[TurnAction]:
        allocation = self._table.by_path.get(path)
        if (
            message.method == Method.ALLOCATE
            and allocation is not None
            and allocation.transaction_id == message.transaction_id
        ):
            # A retransmitted Allocate gets the same success again.
            return [SendToClient(path, allocation.response)]

        events: list[TurnAction] = []
        try:
            unknown = message.unknown_comprehension_required()
            if unknown:
                raise UnknownAttribute(tuple(unknown))
            if message.method != Method.ALLOCATE:
                if allocation is None:
                    raise AllocationMismatch()
                if allocation.username != username:
                    raise WrongCredentials()
            attributes, events = self._handlers[message.method](
                message, path, username, now
            )
            response = message.success_response(attributes)
        except UnknownAttribute as error:
            response = message.error_response(
                error.code,
                error.reason,
                [(AttributeType.UNKNOWN_ATTRIBUTES, error.unknown_attributes)],
            )
        except StunError as error:
            response = message.error_response(error.code, error.reason)

        if self.config.software is not None:
            response.add(AttributeType.SOFTWARE, self.config.software)
        data = response.encode(integrity_key=key, fingerprint=message.has_fingerprint)
        self._cache.put(path, message.transaction_id, message.method, data, now)
        for event in events:
            if isinstance(event, AllocationCreated):
                self._table.by_path[path].response = data
        return [SendToClient(path, data), *events]

    def _challenge(
        self, message: StunMessage, path: Path, now: float, code: int
    ) -> SendToClient:
        """
        Return an unsigned 401 or 438 with REALM and a fresh NONCE.
        """
        response = message.error_response(
            code,
            default_reason(code),
            [
                (AttributeType.REALM, self.config.realm),
                (AttributeType.NONCE, self._nonces.issue(path, now)),
            ],
        )
        if self.config.software is not None:
            response.add(AttributeType.SOFTWARE, self.config.software)
        return SendToClient(path, response.encode(fingerprint=message.has_fingerprint))

    def _unsigned_error(
        self, message: StunMessage, path: Path, code: int
    ) -> SendToClient:
        response = message.error_response(code)
        return SendToClient(path, response.encode(fingerprint=message.has_fingerprint))

    # --- Requests: methods -----------------------------------------------------

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

    def _allocate(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> tuple[list[Attribute], list[TurnAction]]:
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
        # unknown comprehension-required attribute, as RFC 8656 asks.
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
                "REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY together"
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
        attributes: list[Attribute] = [
            (AttributeType.XOR_RELAYED_ADDRESS, relay)
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

    def _refresh(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> tuple[list[Attribute], list[TurnAction]]:
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
        Return a XOR-PEER-ADDRESS in canonical form and its policy rule.

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

    def _create_permission(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> tuple[list[Attribute], list[TurnAction]]:
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

    def _channel_bind(
        self, message: StunMessage, path: Path, username: str, now: float
    ) -> tuple[list[Attribute], list[TurnAction]]:
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
        self._table.bind(allocation, number, peer, relay, now)
        self._table.permit(allocation, host, rule, now)
        return [], []

    # --- Indications and data ----------------------------------------------

    def send_indication(
        self, message: StunMessage, path: Path, now: float
    ) -> SendToPeer | None:
        """
        Relay the DATA of a Send indication to its XOR-PEER-ADDRESS (RFC 8656
        section 10.2), or return L{None} when it is dropped. A Send
        indication refreshes no permission.
        """
        if (
            message.message_class is not MessageClass.INDICATION
            or message.method != Method.SEND
        ):
            self.drops["bad_indication"] += 1
            return None
        allocation = self._table.by_path.get(path)
        if allocation is None:
            self.drops["no_allocation"] += 1
            return None
        peer = message.get(AttributeType.XOR_PEER_ADDRESS)
        data = message.get(AttributeType.DATA)
        if (
            peer is None
            or data is None
            or message.has(AttributeType.DONT_FRAGMENT)
            or message.unknown_comprehension_required()
        ):
            self.drops["bad_indication"] += 1
            return None
        host, port = peer
        permission = allocation.permissions.get(host)
        if (
            permission is None
            or permission.due <= now
            or not (permission.any_port or port in permission.ports)
        ):
            self.drops["no_permission"] += 1
            return None
        relay = allocation.relays.get(address_family(host))
        if relay is None:
            self.drops["no_permission"] += 1
            return None
        return SendToPeer(relay, (host, port), data)

    def channel_data(self, data: bytes, path: Path, now: float) -> SendToPeer | None:
        """
        Relay one ChannelData message from the client of C{path} to the peer
        bound to its channel, or return L{None} when it is dropped. The
        padding of stream transports is not relayed, and nothing is
        refreshed.
        """
        allocation = self._table.by_path.get(path)
        if allocation is None:
            self.drops["no_allocation"] += 1
            return None
        if len(data) < 4:
            self.drops["bad_channel_data"] += 1
            return None
        channel = allocation.channels.get((data[0] << 8) | data[1])
        if channel is None or channel.expires <= now:
            self.drops["no_channel"] += 1
            return None
        end = 4 + ((data[2] << 8) | data[3])
        if end > len(data):
            self.drops["bad_channel_data"] += 1
            return None
        peer = channel.peer
        permission = allocation.permissions.get(peer[0])
        if permission is None or permission.due <= now:
            self.drops["no_permission"] += 1
            return None
        return SendToPeer(channel.relay, peer, data[4:end])

    def peer_datagram(
        self, relay: Address, peer: Address, data: bytes, now: float
    ) -> SendToClient | None:
        """
        Relay a datagram that C{peer} sent to the relayed address C{relay}:
        as ChannelData when a channel is bound to the peer, else as a Data
        indication (RFC 8656 sections 10.3 and 12.6). L{None} when no
        allocation or permission allows it.
        """
        allocation = self._table.by_relay.get(relay)
        if allocation is None:
            self.drops["no_allocation"] += 1
            return None
        permission = allocation.permissions.get(peer[0])
        if (
            permission is None
            or permission.due <= now
            or not (permission.any_port or peer[1] in permission.ports)
        ):
            self.drops["no_permission"] += 1
            return None
        channel = allocation.channels_by_peer.get(peer)
        if channel is not None and channel.expires > now:
            length = len(data)
            if length > 0xFFFF:
                self.drops["too_long"] += 1
                return None
            message = channel.header + length.to_bytes(2, "big") + data
            if allocation.stream:
                message += channeldata.padding(length)
            return SendToClient(allocation.path, message)
        if len(data) > _MAX_INDICATION_DATA:
            self.drops["too_long"] += 1
            return None
        return SendToClient(allocation.path, encode_data_indication(peer, data))

    # --- Lifecycle --------------------------------------------------------------

    def path_closed(self, path: Path, now: float) -> list[TurnAction]:
        """
        Delete the allocation of a TCP or TLS path that has closed.
        """
        allocation = self._table.by_path.get(path)
        if allocation is None:
            return []
        return [self._table.delete(allocation, DeletionReason.PATH_CLOSED)]

    def next_deadline(self) -> float | None:
        """
        Return when L{expire} should next be called, or L{None}.
        """
        return self._table.timers.next_deadline()

    def expire(self, now: float) -> list[TurnAction]:
        """
        Remove what has expired at C{now}: permissions, channel bindings,
        allocations (with an L{AllocationDeleted} each) and port
        reservations.
        """
        return self._table.expire(now)
