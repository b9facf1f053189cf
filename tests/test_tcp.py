"""
Tests for L{twisted_ice.transport.tcp}: the TCP/TLS mux's connections, with
L{StringTransport}, a L{Clock} and fake services.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.trial import unittest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.interfaces import IIceService, IPathWriter, IStunMessage, ITurnService
from twisted_ice.stun import AttributeType, Method, StunMessage, decode
from twisted_ice.transport.framing import frame_rfc4571, pad_channel_data
from twisted_ice.transport.tcp import (
    DEFAULT_IDLE_TIMEOUT,
    FIRST_FRAME_TIMEOUT,
    CloseReason,
    DropReason,
    MuxConnection,
    TcpMux,
)

SERVER: Address = ("198.51.100.1", 443)
CLIENT: Address = ("192.0.2.1", 50000)


@implementer(IIceService)
class FakeIce:
    """
    An L{IIceService} that records what it gets; media passes only on the
    paths in C{checked}.
    """

    def __init__(self) -> None:
        self.stun: list[tuple[StunMessage, bytes, Path]] = []
        self.media: list[tuple[bytes, Path]] = []
        self.checked: set[Path] = set()
        self.closed: list[Path] = []

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Record a check.
        """
        assert isinstance(message, StunMessage)
        self.stun.append((message, data, path))

    def is_local_ufrag(self, ufrag: str) -> bool:
        """
        Every ufrag is local.
        """
        return True

    def media_received(self, data: bytes, path: Path) -> bool:
        """
        Record media on a checked path.
        """
        if path not in self.checked:
            return False
        self.media.append((data, path))
        return True

    def path_closed(self, path: Path) -> None:
        """
        Record a closed path.
        """
        self.closed.append(path)


@implementer(ITurnService)
class FakeTurn:
    """
    An L{ITurnService} that records what it gets.
    """

    def __init__(self) -> None:
        self.stun: list[tuple[StunMessage, bytes, Path]] = []
        self.channel_data: list[tuple[bytes, Path]] = []
        self.closed: list[Path] = []

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Record a TURN message.
        """
        assert isinstance(message, StunMessage)
        self.stun.append((message, data, path))

    def send_indication_received(self, data: bytes, path: Path) -> bool:
        """
        Take no undecoded Send indication.
        """
        return False

    def channel_data_received(self, data: bytes, path: Path) -> None:
        """
        Record a ChannelData message.
        """
        self.channel_data.append((data, path))

    def path_closed(self, path: Path) -> None:
        """
        Record a closed path.
        """
        self.closed.append(path)


def binding_check(username: str = "server:client") -> bytes:
    """
    Return an encoded Binding request with USERNAME and FINGERPRINT.
    """
    request = StunMessage.request(Method.BINDING, [(AttributeType.USERNAME, username)])
    return request.encode(fingerprint=True)


def plain_binding() -> bytes:
    """
    Return an encoded Binding request without attributes.
    """
    return StunMessage.request(Method.BINDING).encode()


def allocate() -> bytes:
    """
    Return an encoded Allocate request for UDP relaying.
    """
    request = StunMessage.request(
        Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, 17)]
    )
    return request.encode(fingerprint=True)


def channel_data(payload: bytes, channel: int = 0x4001) -> bytes:
    """
    Return an unpadded ChannelData message.
    """
    return channel.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload


class MuxTestCase(unittest.TestCase):
    """
    Builds a L{TcpMux} with fake services and a L{Clock}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.ice = FakeIce()
        self.turn = FakeTurn()
        self.mux = TcpMux(ice=self.ice, turn=self.turn, reactor=self.clock)

    def connect(
        self, client: Address = CLIENT
    ) -> tuple[MuxConnection, StringTransport]:
        """
        Accept a connection from C{client}.
        """
        protocol = self.mux.buildProtocol(IPv4Address("TCP", *client))
        assert protocol is not None
        transport = StringTransport(
            hostAddress=IPv4Address("TCP", *SERVER),
            peerAddress=IPv4Address("TCP", *client),
        )
        protocol.makeConnection(transport)
        return protocol, transport


