"""
Tests for permissions, channel bindings and relaying in the TURN core (RFC
8656 sections 9 to 12).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.test_turn_helpers import (
    CLIENT_PATH,
    OTHER_PATH,
    PEER,
    PEER6,
    TCP_PATH,
    Client,
    FakeAllocator,
    error_code,
    make_core,
    relayed_address,
)
from twisted_ice.addresses import Address
from twisted_ice.stun import (
    AddressFamily,
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
)
from twisted_ice.turn import PeerPolicy, SendToClient, SendToPeer, TurnCore

OTHER_PEER = ("8.8.4.4", 6000)


def allocated(
    policy: PeerPolicy | None = None, **settings: object
) -> tuple[TurnCore, Client, Address]:
    """
    Return a core, a client with an allocation, and its relayed address.
    """
    core, _allocator = make_core(policy=policy, **settings)
    client = Client(core)
    relay = relayed_address(client.allocate())
    return core, client, relay


class CreatePermissionTests(SynchronousTestCase):
    """
    Tests for CreatePermission requests.
    """

    def test_success(self) -> None:
        """
        A CreatePermission for a public peer succeeds, signed.
        """
        _core, client, _relay = allocated()
        response = client.permit(PEER)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertTrue(response.check_integrity(client.key))

    def test_new_policy_applies(self) -> None:
        """
        A policy set on the core, as a reload does, decides later requests.
        """
        core, client, _relay = allocated()
        core.policy = PeerPolicy(deny=["8.8.8.0/24"])
        self.assertEqual(error_code(client.permit(PEER)), 403)

    def test_without_peer_gets_400(self) -> None:
        """
        A CreatePermission without XOR-PEER-ADDRESS gets 400.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.permit()), 400)

    def test_without_allocation_gets_437(self) -> None:
        """
        A CreatePermission on a 5-tuple without allocation gets 437.
        """
        core, _allocator = make_core()
        self.assertEqual(error_code(Client(core).permit(PEER)), 437)

    def test_family_mismatch_gets_443(self) -> None:
        """
        An IPv6 peer on an IPv4 allocation gets 443.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.permit(PEER6)), 443)

    def test_loopback_peer_gets_403(self) -> None:
        """
        A loopback peer gets 403.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.permit(("127.0.0.1", 5000))), 403)

    def test_one_forbidden_installs_nothing(self) -> None:
        """
        One forbidden peer among several fails the request with 403 and
        installs no permission for the others.
        """
        core, client, relay = allocated()
        response = client.permit(PEER, ("10.0.0.1", 5000))
        self.assertEqual(error_code(response), 403)
        self.assertIsNone(core.peer_datagram(relay, PEER, b"x", 1.0))

    def test_several_peers(self) -> None:
        """
        Several XOR-PEER-ADDRESS install a permission each.
        """
        core, client, relay = allocated()
        client.permit(PEER, OTHER_PEER)
        self.assertIsNotNone(core.peer_datagram(relay, PEER, b"x", 1.0))
        self.assertIsNotNone(core.peer_datagram(relay, OTHER_PEER, b"x", 1.0))

    def test_keyed_by_ip_only(self) -> None:
        """
        A permission is for the peer's IP address: any port of it may send.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        reply = core.peer_datagram(relay, (PEER[0], 9999), b"x", 1.0)
        self.assertIsNotNone(reply)

    def test_permission_capacity_gets_508(self) -> None:
        """
        Permissions beyond C{max_permissions} get 508.
        """
        _core, client, _relay = allocated(max_permissions=1)
        client.permit(PEER)
        self.assertEqual(error_code(client.permit(OTHER_PEER)), 508)

    def test_refresh_of_existing_within_capacity(self) -> None:
        """
        Refreshing an existing permission at the capacity limit succeeds.
        """
        _core, client, _relay = allocated(max_permissions=1)
        client.permit(PEER)
        response = client.permit(PEER, now=10.0)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)

    def test_other_username_gets_441(self) -> None:
        """
        A CreatePermission signed by another user gets 441.
        """
        core, _client, _relay = allocated()
        self.assertEqual(error_code(Client(core, username="bob").permit(PEER)), 441)


class ChannelBindTests(SynchronousTestCase):
    """
    Tests for ChannelBind requests.
    """

    def test_success(self) -> None:
        """
        Binding 0x4000 to a peer succeeds.
        """
        _core, client, _relay = allocated()
        response = client.bind(0x4000, PEER)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)

    def test_range_edges(self) -> None:
        """
        0x4000 and 0x4FFF are valid channel numbers.
        """
        _core, client, _relay = allocated()
        self.assertIsNone(error_code(client.bind(0x4000, PEER)))
        self.assertIsNone(error_code(client.bind(0x4FFF, OTHER_PEER)))

    def test_below_range_gets_400(self) -> None:
        """
        Channel 0x3FFF gets 400.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.bind(0x3FFF, PEER)), 400)

    def test_above_range_gets_400(self) -> None:
        """
        Channel 0x5000 gets 400.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.bind(0x5000, PEER)), 400)

    def test_zero_gets_400(self) -> None:
        """
        Channel 0 gets 400.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.bind(0, PEER)), 400)

    def test_missing_number_gets_400(self) -> None:
        """
        A ChannelBind without CHANNEL-NUMBER gets 400.
        """
        _core, client, _relay = allocated()
        response = client.request(
            Method.CHANNEL_BIND, [(AttributeType.XOR_PEER_ADDRESS, PEER)]
        )
        self.assertEqual(error_code(response), 400)

    def test_missing_peer_gets_400(self) -> None:
        """
        A ChannelBind without XOR-PEER-ADDRESS gets 400.
        """
        _core, client, _relay = allocated()
        response = client.request(
            Method.CHANNEL_BIND, [(AttributeType.CHANNEL_NUMBER, 0x4000)]
        )
        self.assertEqual(error_code(response), 400)

    def test_number_bound_to_other_peer_gets_400(self) -> None:
        """
        Binding a channel number already bound to another peer gets 400.
        """
        _core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        self.assertEqual(error_code(client.bind(0x4000, OTHER_PEER)), 400)

    def test_peer_bound_to_other_number_gets_400(self) -> None:
        """
        Binding a peer already bound to another number gets 400.
        """
        _core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        self.assertEqual(error_code(client.bind(0x4001, PEER)), 400)

    def test_same_peer_other_port_is_other_peer(self) -> None:
        """
        A channel is bound to a transport address: another port of the same
        IP can have its own channel.
        """
        _core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        self.assertIsNone(error_code(client.bind(0x4001, (PEER[0], PEER[1] + 1))))

    def test_rebind_same_pair_succeeds(self) -> None:
        """
        Binding the same number to the same peer again succeeds.
        """
        _core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        self.assertIsNone(error_code(client.bind(0x4000, PEER, now=100.0)))

    def test_forbidden_peer_gets_403(self) -> None:
        """
        A ChannelBind to a private peer gets 403.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.bind(0x4000, ("192.168.1.1", 5000))), 403)

    def test_family_mismatch_gets_443(self) -> None:
        """
        A ChannelBind to an IPv6 peer on an IPv4 allocation gets 443.
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.bind(0x4000, PEER6)), 443)

    def test_without_allocation_gets_437(self) -> None:
        """
        A ChannelBind without allocation gets 437.
        """
        core, _allocator = make_core()
        self.assertEqual(error_code(Client(core).bind(0x4000, PEER)), 437)

    def test_installs_permission(self) -> None:
        """
        A ChannelBind installs a permission for the peer's IP address.
        """
        core, client, relay = allocated()
        client.bind(0x4000, PEER)
        reply = core.peer_datagram(relay, (PEER[0], 1234), b"x", 1.0)
        self.assertIsNotNone(reply)


