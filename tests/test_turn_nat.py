"""
Tests for TURN behind a 1:1 NAT: L{twisted_ice.turn.RelayNat}, the core
with a NAT, and the service with relay ports bound on the private address.
"""

from __future__ import annotations

import random

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.test_relay import FakeUdpReactor
from tests.test_turn_helpers import (
    PEER,
    RELAY_HOST,
    Client,
    FakeAllocator,
    error_code,
    relayed_address,
)
from tests.test_turn_service import UDP_PATH, USER, RecordingWriter
from twisted_ice.addresses import Transport
from twisted_ice.credentials import StaticCredentialStore
from twisted_ice.stun import AttributeType, Method, StunMessage, decode
from twisted_ice.transport.relay import UdpRelayAllocator
from twisted_ice.transport.turn import TurnService
from twisted_ice.turn import (
    PeerPolicy,
    RelayNat,
    SendToClient,
    SendToPeer,
    TurnConfig,
    TurnCore,
    channeldata,
)

PUBLIC_HOST = "192.0.2.77"
OWN_PUBLIC = (PUBLIC_HOST, 9000)
OWN_PRIVATE = (RELAY_HOST, 9000)


class RelayNatTests(SynchronousTestCase):
    """
    Tests for L{RelayNat}.
    """

    def test_public_maps_host(self) -> None:
        """
        A relay address on a private host maps to the public host with the
        same port.
        """
        nat = RelayNat({"10.0.0.5": "192.0.2.77"})
        self.assertEqual(nat.public(("10.0.0.5", 50000)), ("192.0.2.77", 50000))

    def test_public_without_nat(self) -> None:
        """
        Without a mapping, the relay address is given as it is.
        """
        self.assertEqual(RelayNat().public(("10.0.0.5", 50000)), ("10.0.0.5", 50000))

    def test_hosts_canonical(self) -> None:
        """
        IPv6 hosts are stored in the form C{socket.inet_ntop} gives.
        """
        nat = RelayNat({"fd00:0::5": "2001:DB8::77"})
        self.assertEqual(nat.public(("fd00::5", 1)), ("2001:db8::77", 1))

    def test_version_mismatch(self) -> None:
        """
        A public IPv6 address for a private IPv4 address is rejected.
        """
        self.assertRaises(ValueError, RelayNat, {"10.0.0.5": "2001:db8::77"})

    def test_own_address_outbound(self) -> None:
        """
        An own ICE address on the public IP is sent to on the private IP.
        """
        nat = RelayNat({"10.0.0.5": "192.0.2.77"}, [("192.0.2.77", 9000)])
        self.assertEqual(nat.outbound, {("192.0.2.77", 9000): ("10.0.0.5", 9000)})

    def test_own_address_inbound(self) -> None:
        """
        The private own ICE address is reported as the public one.
        """
        nat = RelayNat({"10.0.0.5": "192.0.2.77"}, [("192.0.2.77", 9000)])
        self.assertEqual(nat.inbound, {("10.0.0.5", 9000): ("192.0.2.77", 9000)})

    def test_other_own_addresses_ignored(self) -> None:
        """
        Own addresses on hosts other than a public relay IP are not mapped.
        """
        nat = RelayNat({"10.0.0.5": "192.0.2.77"}, [("192.0.2.9", 9000)])
        self.assertEqual(nat.outbound, {})


def nat_core() -> tuple[TurnCore, Client, tuple[str, int]]:
    """
    Return a core whose relay host is behind a NAT to L{PUBLIC_HOST}, a
    client with an allocation, and the private relay address.
    """
    own = [OWN_PUBLIC, OWN_PRIVATE]
    core = TurnCore(
        TurnConfig(realm="example.org", nonce_secret=b"n" * 32),
        FakeAllocator(),
        PeerPolicy(own_addresses=own),
        RelayNat({RELAY_HOST: PUBLIC_HOST}, own),
    )
    client = Client(core)
    client.allocate()
    allocation = core.allocation(client.path)
    assert allocation is not None
    [relay] = allocation.relays.values()
    return core, client, relay