class SniffingTests(MuxTestCase):
    """
    The first bytes decide what a connection carries.
    """

    def test_http_request_closed(self) -> None:
        """
        An HTTP request is closed at once.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.UNKNOWN_PROTOCOL], 1)

    def test_client_hello_without_tls_closed(self) -> None:
        """
        A TLS ClientHello on a listener without a certificate is closed.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(bytes.fromhex("16030100c8010000c40303"))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.TLS_NOT_CONFIGURED], 1)

    def test_garbage_closed(self) -> None:
        """
        Bytes that match no layout are closed.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"\x99" * 10)
        self.assertTrue(transport.disconnecting)

    def test_waits_for_enough_bytes(self) -> None:
        """
        Fewer bytes than the sniffer needs keep the connection open.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check())[:9])
        self.assertFalse(transport.disconnecting)
        self.assertIsNone(protocol.kind)

    def test_ice_tcp_path(self) -> None:
        """
        An ICE-TCP connection gets a TCP path from the server's address to
        the client's.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()))
        self.assertEqual(protocol.path, Path(Transport.TCP, SERVER, CLIENT))
        self.assertIs(
            self.mux.connections[Path(Transport.TCP, SERVER, CLIENT)], protocol
        )


class IceTcpTests(MuxTestCase):
    """
    ICE-TCP connections: RFC 4571 frames to the ICE service.
    """

    def test_one_byte_writes_check(self) -> None:
        """
        A check written one byte at a time reaches the ICE service once.
        """
        protocol, _ = self.connect()
        check = binding_check()
        for byte in frame_rfc4571(check):
            protocol.dataReceived(bytes([byte]))
        self.assertEqual([data for _, data, _ in self.ice.stun], [check])

    def test_many_frames_one_write(self) -> None:
        """
        Many checks in one write all reach the ICE service, in order.
        """
        protocol, _ = self.connect()
        checks = [binding_check(f"server:client{n}") for n in range(20)]
        protocol.dataReceived(b"".join(frame_rfc4571(check) for check in checks))
        self.assertEqual([data for _, data, _ in self.ice.stun], checks)

    def test_media_before_check_dropped(self) -> None:
        """
        An RTP frame on a path that has not passed a check is dropped and
        counted.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()))
        protocol.dataReceived(frame_rfc4571(b"\x80" + b"\x00" * 11))
        self.assertEqual(self.ice.media, [])
        self.assertEqual(self.mux.drops[DropReason.MEDIA_NOT_CHECKED], 1)

    def test_media_after_check(self) -> None:
        """
        DTLS and RTP frames on a checked path reach the ICE service.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()))
        path = Path(Transport.TCP, SERVER, CLIENT)
        self.ice.checked.add(path)
        dtls = b"\x16\xfe\xfd" + b"\x00" * 10
        rtp = b"\x80\x60" + b"\x00" * 10
        protocol.dataReceived(frame_rfc4571(dtls) + frame_rfc4571(rtp))
        self.assertEqual(self.ice.media, [(dtls, path), (rtp, path)])

    def test_stun_frame_mismatch_dropped(self) -> None:
        """
        A STUN message whose length disagrees with its RFC 4571 frame is
        dropped as malformed; the framing is intact, so the connection stays.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()))
        protocol.dataReceived(frame_rfc4571(binding_check() + b"\x00" * 4))
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.mux.drops[DropReason.MALFORMED], 1)

    def test_invalid_first_frame_closes(self) -> None:
        """
        A first frame that looks like STUN but does not decode closes the
        connection.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(frame_rfc4571(plain_binding() + b"\x00\x00\x00\x00"))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.INVALID_FIRST_FRAME], 1)

    def test_zero_length_frame_dropped(self) -> None:
        """
        A zero-length frame is dropped and counted; the connection stays.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()) + b"\x00\x00")
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.mux.drops[DropReason.EMPTY_FRAME], 1)

    def test_unknown_frame_dropped(self) -> None:
        """
        A frame whose first byte is no known kind is dropped and counted.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()) + frame_rfc4571(b"\xff"))
        self.assertEqual(self.mux.drops[DropReason.UNKNOWN_FIRST_BYTE], 1)

    def test_turn_request_dropped(self) -> None:
        """
        A TURN request on an ICE-TCP connection is dropped.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(
            frame_rfc4571(binding_check()) + frame_rfc4571(allocate())
        )
        self.assertEqual(self.turn.stun, [])
        self.assertEqual(self.mux.drops[DropReason.TURN_ON_ICE_TCP], 1)

    def test_plain_binding_answered_framed(self) -> None:
        """
        A Binding request without USERNAME gets a framed Binding response
        with the client's address.
        """
        protocol, transport = self.connect()
        request = plain_binding()
        protocol.dataReceived(frame_rfc4571(request))
        written = transport.value()
        self.assertEqual(int.from_bytes(written[:2], "big"), len(written) - 2)
        response = decode(written[2:])
        self.assertEqual(response.transaction_id, request[8:20])
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)


