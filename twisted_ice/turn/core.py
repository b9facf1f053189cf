"""
The sans-I/O TURN server (RFC 8656, UDP relays) with long-term credentials
(RFC 8489 section 9.2).

Requests go through two calls, so the core never waits for a credential store.
L{TurnCore.receive_request} returns the replies that need no credentials, or
the username whose keys it needs. L{TurnCore.authenticated_request} then
checks the request against those keys and runs it. Indications, ChannelData
and peer datagrams take one call each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted_ice.addresses import Address, Path
from twisted_ice.interfaces import IRelayAllocator
from twisted_ice.stun import (
    KNOWN_TYPES,
    AllocationMismatch,
    AttributeType,
    MessageClass,
    Method,
    StunError,
    StunMessage,
    UnknownAttribute,
    WrongCredentials,
    default_reason,
)
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
    send_to_client,
    send_to_peer,
)
from twisted_ice.turn.indications import encode_data_indication
from twisted_ice.turn.methods import MethodHandlers, MethodResult, address_family
from twisted_ice.turn.nat import RelayNat
from twisted_ice.turn.nonces import NonceIssuer
from twisted_ice.turn.policy import PeerPolicy
from twisted_ice.turn.table import AllocationTable

_TURN_METHODS = frozenset(
    {Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND}
)

# A Data indication has a 20-byte header, XOR-PEER-ADDRESS (up to 24 bytes) and
# the DATA header (4 bytes) before the data, all within a 65535-byte body.
_MAX_INDICATION_DATA = 0xFFFF - 24 - 4 - 3

_Handler = Callable[[StunMessage, Path, str, float], MethodResult]

_XOR_PEER_ADDRESS = int(AttributeType.XOR_PEER_ADDRESS)
_DATA = int(AttributeType.DATA)
# DONT-FRAGMENT drops the indication (the DF bit cannot be set), like an
# unknown comprehension-required attribute.
_KNOWN_OTHER_TYPES = KNOWN_TYPES - {AttributeType.DONT_FRAGMENT}


def _send_indication_values(message: StunMessage) -> tuple[Any, Any]:
    """
    Return the first XOR-PEER-ADDRESS and DATA of a Send indication, in one
    pass over its attributes, or L{None} for both when it carries
    DONT-FRAGMENT or an unknown comprehension-required attribute.
    """
    peer = None
    data = None
    for attribute_type, value in message.attributes:
        if attribute_type == _XOR_PEER_ADDRESS:
            if peer is None:
                peer = value
        elif attribute_type == _DATA:
            if data is None:
                data = value
        elif attribute_type < 0x8000 and attribute_type not in _KNOWN_OTHER_TYPES:
            return None, None
    return peer, data


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
        nat: RelayNat | None = None,
    ) -> None:
        """
        @param config: The settings.
        @param allocator: Binds and releases the relay sockets.
        @param policy: The peers clients may reach; the default policy when
            L{None}.
        @param nat: The 1:1 NAT in front of the relay addresses; none when
            L{None}.
        """
        self.config = config
        self.nat = RelayNat() if nat is None else nat
        self.drops: Counter[str] = Counter()
        self._allocator = allocator
        self._table = AllocationTable(allocator)
        self._nonces = NonceIssuer(config.nonce_secret, config.nonce_lifetime)
        self._cache = ResponseCache(config.max_cached_responses)
        methods = MethodHandlers(
            config,
            allocator,
            self._table,
            PeerPolicy() if policy is None else policy,
            self.nat,
        )
        self._methods = methods
        self._handlers: dict[int, _Handler] = {
            Method.ALLOCATE: methods.allocate,
            Method.REFRESH: methods.refresh,
            Method.CREATE_PERMISSION: methods.create_permission,
            Method.CHANNEL_BIND: methods.channel_bind,
        }

    @property
    def policy(self) -> PeerPolicy:
        """
        The peer address policy that CreatePermission and ChannelBind apply;
        a new one applies to later requests.
        """
        return self._methods.policy

    @policy.setter
    def policy(self, policy: PeerPolicy) -> None:
        self._methods.policy = policy

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
        Finish handling a request for which L{receive_request} returned
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

        peer, data = _send_indication_values(message)
        if peer is None or data is None:
            self.drops["bad_indication"] += 1
            return None
        return self._send_data(allocation, peer, data, now)

    def send_data(
        self, peer: Address, data: bytes, path: Path, now: float
    ) -> SendToPeer | None:
        """
        Relay C{data} from the client of C{path} to C{peer}: the values of a
        Send indication, which the adapter parsed with
        L{twisted_ice.turn.indications.parse_send_indication}. Return
        L{None} when it is dropped.
        """
        allocation = self._table.by_path.get(path)
        if allocation is None:
            self.drops["no_allocation"] += 1
            return None
        return self._send_data(allocation, peer, data, now)

    def _send_data(
        self, allocation: Allocation, peer: Address, data: bytes, now: float
    ) -> SendToPeer | None:
        """
        Relay C{data} from C{allocation} to C{peer} when a live permission
        allows it.
        """
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
        peer = (host, port)
        outbound = self.nat.outbound
        if outbound:
            peer = outbound.get(peer, peer)
        return send_to_peer((relay, peer, data))

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

        permission = allocation.permissions.get(channel.peer[0])
        if permission is None or permission.due <= now:
            self.drops["no_permission"] += 1
            return None
        return send_to_peer((channel.relay, channel.target, data[4:end]))

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
        if permission is None and peer in self.nat.inbound:
            # An own ICE address on its private IP: the client knows it by
            # its public one.
            peer = self.nat.inbound[peer]
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
            return send_to_client((allocation.path, message))

        if len(data) > _MAX_INDICATION_DATA:
            self.drops["too_long"] += 1
            return None
        return send_to_client((allocation.path, encode_data_indication(peer, data)))

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