class CoreNatTests(SynchronousTestCase):
    """
    Tests for the TURN core with a 1:1 NAT in front of its relay host.
    """

    def test_relayed_address_public(self) -> None:
        """
        XOR-RELAYED-ADDRESS carries the public host and the relay port.
        """
        core = TurnCore(
            TurnConfig(realm="example.org", nonce_secret=b"n" * 32),
            FakeAllocator(),
            nat=RelayNat({RELAY_HOST: PUBLIC_HOST}),
        )
        response = Client(core).allocate()
        self.assertEqual(relayed_address(response), (PUBLIC_HOST, 50000))

    def test_peer_datagram_on_private_relay(self) -> None:
        """
        A datagram on the private relay address reaches the allocation.
        """
        core, client, relay = nat_core()
        client.permit(PEER)
        action = core.peer_datagram(relay, PEER, b"x", 1)
        assert isinstance(action, SendToClient)
        self.assertEqual(action.path, client.path)

    def test_send_to_own_public_goes_private(self) -> None:
        """
        A Send indication to the own public ICE address is sent to its
        private address.
        """
        _core, client, relay = nat_core()
        self.assertIsNone(error_code(client.permit(OWN_PUBLIC)))
        self.assertEqual(
            client.send_indication(OWN_PUBLIC, b"x"),
            SendToPeer(relay, OWN_PRIVATE, b"x"),
        )

    def test_send_to_other_peer_unchanged(self) -> None:
        """
        A Send indication to any other peer is sent to that peer.
        """
        _core, client, relay = nat_core()
        client.permit(PEER)
        self.assertEqual(
            client.send_indication(PEER, b"x"), SendToPeer(relay, PEER, b"x")
        )

    def test_reply_from_private_as_public(self) -> None:
        """
        A datagram from the private own ICE address reaches the client as a
        Data indication from the public one.
        """
        core, client, relay = nat_core()
        client.permit(OWN_PUBLIC)
        action = core.peer_datagram(relay, OWN_PRIVATE, b"x", 1)
        assert isinstance(action, SendToClient)
        peer = decode(action.data).get(AttributeType.XOR_PEER_ADDRESS)
        self.assertEqual(peer, OWN_PUBLIC)

    def test_private_without_permission_dropped(self) -> None:
        """
        A datagram from the private own ICE address without a permission for
        either address is dropped.
        """
        core, _client, relay = nat_core()
        self.assertIsNone(core.peer_datagram(relay, OWN_PRIVATE, b"x", 1))

    def test_private_permission_kept(self) -> None:
        """
        A client with a permission for the private own ICE address gets its
        datagrams from that address.
        """
        core, client, relay = nat_core()
        client.permit(OWN_PRIVATE)
        action = core.peer_datagram(relay, OWN_PRIVATE, b"x", 1)
        assert isinstance(action, SendToClient)
        peer = decode(action.data).get(AttributeType.XOR_PEER_ADDRESS)
        self.assertEqual(peer, OWN_PRIVATE)

    def test_channel_to_own_public(self) -> None:
        """
        ChannelData on a channel bound to the own public ICE address goes to
        the private address, and replies come back on the channel.
        """
        core, client, relay = nat_core()
        self.assertIsNone(error_code(client.bind(0x4000, OWN_PUBLIC)))
        sent = core.channel_data(channeldata.encode(0x4000, b"out"), client.path, 1)
        self.assertEqual(sent, SendToPeer(relay, OWN_PRIVATE, b"out"))
        back = core.peer_datagram(relay, OWN_PRIVATE, b"back", 1)
        assert isinstance(back, SendToClient)
        self.assertEqual(channeldata.decode(back.data), (0x4000, b"back"))


