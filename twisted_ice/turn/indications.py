"""
A fast encoder for the Data indications that carry peer datagrams to a client
without a channel (RFC 8656 section 11.3). The codec's general encoder would
do the same in about three times the time, and this runs once per relayed
packet.
"""

from __future__ import annotations

import os
import socket
import struct

from twisted_ice.addresses import Address
from twisted_ice.stun import MAGIC_COOKIE, AttributeType, MessageClass, Method
from twisted_ice.stun.constants import encode_message_type

_DATA_INDICATION = encode_message_type(Method.DATA, MessageClass.INDICATION)
_HEADER = struct.Struct("!HHI")
_PEER_IPV4 = struct.Struct("!HHBBHI")
_PEER_IPV6_HEADER = struct.Struct("!HHBBH")
_DATA_HEADER = struct.Struct("!HH")
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_COOKIE_PORT = MAGIC_COOKIE >> 16
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")


def encode_data_indication(peer: Address, data: bytes) -> bytes:
    """
    Return a Data indication with XOR-PEER-ADDRESS C{peer} and DATA C{data},
    with a random transaction id.

    @raise OSError: The host of C{peer} is not an IP address.
    @raise struct.error: C{data} is longer than fits in a STUN message.
    """
    transaction_id = os.urandom(12)
    host, port = peer
    if ":" in host:
        packed = socket.inet_pton(socket.AF_INET6, host)
        mask = _COOKIE_BYTES + transaction_id
        xored = (int.from_bytes(packed) ^ int.from_bytes(mask)).to_bytes(16)
        peer_attribute = (
            _PEER_IPV6_HEADER.pack(
                AttributeType.XOR_PEER_ADDRESS, 20, 0, 2, port ^ _COOKIE_PORT
            )
            + xored
        )
    else:
        address = int.from_bytes(socket.inet_aton(host))
        peer_attribute = _PEER_IPV4.pack(
            AttributeType.XOR_PEER_ADDRESS,
            8,
            0,
            1,
            port ^ _COOKIE_PORT,
            address ^ MAGIC_COOKIE,
        )
    length = len(data)
    padding = _PADDING[length & 3]
    body_length = len(peer_attribute) + 4 + length + len(padding)
    return b"".join(
        (
            _HEADER.pack(_DATA_INDICATION, body_length, MAGIC_COOKIE),
            transaction_id,
            peer_attribute,
            _DATA_HEADER.pack(AttributeType.DATA, length),
            data,
            padding,
        )
    )
