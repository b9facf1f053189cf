"""
Sans-I/O framing for the TCP/TLS mux: the first-bytes sniffer that decides
what a connection carries, and the two stream splitters.

  - ICE-TCP (RFC 6544) frames every STUN message and media packet with a
    2-byte big-endian length (RFC 4571 section 2).
  - TURN over TCP and TLS (RFC 8656 section 12.5) sends STUN messages and
    ChannelData messages back to back with no extra framing. Each message
    carries its own length, and ChannelData is padded to a multiple of 4
    bytes on the stream.

Bytes go in, whole frames come out. Every length is checked before anything
waits for it, so a splitter never buffers more than one maximal frame, and a
stream that breaks the framing raises L{FramingError}: the caller then closes
the connection, because no later byte can be trusted to start a frame.
"""

from __future__ import annotations

import enum

MAGIC_COOKIE = b"\x21\x12\xa4\x42"
"""The fixed bytes at offset 4 of every RFC 5389 and RFC 8489 STUN message."""

STUN_HEADER_SIZE = 20
"""The size of a STUN message header (RFC 8489 section 5)."""

CHANNEL_DATA_HEADER_SIZE = 4
"""The size of a ChannelData header: channel number, then length (RFC 8656
section 12.4)."""

MAX_RFC4571_FRAME = 65535
"""The largest RFC 4571 frame body: the length field has 16 bits."""

MAX_STUN_MESSAGE = STUN_HEADER_SIZE + 65532
"""The largest STUN message: the header plus the largest 16-bit length that is
a multiple of 4 (RFC 8489 section 5)."""

MAX_CHANNEL_DATA = CHANNEL_DATA_HEADER_SIZE + 65536
"""The largest ChannelData message on a stream: a 65535-byte payload padded
to 65536 bytes."""

SNIFF_BYTES = 10
"""The maximum number of bytes L{sniff} needs to decide: an ICE-TCP frame's magic cookie
ends at offset 10."""

_TLS_HANDSHAKE = 0x16
_SPACE = 0x20


class FramingError(ValueError):
    """
    A stream broke its framing: an impossible length or a frame that starts
    with a byte no message starts with. The connection must be closed.
    """


class StreamKind(enum.Enum):
    """
    The kind of stream a connection carries, decided from its first bytes.
    """

    TLS = "tls"
    """A TLS record (content type 22, handshake): decrypt, then sniff the
    plaintext."""

    ICE_TCP = "ice-tcp"
    """RFC 4571 frames whose first one is a STUN message: ICE-TCP."""

    TURN = "turn"
    """A STUN message or ChannelData message with no extra framing: TURN over
    TCP."""

    REJECT = "reject"
    """None of the above (an HTTP request, garbage): close the connection."""


def _is_channel_data_byte(byte: int) -> bool:
    """
    Return whether C{byte} starts a ChannelData message: channel numbers are
    0x4000-0x4FFF (RFC 8656 section 12).
    """
    return 0x40 <= byte <= 0x4F


def _is_stream_channel_data_byte(byte: int) -> bool:
    """
    Return whether C{byte} starts a ChannelData message on a TURN stream:
    0x40-0x7F, the channel numbers 0x4000-0x7FFF of RFC 5766 section 11,
    which RFC 8656 narrowed to 0x4000-0x4FFF. Clients such as coturn's
    still bind the older range, and on a TURN stream nothing else can start
    with these bytes, so the splitter accepts them and leaves the channel
    check to the TURN server.
    """
    return 0x40 <= byte <= 0x7F


def _sniff_http(data: bytes) -> StreamKind | None:
    """
    Tell an HTTP request line from ChannelData when the first byte is
    0x40-0x4F: the methods GET, HEAD, OPTIONS, DELETE and CONNECT start with
    such a byte.

    A method token here is 3 to 7 upper-case ASCII letters and a space. A
    ChannelData message matches this only when its channel number and length
    bytes are letters, which a client that has just connected never sends,
    because no channel can be bound on a connection before its Allocate.
    """
    for index, byte in enumerate(data[:8]):
        if byte == _SPACE:
            return StreamKind.REJECT if index >= 3 else StreamKind.TURN
        if not 0x41 <= byte <= 0x5A:
            return StreamKind.TURN
    if len(data) >= 8:
        return StreamKind.TURN
    return None