class ServiceNatTests(SynchronousTestCase):
    """
    Tests for the TURN service with relay ports bound on a private address
    behind a 1:1 NAT.
    """

    PRIVATE = "10.0.0.5"

    def setUp(self) -> None:
        """
        Start a service whose relay ports bind on L{PRIVATE}, mapped to
        L{PUBLIC_HOST}.
        """
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.udp_reactor = FakeUdpReactor()
        relays = UdpRelayAllocator(
            [self.PRIVATE],
            range(50000, 50100),
            reactor=self.udp_reactor,  # type: ignore[arg-type]
            rng=random.Random(3),
            socket_factory=self.udp_reactor.socket,  # type: ignore[arg-type]
        )

        own = [(PUBLIC_HOST, 9000), (self.PRIVATE, 9000)]
        core = TurnCore(
            TurnConfig(realm="example.org"),
            relays,
            PeerPolicy(own_addresses=own, allow=["198.51.100.0/24"]),
            RelayNat({self.PRIVATE: PUBLIC_HOST}, own),
        )

        self.udp = RecordingWriter()
        self.service = TurnService(
            core,
            StaticCredentialStore({USER: "wonderland"}),
            relays,
            {Transport.UDP: self.udp},
            reactor=self.clock,
        )
        self.service.startService()
        self.addCleanup(self.service.stopService)

        self.client = Client(core, UDP_PATH)
        # The client only builds and signs requests; they go to the service.
        self.relayed = relayed_address(self.request(Method.ALLOCATE))

    def request(self, method: int, *peers: tuple[str, int]) -> StunMessage:
        """
        Send a signed request through the service and return the response.
        """
        attributes: list[tuple[int, object]] = [
            (AttributeType.XOR_PEER_ADDRESS, peer) for peer in peers
        ]
        if method == Method.ALLOCATE:
            attributes.append((AttributeType.REQUESTED_TRANSPORT, 17))
        message = self.client.build(method, attributes, self.clock.seconds())
        data = message.encode()
        self.service.stun_received(message, data, UDP_PATH)
        return decode(self.udp.written[-1][0])

    def test_relayed_address_public(self) -> None:
        """
        The client gets the public host with the bound port.
        """
        self.assertEqual(self.relayed[0], PUBLIC_HOST)

    def test_socket_bound_private(self) -> None:
        """
        The relay socket of the relayed port is bound on the private host.
        """
        sock = self.udp_reactor.bound[self.relayed[1]]
        self.assertEqual(sock.interface, self.PRIVATE)

    def test_peer_datagram_reaches_client(self) -> None:
        """
        A datagram a peer sends to the relay socket reaches the client.
        """
        self.request(Method.CREATE_PERMISSION, PEER)
        sock = self.udp_reactor.bound[self.relayed[1]]
        sock.protocol.datagramReceived(b"hello", PEER)
        data, path = self.udp.written[-1]
        self.assertEqual(path, UDP_PATH)
        self.assertEqual(decode(data).get(AttributeType.DATA), b"hello")

    def test_hairpin_to_own_ice(self) -> None:
        """
        Data to the own public ICE address leaves for the private address,
        and the response comes back as from the public one.
        """
        own_private = (self.PRIVATE, 9000)
        self.request(Method.CREATE_PERMISSION, (PUBLIC_HOST, 9000))
        indication = StunMessage.indication(
            Method.SEND,
            [
                (AttributeType.XOR_PEER_ADDRESS, (PUBLIC_HOST, 9000)),
                (AttributeType.DATA, b"check"),
            ],
        )
        data = indication.encode()
        self.service.stun_received(decode(data), data, UDP_PATH)
        sock = self.udp_reactor.bound[self.relayed[1]]
        self.assertEqual(sock.written, [(b"check", own_private)])
        sock.protocol.datagramReceived(b"response", own_private)
        response = decode(self.udp.written[-1][0])
        self.assertEqual(
            response.get(AttributeType.XOR_PEER_ADDRESS), (PUBLIC_HOST, 9000)
        )
