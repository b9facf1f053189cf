"""
End-to-end tests of IPv4 and IPv6 relays: the real C{twistd mcs-ice} server
with C{--relay-ip} given for each IP version grants both relayed addresses in
one allocation (ADDITIONAL-ADDRESS-FAMILY, RFC 8656 section 7.2), and relays
between a client on 127.0.0.1 and a peer on ::1. The last datagram a client
sends before it deletes its allocation still reaches the peer.
"""

from __future__ import annotations

import socket

from twisted.trial import unittest

from tests.e2e.support import (
    LOOPBACK,
    UdpClient,
    free_tcp_port,
    start_server,
)
from twisted_ice.stun import (
    AddressFamily,
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
    long_term_key,
)

REALM = "twisted-ice"
USER = "alice"
PASSWORD = "dual-secret"
UDP_TRANSPORT = 17
TIMEOUT = 2.0
"""Seconds to wait for each datagram."""


def send_indication(peer: tuple[str, int], data: bytes) -> bytes:
    """
    Encode a Send indication of C{data} to C{peer}.
    """
    message = StunMessage.indication(
        Method.SEND,
        [(AttributeType.XOR_PEER_ADDRESS, peer), (AttributeType.DATA, data)],
    )
    return message.encode()


class DualStackRelayTests(unittest.TestCase):
    """
    One allocation with an IPv4 and an IPv6 relayed address.
    """

    def setUp(self) -> None:
        self.server = start_server(
            self,
            extra_args=[
                "--api",
                f"tcp:{free_tcp_port()}:interface={LOOPBACK}",
                "--user",
                f"{USER}:{PASSWORD}",
                "--relay-ip",
                LOOPBACK,
                "--relay-ip",
                "::1",
                "--allow-peer",
                "127.0.0.1/32",
                "--allow-peer",
                "::1/128",
            ],
        )
        self.client = UdpClient(self)
        self.key = long_term_key(USER, REALM, PASSWORD)
        self.nonce = ""

    def request(self, method: int, *attributes: tuple[int, object]) -> StunMessage:
        """
        Send a request signed with the client's nonce, and return the
        response.
        """
        signed = [
            *attributes,
            (AttributeType.USERNAME, USER),
            (AttributeType.REALM, REALM),
            (AttributeType.NONCE, self.nonce),
        ]
        message = StunMessage.request(method, signed)
        reply = self.client.exchange(
            message.encode(integrity_key=self.key), self.server.udp_address
        )
        self.assertIsNotNone(reply, f"no response to method {method:#x}")
        assert reply is not None
        return decode(reply)

    def allocate_both(self) -> list[tuple[str, int]]:
        """
        Allocate with ADDITIONAL-ADDRESS-FAMILY IPv6 and return the relayed
        addresses of the response.
        """
        transport = (AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)
        first = StunMessage.request(Method.ALLOCATE, [transport])
        reply = self.client.exchange(first.encode(), self.server.udp_address)
        assert reply is not None, "no answer to the first Allocate"
        self.nonce = decode(reply).get(AttributeType.NONCE)
        response = self.request(
            Method.ALLOCATE,
            transport,
            (AttributeType.ADDITIONAL_ADDRESS_FAMILY, AddressFamily.IPV6),
        )
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        return list(response.get_all(AttributeType.XOR_RELAYED_ADDRESS))

    def permitted_peer(self, host: str) -> tuple[socket.socket, tuple[str, int]]:
        """
        Bind a peer socket on C{host}, create a permission for it, and return
        the socket and its address.
        """
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        peer = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(peer.close)
        peer.bind((host, 0))
        peer.settimeout(TIMEOUT)
        address = peer.getsockname()[:2]
        permission = self.request(
            Method.CREATE_PERMISSION, (AttributeType.XOR_PEER_ADDRESS, address)
        )
        self.assertEqual(permission.message_class, MessageClass.SUCCESS_RESPONSE)
        return peer, address

    def test_both_relayed_addresses(self) -> None:
        """
        The Allocate response carries an IPv4 relayed address on 127.0.0.1
        and an IPv6 one on ::1.
        """
        relays = self.allocate_both()
        self.assertEqual([host for host, _ in relays], [LOOPBACK, "::1"])

    def test_ipv6_peer_both_ways(self) -> None:
        """
        A Send indication to an IPv6 peer leaves the IPv6 relayed address, and
        the peer's reply comes back as a Data indication with the peer's
        IPv6 address.
        """
        relays = self.allocate_both()
        peer, peer_address = self.permitted_peer("::1")
        self.client.send(
            send_indication(peer_address, b"to ipv6"), self.server.udp_address
        )
        data, source = peer.recvfrom(65535)
        self.assertEqual(data, b"to ipv6")
        self.assertEqual(source[:2], relays[1])

        peer.sendto(b"from ipv6", relays[1])
        reply = self.client.receive(TIMEOUT)
        self.assertIsNotNone(reply, "no Data indication from the IPv6 peer")
        assert reply is not None
        indication = decode(reply)
        self.assertEqual(indication.method, Method.DATA)
        self.assertEqual(indication.get(AttributeType.DATA), b"from ipv6")
        self.assertEqual(indication.get(AttributeType.XOR_PEER_ADDRESS), peer_address)

    def test_datagram_before_refresh_zero(self) -> None:
        """
        A Send indication sent right before a Refresh with LIFETIME 0 still
        reaches the peer: the server relays it before it closes the relay
        port.
        """
        relays = self.allocate_both()
        peer, peer_address = self.permitted_peer(LOOPBACK)
        self.client.send(
            send_indication(peer_address, b"last words"), self.server.udp_address
        )
        refresh = self.request(Method.REFRESH, (AttributeType.LIFETIME, 0))
        self.assertEqual(refresh.message_class, MessageClass.SUCCESS_RESPONSE)
        data, source = peer.recvfrom(65535)
        self.assertEqual(data, b"last words")
        self.assertEqual(source, relays[0])
