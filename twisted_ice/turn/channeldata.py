"""
The TURN ChannelData message (RFC 8656 section 12.4): a 4-byte header (channel
number, data length) and the data, padded to a multiple of 4 bytes on TCP and
TLS only. The padding is never relayed.
"""

from __future__ import annotations

import struct

CHANNEL_MIN = 0x4000
"""
The lowest channel number a client may bind (RFC 8656 section 12).
"""

CHANNEL_MAX = 0x4FFF
"""
The highest channel number a client may bind (RFC 8656 section 12).
"""

RFC5766_CHANNEL_MAX = 0x7FFF
"""
The highest channel number of RFC 5766 section 11, which RFC 8656 narrowed to
0x4FFF. Some clients (coturn 4.6's turnutils_uclient) still pick from
0x4000-0x7FFF.
"""

HEADER_LENGTH = 4
"""
The size of the ChannelData header: channel number and length, 2 bytes each.
"""

MAX_LENGTH = HEADER_LENGTH + 0x10000
"""
The largest ChannelData message on a stream transport: 65535 data bytes
padded to 65536, after the header.
"""

_HEADER = struct.Struct("!HH")
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


def is_channel_data(data: bytes, max_channel: int = CHANNEL_MAX) -> bool:
    """
    Return whether C{data} starts like ChannelData: a first byte of 0x40 to
    0x4F (RFC 7983), the range of channel numbers 0x4000 to 0x4FFF, or up to
    the first byte of C{max_channel} (0x7F for the range of RFC 5766).
    """
    return len(data) > 0 and 0x40 <= data[0] <= max_channel >> 8


def padding(length: int) -> bytes:
    """
    Return the zero bytes that pad C{length} bytes of data to a multiple of 4,
    as a stream transport needs.
    """
    return _PADDING[length & 3]


def frame_length(header: bytes, stream: bool) -> int:
    """
    Return the size of the whole ChannelData message that starts with
    C{header}: the header, the data and, when C{stream}, the padding to a
    multiple of 4 bytes.

    @param header: At least the first 4 bytes of the message.
    @raise ValueError: C{header} is shorter than 4 bytes.
    """
    if len(header) < HEADER_LENGTH:
        raise ValueError(
            f"ChannelData header is {len(header)} bytes, expected {HEADER_LENGTH}"
        )
    length = (header[2] << 8) | header[3]
    if stream:
        length += -length & 3
    return HEADER_LENGTH + length


def encode(channel: int, data: bytes, stream: bool = False) -> bytes:
    """
    Return the ChannelData message carrying C{data} on C{channel}, padded when
    C{stream}.

    @raise ValueError: C{channel} is outside 0x4000-0x7FFF (the range of
        RFC 5766, which contains that of RFC 8656) or C{data} is longer than
        65535 bytes.
    """
    if not CHANNEL_MIN <= channel <= RFC5766_CHANNEL_MAX:
        raise ValueError(f"channel number 0x{channel:04x} is outside 0x4000-0x7FFF")
    length = len(data)
    if length > 0xFFFF:
        raise ValueError(f"ChannelData data is {length} bytes, longer than 65535")
    message = _HEADER.pack(channel, length) + data
    if stream:
        message += _PADDING[length & 3]
    return message


def decode(data: bytes) -> tuple[int, bytes]:
    """
    Return the channel number and the data of one ChannelData message. Bytes
    after the length that the header gives (padding) are ignored.

    @raise ValueError: C{data} is shorter than the header, or the length field
        runs past the end of C{data}.
    """
    if len(data) < HEADER_LENGTH:
        raise ValueError(
            f"ChannelData message is {len(data)} bytes, shorter than its header"
        )
    channel, length = _HEADER.unpack_from(data)
    end = HEADER_LENGTH + length
    if end > len(data):
        raise ValueError(
            f"ChannelData length {length} runs past the {len(data) - 4} data bytes"
        )
    return channel, data[HEADER_LENGTH:end]
