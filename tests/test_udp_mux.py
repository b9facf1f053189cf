"""
Tests for L{twisted_ice.transport.udp.UdpMux}: classification by first byte,
STUN routing, drops and their reasons, and failure containment.
"""

from __future__ import annotations

import socket
import zlib

from hypothesis import given, settings
from hypothesis.strategies import binary, booleans, integers
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.trial import unittest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.interfaces import IIceService, IPathWriter, IStunMessage, ITurnService
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
)
from twisted_ice.stun.binding import BindingResponder
from twisted_ice.transport.udp import (
    MAX_DATAGRAM,
    DropReason,
    UdpMux,
    UdpMuxService,
    bind_udp_socket,
    default_interface,
)

LOCAL = ("127.0.0.1", 9000)
CLIENT = ("192.0.2.1", 54321)
TRANSACTION_ID = bytes(range(12))


class FakeDatagramTransport:
    """
    A datagram transport that records what is written.

    @ivar written: C{(data, address)} pairs, in order.
    """

    def __init__(self, host: IPv4Address | IPv6Address) -> None:
        self.host = host
        self.written: list[tuple[bytes, Address]] = []

    def write(self, data: bytes, addr: Address) -> None:
        """
        Record one datagram.
        """
        self.written.append((data, addr))

    def getHost(self) -> IPv4Address | IPv6Address:
        """
        Return the bound address.
        """
        return self.host


@implementer(IIceService)
class FakeIce:
    """
    An ICE service that records what the mux hands it.
    """

    def __init__(self, accept_media: bool = True) -> None:
        self.accept_media = accept_media
        self.stun: list[tuple[IStunMessage, bytes, Path]] = []
        self.media: list[tuple[bytes, Path]] = []

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Record a STUN message.
        """
        self.stun.append((message, data, path))

    def is_local_ufrag(self, ufrag: str) -> bool:
        """
        Return whether C{ufrag} is the fixed local ufrag.
        """
        return ufrag == "local"

    def media_received(self, data: bytes, path: Path) -> bool:
        """
        Record a media packet.
        """
        self.media.append((data, path))
        return self.accept_media


@implementer(ITurnService)
class FakeTurn:
    """
    A TURN service that records what the mux hands it.
    """

    def __init__(self, parses_send_indications: bool = False) -> None:
        """
        @param parses_send_indications: what L{send_indication_received}
            returns: whether this service takes undecoded Send indications.
        """
        self.stun: list[tuple[IStunMessage, bytes, Path]] = []
        self.send_indications: list[tuple[bytes, Path]] = []
        self.channel_data: list[tuple[bytes, Path]] = []
        self.closed: list[Path] = []
        self.parses_send_indications = parses_send_indications

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Record a STUN message.
        """
        self.stun.append((message, data, path))

    def send_indication_received(self, data: bytes, path: Path) -> bool:
        """
        Record an undecoded Send indication, and return whether it was taken.
        """
        self.send_indications.append((data, path))
        return self.parses_send_indications

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


