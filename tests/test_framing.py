"""
Tests for L{twisted_ice.transport.framing}: the first-bytes sniffer and the
RFC 4571 and TURN-over-TCP stream splitters.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial import unittest

from twisted_ice.transport.framing import (
    MAGIC_COOKIE,
    MAX_CHANNEL_DATA,
    MAX_RFC4571_FRAME,
    MAX_STUN_MESSAGE,
    SNIFF_BYTES,
    FramingError,
    Rfc4571Splitter,
    StreamKind,
    TurnFrameKind,
    TurnStreamSplitter,
    frame_rfc4571,
    pad_channel_data,
    sniff,
)

TRANSACTION_ID = bytes(range(12))


def stun_message(attributes: bytes = b"", message_type: int = 0x0001) -> bytes:
    """
    Build the bytes of a STUN message with C{attributes} as its body.
    """
    return (
        message_type.to_bytes(2, "big")
        + len(attributes).to_bytes(2, "big")
        + MAGIC_COOKIE
        + TRANSACTION_ID
        + attributes
    )


def channel_data(payload: bytes, channel: int = 0x4000) -> bytes:
    """
    Build an unpadded ChannelData message carrying C{payload}.
    """
    return channel.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload


CLIENT_HELLO_START = bytes.fromhex("160301020001") + b"\x00\x01\xfc\x03\x03"
"""The first bytes of a TLS 1.2/1.3 ClientHello record."""


class SniffTests(unittest.TestCase):
    """
    L{sniff} decides a connection's kind from its first bytes.
    """

    def test_tls_record(self) -> None:
        """
        A first byte 0x16 (TLS handshake record) is TLS.
        """
        self.assertIs(sniff(CLIENT_HELLO_START[:1]), StreamKind.TLS)

    def test_tls_rejected_when_not_allowed(self) -> None:
        """
        Without TLS, a ClientHello is rejected.
        """
        self.assertIs(sniff(CLIENT_HELLO_START, allow_tls=False), StreamKind.REJECT)

    def test_turn_stun(self) -> None:
        """
        A STUN header with the cookie at offset 4 is TURN over TCP.
        """
        self.assertIs(sniff(stun_message(b"", 0x0003)[:8]), StreamKind.TURN)

    def test_turn_stun_long_length(self) -> None:
        """
        A TURN STUN message whose length high byte is 4 or more is still TURN.
        """
        message = b"\x00\x03\x04\x00" + MAGIC_COOKIE
        self.assertIs(sniff(message), StreamKind.TURN)

    def test_ice_tcp(self) -> None:
        """
        A 2-byte length, then a STUN header with the cookie at offset 6, is
        ICE-TCP.
        """
        framed = frame_rfc4571(stun_message(b"\x00" * 8))
        self.assertIs(sniff(framed[:SNIFF_BYTES]), StreamKind.ICE_TCP)

    def test_ice_tcp_large_first_frame(self) -> None:
        """
        An ICE-TCP first frame of 1024 bytes or more (first byte 4) is still
        ICE-TCP.
        """
        framed = frame_rfc4571(stun_message(b"\x00" * 1100))
        self.assertIs(sniff(framed[:SNIFF_BYTES]), StreamKind.ICE_TCP)

    def test_channel_data(self) -> None:
        """
        A first byte 0x40-0x4F that is not an HTTP method is ChannelData:
        TURN over TCP.
        """
        self.assertIs(sniff(channel_data(b"abcd")), StreamKind.TURN)

    def test_http_get_rejected(self) -> None:
        """
        An HTTP GET request line is rejected, although G is 0x47.
        """
        self.assertIs(sniff(b"GET / HTTP/1.1\r\n"), StreamKind.REJECT)

    def test_http_options_rejected(self) -> None:
        """
        An HTTP OPTIONS request line (a 7-letter method) is rejected.
        """
        self.assertIs(sniff(b"OPTIONS * HTTP/1.1\r\n"), StreamKind.REJECT)

    def test_http_post_rejected(self) -> None:
        """
        An HTTP POST request line is rejected.
        """
        self.assertIs(sniff(b"POST / HTTP/1.1\r\n"), StreamKind.REJECT)

    def test_garbage_rejected(self) -> None:
        """
        Bytes that match no layout are rejected.
        """
        self.assertIs(sniff(b"\xff" * SNIFF_BYTES), StreamKind.REJECT)

    def test_stun_without_cookie_rejected(self) -> None:
        """
        A STUN-like header without the magic cookie anywhere (RFC 3489) is
        rejected.
        """
        self.assertIs(sniff(b"\x00\x01\x00\x00" + b"\x00" * 16), StreamKind.REJECT)

    def test_waits_for_turn_cookie(self) -> None:
        """
        Seven bytes of a TURN STUN header are not enough to decide.
        """
        self.assertIsNone(sniff(stun_message()[:7]))

    def test_waits_for_ice_cookie(self) -> None:
        """
        Nine bytes of an ICE-TCP frame are not enough to decide.
        """
        self.assertIsNone(sniff(frame_rfc4571(stun_message())[:9]))

    def test_waits_for_http_space(self) -> None:
        """
        Three upper-case letters may still be an HTTP method.
        """
        self.assertIsNone(sniff(b"GET"))

    def test_empty_waits(self) -> None:
        """
        No bytes decide nothing.
        """
        self.assertIsNone(sniff(b""))

    @given(st.binary(min_size=SNIFF_BYTES, max_size=SNIFF_BYTES))
    def test_sniff_bytes_always_decide(self, data: bytes) -> None:
        """
        L{SNIFF_BYTES} bytes always decide, whatever they are.
        """
        self.assertIsNotNone(sniff(data))


class Rfc4571SplitterTests(unittest.TestCase):
    """
    L{Rfc4571Splitter} splits a 2-byte-length framed stream.
    """

    def test_one_byte_writes_frame(self) -> None:
        """
        A frame fed one byte at a time comes out once, whole.
        """
        splitter = Rfc4571Splitter()
        body = stun_message(b"\x00" * 8)
        frames: list[bytes] = []
        for byte in frame_rfc4571(body):
            frames.extend(splitter.feed(bytes([byte])))
        self.assertEqual(frames, [body])
        self.assertEqual(splitter.buffered, 0)

    def test_many_frames_one_write(self) -> None:
        """
        Many frames in one feed all come out, in order.
        """
        splitter = Rfc4571Splitter()
        bodies = [bytes([128, n]) * (n + 1) for n in range(50)]
        frames = splitter.feed(b"".join(frame_rfc4571(body) for body in bodies))
        self.assertEqual(frames, bodies)

    def test_partial_frame_kept(self) -> None:
        """
        A frame and half of the next give the first, and the rest waits.
        """
        splitter = Rfc4571Splitter()
        stream = frame_rfc4571(b"\x80" * 10) + frame_rfc4571(b"\x81" * 10)[:5]
        self.assertEqual(splitter.feed(stream), [b"\x80" * 10])
        self.assertEqual(splitter.buffered, 5)

    def test_zero_length_skipped(self) -> None:
        """
        A zero-length frame is skipped and counted.
        """
        splitter = Rfc4571Splitter()
        frames = splitter.feed(b"\x00\x00" + frame_rfc4571(b"\x80\x01"))
        self.assertEqual(frames, [b"\x80\x01"])
        self.assertEqual(splitter.empty_frames, 1)

    def test_oversized_length_raises(self) -> None:
        """
        A length over the maximum raises at once, before its body arrives.
        """
        splitter = Rfc4571Splitter(max_frame=1500)
        self.assertRaises(FramingError, splitter.feed, b"\x05\xdd")

    def test_maximum_frame_accepted(self) -> None:
        """
        A 65535-byte frame, the RFC 4571 maximum, is accepted.
        """
        splitter = Rfc4571Splitter()
        body = b"\x80" * MAX_RFC4571_FRAME
        self.assertEqual(splitter.feed(frame_rfc4571(body)), [body])

    def test_buffer_bounded(self) -> None:
        """
        The buffer never holds more than one maximal frame and its length.
        """
        splitter = Rfc4571Splitter()
        splitter.feed(b"\xff\xff" + b"\x80" * (MAX_RFC4571_FRAME - 1))
        self.assertEqual(splitter.buffered, MAX_RFC4571_FRAME + 1)

    @given(
        st.lists(st.binary(min_size=1, max_size=300), max_size=20),
        st.lists(st.integers(min_value=1, max_value=400), min_size=1),
    )
    def test_any_split(self, bodies: list[bytes], sizes: list[int]) -> None:
        """
        Any split of a stream into feeds gives the same frames.
        """
        stream = b"".join(frame_rfc4571(body) for body in bodies)
        splitter = Rfc4571Splitter()
        frames: list[bytes] = []
        offset = 0
        index = 0
        while offset < len(stream):
            size = sizes[index % len(sizes)]
            frames.extend(splitter.feed(stream[offset : offset + size]))
            offset += size
            index += 1
        self.assertEqual(frames, bodies)
        self.assertEqual(splitter.buffered, 0)


class FrameRfc4571Tests(unittest.TestCase):
    """
    L{frame_rfc4571} adds the RFC 4571 length prefix.
    """

    def test_prefix(self) -> None:
        """
        The prefix is the body length, 2 bytes big-endian.
        """
        self.assertEqual(frame_rfc4571(b"\x80" * 258), b"\x01\x02" + b"\x80" * 258)

    def test_too_long_raises(self) -> None:
        """
        A body over 65535 bytes cannot be framed.
        """
        self.assertRaises(ValueError, frame_rfc4571, b"\x00" * 65536)

    def test_empty_raises(self) -> None:
        """
        An empty body is not framed.
        """
        self.assertRaises(ValueError, frame_rfc4571, b"")


class TurnStreamSplitterTests(unittest.TestCase):
    """
    L{TurnStreamSplitter} splits a TURN-over-TCP stream.
    """

    def test_one_byte_writes_stun(self) -> None:
        """
        A STUN message fed one byte at a time comes out once, whole.
        """
        splitter = TurnStreamSplitter()
        message = stun_message(b"\x00\x19\x00\x04\x11\x00\x00\x00", 0x0003)
        frames: list[tuple[TurnFrameKind, bytes]] = []
        for byte in message:
            frames.extend(splitter.feed(bytes([byte])))
        self.assertEqual(frames, [(TurnFrameKind.STUN, message)])

    def test_one_byte_writes_channel_data(self) -> None:
        """
        A padded ChannelData message fed one byte at a time comes out once.
        """
        splitter = TurnStreamSplitter()
        message = channel_data(b"abcde")
        frames: list[tuple[TurnFrameKind, bytes]] = []
        for byte in pad_channel_data(message):
            frames.extend(splitter.feed(bytes([byte])))
        self.assertEqual(frames, [(TurnFrameKind.CHANNEL_DATA, message)])

    def test_padding_stripped(self) -> None:
        """
        A ChannelData message comes out without its padding: its length is
        the header plus the payload (RFC 8656 section 12.5).
        """
        splitter = TurnStreamSplitter()
        frames = splitter.feed(pad_channel_data(channel_data(b"x")))
        self.assertEqual(frames, [(TurnFrameKind.CHANNEL_DATA, b"\x40\x00\x00\x01x")])

    def test_padding_never_starts_frame(self) -> None:
        """
        The padding after a ChannelData message is consumed, so the next
        message starts after it.
        """
        splitter = TurnStreamSplitter()
        first = channel_data(b"abc")
        second = stun_message()
        frames = splitter.feed(pad_channel_data(first) + second)
        self.assertEqual(
            frames,
            [(TurnFrameKind.CHANNEL_DATA, first), (TurnFrameKind.STUN, second)],
        )

    def test_waits_for_padding(self) -> None:
        """
        A ChannelData message is handed on only once its padding arrived.
        """
        splitter = TurnStreamSplitter()
        self.assertEqual(splitter.feed(channel_data(b"abc")), [])
        self.assertEqual(
            splitter.feed(b"\x00"),
            [(TurnFrameKind.CHANNEL_DATA, channel_data(b"abc"))],
        )

    def test_many_messages_one_write(self) -> None:
        """
        STUN and ChannelData messages in one feed all come out, in order.
        """
        splitter = TurnStreamSplitter()
        expected: list[tuple[TurnFrameKind, bytes]] = []
        stream = b""
        for n in range(30):
            data = channel_data(bytes([n]) * n, 0x4000 + n)
            stun = stun_message(b"\x00" * (4 * (n % 5)), 0x0016)
            expected += [(TurnFrameKind.CHANNEL_DATA, data), (TurnFrameKind.STUN, stun)]
            stream += pad_channel_data(data) + stun
        self.assertEqual(splitter.feed(stream), expected)

    def test_channel_data_claims_more(self) -> None:
        """
        A ChannelData header that claims more than arrived waits, holding
        only what arrived.
        """
        splitter = TurnStreamSplitter()
        self.assertEqual(splitter.feed(b"\x40\x00\xff\xff" + b"x" * 100), [])
        self.assertEqual(splitter.buffered, 104)

    def test_maximal_channel_data(self) -> None:
        """
        A 65535-byte ChannelData payload, padded to 65536, is accepted.
        """
        splitter = TurnStreamSplitter()
        message = channel_data(b"x" * 65535)
        padded = pad_channel_data(message)
        self.assertEqual(len(padded), MAX_CHANNEL_DATA)
        self.assertEqual(splitter.feed(padded), [(TurnFrameKind.CHANNEL_DATA, message)])

    def test_stun_length_not_multiple_of_4(self) -> None:
        """
        A STUN length that is not a multiple of 4 breaks the framing (RFC
        8489 section 6.3).
        """
        splitter = TurnStreamSplitter()
        self.assertRaises(FramingError, splitter.feed, b"\x00\x01\x00\x05")

    def test_stun_without_cookie(self) -> None:
        """
        A STUN header without the magic cookie breaks the framing.
        """
        splitter = TurnStreamSplitter()
        self.assertRaises(FramingError, splitter.feed, b"\x00\x01\x00\x00abcd")

    def test_stun_over_maximum(self) -> None:
        """
        A STUN message longer than the maximum raises at its header.
        """
        splitter = TurnStreamSplitter(max_stun_message=1500)
        self.assertRaises(FramingError, splitter.feed, b"\x00\x03\x05\xf0")

    def test_largest_stun_accepted(self) -> None:
        """
        A STUN message of the largest 16-bit length is accepted by default.
        """
        splitter = TurnStreamSplitter()
        message = stun_message(b"\x00" * (MAX_STUN_MESSAGE - 20))
        self.assertEqual(splitter.feed(message), [(TurnFrameKind.STUN, message)])

    def test_legacy_channel_accepted(self) -> None:
        """
        ChannelData on a channel of the RFC 5766 range above 0x4FFF is split
        like any other, for the TURN server to check.
        """
        splitter = TurnStreamSplitter()
        message = channel_data(b"abc", channel=0x7FFF)
        self.assertEqual(
            splitter.feed(pad_channel_data(message)),
            [(TurnFrameKind.CHANNEL_DATA, message)],
        )

    def test_garbage_raises(self) -> None:
        """
        A message that starts with neither 0-3 nor 0x40-0x7F breaks the
        framing.
        """
        splitter = TurnStreamSplitter()
        self.assertRaises(FramingError, splitter.feed, b"\x80\x00\x00\x00")

    def test_garbage_after_stun_raises(self) -> None:
        """
        Bytes from 0x80 up after a STUN message break the framing at their
        first byte.
        """
        splitter = TurnStreamSplitter()
        self.assertRaises(FramingError, splitter.feed, stun_message() + b"\x80abc")

    @given(
        st.lists(
            st.one_of(
                st.binary(max_size=200).map(channel_data),
                st.integers(min_value=0, max_value=50).map(
                    lambda n: stun_message(b"\x00" * (4 * n))
                ),
            ),
            max_size=20,
        ),
        st.lists(st.integers(min_value=1, max_value=300), min_size=1),
    )
    def test_any_split(self, messages: list[bytes], sizes: list[int]) -> None:
        """
        Any split of a stream into feeds gives the same messages, without
        padding.
        """
        stream = b"".join(pad_channel_data(m) if m[0] >= 0x40 else m for m in messages)
        splitter = TurnStreamSplitter()
        frames: list[bytes] = []
        offset = 0
        index = 0
        while offset < len(stream):
            size = sizes[index % len(sizes)]
            frames.extend(
                frame for _, frame in splitter.feed(stream[offset : offset + size])
            )
            offset += size
            index += 1
        self.assertEqual(frames, messages)
        self.assertEqual(splitter.buffered, 0)


class PadChannelDataTests(unittest.TestCase):
    """
    L{pad_channel_data} pads a ChannelData message for a stream.
    """

    def test_pads_to_4(self) -> None:
        """
        A 5-byte payload gets 3 zero bytes of padding.
        """
        self.assertEqual(
            pad_channel_data(channel_data(b"abcde")),
            b"\x40\x00\x00\x05abcde\x00\x00\x00",
        )

    def test_aligned_unchanged(self) -> None:
        """
        A message that is already a multiple of 4 bytes is unchanged.
        """
        self.assertEqual(pad_channel_data(channel_data(b"abcd")), channel_data(b"abcd"))

    def test_cuts_extra_bytes(self) -> None:
        """
        Bytes after the length the header gives are replaced by zero padding.
        """
        self.assertEqual(
            pad_channel_data(channel_data(b"a") + b"zzzzzz"),
            b"\x40\x00\x00\x01a\x00\x00\x00",
        )

    def test_short_raises(self) -> None:
        """
        A message shorter than its header says raises.
        """
        self.assertRaises(ValueError, pad_channel_data, b"\x40\x00\x00\x05ab")
