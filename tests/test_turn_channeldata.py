"""
Tests for the ChannelData codec, the Data indication encoder, the Send
indication parser and the state tables of the TURN core.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunDecodeError,
    StunMessage,
    decode,
)
from twisted_ice.turn import InvalidTransitionError, channeldata
from twisted_ice.turn.core import _send_indication_values
from twisted_ice.turn.indications import encode_data_indication, parse_send_indication
from twisted_ice.turn.states import (
    ALLOCATION_TRANSITIONS,
    CHANNEL_TRANSITIONS,
    PERMISSION_TRANSITIONS,
    AllocationInput,
    AllocationState,
    ChannelInput,
    ChannelState,
    PermissionInput,
    PermissionState,
    transition,
)


class ChannelDataCodecTests(SynchronousTestCase):
    """
    Tests for L{channeldata}.
    """

    def test_encode_udp_unpadded(self) -> None:
        """
        On UDP the message is the 4-byte header and the data, unpadded.
        """
        self.assertEqual(channeldata.encode(0x4000, b"abc"), b"\x40\x00\x00\x03abc")

    def test_encode_stream_padded(self) -> None:
        """
        On a stream the message is padded to a multiple of 4 bytes, and the
        length field does not count the padding.
        """
        self.assertEqual(
            channeldata.encode(0x4FFF, b"abcde", stream=True),
            b"\x4f\xff\x00\x05abcde\x00\x00\x00",
        )

    def test_encode_stream_aligned_unpadded(self) -> None:
        """
        Data of a multiple of 4 bytes gets no padding.
        """
        self.assertEqual(
            channeldata.encode(0x4000, b"abcd", stream=True), b"\x40\x00\x00\x04abcd"
        )

    def test_encode_bad_channel_raises(self) -> None:
        """
        A channel number outside 0x4000-0x7FFF raises L{ValueError}.
        """
        self.assertRaises(ValueError, channeldata.encode, 0x8000, b"")
        self.assertRaises(ValueError, channeldata.encode, 0x3FFF, b"")

    def test_encode_too_long_raises(self) -> None:
        """
        Data longer than 65535 bytes raises L{ValueError}.
        """
        self.assertRaises(ValueError, channeldata.encode, 0x4000, b"x" * 65536)

    def test_decode_ignores_padding(self) -> None:
        """
        Decoding returns the data the length gives, without the padding.
        """
        self.assertEqual(
            channeldata.decode(b"\x40\x01\x00\x02ab\x00\x00"), (0x4001, b"ab")
        )

    def test_decode_length_past_data_raises(self) -> None:
        """
        A length past the data raises L{ValueError}.
        """
        self.assertRaises(ValueError, channeldata.decode, b"\x40\x00\x00\x05ab")

    def test_decode_short_raises(self) -> None:
        """
        Fewer than 4 bytes raise L{ValueError}.
        """
        self.assertRaises(ValueError, channeldata.decode, b"\x40\x00")

    def test_frame_length(self) -> None:
        """
        The frame length is header plus data on UDP, plus padding on streams.
        """
        header = b"\x40\x00\x00\x05"
        self.assertEqual(channeldata.frame_length(header, stream=False), 9)
        self.assertEqual(channeldata.frame_length(header, stream=True), 12)

    def test_frame_length_maximum(self) -> None:
        """
        The largest frame is L{channeldata.MAX_LENGTH} bytes.
        """
        header = b"\x40\x00\xff\xff"
        self.assertEqual(
            channeldata.frame_length(header, stream=True), channeldata.MAX_LENGTH
        )

    def test_frame_length_short_header_raises(self) -> None:
        """
        A header of fewer than 4 bytes raises L{ValueError}.
        """
        self.assertRaises(ValueError, channeldata.frame_length, b"\x40\x00", True)

    def test_is_channel_data(self) -> None:
        """
        First bytes 0x40 to 0x4F are ChannelData; STUN and others are not.
        """
        self.assertTrue(channeldata.is_channel_data(b"\x40"))
        self.assertTrue(channeldata.is_channel_data(b"\x4f"))
        self.assertFalse(channeldata.is_channel_data(b"\x00"))
        self.assertFalse(channeldata.is_channel_data(b"\x50"))
        self.assertFalse(channeldata.is_channel_data(b""))

    def test_is_channel_data_rfc5766(self) -> None:
        """
        With the RFC 5766 range, first bytes up to 0x7F are ChannelData.
        """
        rfc5766 = channeldata.RFC5766_CHANNEL_MAX
        self.assertTrue(channeldata.is_channel_data(b"\x7f", rfc5766))
        self.assertFalse(channeldata.is_channel_data(b"\x80", rfc5766))


class TransitionTableTests(SynchronousTestCase):
    """
    Tests for the state tables.
    """

    def test_allocation_rows(self) -> None:
        """
        Every input deletes or refreshes an active allocation, and nothing
        happens to a deleted one.
        """
        active = AllocationState.ACTIVE
        self.assertEqual(
            transition(ALLOCATION_TRANSITIONS, active, AllocationInput.REFRESH), active
        )
        for event in (
            AllocationInput.DELETE,
            AllocationInput.EXPIRE,
            AllocationInput.CLOSE,
        ):
            self.assertEqual(
                transition(ALLOCATION_TRANSITIONS, active, event),
                AllocationState.DELETED,
            )
        for event in AllocationInput:
            self.assertRaises(
                InvalidTransitionError,
                transition,
                ALLOCATION_TRANSITIONS,
                AllocationState.DELETED,
                event,
            )

    def test_permission_expired_is_final(self) -> None:
        """
        An expired permission takes no input.
        """
        for event in PermissionInput:
            self.assertRaises(
                InvalidTransitionError,
                transition,
                PERMISSION_TRANSITIONS,
                PermissionState.EXPIRED,
                event,
            )

    def test_channel_cooling_rebinds(self) -> None:
        """
        A cooling channel can be bound again.
        """
        self.assertEqual(
            transition(CHANNEL_TRANSITIONS, ChannelState.COOLING, ChannelInput.BIND),
            ChannelState.BOUND,
        )

    def test_channel_bound_cannot_end_cooldown(self) -> None:
        """
        A bound channel has no cooldown to end.
        """
        error = self.assertRaises(
            InvalidTransitionError,
            transition,
            CHANNEL_TRANSITIONS,
            ChannelState.BOUND,
            ChannelInput.COOLDOWN_END,
        )
        self.assertEqual(error.state, ChannelState.BOUND)
        self.assertEqual(error.event, ChannelInput.COOLDOWN_END)


class DataIndicationTests(SynchronousTestCase):
    """
    Tests for L{encode_data_indication}, checked with the STUN codec.
    """

    def test_round_trip(self) -> None:
        """
        IPv4, IPv6 and IPv4-mapped peers, and data of every padding length,
        decode to the same XOR-PEER-ADDRESS and DATA.
        """
        for peer in (
            ("8.8.8.8", 5000),
            ("2001:4860::8888", 65535),
            ("::ffff:1.2.3.4", 0),
        ):
            for data in (b"", b"a", b"ab", b"abc", b"abcd", b"x" * 1200):
                message = decode(encode_data_indication(peer, data))
                self.assertEqual(message.method, Method.DATA)
                self.assertEqual(message.message_class, MessageClass.INDICATION)
                self.assertEqual(message.get(AttributeType.XOR_PEER_ADDRESS), peer)
                self.assertEqual(message.get(AttributeType.DATA), data)

    def test_fresh_transaction_ids(self) -> None:
        """
        Each indication has its own transaction id.
        """
        first = decode(encode_data_indication(("8.8.8.8", 1), b""))
        second = decode(encode_data_indication(("8.8.8.8", 1), b""))
        self.assertNotEqual(first.transaction_id, second.transaction_id)

    def test_transaction_ids_across_reads(self) -> None:
        """
        Transaction ids stay distinct past one read of random bytes, and
        each is 12 bytes long.
        """
        ids = [
            decode(encode_data_indication(("8.8.8.8", 1), b"")).transaction_id
            for _ in range(1100)
        ]
        self.assertEqual(len(set(ids)), 1100)
        self.assertEqual({len(each) for each in ids}, {12})


PEER = ("198.51.100.7", 5000)
TRANSACTION_ID = b"\x07" * 12
IPV4_XOR_PEER_ADDRESS = st.builds(
    lambda port, host: b"\x00\x01" + port.to_bytes(2, "big") + host.to_bytes(4, "big"),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
)


def send_indication(
    *attributes: tuple[int, object], fingerprint: bool = False
) -> bytes:
    """
    Encode a Send indication with C{attributes} and the general encoder.
    """
    message = StunMessage(
        Method.SEND, MessageClass.INDICATION, TRANSACTION_ID, list(attributes)
    )
    return message.encode(fingerprint=fingerprint)


class SendIndicationParserTests(SynchronousTestCase):
    """
    Tests for L{parse_send_indication}, checked against the STUN codec.
    """

    def test_common_form(self) -> None:
        """
        One IPv4 XOR-PEER-ADDRESS and one DATA, in either order, with or
        without FINGERPRINT, and data of every padding length, give the peer
        and the data.
        """
        for data in (b"", b"a", b"ab", b"abc", b"abcd", b"x" * 1200):
            peer = (AttributeType.XOR_PEER_ADDRESS, PEER)
            payload = (AttributeType.DATA, data)
            for attributes in ((peer, payload), (payload, peer)):
                for fingerprint in (False, True):
                    encoded = send_indication(*attributes, fingerprint=fingerprint)
                    self.assertEqual(parse_send_indication(encoded), (PEER, data))

    def test_other_forms(self) -> None:
        """
        Send indications of any other form are left to the general decoder:
        an IPv6 peer, DONT-FRAGMENT or another attribute, a second
        XOR-PEER-ADDRESS or DATA, or no XOR-PEER-ADDRESS or no DATA.
        """
        peer = (AttributeType.XOR_PEER_ADDRESS, PEER)
        payload = (AttributeType.DATA, b"ping")
        for attributes in (
            [(AttributeType.XOR_PEER_ADDRESS, ("2001:db8::7", 5000)), payload],
            [peer, payload, (AttributeType.DONT_FRAGMENT, True)],
            [peer, payload, (AttributeType.SOFTWARE, "client")],
            [peer, payload, (AttributeType.XOR_PEER_ADDRESS, ("192.0.2.1", 1))],
            [peer, payload, (AttributeType.DATA, b"pong")],
            [peer],
            [payload],
            [],
        ):
            self.assertIsNone(parse_send_indication(send_indication(*attributes)))

    def test_wrong_fingerprint(self) -> None:
        """
        A Send indication whose FINGERPRINT does not match is left to the
        general decoder, which drops it.
        """
        encoded = bytearray(
            send_indication(
                (AttributeType.XOR_PEER_ADDRESS, PEER),
                (AttributeType.DATA, b"ping"),
                fingerprint=True,
            )
        )
        encoded[-1] ^= 1
        self.assertIsNone(parse_send_indication(bytes(encoded)))

    def test_malformed(self) -> None:
        """
        A header length that does not match the datagram, a truncated
        attribute, an attribute after FINGERPRINT, another message type and a
        missing magic cookie all give L{None}.
        """
        good = send_indication(
            (AttributeType.XOR_PEER_ADDRESS, PEER), (AttributeType.DATA, b"ping")
        )
        with_fingerprint = send_indication(
            (AttributeType.XOR_PEER_ADDRESS, PEER),
            (AttributeType.DATA, b"ping"),
            fingerprint=True,
        )
        # Attributes after FINGERPRINT, with the header length fixed up.
        trailing = with_fingerprint + b"\x00\x13\x00\x00"
        trailing = trailing[:2] + (len(trailing) - 20).to_bytes(2, "big") + trailing[4:]
        for data in (
            good[:-4],
            good + b"\x00\x00\x00\x00",
            good[:2] + b"\x00\xff" + good[4:],
            good[:22] + b"\xff\xff" + good[24:],
            trailing,
            b"\x00\x17" + good[2:],
            good[:4] + b"\x00\x00\x00\x00" + good[8:],
            good[:19],
        ):
            self.assertIsNone(parse_send_indication(data))

    @given(
        IPV4_XOR_PEER_ADDRESS,
        st.binary(max_size=24),
        st.booleans(),
        st.lists(
            st.tuples(
                st.sampled_from([0x0012, 0x0013, 0x001A, 0x8022, 0x8028, 0x0001]),
                st.binary(max_size=24),
            ),
            max_size=2,
        ),
        st.booleans(),
        st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=2),
    )
    def test_agrees_with_general_decoder(
        self,
        peer: bytes,
        payload: bytes,
        data_first: bool,
        extra: list[tuple[int, bytes]],
        fingerprint: bool,
        flips: list[tuple[int, int]],
    ) -> None:
        """
        Whatever the parser accepts, the general decoder decodes with a good
        FINGERPRINT (when there is one) to the same peer and data. The
        messages are Send indications with an IPv4 XOR-PEER-ADDRESS and DATA,
        sometimes other attributes, a FINGERPRINT, or bytes changed.
        """
        raw = [(0x0012, peer), (0x0013, payload)]
        if data_first:
            raw.reverse()
        raw += extra

        body = b"".join(
            kind.to_bytes(2, "big")
            + len(value).to_bytes(2, "big")
            + value
            + b"\x00" * (-len(value) & 3)
            for kind, value in raw
        )
        header = b"\x00\x16" + len(body).to_bytes(2, "big") + b"\x21\x12\xa4\x42"
        data = bytearray(header + TRANSACTION_ID + body)
        if fingerprint:
            data = bytearray(
                decode_or_none(bytes(data), fingerprint=True) or bytes(data)
            )
        for position, value in flips:
            if position < len(data):
                data[position] = value

        parsed = parse_send_indication(bytes(data))
        if parsed is None:
            return
        message = decode(bytes(data))
        self.assertTrue(not message.has_fingerprint or message.check_fingerprint())
        self.assertEqual(message.method, Method.SEND)
        self.assertEqual(message.message_class, MessageClass.INDICATION)
        self.assertEqual(_send_indication_values(message), parsed)


def decode_or_none(data: bytes, fingerprint: bool) -> bytes | None:
    """
    Re-encode C{data} with a FINGERPRINT, or return L{None} when the general
    decoder rejects it.
    """
    try:
        return decode(data).encode(fingerprint=fingerprint)
    except (StunDecodeError, ValueError):
        return None
