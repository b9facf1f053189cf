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
# The header, XOR-PEER-ADDRESS and the DATA header, packed in one call.
_IPV4_PREFIX = struct.Struct("!HHI12sHHBBHIHH")
_IPV6_PREFIX = struct.Struct("!HHI12sHHBBH16sHH")
_PADDING = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")
_COOKIE_PORT = MAGIC_COOKIE >> 16
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")

_TRANSACTION_IDS_PER_READ = 512


class _TransactionIds:
    """
    Random 12-byte transaction ids, read from C{os.urandom} 512 at a time,
    because one read per Data indication took about a third of its 1.1 us
    (CPython 3.11, C{timeit}).
    """

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def next(self) -> bytes:
        """
        Return the next unused random transaction id.
        """
        offset = self._offset
        if offset >= len(self._pool):
            self._pool = os.urandom(12 * _TRANSACTION_IDS_PER_READ)
            offset = 0
        self._offset = offset + 12
        return self._pool[offset : offset + 12]


_transaction_ids = _TransactionIds()


def encode_data_indication(peer: Address, data: bytes) -> bytes:
    """
    Return a Data indication with XOR-PEER-ADDRESS C{peer} and DATA C{data},
    with a random transaction id.

    @raise OSError: The host of C{peer} is not an IP address.
    @raise struct.error: C{data} is longer than fits in a STUN message.
    """
    transaction_id = _transaction_ids.next()
    host, port = peer
    length = len(data)
    padding = _PADDING[length & 3]
    if ":" in host:
        packed = socket.inet_pton(socket.AF_INET6, host)
        mask = int.from_bytes(_COOKIE_BYTES + transaction_id)
        xored = (int.from_bytes(packed) ^ mask).to_bytes(16)
        prefix = _IPV6_PREFIX.pack(
            _DATA_INDICATION,
            24 + 4 + length + len(padding),
            MAGIC_COOKIE,
            transaction_id,
            AttributeType.XOR_PEER_ADDRESS,
            20,
            0,
            2,
            port ^ _COOKIE_PORT,
            xored,
            AttributeType.DATA,
            length,
        )
    else:
        prefix = _IPV4_PREFIX.pack(
            _DATA_INDICATION,
            12 + 4 + length + len(padding),
            MAGIC_COOKIE,
            transaction_id,
            AttributeType.XOR_PEER_ADDRESS,
            8,
            0,
            1,
            port ^ _COOKIE_PORT,
            int.from_bytes(socket.inet_aton(host)) ^ MAGIC_COOKIE,
            AttributeType.DATA,
            length,
        )
    return prefix + data + padding