@implementer(IIceService, ITurnService)
class BrokenService:
    """
    An ICE and TURN service whose every method raises.
    """

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Raise.
        """
        raise ZeroDivisionError("stun")

    def is_local_ufrag(self, ufrag: str) -> bool:
        """
        Raise.
        """
        raise ZeroDivisionError("ufrag")

    def media_received(self, data: bytes, path: Path) -> bool:
        """
        Raise.
        """
        raise ZeroDivisionError("media")

    def channel_data_received(self, data: bytes, path: Path) -> None:
        """
        Raise.
        """
        raise ZeroDivisionError("channel data")

    def send_indication_received(self, data: bytes, path: Path) -> bool:
        """
        Raise.
        """
        raise ZeroDivisionError("send indication")

    def path_closed(self, path: Path) -> None:
        """
        Raise.
        """
        raise ZeroDivisionError("closed")


def message(
    method: int, message_class: MessageClass, *attributes: tuple[int, object]
) -> StunMessage:
    """
    Build a STUN message with a fixed transaction id.
    """
    return StunMessage(method, message_class, TRANSACTION_ID, list(attributes))


def binding_request(*attributes: tuple[int, object]) -> StunMessage:
    """
    Build a Binding request.
    """
    return message(Method.BINDING, MessageClass.REQUEST, *attributes)


def check() -> bytes:
    """
    Encode a Binding request with USERNAME, as an ICE connectivity check.
    """
    return binding_request(
        (AttributeType.USERNAME, "local:remote"), (AttributeType.PRIORITY, 1)
    ).encode(fingerprint=True)


class MuxTestCase(unittest.TestCase):
    """
    Builds a mux on a fake IPv4 transport, with fake services.
    """

    def make_mux(
        self,
        ice: IIceService | None = None,
        turn: ITurnService | None = None,
        responder: BindingResponder | None = None,
        host: IPv4Address | IPv6Address | None = None,
    ) -> tuple[UdpMux, FakeDatagramTransport]:
        """
        Return a started mux and its transport.
        """
        if host is None:
            host = IPv4Address("UDP", *LOCAL)
        self.clock = Clock()
        mux = UdpMux(responder=responder, ice=ice, turn=turn, clock=self.clock)
        transport = FakeDatagramTransport(host)
        mux.makeConnection(transport)  # type: ignore[arg-type]
        return mux, transport


class ClassificationTests(MuxTestCase):
    """
    The first byte of a datagram decides where it goes (RFC 7983).
    """

    def test_dtls_to_ice(self) -> None:
        """
        First bytes 20 and 63, the ends of the DTLS range, go to the ICE
        service's media_received.
        """
        ice = FakeIce()
        mux, _ = self.make_mux(ice=ice)
        mux.datagramReceived(b"\x14dtls", CLIENT)
        mux.datagramReceived(b"\x3fdtls", CLIENT)
        self.assertEqual([data for data, _ in ice.media], [b"\x14dtls", b"\x3fdtls"])

    def test_rtp_to_ice(self) -> None:
        """
        First bytes 128 and 191, the ends of the RTP/RTCP range, go to the
        ICE service's media_received.
        """
        ice = FakeIce()
        mux, _ = self.make_mux(ice=ice)
        mux.datagramReceived(b"\x80rtp", CLIENT)
        mux.datagramReceived(b"\xbfrtp", CLIENT)
        self.assertEqual([data for data, _ in ice.media], [b"\x80rtp", b"\xbfrtp"])

    def test_media_path(self) -> None:
        """
        Media goes to the ICE service with the UDP path it arrived on.
        """
        ice = FakeIce()
        mux, _ = self.make_mux(ice=ice)
        mux.datagramReceived(b"\x80rtp", CLIENT)
        self.assertEqual(ice.media[0][1], Path(Transport.UDP, LOCAL, CLIENT))

    def test_media_not_checked_counted(self) -> None:
        """
        Media the ICE service rejects (no check passed on the path) is
        counted.
        """
        mux, _ = self.make_mux(ice=FakeIce(accept_media=False))
        mux.datagramReceived(b"\x80rtp", CLIENT)
        self.assertEqual(mux.drops[DropReason.MEDIA_NOT_CHECKED], 1)

    def test_media_without_ice_dropped(self) -> None:
        """
        Media is dropped and counted when there is no ICE service.
        """
        mux, transport = self.make_mux()
        mux.datagramReceived(b"\x80rtp", CLIENT)
        mux.datagramReceived(b"\x14dtls", CLIENT)
        self.assertEqual(mux.drops[DropReason.NO_ICE_SERVICE], 2)
        self.assertEqual(transport.written, [])

    def test_channel_data_to_turn(self) -> None:
        """
        First bytes 64 to 127 (channels 0x4000-0x7FFF, RFC 8656's range and
        the older RFC 5766 one) go to the TURN service's
        channel_data_received, with their path.
        """
        turn = FakeTurn()
        mux, _ = self.make_mux(turn=turn)
        mux.datagramReceived(b"\x40\x00\x00\x00", CLIENT)
        mux.datagramReceived(b"\x4f\xff\x00\x00", CLIENT)
        mux.datagramReceived(b"\x7f\xff\x00\x00", CLIENT)
        self.assertEqual(
            turn.channel_data,
            [
                (b"\x40\x00\x00\x00", Path(Transport.UDP, LOCAL, CLIENT)),
                (b"\x4f\xff\x00\x00", Path(Transport.UDP, LOCAL, CLIENT)),
                (b"\x7f\xff\x00\x00", Path(Transport.UDP, LOCAL, CLIENT)),
            ],
        )

    def test_channel_data_without_turn_dropped(self) -> None:
        """
        ChannelData is dropped and counted when there is no TURN service.
        """
        mux, _ = self.make_mux()
        mux.datagramReceived(b"\x40\x00\x00\x00", CLIENT)
        self.assertEqual(mux.drops[DropReason.NO_TURN_SERVICE], 1)

    def test_unknown_first_byte_dropped(self) -> None:
        """
        First bytes outside every range (4-19, 192-255) are dropped and
        counted, and reach no service.
        """
        ice, turn = FakeIce(), FakeTurn()
        mux, transport = self.make_mux(ice=ice, turn=turn)
        for first in [4, 19, 192, 255]:
            mux.datagramReceived(bytes([first]) + b"\x00" * 19, CLIENT)
        self.assertEqual(mux.drops[DropReason.UNKNOWN_FIRST_BYTE], 4)
        self.assertEqual(ice.media, [])
        self.assertEqual(turn.channel_data, [])
        self.assertEqual(transport.written, [])

    def test_empty_dropped(self) -> None:
        """
        An empty datagram is dropped and counted.
        """
        mux, _ = self.make_mux()
        mux.datagramReceived(b"", CLIENT)
        self.assertEqual(mux.drops[DropReason.EMPTY], 1)


class BindingTests(MuxTestCase):
    """
    The mux's responder responds to plain Binding requests.
    """

    def test_plain_request_answered(self) -> None:
        """
        A Binding request without USERNAME gets one success response, sent
        to its source address.
        """
        mux, transport = self.make_mux()
        mux.datagramReceived(binding_request().encode(), CLIENT)
        self.assertEqual(len(transport.written), 1)
        data, address = transport.written[0]
        self.assertEqual(address, CLIENT)
        response = decode(data)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)

    def test_answered_counted(self) -> None:
        """
        Each request the mux responds to is counted.
        """
        mux, _ = self.make_mux()
        mux.datagramReceived(binding_request().encode(), CLIENT)
        mux.datagramReceived(binding_request().encode(fingerprint=True), CLIENT)
        mux.datagramReceived(binding_request((0x8055, b"x")).encode(), CLIENT)
        self.assertEqual(mux.answered["binding"], 3)

    def test_unknown_required_gets_420(self) -> None:
        """
        A request with an unknown comprehension-required attribute gets a
        420 listing that type, and it is counted.
        """
        mux, transport = self.make_mux()
        mux.datagramReceived(binding_request((0x0031, b"abcd")).encode(), CLIENT)
        response = decode(transport.written[0][0])
        self.assertEqual(response.get(AttributeType.ERROR_CODE).code, 420)
        self.assertEqual(response.get(AttributeType.UNKNOWN_ATTRIBUTES), (0x0031,))
        self.assertEqual(transport.written[0][1], CLIENT)
        self.assertEqual(mux.answered["binding-420"], 1)

    def test_software_only_when_configured(self) -> None:
        """
        SOFTWARE is in the response only when the responder has one.
        """
        plain, plain_transport = self.make_mux()
        named, named_transport = self.make_mux(responder=BindingResponder("srv"))
        plain.datagramReceived(binding_request().encode(), CLIENT)
        named.datagramReceived(binding_request().encode(), CLIENT)
        plain_response = decode(plain_transport.written[0][0])
        named_response = decode(named_transport.written[0][0])
        self.assertFalse(plain_response.has(AttributeType.SOFTWARE))
        self.assertEqual(named_response.get(AttributeType.SOFTWARE), "srv")

    def test_fingerprint_echo(self) -> None:
        """
        The response has FINGERPRINT exactly when the request had one, on
        both the fast and the decoding path.
        """
        mux, transport = self.make_mux()
        mux.datagramReceived(binding_request().encode(fingerprint=True), CLIENT)
        mux.datagramReceived(binding_request().encode(), CLIENT)
        slow = binding_request((AttributeType.SOFTWARE, "client"))
        mux.datagramReceived(slow.encode(fingerprint=True), CLIENT)
        mux.datagramReceived(slow.encode(), CLIENT)
        fingerprints = [decode(data).has_fingerprint for data, _ in transport.written]
        self.assertEqual(fingerprints, [True, False, True, False])

    def test_ipv6_client(self) -> None:
        """
        An IPv6 client gets its IPv6 address in XOR-MAPPED-ADDRESS.
        """
        client = ("2001:db8::5", 6000)
        mux, transport = self.make_mux(host=IPv6Address("UDP", "::", 9000))
        mux.datagramReceived(binding_request().encode(), client)
        response = decode(transport.written[0][0])
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), client)

    def test_ipv4_client_on_dual_stack(self) -> None:
        """
        An IPv4 client on a dual-stack socket gets its IPv4 address, and the
        response goes back to the address the socket reported.
        """
        mapped = ("::ffff:192.0.2.1", 54321)
        mux, transport = self.make_mux(host=IPv6Address("UDP", "::", 9000))
        mux.datagramReceived(binding_request((0x8055, b"x")).encode(), mapped)
        mux.datagramReceived(binding_request().encode(), mapped)
        for data, address in transport.written:
            response = decode(data)
            self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)
            self.assertEqual(address, mapped)

    def test_binding_indication_dropped(self) -> None:
        """
        A Binding indication (a keepalive) gets no response and is counted.
        """
        mux, transport = self.make_mux(ice=FakeIce())
        mux.datagramReceived(
            message(Method.BINDING, MessageClass.INDICATION).encode(), CLIENT
        )
        self.assertEqual(transport.written, [])
        self.assertEqual(mux.drops[DropReason.BINDING_INDICATION], 1)

    def test_indication_unknown_required_dropped(self) -> None:
        """
        A Binding indication with an unknown comprehension-required
        attribute gets no 420.
        """
        mux, transport = self.make_mux()
        indication = message(Method.BINDING, MessageClass.INDICATION, (0x31, b""))
        mux.datagramReceived(indication.encode(), CLIENT)
        self.assertEqual(transport.written, [])
        self.assertEqual(mux.drops[DropReason.BINDING_INDICATION], 1)

    def test_binding_response_dropped(self) -> None:
        """
        Binding success and error responses are dropped and counted.
        """
        mux, transport = self.make_mux(ice=FakeIce())
        success = message(
            Method.BINDING,
            MessageClass.SUCCESS_RESPONSE,
            (AttributeType.XOR_MAPPED_ADDRESS, CLIENT),
        )
        error = binding_request().error_response(400)
        mux.datagramReceived(success.encode(), CLIENT)
        mux.datagramReceived(error.encode(), CLIENT)
        self.assertEqual(transport.written, [])
        self.assertEqual(mux.drops[DropReason.RESPONSE], 2)


class MalformedStunTests(MuxTestCase):
    """
    STUN messages that fail the RFC 8489 section 6.3 checks are dropped
    silently and counted.
    """

    def assert_dropped(self, data: bytes, reason: DropReason) -> None:
        """
        Assert that C{data} gets no response, reaches no service and is
        counted under C{reason}.
        """
        ice, turn = FakeIce(), FakeTurn()
        mux, transport = self.make_mux(ice=ice, turn=turn)
        mux.datagramReceived(data, CLIENT)
        self.assertEqual(transport.written, [])
        self.assertEqual(ice.stun, [])
        self.assertEqual(turn.stun, [])
        self.assertEqual(mux.drops[reason], 1)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 0)

    def test_no_magic_cookie(self) -> None:
        """
        An RFC 3489 Binding request (no magic cookie at offset 4) is dropped.
        """
        data = b"\x00\x01\x00\x00" + bytes(range(16))
        self.assert_dropped(data, DropReason.NO_MAGIC_COOKIE)

    def test_short_datagram(self) -> None:
        """
        A datagram shorter than a STUN header is dropped.
        """
        self.assert_dropped(b"\x00\x01", DropReason.NO_MAGIC_COOKIE)

    def test_short_header_with_cookie(self) -> None:
        """
        A datagram with the cookie but shorter than 20 bytes is malformed.
        """
        data = binding_request().encode()[:12]
        self.assert_dropped(data, DropReason.MALFORMED)

    def test_truncated_attribute(self) -> None:
        """
        An attribute whose length runs past the end is malformed.
        """
        data = bytearray(binding_request((AttributeType.SOFTWARE, "abcd")).encode())
        data[22:24] = b"\x00\x40"
        self.assert_dropped(bytes(data), DropReason.MALFORMED)

    def test_bad_length(self) -> None:
        """
        A header length that does not match the data is malformed.
        """
        data = bytearray(binding_request((AttributeType.SOFTWARE, "abcd")).encode())
        data[3] += 4
        self.assert_dropped(bytes(data), DropReason.MALFORMED)

    def test_length_not_multiple_of_four(self) -> None:
        """
        A header length that is not a multiple of 4 is malformed.
        """
        data = binding_request().encode() + b"\x00\x00"
        data = data[:3] + b"\x02" + data[4:]
        self.assert_dropped(data, DropReason.MALFORMED)

    def test_bad_address_length(self) -> None:
        """
        An IPv4 address attribute that is not 8 bytes long is malformed.
        """
        data = bytearray(
            binding_request((AttributeType.XOR_MAPPED_ADDRESS, CLIENT)).encode()
        )
        # Declare 12 bytes for the IPv4 address and append 4 more.
        data[22:24] = b"\x00\x0c"
        data[3] += 4
        self.assert_dropped(bytes(data) + b"\x00" * 4, DropReason.MALFORMED)

    def test_top_bits_set(self) -> None:
        """
        A STUN header with the top two bits set (first byte 0xC0) is outside
        every range of RFC 7983, so it is dropped without decoding.
        """
        data = b"\xc0" + binding_request().encode()[1:]
        self.assert_dropped(data, DropReason.UNKNOWN_FIRST_BYTE)

    def test_wrong_fingerprint(self) -> None:
        """
        A request whose FINGERPRINT does not match is dropped.
        """
        data = bytearray(binding_request().encode(fingerprint=True))
        data[-1] ^= 0xFF
        self.assert_dropped(bytes(data), DropReason.BAD_FINGERPRINT)

    def test_wrong_fingerprint_on_check(self) -> None:
        """
        An ICE check whose FINGERPRINT does not match never reaches ICE.
        """
        data = bytearray(check())
        data[-1] ^= 0xFF
        self.assert_dropped(bytes(data), DropReason.BAD_FINGERPRINT)

    def test_fingerprint_not_last(self) -> None:
        """
        A FINGERPRINT followed by another attribute is malformed.
        """
        data = binding_request().encode(fingerprint=True)
        data = data[:3] + b"\x10" + data[4:] + b"\x80\x22\x00\x04abcd"
        self.assert_dropped(data, DropReason.MALFORMED)

    def test_unknown_method_request(self) -> None:
        """
        A request with a method no service handles is dropped.
        """
        self.assert_dropped(
            message(0x0FF, MessageClass.REQUEST).encode(), DropReason.UNHANDLED_STUN
        )

    def test_data_indication(self) -> None:
        """
        A Data indication (sent by TURN servers, never to them) is dropped.
        """
        self.assert_dropped(
            message(Method.DATA, MessageClass.INDICATION).encode(),
            DropReason.UNHANDLED_STUN,
        )

    def test_turn_response(self) -> None:
        """
        An Allocate success response is dropped.
        """
        self.assert_dropped(
            message(Method.ALLOCATE, MessageClass.SUCCESS_RESPONSE).encode(),
            DropReason.RESPONSE,
        )


class RoutingTests(MuxTestCase):
    """
    STUN messages are routed per message, by method, class and USERNAME.
    """

    def test_check_to_ice(self) -> None:
        """
        A Binding request with USERNAME goes to the ICE service, decoded,
        with its bytes and path, and the mux does not answer it.
        """
        ice = FakeIce()
        mux, transport = self.make_mux(ice=ice)
        data = check()
        mux.datagramReceived(data, CLIENT)
        self.assertEqual(len(ice.stun), 1)
        routed, routed_data, path = ice.stun[0]
        self.assertEqual(routed.get(AttributeType.USERNAME), "local:remote")
        self.assertEqual(routed_data, data)
        self.assertEqual(path, Path(Transport.UDP, LOCAL, CLIENT))
        self.assertEqual(transport.written, [])

    def test_check_with_foreign_ufrag_to_ice(self) -> None:
        """
        A Binding request whose ufrag is not local still goes to the ICE
        service, which answers 401 or drops it.
        """
        ice = FakeIce()
        mux, transport = self.make_mux(ice=ice)
        request = binding_request((AttributeType.USERNAME, "other:remote"))
        mux.datagramReceived(request.encode(fingerprint=True), CLIENT)
        self.assertEqual(len(ice.stun), 1)
        self.assertEqual(transport.written, [])

    def test_check_without_ice_dropped(self) -> None:
        """
        A Binding request with USERNAME gets no plain Binding response when
        there is no ICE service: it is dropped and counted.
        """
        mux, transport = self.make_mux(turn=FakeTurn())
        mux.datagramReceived(check(), CLIENT)
        self.assertEqual(transport.written, [])
        self.assertEqual(mux.drops[DropReason.NO_ICE_SERVICE], 1)

    def test_turn_requests_to_turn(self) -> None:
        """
        Allocate, Refresh, CreatePermission and ChannelBind requests and Send
        indications go to the TURN service, with their path.
        """
        turn = FakeTurn()
        mux, transport = self.make_mux(ice=FakeIce(), turn=turn)
        kinds = [
            (Method.ALLOCATE, MessageClass.REQUEST),
            (Method.REFRESH, MessageClass.REQUEST),
            (Method.CREATE_PERMISSION, MessageClass.REQUEST),
            (Method.CHANNEL_BIND, MessageClass.REQUEST),
            (Method.SEND, MessageClass.INDICATION),
        ]
        for method, message_class in kinds:
            mux.datagramReceived(message(method, message_class).encode(), CLIENT)
        routed = [(m.method, m.message_class) for m, _, _ in turn.stun]
        self.assertEqual(routed, kinds)
        self.assertEqual(
            {path for _, _, path in turn.stun}, {Path(Transport.UDP, LOCAL, CLIENT)}
        )
        self.assertEqual(transport.written, [])

    def test_send_indication_undecoded(self) -> None:
        """
        A Send indication goes to the TURN service undecoded first, with its
        path. When the service takes it, the mux does not decode it.
        """
        turn = FakeTurn(parses_send_indications=True)
        mux, transport = self.make_mux(turn=turn)
        data = message(Method.SEND, MessageClass.INDICATION).encode()
        mux.datagramReceived(data, CLIENT)
        self.assertEqual(
            turn.send_indications, [(data, Path(Transport.UDP, LOCAL, CLIENT))]
        )
        self.assertEqual(turn.stun, [])
        self.assertEqual(sum(mux.drops.values()), 0)

    def test_send_indication_decoded_when_not_taken(self) -> None:
        """
        A Send indication that the TURN service does not take undecoded is
        decoded and passed to its C{stun_received}.
        """
        turn = FakeTurn(parses_send_indications=False)
        mux, transport = self.make_mux(turn=turn)
        data = message(Method.SEND, MessageClass.INDICATION).encode()
        mux.datagramReceived(data, CLIENT)
        self.assertEqual(len(turn.send_indications), 1)
        self.assertEqual([m.method for m, _, _ in turn.stun], [Method.SEND])

    def test_only_send_indications_undecoded(self) -> None:
        """
        Requests and other indications never reach
        C{send_indication_received}.
        """
        turn = FakeTurn(parses_send_indications=True)
        mux, transport = self.make_mux(ice=FakeIce(), turn=turn)
        for method, message_class in [
            (Method.ALLOCATE, MessageClass.REQUEST),
            (Method.SEND, MessageClass.REQUEST),
            (Method.DATA, MessageClass.INDICATION),
            (Method.BINDING, MessageClass.INDICATION),
        ]:
            mux.datagramReceived(message(method, message_class).encode(), CLIENT)
        self.assertEqual(turn.send_indications, [])

    def test_turn_requests_without_turn_dropped(self) -> None:
        """
        TURN requests and Send indications are dropped and counted when there
        is no TURN service.
        """
        mux, transport = self.make_mux(ice=FakeIce())
        mux.datagramReceived(
            message(Method.ALLOCATE, MessageClass.REQUEST).encode(), CLIENT
        )
        mux.datagramReceived(
            message(Method.SEND, MessageClass.INDICATION).encode(), CLIENT
        )
        self.assertEqual(transport.written, [])
        self.assertEqual(mux.drops[DropReason.NO_TURN_SERVICE], 2)

    def test_plain_binding_with_services(self) -> None:
        """
        A Binding request without USERNAME is answered by the mux even when
        ICE and TURN services exist, and reaches neither.
        """
        ice, turn = FakeIce(), FakeTurn()
        mux, transport = self.make_mux(ice=ice, turn=turn)
        mux.datagramReceived(binding_request().encode(), CLIENT)
        self.assertEqual(len(transport.written), 1)
        self.assertEqual(ice.stun, [])
        self.assertEqual(turn.stun, [])

    def test_same_client_mixes_turn_and_ice(self) -> None:
        """
        One client address can send TURN requests and ICE checks; each
        message goes to its own service.
        """
        ice, turn = FakeIce(), FakeTurn()
        mux, _ = self.make_mux(ice=ice, turn=turn)
        mux.datagramReceived(
            message(Method.ALLOCATE, MessageClass.REQUEST).encode(), CLIENT
        )
        mux.datagramReceived(check(), CLIENT)
        mux.datagramReceived(
            message(Method.REFRESH, MessageClass.REQUEST).encode(), CLIENT
        )
        self.assertEqual(len(ice.stun), 1)
        self.assertEqual(len(turn.stun), 2)

    def test_ipv4_mapped_path(self) -> None:
        """
        On a dual-stack socket, services see an IPv4 client's address as
        IPv4.
        """
        turn = FakeTurn()
        mux, _ = self.make_mux(turn=turn, host=IPv6Address("UDP", "::", 9000))
        mux.datagramReceived(b"\x40\x00\x00\x00", ("::ffff:192.0.2.1", 54321))
        self.assertEqual(
            turn.channel_data[0][1], Path(Transport.UDP, ("::", 9000), CLIENT)
        )


class WriteToTests(MuxTestCase):
    """
    L{UdpMux.write_to}, the services' way to send.
    """

    def test_provides_path_writer(self) -> None:
        """
        The mux provides L{IPathWriter}.
        """
        mux, _ = self.make_mux()
        self.assertTrue(verifyObject(IPathWriter, mux))

    def test_writes_to_remote(self) -> None:
        """
        Data goes to the path's remote address.
        """
        mux, transport = self.make_mux()
        mux.write_to(b"data", Path(Transport.UDP, LOCAL, CLIENT))
        self.assertEqual(transport.written, [(b"data", CLIENT)])

    def test_ipv4_mapped_on_dual_stack(self) -> None:
        """
        On a dual-stack socket an IPv4 remote is written as IPv4-mapped IPv6,
        and an IPv6 remote as it is.
        """
        mux, transport = self.make_mux(host=IPv6Address("UDP", "::", 9000))
        mux.write_to(b"a", Path(Transport.UDP, ("::", 9000), CLIENT))
        mux.write_to(b"b", Path(Transport.UDP, ("::", 9000), ("2001:db8::1", 5)))
        self.assertEqual(
            transport.written,
            [(b"a", ("::ffff:192.0.2.1", 54321)), (b"b", ("2001:db8::1", 5))],
        )

    def test_before_start_dropped(self) -> None:
        """
        Data written before the mux has a transport is dropped.
        """
        mux = UdpMux(clock=Clock())
        mux.write_to(b"data", Path(Transport.UDP, LOCAL, CLIENT))


class FailureTests(MuxTestCase):
    """
    No exception escapes L{UdpMux.datagramReceived}.
    """

    def test_ice_exception_contained(self) -> None:
        """
        An exception in the ICE service is counted and logged, not raised.
        """
        broken = BrokenService()
        mux, _ = self.make_mux(ice=broken, turn=broken)
        mux.datagramReceived(check(), CLIENT)
        mux.datagramReceived(b"\x80rtp", CLIENT)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 2)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_turn_exception_contained(self) -> None:
        """
        An exception in the TURN service is counted, not raised.
        """
        broken = BrokenService()
        mux, _ = self.make_mux(ice=broken, turn=broken)
        mux.datagramReceived(
            message(Method.ALLOCATE, MessageClass.REQUEST).encode(), CLIENT
        )
        mux.datagramReceived(b"\x40\x00\x00\x00", CLIENT)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 2)
        self.flushLoggedErrors(ZeroDivisionError)

    def test_failure_log_rate_limited(self) -> None:
        """
        Failures are logged at most once every 10 s; the ones in between are
        only counted.
        """
        broken = BrokenService()
        mux, _ = self.make_mux(ice=broken)
        for _ in range(5):
            mux.datagramReceived(b"\x80rtp", CLIENT)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.clock.advance(10)
        mux.datagramReceived(b"\x80rtp", CLIENT)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 6)

    def test_send_failure_contained(self) -> None:
        """
        An L{OSError} from sending is counted as a failed send and logged,
        not raised.
        """
        mux, transport = self.make_mux()

        def fail(data: bytes, addr: Address) -> None:
            raise OSError("no route")

        transport.write = fail  # type: ignore[method-assign]
        mux.startProtocol()
        mux.datagramReceived(binding_request().encode(), CLIENT)
        mux.write_to(b"data", Path(Transport.UDP, LOCAL, CLIENT))
        self.assertEqual(mux.drops[DropReason.SEND_FAILED], 2)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 0)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)


class RecordingSocket(socket.socket):
    """
    A real UDP socket whose sendto only records what it is given.
    """

    def __init__(self) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent: list[tuple[bytes, Address]] = []

    def sendto(self, data: bytes, addr: Address) -> int:  # type: ignore[override]
        """
        Record one datagram.
        """
        self.sent.append((data, addr))
        return len(data)


class SocketWriteTests(MuxTestCase):
    """
    On a transport with a socket (Twisted's udp.Port), the mux sends through
    the socket and not through the transport's write.
    """

    def test_sends_through_socket(self) -> None:
        """
        A Binding response and a service's write both go to the socket's
        sendto.
        """
        sock = RecordingSocket()
        self.addCleanup(sock.close)
        mux, transport = self.make_mux()
        transport.socket = sock  # type: ignore[attr-defined]
        mux.startProtocol()
        mux.datagramReceived(binding_request().encode(), CLIENT)
        mux.write_to(b"data", Path(Transport.UDP, LOCAL, CLIENT))
        self.assertEqual([addr for _, addr in sock.sent], [CLIENT, CLIENT])
        self.assertEqual(transport.written, [])


class UdpMuxServiceTests(unittest.TestCase):
    """
    Tests for L{UdpMuxService}, which runs the mux on a bound socket.
    """

    def test_start_adopts_socket(self) -> None:
        """
        Starting the service hands the socket's descriptor and family to the
        reactor, with room for any UDP datagram.
        """
        sock = bind_udp_socket("127.0.0.1", 0)
        fileno = sock.fileno()
        reactor = MemoryReactor()
        mux = UdpMux(clock=Clock())
        service = UdpMuxService(sock, mux, reactor=reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(
            reactor.adoptedPorts, [(fileno, socket.AF_INET, mux, MAX_DATAGRAM)]
        )

    def test_start_closes_own_socket(self) -> None:
        """
        Once the reactor has adopted the descriptor, the service closes its
        own socket object.
        """
        sock = bind_udp_socket("127.0.0.1", 0)
        service = UdpMuxService(sock, UdpMux(clock=Clock()), reactor=MemoryReactor())
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(sock.fileno(), -1)

    def test_stop_before_start_closes_socket(self) -> None:
        """
        Stopping a service that never started closes its socket.
        """
        sock = bind_udp_socket("127.0.0.1", 0)
        service = UdpMuxService(sock, UdpMux(clock=Clock()), reactor=MemoryReactor())
        service.stopService()
        self.assertEqual(sock.fileno(), -1)


class BindUdpSocketTests(unittest.TestCase):
    """
    Tests for L{bind_udp_socket} and L{default_interface}.
    """

    def test_ipv4(self) -> None:
        """
        An IPv4 interface gets a non-blocking IPv4 socket bound to it.
        """
        sock = bind_udp_socket("127.0.0.1", 0)
        self.addCleanup(sock.close)
        self.assertEqual(sock.family, socket.AF_INET)
        self.assertEqual(sock.getsockname()[0], "127.0.0.1")
        self.assertFalse(sock.getblocking())

    def test_wildcard_ipv6_is_dual_stack(self) -> None:
        """
        C{::} gets an IPv6 socket with IPV6_V6ONLY off, so IPv4 clients reach
        it too.
        """
        if default_interface() != "::":
            raise unittest.SkipTest("this host cannot bind an IPv6 socket")
        sock = bind_udp_socket("::", 0)
        self.addCleanup(sock.close)
        self.assertEqual(sock.family, socket.AF_INET6)
        only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        self.assertEqual(only, 0)

    def test_port_in_use(self) -> None:
        """
        A port in use raises L{OSError}.
        """
        first = bind_udp_socket("127.0.0.1", 0)
        self.addCleanup(first.close)
        port = first.getsockname()[1]
        self.assertRaises(OSError, bind_udp_socket, "127.0.0.1", port)

    def test_default_interface(self) -> None:
        """
        The default interface is a wildcard address.
        """
        self.assertIn(default_interface(), ["::", "0.0.0.0"])


class FuzzTests(MuxTestCase):
    """
    Random datagrams never make the mux raise or count an exception.
    """

    @settings(max_examples=300, deadline=None)
    @given(data=binary(max_size=120))
    def test_random_bytes(self, data: bytes) -> None:
        """
        Any datagram is routed or dropped without an exception.
        """
        mux, _ = self.make_mux(ice=FakeIce(), turn=FakeTurn())
        mux.datagramReceived(data, CLIENT)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 0)

    @settings(max_examples=300, deadline=None)
    @given(
        message_type=integers(min_value=0, max_value=0x3FFF),
        body=binary(max_size=100),
        fingerprint=booleans(),
    )
    def test_random_stun_bodies(
        self, message_type: int, body: bytes, fingerprint: bool
    ) -> None:
        """
        A STUN header with the cookie and the right length, followed by any
        attribute bytes and, when drawn, a valid FINGERPRINT, gets no response
        or one well-formed STUN response, and no exception.
        """
        body = body[: len(body) - len(body) % 4]
        length = len(body) + (8 if fingerprint else 0)
        header = message_type.to_bytes(2, "big") + length.to_bytes(2, "big")
        data = header + b"\x21\x12\xa4\x42" + TRANSACTION_ID + body
        if fingerprint:
            crc = zlib.crc32(data) ^ 0x5354554E
            data += b"\x80\x28\x00\x04" + crc.to_bytes(4, "big")
        mux, transport = self.make_mux(ice=FakeIce(), turn=FakeTurn())
        mux.datagramReceived(data, CLIENT)
        self.assertEqual(mux.drops[DropReason.EXCEPTION], 0)
        self.assertLessEqual(len(transport.written), 1)
        for response, address in transport.written:
            decoded = decode(response)
            self.assertEqual(address, CLIENT)
            self.assertEqual(decoded.transaction_id, TRANSACTION_ID)
            self.assertIn(
                decoded.message_class,
                [MessageClass.SUCCESS_RESPONSE, MessageClass.ERROR_RESPONSE],
            )