def sniff(data: bytes, allow_tls: bool = True) -> StreamKind | None:
    """
    Decide what a connection carries from its first bytes.

    @param data: the first bytes read from the connection, at least one.
    @param allow_tls: whether a TLS record is acceptable; L{False} on a
        listener without a certificate and inside TLS, where it gives
        L{StreamKind.REJECT}.
    @return: the kind, or L{None} when C{data} is too short to tell.
        L{SNIFF_BYTES} bytes always decide.
    """
    if not data:
        return None
    first = data[0]

    if first == _TLS_HANDSHAKE:
        return StreamKind.TLS if allow_tls else StreamKind.REJECT

    if _is_channel_data_byte(first):
        return _sniff_http(data)

    # A TURN STUN message starts with its type (first byte 0-3) and has the
    # cookie at offset 4. An ICE-TCP frame starts with its 2-byte length,
    # then the STUN type at offset 2 and the cookie at offset 6. Neither
    # layout can match the other: 0x2112 would have to equal 0xA442.
    if first < 4:
        if len(data) < 8:
            return None
        if data[4:8] == MAGIC_COOKIE:
            return StreamKind.TURN
    if len(data) >= 3 and data[2] >= 4:
        return StreamKind.REJECT
    if len(data) < SNIFF_BYTES:
        return None
    if data[6:10] == MAGIC_COOKIE:
        return StreamKind.ICE_TCP
    return StreamKind.REJECT


class Rfc4571Splitter:
    """
    Splits an RFC 4571 stream (a 2-byte big-endian length, then that many
    bytes) into frame bodies.

    A zero-length frame carries nothing and RFC 4571 gives it no meaning: it
    is skipped and counted in L{empty_frames}.

    @ivar max_frame: the largest frame body accepted.
    @ivar empty_frames: the number of zero-length frames skipped.
    """

    def __init__(self, max_frame: int = MAX_RFC4571_FRAME) -> None:
        """
        @param max_frame: the largest frame body accepted, at most
            L{MAX_RFC4571_FRAME}; a longer length raises L{FramingError}.
        """
        if not 0 < max_frame <= MAX_RFC4571_FRAME:
            raise ValueError(f"max_frame must be 1-{MAX_RFC4571_FRAME}: {max_frame}")
        self.max_frame = max_frame
        self.empty_frames = 0
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """
        The number of bytes held for a frame that is not complete yet.
        """
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """
        Add C{data} from the stream and return the frame bodies it completes.

        @raise FramingError: when a frame is longer than L{max_frame}. The
            frames before it are lost with the connection.
        """
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        offset = 0
        end = len(buffer)
        while end - offset >= 2:
            length = (buffer[offset] << 8) | buffer[offset + 1]
            if length > self.max_frame:
                raise FramingError(
                    f"RFC 4571 frame of {length} bytes, over the maximum of "
                    f"{self.max_frame}"
                )
            if end - offset - 2 < length:
                break
            if length:
                frames.append(bytes(buffer[offset + 2 : offset + 2 + length]))
            else:
                self.empty_frames += 1
            offset += 2 + length
        del buffer[:offset]
        return frames


def frame_rfc4571(data: bytes) -> bytes:
    """
    Prefix C{data} with its RFC 4571 length.

    @raise ValueError: when C{data} is empty or longer than
        L{MAX_RFC4571_FRAME}.
    """
    length = len(data)
    if not 0 < length <= MAX_RFC4571_FRAME:
        raise ValueError(f"an RFC 4571 frame body must be 1-65535 bytes: {length}")
    return length.to_bytes(2, "big") + data


class TurnFrameKind(enum.Enum):
    """
    The two messages a TURN control connection carries.
    """

    STUN = "stun"
    CHANNEL_DATA = "channel-data"