class SendIndicationTests(SynchronousTestCase):
    """
    Tests for Send indications from the client.
    """

    def test_relayed_with_permission(self) -> None:
        """
        DATA goes to the peer from the relayed address.
        """
        _core, client, relay = allocated()
        client.permit(PEER)
        self.assertEqual(
            client.send_indication(PEER, b"hello"), SendToPeer(relay, PEER, b"hello")
        )

    def test_empty_data_relayed(self) -> None:
        """
        A DATA attribute of zero bytes is relayed as an empty datagram.
        """
        _core, client, relay = allocated()
        client.permit(PEER)
        self.assertEqual(
            client.send_indication(PEER, b""), SendToPeer(relay, PEER, b"")
        )

    def test_without_permission_dropped(self) -> None:
        """
        A Send indication to a peer without permission is dropped and
        counted.
        """
        core, client, _relay = allocated()
        self.assertIsNone(client.send_indication(PEER, b"hello"))
        self.assertEqual(core.drops["no_permission"], 1)

    def test_forbidden_peer_dropped(self) -> None:
        """
        A Send indication to a loopback peer is dropped.
        """
        _core, client, _relay = allocated()
        self.assertIsNone(client.send_indication(("127.0.0.1", 5000), b"x"))

    def test_without_allocation_dropped(self) -> None:
        """
        A Send indication on a 5-tuple without allocation is dropped.
        """
        core, _allocator = make_core()
        self.assertIsNone(Client(core).send_indication(PEER, b"x"))
        self.assertEqual(core.drops["no_allocation"], 1)

    def test_missing_data_dropped(self) -> None:
        """
        A Send indication without DATA is dropped.
        """
        core, client, _relay = allocated()
        client.permit(PEER)
        indication = StunMessage.indication(
            Method.SEND, [(AttributeType.XOR_PEER_ADDRESS, PEER)]
        )
        self.assertIsNone(
            core.send_indication(decode(indication.encode()), CLIENT_PATH, 1.0)
        )
        self.assertEqual(core.drops["bad_indication"], 1)

    def test_missing_peer_dropped(self) -> None:
        """
        A Send indication without XOR-PEER-ADDRESS is dropped.
        """
        core, client, _relay = allocated()
        indication = StunMessage.indication(Method.SEND, [(AttributeType.DATA, b"x")])
        self.assertIsNone(
            core.send_indication(decode(indication.encode()), CLIENT_PATH, 1.0)
        )

    def test_dont_fragment_dropped(self) -> None:
        """
        A Send indication with DONT-FRAGMENT is dropped, because the server
        cannot set the DF bit.
        """
        core, client, _relay = allocated()
        client.permit(PEER)
        indication = StunMessage.indication(
            Method.SEND,
            [
                (AttributeType.XOR_PEER_ADDRESS, PEER),
                (AttributeType.DATA, b"x"),
                (AttributeType.DONT_FRAGMENT, True),
            ],
        )
        self.assertIsNone(
            core.send_indication(decode(indication.encode()), CLIENT_PATH, 1.0)
        )

    def test_unknown_attribute_dropped(self) -> None:
        """
        A Send indication with an unknown comprehension-required attribute
        is dropped.
        """
        core, client, _relay = allocated()
        client.permit(PEER)
        indication = StunMessage.indication(
            Method.SEND,
            [
                (AttributeType.XOR_PEER_ADDRESS, PEER),
                (AttributeType.DATA, b"x"),
                (0x7FFE, b""),
            ],
        )
        self.assertIsNone(
            core.send_indication(decode(indication.encode()), CLIENT_PATH, 1.0)
        )

    def test_request_class_dropped(self) -> None:
        """
        A Send request (not an indication) given to send_indication is
        dropped.
        """
        core, _client, _relay = allocated()
        request = StunMessage.request(Method.SEND)
        self.assertIsNone(
            core.send_indication(decode(request.encode()), CLIENT_PATH, 1)
        )


