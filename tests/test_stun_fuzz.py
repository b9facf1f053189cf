"""
Fuzz tests for L{twisted_ice.stun.decode}: whatever the bytes, it returns a
message or raises L{StunDecodeError}, and what it returns can be checked and
encoded again.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

from tests.test_stun_attributes import known_attributes, unknown_attributes
from tests.test_stun_message import ALL_VECTORS
from twisted_ice.stun import (
    KNOWN_TYPES,
    MAGIC_COOKIE,
    MessageClass,
    Method,
    StunDecodeError,
    StunMessage,
    decode,
)

FUZZ = settings(max_examples=1000, deadline=None)


def exercise(data: bytes) -> None:
    """
    Decode C{data}. When it decodes, run every check on the message and
    assert that encoding it again and decoding that gives the same
    attributes. Encoding may raise L{ValueError} because a sender's limits
    are tighter than a receiver's (a USERNAME of 509 to 763 bytes decodes
    but is not sent).
    """
    try:
        message = decode(data)
    except StunDecodeError:
        return
    message.check_integrity(b"key")
    message.check_integrity_sha256(b"key")
    message.check_fingerprint()
    message.unknown_comprehension_required()
    try:
        encoded = message.encode(b"key", fingerprint=True)
    except ValueError:
        return
    again = decode(encoded)
    assert again.attributes == message.attributes, (again, message)


@st.composite
def framed_messages(draw: st.DrawFn) -> bytes:
    """
    Draw a message with a valid header around attributes of known and random
    types whose values are random bytes, so the value checks are reached.
    """
    types = st.sampled_from(sorted(KNOWN_TYPES)) | st.integers(0, 0xFFFF)
    body = b""
    for _ in range(draw(st.integers(0, 6))):
        attribute_type = draw(types)
        value = draw(st.binary(max_size=40))
        padding = draw(st.binary(min_size=-len(value) & 3, max_size=-len(value) & 3))
        body += struct.pack("!HH", attribute_type, len(value)) + value + padding
    message_type = draw(st.integers(0, 0x3FFF))
    transaction_id = draw(st.binary(min_size=12, max_size=12))
    header = struct.pack("!HHI", message_type, len(body), MAGIC_COOKIE)
    return header + transaction_id + body


@st.composite
def valid_messages(draw: st.DrawFn) -> bytes:
    """
    Draw an RFC 5769 vector or an encoded message of random attributes.
    """
    if draw(st.booleans()):
        return draw(st.sampled_from(ALL_VECTORS))
    attributes = draw(st.lists(known_attributes | unknown_attributes, max_size=6))
    message = StunMessage(
        Method.BINDING,
        MessageClass.REQUEST,
        draw(st.binary(min_size=12, max_size=12)),
        attributes,
    )
    return message.encode(
        draw(st.none() | st.binary(max_size=20)),
        fingerprint=draw(st.booleans()),
    )


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """
    Draw a valid message and change it: flip, overwrite, insert or cut
    bytes, and sometimes set the header length to match the new size.
    """
    data = bytearray(draw(valid_messages()))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "cut"]))
        index = draw(st.integers(0, len(data)))
        if kind == "flip" and index < len(data):
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and index < len(data):
            data[index] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "cut":
            del data[index : index + draw(st.integers(1, 8))]
    if len(data) >= 20 and draw(st.booleans()):
        data[2:4] = struct.pack("!H", (len(data) - 20) & 0xFFFF)
    return bytes(data)


class DecodeFuzzTests(unittest.TestCase):
    """
    L{decode} raises nothing but L{StunDecodeError}.
    """

    @FUZZ
    @given(data=st.binary(max_size=200))
    def test_arbitrary_bytes(self, data: bytes) -> None:
        """
        Arbitrary bytes decode or raise L{StunDecodeError}.
        """
        exercise(data)

    @FUZZ
    @given(data=st.binary(max_size=200))
    def test_arbitrary_body(self, data: bytes) -> None:
        """
        Arbitrary bytes after a valid header with the cookie decode or raise
        L{StunDecodeError}.
        """
        padded = data + bytes(-len(data) & 3)
        header = struct.pack("!HHI", 0x0001, len(padded), MAGIC_COOKIE)
        exercise(header + bytes(12) + padded)

    @FUZZ
    @given(data=framed_messages())
    def test_random_attributes(self, data: bytes) -> None:
        """
        Well-framed attributes with random values decode or raise
        L{StunDecodeError}.
        """
        exercise(data)

    @FUZZ
    @given(data=mutated_messages())
    def test_mutated_messages(self, data: bytes) -> None:
        """
        Mutated valid messages decode or raise L{StunDecodeError}.
        """
        exercise(data)
