"""
Helpers for the TURN core tests: a fake relay allocator and a client that
builds authenticated requests with the STUN codec.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.interfaces import IRelayAllocator
from twisted_ice.stun import (
    AddressFamily,
    AttributeType,
    Method,
    StunMessage,
    TransportProtocol,
    decode,
    long_term_key,
)
from twisted_ice.turn import (
    NeedKeys,
    PeerPolicy,
    SendToClient,
    TurnAction,
    TurnConfig,
    TurnCore,
)

REALM = "example.org"
USERNAME = "alice"
PASSWORD = "wonderland"
KEY = long_term_key(USERNAME, REALM, PASSWORD)
CLIENT_PATH = Path(Transport.UDP, ("0.0.0.0", 9000), ("203.0.113.5", 40000))
OTHER_PATH = Path(Transport.UDP, ("0.0.0.0", 9000), ("203.0.113.6", 40001))
TCP_PATH = Path(Transport.TCP, ("0.0.0.0", 443), ("203.0.113.7", 40002))
PEER = ("8.8.8.8", 5000)
PEER6 = ("2001:4860::8888", 5000)
RELAY_HOST = "198.51.100.1"
RELAY_HOST6 = "2001:db8::1"


@implementer(IRelayAllocator)
class FakeAllocator:
    """
    An L{IRelayAllocator} that hands out ports from 50000 up and records what
    it bound, held and released.
    """

    def __init__(
        self,
        families: frozenset[int] = frozenset({AddressFamily.IPV4}),
        capacity: int = 100,
    ) -> None:
        self.available_families = families
        self.capacity = capacity
        self.bound: set[Address] = set()
        self.held: set[Address] = set()
        self.released: list[Address] = []
        self._next_port = 50000

    def families(self) -> frozenset[int]:
        """
        Return the configured families.
        """
        return self.available_families

    def reserve(
        self, family: int, even_port: bool, reserve_next: bool
    ) -> Address | None:
        """
        Bind the next port, or return L{None} past C{capacity}.
        """
        if len(self.bound) >= self.capacity:
            return None
        host = RELAY_HOST if family == AddressFamily.IPV4 else RELAY_HOST6
        port = self._next_port
        if even_port and port % 2:
            port += 1
        self._next_port = port + 2
        address = (host, port)
        self.bound.add(address)
        if reserve_next:
            self.held.add((host, port + 1))
        return address

    def take_reserved(self, address: Address) -> bool:
        """
        Move a held port to the bound ones.
        """
        if address not in self.held:
            return False
        self.held.remove(address)
        self.bound.add(address)
        return True

    def release(self, address: Address) -> None:
        """
        Record and forget a port.
        """
        self.released.append(address)
        self.bound.discard(address)
        self.held.discard(address)


def make_core(
    allocator: FakeAllocator | None = None,
    policy: PeerPolicy | None = None,
    **settings: Any,
) -> tuple[TurnCore, FakeAllocator]:
    """
    Return a core with a fake allocator.
    """
    if allocator is None:
        allocator = FakeAllocator()
    config = TurnConfig(realm=REALM, nonce_secret=b"n" * 32, **settings)
    return TurnCore(config, allocator, policy), allocator


def responses(actions: list[TurnAction]) -> list[StunMessage]:
    """
    Decode every STUN message sent to a client in C{actions}.
    """
    return [
        decode(action.data) for action in actions if isinstance(action, SendToClient)
    ]


def error_code(message: StunMessage) -> int | None:
    """
    Return the ERROR-CODE of a response, or L{None}.
    """
    value = message.get(AttributeType.ERROR_CODE)
    return None if value is None else int(value.code)


class Client:
    """
    A TURN client on one path that authenticates like a browser: it learns
    the nonce from a 401 and signs every request.
    """

    def __init__(
        self,
        core: TurnCore,
        path: Path = CLIENT_PATH,
        username: str = USERNAME,
        password: str = PASSWORD,
    ) -> None:
        self.core = core
        self.path = path
        self.username = username
        self.key = long_term_key(username, REALM, password)
        self.nonce: str | None = None

    def fetch_nonce(self, now: float) -> str:
        """
        Send an unauthenticated Allocate and keep the NONCE of the 401.
        """
        message = decode(StunMessage.request(Method.ALLOCATE).encode())
        reply = self.core.receive_request(message, self.path, now)
        assert isinstance(reply, SendToClient)
        nonce = decode(reply.data).get(AttributeType.NONCE)
        assert isinstance(nonce, str)
        self.nonce = nonce
        return nonce

    def build(
        self,
        method: int,
        attributes: list[tuple[int, Any]],
        now: float,
        transaction_id: bytes | None = None,
    ) -> StunMessage:
        """
        Return a signed request with FINGERPRINT, as decoded by the server.
        """
        if self.nonce is None:
            self.fetch_nonce(now)
        request = StunMessage.request(method, attributes)
        if transaction_id is not None:
            request.transaction_id = transaction_id
        request.add(AttributeType.USERNAME, self.username)
        request.add(AttributeType.REALM, REALM)
        request.add(AttributeType.NONCE, self.nonce)
        return decode(request.encode(integrity_key=self.key, fingerprint=True))

    def send(
        self,
        message: StunMessage,
        now: float,
        keys: list[bytes] | None = None,
    ) -> list[TurnAction]:
        """
        Run C{message} through both phases, with C{keys} (this client's key
        by default) as the credential store's result.
        """
        first = self.core.receive_request(message, self.path, now)
        if first is None:
            return []
        if isinstance(first, SendToClient):
            return [first]
        assert isinstance(first, NeedKeys)
        if keys is None:
            keys = [self.key]
        return self.core.authenticated_request(message, self.path, keys, now)

    def request(
        self,
        method: int,
        attributes: list[tuple[int, Any]],
        now: float = 0.0,
        transaction_id: bytes | None = None,
    ) -> StunMessage:
        """
        Send a signed request and return the decoded response. A 438 is
        retried once with its fresh nonce.
        """
        message = self.build(method, attributes, now, transaction_id)
        [reply] = responses(self.send(message, now))
        if reply.get(AttributeType.ERROR_CODE) is not None and (
            reply.get(AttributeType.ERROR_CODE).code == 438
        ):
            # A stale nonce: retry once with the fresh one, as clients do.
            self.nonce = reply.get(AttributeType.NONCE)
            message = self.build(method, attributes, now, transaction_id)
            [reply] = responses(self.send(message, now))
        return reply

    def allocate(
        self, attributes: list[tuple[int, Any]] | None = None, now: float = 0.0
    ) -> StunMessage:
        """
        Send an Allocate for UDP, with C{attributes} added.
        """
        request = [(AttributeType.REQUESTED_TRANSPORT, TransportProtocol.UDP)]
        return self.request(Method.ALLOCATE, request + (attributes or []), now)

    def permit(self, *peers: Address, now: float = 0.0) -> StunMessage:
        """
        Send a CreatePermission for C{peers}.
        """
        attributes = [(AttributeType.XOR_PEER_ADDRESS, peer) for peer in peers]
        return self.request(Method.CREATE_PERMISSION, attributes, now)

    def bind(self, number: int, peer: Address, now: float = 0.0) -> StunMessage:
        """
        Send a ChannelBind of C{number} to C{peer}.
        """
        attributes = [
            (AttributeType.CHANNEL_NUMBER, number),
            (AttributeType.XOR_PEER_ADDRESS, peer),
        ]
        return self.request(Method.CHANNEL_BIND, attributes, now)

    def refresh(self, lifetime: int | None, now: float = 0.0) -> StunMessage:
        """
        Send a Refresh, with LIFETIME when not L{None}.
        """
        attributes = [] if lifetime is None else [(AttributeType.LIFETIME, lifetime)]
        return self.request(Method.REFRESH, attributes, now)

    def send_indication(self, peer: Address, data: bytes, now: float = 0.0) -> Any:
        """
        Send a Send indication and return what the core relays.
        """
        indication = StunMessage.indication(
            Method.SEND,
            [(AttributeType.XOR_PEER_ADDRESS, peer), (AttributeType.DATA, data)],
        )
        return self.core.send_indication(decode(indication.encode()), self.path, now)


def relayed_address(response: StunMessage) -> Address:
    """
    Return the first XOR-RELAYED-ADDRESS of an Allocate success.
    """
    value = response.get(AttributeType.XOR_RELAYED_ADDRESS)
    assert value is not None
    return (str(value[0]), int(value[1]))