class TurnStreamTests(MuxTestCase):
    """
    TURN-over-TCP connections: STUN and ChannelData to the TURN service.
    """

    def test_one_byte_writes_allocate(self) -> None:
        """
        An Allocate written one byte at a time reaches the TURN service once,
        on a TCP path.
        """
        protocol, _ = self.connect()
        request = allocate()
        for byte in request:
            protocol.dataReceived(bytes([byte]))
        self.assertEqual(
            [(data, path) for _, data, path in self.turn.stun],
            [(request, Path(Transport.TCP, SERVER, CLIENT))],
        )

    def test_many_messages_one_write(self) -> None:
        """
        STUN and padded ChannelData in one write all reach the TURN service.
        """
        protocol, _ = self.connect()
        messages = [channel_data(bytes([n]) * n) for n in range(1, 10)]
        protocol.dataReceived(
            allocate() + b"".join(pad_channel_data(m) for m in messages)
        )
        self.assertEqual(len(self.turn.stun), 1)
        self.assertEqual([data for data, _ in self.turn.channel_data], messages)

    def test_padding_never_relayed(self) -> None:
        """
        ChannelData reaches the TURN service without its stream padding, so
        the padding cannot be relayed.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(allocate() + pad_channel_data(channel_data(b"abcde")))
        self.assertEqual(self.turn.channel_data[0][0], b"\x40\x01\x00\x05abcde")

    def test_channel_data_first(self) -> None:
        """
        A connection that starts with ChannelData is a TURN connection.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(pad_channel_data(channel_data(b"xyz")))
        self.assertEqual(len(self.turn.channel_data), 1)

    def test_channel_data_claims_more(self) -> None:
        """
        A ChannelData header that claims more than it sends waits, holding
        only what arrived, and the first-frame timeout closes it.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"\x40\x01\xff\xff" + b"x" * 1000)
        self.assertEqual(self.turn.channel_data, [])
        self.assertFalse(transport.disconnecting)
        self.clock.advance(FIRST_FRAME_TIMEOUT)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.FIRST_FRAME_TIMEOUT], 1)

    def test_garbage_after_allocate_closes(self) -> None:
        """
        A byte that starts neither STUN nor ChannelData closes the
        connection.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate() + b"\x80\x00\x00\x00")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.FRAMING_ERROR], 1)

    def test_bad_stun_length_closes(self) -> None:
        """
        A STUN length that is not a multiple of 4 closes the connection.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate() + b"\x00\x03\x00\x05")
        self.assertTrue(transport.disconnecting)

    def test_binding_check_to_ice(self) -> None:
        """
        A Binding request with USERNAME on a TURN connection goes to the ICE
        service.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(binding_check())
        self.assertEqual(len(self.ice.stun), 1)
        self.assertEqual(self.turn.stun, [])

    def test_plain_binding_answered(self) -> None:
        """
        A Binding request without USERNAME gets a Binding response, not
        framed.
        """
        protocol, transport = self.connect()
        request = plain_binding()
        protocol.dataReceived(request)
        response = decode(transport.value())
        self.assertEqual(response.transaction_id, request[8:20])
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)

    def test_close_releases_turn_path(self) -> None:
        """
        A closed TURN connection tells the TURN and ICE services and
        forgets its path.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(allocate())
        protocol.connectionLost()
        path = Path(Transport.TCP, SERVER, CLIENT)
        self.assertEqual(self.turn.closed, [path])
        self.assertEqual(self.ice.closed, [path])
        self.assertNotIn(path, self.mux.connections)


class WriterTests(MuxTestCase):
    """
    L{TcpMux.write_to} frames what the services send.
    """

    def test_provides_path_writer(self) -> None:
        """
        The mux is an L{IPathWriter}.
        """
        self.assertTrue(verifyObject(IPathWriter, self.mux))

    def test_ice_tcp_framed(self) -> None:
        """
        On ICE-TCP, every message gets its RFC 4571 length.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()))
        self.mux.write_to(b"\x80" * 100, Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(transport.value(), b"\x00\x64" + b"\x80" * 100)

    def test_turn_channel_data_padded(self) -> None:
        """
        On TURN, ChannelData is padded to a multiple of 4 bytes.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        self.mux.write_to(channel_data(b"a"), Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(transport.value(), b"\x40\x01\x00\x01a\x00\x00\x00")

    def test_turn_stun_unchanged(self) -> None:
        """
        On TURN, STUN messages are written as they are.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        response = plain_binding()
        self.mux.write_to(response, Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(transport.value(), response)

    def test_unknown_path_dropped(self) -> None:
        """
        Data to a path without a connection is dropped and counted.
        """
        self.mux.write_to(b"\x80" * 10, Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(self.mux.drops[DropReason.UNKNOWN_PATH], 1)

    def test_closed_path_dropped(self) -> None:
        """
        Data to the path of a closed connection is dropped.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        protocol.connectionLost()
        self.mux.write_to(b"\x80" * 10, Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.mux.drops[DropReason.UNKNOWN_PATH], 1)

    def test_full_send_buffer_drops(self) -> None:
        """
        While the transport has paused its producer (the send buffer is
        full), writes are dropped and counted.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        protocol.pauseProducing()
        self.mux.write_to(channel_data(b"abcd"), Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.mux.drops[DropReason.SEND_BUFFER_FULL], 1)
        protocol.resumeProducing()
        self.mux.write_to(channel_data(b"abcd"), Path(Transport.TCP, SERVER, CLIENT))
        self.assertEqual(transport.value(), channel_data(b"abcd"))


class FailureLogTests(MuxTestCase):
    """
    L{TcpMux.log_failure} logs at most one line every 10 s.
    """

    def fail_at(self, when: float) -> None:
        """
        Log a L{RuntimeError} at time C{when}.
        """
        self.clock.advance(when - self.clock.seconds())
        try:
            raise RuntimeError("broken")
        except RuntimeError:
            self.mux.log_failure("route a frame", Path(Transport.TCP, SERVER, CLIENT))

    def test_unlogged_count(self) -> None:
        """
        A failure within 10 s of a logged one is only counted, and the next
        logged line gives that count without a plural to get wrong.
        """
        with capturedLogs() as events:
            for when in (0, 1, 11):
                self.fail_at(when)
        self.flushLoggedErrors(RuntimeError)
        messages = [formatEvent(event) for event in events]
        self.assertEqual(len(messages), 2)
        self.assertTrue(messages[1].endswith("(failures since the last log: 1)"))


class TimeoutTests(MuxTestCase):
    """
    First-frame and idle timeouts.
    """

    def test_first_frame_timeout(self) -> None:
        """
        A connection that sends nothing is closed after 10 s.
        """
        _, transport = self.connect()
        self.clock.advance(FIRST_FRAME_TIMEOUT - 0.1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.FIRST_FRAME_TIMEOUT], 1)

    def test_partial_first_frame_timeout(self) -> None:
        """
        A first frame still incomplete after 10 s closes the connection.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate()[:-1])
        self.clock.advance(FIRST_FRAME_TIMEOUT)
        self.assertTrue(transport.disconnecting)

    def test_first_frame_stops_timer(self) -> None:
        """
        A valid first frame stops the first-frame timer.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        self.clock.advance(FIRST_FRAME_TIMEOUT * 2)
        self.assertFalse(transport.disconnecting)

    def test_idle_timeout(self) -> None:
        """
        A connection without a frame for the idle timeout is closed.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        self.clock.advance(DEFAULT_IDLE_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.IDLE_TIMEOUT], 1)

    def test_frames_keep_alive(self) -> None:
        """
        A frame before the idle timeout pushes the deadline back.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(frame_rfc4571(binding_check()))
        for _ in range(5):
            self.clock.advance(DEFAULT_IDLE_TIMEOUT - 10)
            protocol.dataReceived(frame_rfc4571(binding_check()))
        self.assertFalse(transport.disconnecting)
        self.clock.advance(DEFAULT_IDLE_TIMEOUT)
        self.assertTrue(transport.disconnecting)

    def test_partial_frame_not_activity(self) -> None:
        """
        Bytes of a frame that never completes do not keep a connection
        alive.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate() + b"\x40\x01\x10\x00")
        for _ in range(10):
            self.clock.advance(DEFAULT_IDLE_TIMEOUT / 10)
            protocol.dataReceived(b"x")
        self.assertTrue(transport.disconnecting)

    def test_largest_stun_header_bounded(self) -> None:
        """
        A TURN STUN header claiming the largest length holds only what
        arrived, and the idle timeout closes a connection that never sends
        the rest.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(allocate())
        protocol.dataReceived(b"\x00\x03\xff\xfc\x21\x12\xa4\x42" + b"\x00" * 100)
        self.assertEqual(self.turn.stun[1:], [])
        self.clock.advance(DEFAULT_IDLE_TIMEOUT)
        self.assertTrue(transport.disconnecting)

    def test_close_cancels_timers(self) -> None:
        """
        A closed connection leaves no timer behind.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(allocate())
        protocol.connectionLost()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class LimitTests(unittest.TestCase):
    """
    The per-source and total connection limits.
    """

    def setUp(self) -> None:
        self.clock = Clock()

    def test_per_source_limit(self) -> None:
        """
        A source at its limit gets no more connections; another source does.
        """
        mux = TcpMux(reactor=self.clock, max_per_source=2)
        for _ in range(2):
            protocol = mux.buildProtocol(IPv4Address("TCP", "192.0.2.1", 1))
            assert protocol is not None
            protocol.makeConnection(
                StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.1", 1))
            )
        self.assertIsNone(mux.buildProtocol(IPv4Address("TCP", "192.0.2.1", 2)))
        self.assertIsNotNone(mux.buildProtocol(IPv4Address("TCP", "192.0.2.2", 2)))
        self.assertEqual(mux.closes[CloseReason.SOURCE_LIMIT], 1)

    def test_closed_connection_frees_slot(self) -> None:
        """
        A closed connection frees its source's slot.
        """
        mux = TcpMux(reactor=self.clock, max_per_source=1)
        protocol = mux.buildProtocol(IPv4Address("TCP", "192.0.2.1", 1))
        assert protocol is not None
        protocol.makeConnection(
            StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.1", 1))
        )
        protocol.connectionLost()
        self.assertIsNotNone(mux.buildProtocol(IPv4Address("TCP", "192.0.2.1", 2)))
        self.assertEqual(mux.per_source, {})

    def test_total_limit(self) -> None:
        """
        The listener accepts no more than its total limit.
        """
        mux = TcpMux(reactor=self.clock, max_connections=3)
        for n in range(3):
            peer = IPv4Address("TCP", f"192.0.2.{n + 1}", 1)
            protocol = mux.buildProtocol(peer)
            assert protocol is not None
            protocol.makeConnection(StringTransport(peerAddress=peer))
        self.assertIsNone(mux.buildProtocol(IPv4Address("TCP", "192.0.2.9", 1)))
        self.assertEqual(mux.closes[CloseReason.CONNECTION_LIMIT], 1)


class NoServiceTests(unittest.TestCase):
    """
    Without ICE and TURN services, messages are dropped and counted.
    """

    def test_no_turn_service(self) -> None:
        """
        An Allocate without a TURN service is dropped.
        """
        mux = TcpMux(reactor=Clock())
        protocol = mux.buildProtocol(IPv4Address("TCP", *CLIENT))
        assert protocol is not None
        transport = StringTransport(peerAddress=IPv4Address("TCP", *CLIENT))
        protocol.makeConnection(transport)
        protocol.dataReceived(allocate())
        self.assertEqual(mux.drops[DropReason.NO_TURN_SERVICE], 1)
        self.assertFalse(transport.disconnecting)