class TurnStreamSplitter:
    """
    Splits a TURN-over-TCP stream (RFC 8656 section 12.5) into STUN messages
    and ChannelData messages.

    A STUN message is its 20-byte header and the attributes its length field
    counts; the length must be a multiple of 4 and the magic cookie present
    (RFC 8489 section 6.3). A ChannelData message is its 4-byte header and
    payload, padded to a multiple of 4 bytes. The padding is consumed here,
    and a returned ChannelData message ends with its payload.

    @ivar max_stun_message: the largest STUN message accepted, header
        included.
    """

    def __init__(self, max_stun_message: int = MAX_STUN_MESSAGE) -> None:
        """
        @param max_stun_message: the largest STUN message accepted, header
            included, at most L{MAX_STUN_MESSAGE}; a longer one raises
            L{FramingError}.
        """
        if not STUN_HEADER_SIZE <= max_stun_message <= MAX_STUN_MESSAGE:
            raise ValueError(
                f"max_stun_message must be {STUN_HEADER_SIZE}-{MAX_STUN_MESSAGE}: "
                f"{max_stun_message}"
            )
        self.max_stun_message = max_stun_message
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """
        The number of bytes held for a message that is not complete yet.
        """
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[TurnFrameKind, bytes]]:
        """
        Add C{data} from the stream and return the messages it completes,
        each with its kind.

        @raise FramingError: when a message starts with a byte that is
            neither 0-3 (STUN) nor 0x40-0x7F (ChannelData), or a STUN header
            has no magic cookie, a length that is not a multiple of 4, or a
            length over L{max_stun_message}.
        """
        buffer = self._buffer
        buffer += data
        frames: list[tuple[TurnFrameKind, bytes]] = []
        offset = 0
        end = len(buffer)
        while end - offset >= 4:
            first = buffer[offset]
            length = (buffer[offset + 2] << 8) | buffer[offset + 3]

            if _is_stream_channel_data_byte(first):
                size = CHANNEL_DATA_HEADER_SIZE + length
                padded = (size + 3) & ~3
                if end - offset < padded:
                    break
                frames.append(
                    (TurnFrameKind.CHANNEL_DATA, bytes(buffer[offset : offset + size]))
                )
                offset += padded
                continue

            if first >= 4:
                raise FramingError(
                    f"TURN stream message starts with 0x{first:02x}, neither STUN "
                    "nor ChannelData"
                )
            if length % 4:
                raise FramingError(
                    f"STUN message length {length} is not a multiple of 4"
                )
            size = STUN_HEADER_SIZE + length
            if size > self.max_stun_message:
                raise FramingError(
                    f"STUN message of {size} bytes, over the maximum of "
                    f"{self.max_stun_message}"
                )
            if end - offset < 8:
                break
            if buffer[offset + 4 : offset + 8] != MAGIC_COOKIE:
                raise FramingError("STUN message without the magic cookie")
            if end - offset < size:
                break
            frames.append((TurnFrameKind.STUN, bytes(buffer[offset : offset + size])))
            offset += size
        del buffer[:offset]
        return frames


def pad_channel_data(data: bytes) -> bytes:
    """
    Return a ChannelData message cut to the length its header gives and
    padded with zero bytes to a multiple of 4, as a stream carries it (RFC
    8656 section 12.5).

    @raise ValueError: when C{data} is shorter than the length in its header.
    """
    if len(data) < CHANNEL_DATA_HEADER_SIZE:
        raise ValueError(f"ChannelData message of {len(data)} bytes has no header")
    size = CHANNEL_DATA_HEADER_SIZE + int.from_bytes(data[2:4], "big")
    if len(data) < size:
        raise ValueError(
            f"ChannelData message of {len(data)} bytes is shorter than the"
            f" {size} bytes its header gives"
        )
    padding = -size % 4
    if len(data) == size + padding and not any(data[size:]):
        return data
    return data[:size] + b"\x00" * padding