class PeerDatagramTests(SynchronousTestCase):
    """
    Tests for datagrams from peers to relayed addresses.
    """

    def test_data_indication_without_channel(self) -> None:
        """
        A datagram from a permitted peer without channel becomes a Data
        indication with XOR-PEER-ADDRESS and DATA.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        reply = core.peer_datagram(relay, PEER, b"payload", 1.0)
        assert reply is not None
        self.assertEqual(reply.path, CLIENT_PATH)
        indication = decode(reply.data)
        self.assertEqual(indication.method, Method.DATA)
        self.assertEqual(indication.message_class, MessageClass.INDICATION)
        self.assertEqual(indication.get(AttributeType.XOR_PEER_ADDRESS), PEER)
        self.assertEqual(indication.get(AttributeType.DATA), b"payload")

    def test_channel_data_with_channel(self) -> None:
        """
        A datagram from a peer with a channel becomes ChannelData, unpadded
        on UDP.
        """
        core, client, relay = allocated()
        client.bind(0x4001, PEER)
        reply = core.peer_datagram(relay, PEER, b"abcde", 1.0)
        self.assertEqual(reply, SendToClient(CLIENT_PATH, b"\x40\x01\x00\x05abcde"))

    def test_channel_data_padded_on_tcp(self) -> None:
        """
        ChannelData to a TCP client is padded to a multiple of 4 bytes.
        """
        core, _allocator = make_core()
        client = Client(core, path=TCP_PATH)
        relay = relayed_address(client.allocate())
        client.bind(0x4001, PEER)
        reply = core.peer_datagram(relay, PEER, b"abcde", 1.0)
        self.assertEqual(
            reply, SendToClient(TCP_PATH, b"\x40\x01\x00\x05abcde\x00\x00\x00")
        )

    def test_without_permission_dropped(self) -> None:
        """
        A datagram from a peer without permission is dropped and counted.
        """
        core, _client, relay = allocated()
        self.assertIsNone(core.peer_datagram(relay, PEER, b"x", 1.0))
        self.assertEqual(core.drops["no_permission"], 1)

    def test_unknown_relay_dropped(self) -> None:
        """
        A datagram to a relayed address without allocation is dropped.
        """
        core, _allocator = make_core()
        self.assertIsNone(core.peer_datagram(("198.51.100.1", 1), PEER, b"x", 1.0))
        self.assertEqual(core.drops["no_allocation"], 1)


class ChannelDataTests(SynchronousTestCase):
    """
    Tests for ChannelData from the client.
    """

    def test_relayed_to_peer(self) -> None:
        """
        ChannelData on a bound channel goes to its peer.
        """
        core, client, relay = allocated()
        client.bind(0x4000, PEER)
        self.assertEqual(
            core.channel_data(b"\x40\x00\x00\x03abc", CLIENT_PATH, 1.0),
            SendToPeer(relay, PEER, b"abc"),
        )

    def test_padding_not_relayed(self) -> None:
        """
        Padding after the length is not relayed.
        """
        core, client, relay = allocated()
        client.bind(0x4000, PEER)
        self.assertEqual(
            core.channel_data(b"\x40\x00\x00\x03abc\x00", CLIENT_PATH, 1.0),
            SendToPeer(relay, PEER, b"abc"),
        )

    def test_length_past_data_dropped(self) -> None:
        """
        A length field longer than the data is dropped.
        """
        core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        self.assertIsNone(core.channel_data(b"\x40\x00\x00\x09abc", CLIENT_PATH, 1))
        self.assertEqual(core.drops["bad_channel_data"], 1)

    def test_short_header_dropped(self) -> None:
        """
        Fewer than 4 bytes are dropped.
        """
        core, client, _relay = allocated()
        self.assertIsNone(core.channel_data(b"\x40\x00\x00", CLIENT_PATH, 1.0))

    def test_unbound_channel_dropped(self) -> None:
        """
        ChannelData on an unbound channel is dropped.
        """
        core, _client, _relay = allocated()
        self.assertIsNone(core.channel_data(b"\x40\x00\x00\x00", CLIENT_PATH, 1.0))
        self.assertEqual(core.drops["no_channel"], 1)

    def test_without_allocation_dropped(self) -> None:
        """
        ChannelData on a 5-tuple without allocation is dropped.
        """
        core, _allocator = make_core()
        self.assertIsNone(core.channel_data(b"\x40\x00\x00\x00", OTHER_PATH, 1.0))
        self.assertEqual(core.drops["no_allocation"], 1)

    def test_other_client_channel_dropped(self) -> None:
        """
        A channel bound by one client is not usable from another 5-tuple.
        """
        core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        Client(core, path=OTHER_PATH).allocate()
        self.assertIsNone(core.channel_data(b"\x40\x00\x00\x00", OTHER_PATH, 1.0))


class DualAllocationRelayTests(SynchronousTestCase):
    """
    Relaying on an allocation with IPv4 and IPv6 relayed addresses.
    """

    def test_each_family_from_its_relay(self) -> None:
        """
        IPv4 peers are reached from the IPv4 relayed address and IPv6 peers
        from the IPv6 one.
        """
        allocator = FakeAllocator(
            families=frozenset({AddressFamily.IPV4, AddressFamily.IPV6})
        )
        core, _allocator = make_core(allocator)
        client = Client(core)
        response = client.allocate(
            [(AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        relay4, relay6 = response.get_all(AttributeType.XOR_RELAYED_ADDRESS)
        client.permit(PEER, PEER6)
        self.assertEqual(client.send_indication(PEER, b"4").relay, relay4)
        self.assertEqual(client.send_indication(PEER6, b"6").relay, relay6)


class OwnIceAddressTests(SynchronousTestCase):
    """
    A client reaches this server's own ICE address through its relay, and
    nothing else on that IP.
    """

    OWN = ("127.0.0.1", 9000)

    def setUp(self) -> None:
        """
        Allocate with a policy that contains the own ICE address.
        """
        self.core, self.client, self.relay = allocated(
            PeerPolicy(own_addresses=[self.OWN])
        )

    def test_permission_allowed(self) -> None:
        """
        A CreatePermission for the own ICE address succeeds.
        """
        self.assertIsNone(error_code(self.client.permit(self.OWN)))

    def test_other_port_forbidden(self) -> None:
        """
        A CreatePermission for another port of that IP gets 403.
        """
        self.assertEqual(error_code(self.client.permit(("127.0.0.1", 22))), 403)

    def test_send_to_own_port_only(self) -> None:
        """
        Send indications reach the own ICE port and are dropped for another
        port of the same IP, although the permission is per IP.
        """
        self.client.permit(self.OWN)
        self.assertEqual(
            self.client.send_indication(self.OWN, b"x"),
            SendToPeer(self.relay, self.OWN, b"x"),
        )
        self.assertIsNone(self.client.send_indication(("127.0.0.1", 22), b"x"))

    def test_datagrams_from_own_port_only(self) -> None:
        """
        Datagrams from the own ICE port are relayed, from other ports of the
        same IP dropped.
        """
        self.client.permit(self.OWN)
        self.assertIsNotNone(self.core.peer_datagram(self.relay, self.OWN, b"x", 1))
        self.assertIsNone(
            self.core.peer_datagram(self.relay, ("127.0.0.1", 22), b"x", 1)
        )

    def test_channel_to_other_port_forbidden(self) -> None:
        """
        A ChannelBind to another port of that IP gets 403.
        """
        self.assertEqual(error_code(self.client.bind(0x4000, ("127.0.0.1", 22))), 403)


class AllowedLoopbackTests(SynchronousTestCase):
    """
    An allow network opens loopback peers, as the tests with real clients
    need.
    """

    def test_loopback_relayed(self) -> None:
        """
        With 127.0.0.1/32 allowed, a loopback peer gets a permission and its
        datagrams are relayed.
        """
        core, client, relay = allocated(PeerPolicy(allow=["127.0.0.1/32"]))
        self.assertIsNone(error_code(client.permit(("127.0.0.1", 5000))))
        self.assertIsNotNone(core.peer_datagram(relay, ("127.0.0.1", 5001), b"x", 1))

    def test_peer_address_canonical(self) -> None:
        """
        A peer written in a non-canonical IPv6 form gets a permission under
        the form relay sockets report.
        """
        allocator = FakeAllocator(
            families=frozenset({AddressFamily.IPV4, AddressFamily.IPV6})
        )
        core, _allocator = make_core(allocator)
        client = Client(core)
        response = client.allocate(
            [(AttributeType.REQUESTED_ADDRESS_FAMILY, AddressFamily.IPV6)]
        )
        relay = relayed_address(response)
        client.permit(("2001:4860:0:0:0:0:0:8888", 5000))
        self.assertIsNotNone(core.peer_datagram(relay, PEER6, b"x", 1.0))


class Rfc5766ChannelTests(SynchronousTestCase):
    """
    The channel range of RFC 5766, 0x4000-0x7FFF, when configured.
    """

    def test_default_rejects_0x5000(self) -> None:
        """
        By default 0x5000 gets 400 (RFC 8656 section 12).
        """
        _core, client, _relay = allocated()
        self.assertEqual(error_code(client.bind(0x5000, PEER)), 400)

    def test_configured_accepts_0x7fff(self) -> None:
        """
        With C{max_channel} 0x7FFF, channel 0x7FFF binds and relays both
        ways.
        """
        core, client, relay = allocated(max_channel=0x7FFF)
        self.assertIsNone(error_code(client.bind(0x7FFF, PEER)))
        self.assertEqual(
            core.channel_data(b"\x7f\xff\x00\x01x", CLIENT_PATH, 1.0),
            SendToPeer(relay, PEER, b"x"),
        )
        self.assertEqual(
            core.peer_datagram(relay, PEER, b"y", 1.0),
            SendToClient(CLIENT_PATH, b"\x7f\xff\x00\x01y"),
        )

    def test_configured_rejects_0x8000(self) -> None:
        """
        0x8000 is outside every range and gets 400.
        """
        _core, client, _relay = allocated(max_channel=0x7FFF)
        self.assertEqual(error_code(client.bind(0x8000, PEER)), 400)

    def test_invalid_max_channel_raises(self) -> None:
        """
        A C{max_channel} outside 0x4FFF-0x7FFF raises L{ValueError}.
        """
        self.assertRaises(ValueError, make_core, max_channel=0x8000)
        self.assertRaises(ValueError, make_core, max_channel=0x4000)
