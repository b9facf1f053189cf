"""
Tests for the ChannelData codec, the Data indication encoder and the state
tables of the TURN core.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.stun import AttributeType, MessageClass, Method, decode
from twisted_ice.turn import InvalidTransitionError, channeldata
from twisted_ice.turn.indications import encode_data_indication
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
