"""
Tests for L{twisted_ice.stun.message}: the RFC 5769 test vectors, the basic
checks of RFC 8489 section 6.3, the message type and the attributes that
MESSAGE-INTEGRITY does not protect.
"""

from __future__ import annotations

import struct
import zlib

from twisted.trial import unittest
from zope.interface.verify import verifyObject

from twisted_ice.interfaces import IStunMessage
from twisted_ice.stun import (
    MAGIC_COOKIE,
    AttributeType,
    ErrorCode,
    MessageClass,
    Method,
    StunDecodeError,
    StunMessage,
    decode,
    decode_message_type,
    encode_message_type,
    fingerprint,
    hmac_sha256,
    long_term_key,
)


def from_hex(text: str) -> bytes:
    """
    Return the bytes of hex digits written as RFC 5769 prints them.
    """
    return bytes.fromhex("".join(text.split()))


# RFC 5769 section 2.1: a Binding request with SOFTWARE, PRIORITY,
# ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT. SOFTWARE and
# USERNAME are padded with spaces (0x20), not zeros.
SAMPLE_REQUEST = from_hex(
    """
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf
    """
)

# RFC 5769 section 2.2: the Binding success response with XOR-MAPPED-ADDRESS
# 192.0.2.1:32853.
SAMPLE_IPV4_RESPONSE = from_hex(
    """
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96
    """
)

# RFC 5769 section 2.3: the same response with XOR-MAPPED-ADDRESS
# [2001:db8:1234:5678:11:2233:4455:6677]:32853.
SAMPLE_IPV6_RESPONSE = from_hex(
    """
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c
    """
)

# RFC 5769 section 2.4: a request with long-term credentials, USERNAME, NONCE,
# REALM and MESSAGE-INTEGRITY, and no FINGERPRINT.
SAMPLE_LONG_TERM_REQUEST = from_hex(
    """
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46
    53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66
    """
)

SAMPLE_TRANSACTION_ID = from_hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
SHORT_TERM_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"

# RFC 5769 section 2.4 gives the password before and after SASLprep (RFC
# 4013). OpaqueString rejects the form before, because it contains U+00AD.
LONG_TERM_USERNAME = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
LONG_TERM_PASSWORD = "TheMatrIX"
LONG_TERM_REALM = "example.org"
LONG_TERM_NONCE = "f//499k954d6OL34oL9FSTvy64sA"

ALL_VECTORS = (
    SAMPLE_REQUEST,
    SAMPLE_IPV4_RESPONSE,
    SAMPLE_IPV6_RESPONSE,
    SAMPLE_LONG_TERM_REQUEST,
)


def with_header(body: bytes, message_type: int = 0x0001) -> bytes:
    """
    Return a message with C{body} after a header whose length matches it.
    """
    header = struct.pack("!HHI", message_type, len(body), MAGIC_COOKIE)
    return header + SAMPLE_TRANSACTION_ID + body


def attribute(attribute_type: int, value: bytes) -> bytes:
    """
    Return one attribute with its header and zero padding.
    """
    padding = bytes(-len(value) & 3)
    return struct.pack("!HH", attribute_type, len(value)) + value + padding


class SampleRequestTests(unittest.TestCase):
    """
    The sample request of RFC 5769 section 2.1.
    """

    def setUp(self) -> None:
        self.message = decode(SAMPLE_REQUEST)

    def test_header(self) -> None:
        """
        The vector is a Binding request with the RFC's transaction id.
        """
        self.assertEqual(self.message.method, Method.BINDING)
        self.assertEqual(self.message.message_class, MessageClass.REQUEST)
        self.assertEqual(self.message.transaction_id, SAMPLE_TRANSACTION_ID)

    def test_attributes(self) -> None:
        """
        The protected attributes are decoded in wire order, the padding spaces
        ignored.
        """
        self.assertEqual(
            self.message.attributes,
            [
                (AttributeType.SOFTWARE, "STUN test client"),
                (AttributeType.PRIORITY, 0x6E0001FF),
                (AttributeType.ICE_CONTROLLED, 0x932FF9B151263B36),
                (AttributeType.USERNAME, "evtj:h6vY"),
            ],
        )

    def test_integrity(self) -> None:
        """
        MESSAGE-INTEGRITY checks with the short-term password as key.
        """
        self.assertTrue(self.message.has_integrity)
        self.assertTrue(self.message.check_integrity(SHORT_TERM_PASSWORD))

    def test_wrong_key(self) -> None:
        """
        MESSAGE-INTEGRITY fails with another key.
        """
        self.assertFalse(self.message.check_integrity(b"VOkJxbRl1RmTxUk/WvJxBT"))

    def test_fingerprint(self) -> None:
        """
        FINGERPRINT checks, and is 0xe57a3bcf.
        """
        self.assertTrue(self.message.has_fingerprint)
        self.assertTrue(self.message.check_fingerprint())
        self.assertEqual(self.message.fingerprint, 0xE57A3BCF)

    def test_no_sha256_integrity(self) -> None:
        """
        The vector has no MESSAGE-INTEGRITY-SHA256, so its check fails.
        """
        self.assertFalse(self.message.has_integrity_sha256)
        self.assertFalse(self.message.check_integrity_sha256(SHORT_TERM_PASSWORD))

    def test_provides_interface(self) -> None:
        """
        A decoded message provides L{IStunMessage}.
        """
        self.assertTrue(verifyObject(IStunMessage, self.message))

    def test_reencode(self) -> None:
        """
        Encoding the decoded attributes again gives the vector with zero
        padding in place of spaces, and the same integrity and fingerprint
        checks pass on it.
        """
        encoded = self.message.encode(SHORT_TERM_PASSWORD, fingerprint=True)
        expected = bytearray(SAMPLE_REQUEST)
        # USERNAME "evtj:h6vY" is 9 bytes at bytes 64-72, padded at 73-75.
        expected[73:76] = bytes(3)
        again = decode(encoded)
        self.assertEqual(encoded[:76], bytes(expected[:76]))
        self.assertTrue(again.check_integrity(SHORT_TERM_PASSWORD))
        self.assertTrue(again.check_fingerprint())


class SampleResponseTests(unittest.TestCase):
    """
    The sample responses of RFC 5769 sections 2.2 and 2.3.
    """

    def test_ipv4_address(self) -> None:
        """
        The IPv4 response carries XOR-MAPPED-ADDRESS 192.0.2.1:32853.
        """
        message = decode(SAMPLE_IPV4_RESPONSE)
        self.assertEqual(
            message.get(AttributeType.XOR_MAPPED_ADDRESS), ("192.0.2.1", 32853)
        )

    def test_ipv4_header(self) -> None:
        """
        The IPv4 response is a Binding success response with SOFTWARE.
        """
        message = decode(SAMPLE_IPV4_RESPONSE)
        self.assertEqual(message.method, Method.BINDING)
        self.assertEqual(message.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(message.get(AttributeType.SOFTWARE), "test vector")

    def test_ipv4_checks(self) -> None:
        """
        The IPv4 response passes its integrity and fingerprint checks.
        """
        message = decode(SAMPLE_IPV4_RESPONSE)
        self.assertTrue(message.check_integrity(SHORT_TERM_PASSWORD))
        self.assertTrue(message.check_fingerprint())

    def test_ipv6_address(self) -> None:
        """
        The IPv6 response carries XOR-MAPPED-ADDRESS
        [2001:db8:1234:5678:11:2233:4455:6677]:32853, XORed with the cookie
        and the transaction id.
        """
        message = decode(SAMPLE_IPV6_RESPONSE)
        self.assertEqual(
            message.get(AttributeType.XOR_MAPPED_ADDRESS),
            ("2001:db8:1234:5678:11:2233:4455:6677", 32853),
        )

    def test_ipv6_checks(self) -> None:
        """
        The IPv6 response passes its integrity and fingerprint checks.
        """
        message = decode(SAMPLE_IPV6_RESPONSE)
        self.assertTrue(message.check_integrity(SHORT_TERM_PASSWORD))
        self.assertTrue(message.check_fingerprint())

    def test_ipv4_encodes_exactly(self) -> None:
        """
        Building the IPv4 response from its values gives the vector's bytes
        except the SOFTWARE padding, which is a space in the vector and a zero
        here.
        """
        response = StunMessage(
            Method.BINDING,
            MessageClass.SUCCESS_RESPONSE,
            SAMPLE_TRANSACTION_ID,
            [
                (AttributeType.SOFTWARE, "test vector"),
                (AttributeType.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853)),
            ],
        )
        encoded = response.encode()
        self.assertEqual(encoded[20:35], SAMPLE_IPV4_RESPONSE[20:35])
        self.assertEqual(encoded[35:36], b"\x00")
        self.assertEqual(encoded[36:48], SAMPLE_IPV4_RESPONSE[36:48])

    def test_ipv6_encodes_exactly(self) -> None:
        """
        Encoding the IPv6 XOR-MAPPED-ADDRESS gives the vector's value bytes.
        """
        response = StunMessage(
            Method.BINDING,
            MessageClass.SUCCESS_RESPONSE,
            SAMPLE_TRANSACTION_ID,
            [
                (
                    AttributeType.XOR_MAPPED_ADDRESS,
                    ("2001:db8:1234:5678:11:2233:4455:6677", 32853),
                ),
            ],
        )
        self.assertEqual(response.encode()[20:44], SAMPLE_IPV6_RESPONSE[36:60])


class LongTermRequestTests(unittest.TestCase):
    """
    The request with long-term credentials of RFC 5769 section 2.4.
    """

    def setUp(self) -> None:
        self.message = decode(SAMPLE_LONG_TERM_REQUEST)
        self.key = long_term_key(
            LONG_TERM_USERNAME, LONG_TERM_REALM, LONG_TERM_PASSWORD
        )

    def test_attributes(self) -> None:
        """
        USERNAME, NONCE and REALM decode to the RFC's values.
        """
        self.assertEqual(
            self.message.attributes,
            [
                (AttributeType.USERNAME, LONG_TERM_USERNAME),
                (AttributeType.NONCE, LONG_TERM_NONCE),
                (AttributeType.REALM, LONG_TERM_REALM),
            ],
        )

    def test_key(self) -> None:
        """
        The key is MD5 of "username:realm:password" in UTF-8.
        """
        self.assertEqual(self.key, bytes.fromhex("e8ca7ad59d5eb0518e312911d2dab2a9"))

    def test_integrity(self) -> None:
        """
        MESSAGE-INTEGRITY checks with the long-term key.
        """
        self.assertTrue(self.message.check_integrity(self.key))

    def test_wrong_password(self) -> None:
        """
        MESSAGE-INTEGRITY fails with the key of another password.
        """
        key = long_term_key(LONG_TERM_USERNAME, LONG_TERM_REALM, "thematrix")
        self.assertFalse(self.message.check_integrity(key))

    def test_no_fingerprint(self) -> None:
        """
        The vector has no FINGERPRINT, so its check fails.
        """
        self.assertFalse(self.message.has_fingerprint)
        self.assertFalse(self.message.check_fingerprint())

    def test_encodes_exactly(self) -> None:
        """
        Building the request from its values and the key gives the vector's
        bytes: its padding is zeros.
        """
        request = StunMessage(
            Method.BINDING,
            MessageClass.REQUEST,
            self.message.transaction_id,
            self.message.attributes,
        )
        self.assertEqual(request.encode(self.key), SAMPLE_LONG_TERM_REQUEST)


class FlippedByteTests(unittest.TestCase):
    """
    Any one changed byte of an RFC 5769 vector makes it fail a basic check,
    MESSAGE-INTEGRITY or FINGERPRINT.
    """

    def assert_every_flip_fails(self, vector: bytes, key: bytes) -> None:
        """
        Flip the low bit of each byte of C{vector} in turn and assert that
        the result fails to decode, or fails MESSAGE-INTEGRITY, or lacks or
        fails the FINGERPRINT that the vector has.

        A flip in the type of FINGERPRINT makes it an attribute after
        MESSAGE-INTEGRITY, which is ignored, so the message then has no
        FINGERPRINT: a receiver that requires one (an ICE agent, RFC 8445
        section 7.2.2) rejects it.
        """
        has_fingerprint = decode(vector).has_fingerprint
        for index in range(len(vector)):
            flipped = bytearray(vector)
            flipped[index] ^= 0x01
            try:
                message = decode(bytes(flipped))
            except StunDecodeError:
                continue
            passes = message.check_integrity(key)
            if has_fingerprint:
                passes = passes and message.check_fingerprint()
            self.assertFalse(passes, f"flipped byte {index} still passes")

    def test_sample_request(self) -> None:
        """
        Every flipped byte of the sample request fails.
        """
        self.assert_every_flip_fails(SAMPLE_REQUEST, SHORT_TERM_PASSWORD)

    def test_ipv4_response(self) -> None:
        """
        Every flipped byte of the IPv4 response fails.
        """
        self.assert_every_flip_fails(SAMPLE_IPV4_RESPONSE, SHORT_TERM_PASSWORD)

    def test_ipv6_response(self) -> None:
        """
        Every flipped byte of the IPv6 response fails.
        """
        self.assert_every_flip_fails(SAMPLE_IPV6_RESPONSE, SHORT_TERM_PASSWORD)

    def test_long_term_request(self) -> None:
        """
        Every flipped byte of the long-term request fails.
        """
        key = long_term_key(LONG_TERM_USERNAME, LONG_TERM_REALM, LONG_TERM_PASSWORD)
        self.assert_every_flip_fails(SAMPLE_LONG_TERM_REQUEST, key)

    def test_fingerprint_alone(self) -> None:
        """
        A flipped byte in SOFTWARE of the sample request fails FINGERPRINT
        itself, not only MESSAGE-INTEGRITY.
        """
        flipped = bytearray(SAMPLE_REQUEST)
        flipped[24] ^= 0x01
        self.assertFalse(decode(bytes(flipped)).check_fingerprint())


class MessageTypeTests(unittest.TestCase):
    """
    The 12-bit method and the 2-bit class, interleaved as M11..M7 C1 M6..M4
    C0 M3..M0 (RFC 8489 section 5).
    """

    def test_binding_request(self) -> None:
        """
        A Binding request is type 0x0001.
        """
        self.assertEqual(encode_message_type(Method.BINDING, MessageClass.REQUEST), 1)

    def test_binding_success(self) -> None:
        """
        A Binding success response is type 0x0101.
        """
        message_type = encode_message_type(
            Method.BINDING, MessageClass.SUCCESS_RESPONSE
        )
        self.assertEqual(message_type, 0x0101)

    def test_allocate_error(self) -> None:
        """
        An Allocate error response is type 0x0113.
        """
        message_type = encode_message_type(Method.ALLOCATE, MessageClass.ERROR_RESPONSE)
        self.assertEqual(message_type, 0x0113)

    def test_send_indication(self) -> None:
        """
        A Send indication is type 0x0016.
        """
        message_type = encode_message_type(Method.SEND, MessageClass.INDICATION)
        self.assertEqual(message_type, 0x0016)

    def test_highest_method(self) -> None:
        """
        Method 0xfff with the error class fills all 14 bits.
        """
        message_type = encode_message_type(0xFFF, MessageClass.ERROR_RESPONSE)
        self.assertEqual(message_type, 0x3FFF)

    def test_round_trip_all_methods(self) -> None:
        """
        Every 12-bit method in every class survives encoding and decoding of
        the type and of a whole message.
        """
        for method in range(0x1000):
            for message_class in MessageClass:
                message_type = encode_message_type(method, message_class)
                self.assertLess(message_type, 0x4000)
                self.assertEqual(
                    decode_message_type(message_type), (method, message_class)
                )
                message = StunMessage(method, message_class, bytes(12))
                decoded = decode(message.encode())
                self.assertEqual(decoded.method, method)
                self.assertEqual(decoded.message_class, message_class)

    def test_known_method_is_enum(self) -> None:
        """
        A known method decodes to its L{Method} member.
        """
        message = StunMessage(Method.CHANNEL_BIND, MessageClass.REQUEST, bytes(12))
        self.assertIs(decode(message.encode()).method, Method.CHANNEL_BIND)

    def test_method_values(self) -> None:
        """
        The methods have the values of RFC 8489, RFC 8656 and RFC 6062.
        """
        self.assertEqual(
            {method.name: method.value for method in Method},
            {
                "BINDING": 0x001,
                "ALLOCATE": 0x003,
                "REFRESH": 0x004,
                "SEND": 0x006,
                "DATA": 0x007,
                "CREATE_PERMISSION": 0x008,
                "CHANNEL_BIND": 0x009,
                "CONNECT": 0x00A,
                "CONNECTION_BIND": 0x00B,
                "CONNECTION_ATTEMPT": 0x00C,
            },
        )

    def test_method_too_large(self) -> None:
        """
        A method above 12 bits is rejected when the message is built.
        """
        self.assertRaises(
            ValueError, StunMessage, 0x1000, MessageClass.REQUEST, bytes(12)
        )

    def test_short_transaction_id(self) -> None:
        """
        A transaction id of other than 12 bytes is rejected.
        """
        self.assertRaises(
            ValueError, StunMessage, Method.BINDING, MessageClass.REQUEST, bytes(11)
        )


class BasicCheckTests(unittest.TestCase):
    """
    Each failure of the basic checks of RFC 8489 section 6.3 raises
    L{StunDecodeError} with a message naming it.
    """

    def assert_decode_error(self, data: bytes, message: str) -> None:
        """
        Assert that decoding C{data} raises L{StunDecodeError} with C{message}.
        """
        error = self.assertRaises(StunDecodeError, decode, data)
        self.assertEqual(str(error), message)

    def test_is_value_error(self) -> None:
        """
        L{StunDecodeError} is a L{ValueError}.
        """
        self.assertTrue(issubclass(StunDecodeError, ValueError))

    def test_short_header(self) -> None:
        """
        Fewer than 20 bytes cannot hold the header.
        """
        self.assert_decode_error(
            SAMPLE_REQUEST[:19],
            "message is 19 bytes, shorter than the 20-byte STUN header",
        )

    def test_top_bits(self) -> None:
        """
        The two top bits of the message type must be zero.
        """
        data = b"\x80" + SAMPLE_REQUEST[1:]
        self.assert_decode_error(
            data, "the top two bits of the message type 0x8001 are not zero"
        )

    def test_magic_cookie(self) -> None:
        """
        The magic cookie must be 0x2112a442.
        """
        data = SAMPLE_REQUEST[:4] + b"\x21\x12\xa4\x43" + SAMPLE_REQUEST[8:]
        self.assert_decode_error(
            data, "magic cookie is 0x2112a443, expected 0x2112a442"
        )

    def test_length_not_multiple_of_four(self) -> None:
        """
        The message length must be a multiple of 4.
        """
        data = with_header(bytes(8))
        data = data[:2] + b"\x00\x06" + data[4:]
        self.assert_decode_error(data, "message length 6 is not a multiple of 4")

    def test_length_longer_than_data(self) -> None:
        """
        The message length must not exceed the bytes after the header.
        """
        data = SAMPLE_REQUEST[:-4]
        self.assert_decode_error(
            data, "message length 88 does not match the 84 bytes after the header"
        )

    def test_length_shorter_than_data(self) -> None:
        """
        The message length must not be less than the bytes after the header.
        """
        data = SAMPLE_REQUEST + bytes(4)
        self.assert_decode_error(
            data, "message length 88 does not match the 92 bytes after the header"
        )

    def test_attribute_past_end(self) -> None:
        """
        An attribute whose length runs past the end of the message fails.
        """
        data = with_header(struct.pack("!HH", AttributeType.SOFTWARE, 9) + b"abcd")
        self.assert_decode_error(
            data,
            "attribute SOFTWARE at byte 20 with length 9 runs past the end of the "
            "message",
        )

    def test_unknown_attribute_past_end(self) -> None:
        """
        An unknown attribute running past the end is named by its hex type.
        """
        data = with_header(struct.pack("!HH", 0x7F00, 5) + b"abcd")
        self.assert_decode_error(
            data,
            "attribute 0x7F00 at byte 20 with length 5 runs past the end of the "
            "message",
        )

    def test_ipv4_address_length(self) -> None:
        """
        An IPv4 address attribute must be 8 bytes.
        """
        value = b"\x00\x01\x00\x50" + bytes(16)
        data = with_header(attribute(AttributeType.XOR_MAPPED_ADDRESS, value))
        self.assert_decode_error(
            data,
            "invalid XOR-MAPPED-ADDRESS attribute at byte 20: length is 20 bytes, "
            "but an IPv4 address takes 8",
        )

    def test_ipv6_address_length(self) -> None:
        """
        An IPv6 address attribute must be 20 bytes.
        """
        value = b"\x00\x02\x00\x50" + bytes(4)
        data = with_header(attribute(AttributeType.MAPPED_ADDRESS, value))
        self.assert_decode_error(
            data,
            "invalid MAPPED-ADDRESS attribute at byte 20: length is 8 bytes, but an "
            "IPv6 address takes 20",
        )

    def test_unknown_address_family(self) -> None:
        """
        An address family other than IPv4 and IPv6 fails.
        """
        value = b"\x00\x03\x00\x50" + bytes(4)
        data = with_header(attribute(AttributeType.XOR_PEER_ADDRESS, value))
        self.assert_decode_error(
            data,
            "invalid XOR-PEER-ADDRESS attribute at byte 20: address family 0x03 is "
            "neither IPv4 nor IPv6",
        )

    def test_short_address(self) -> None:
        """
        An address attribute shorter than its 4-byte header fails.
        """
        data = with_header(attribute(AttributeType.XOR_RELAYED_ADDRESS, b"\x00\x01"))
        self.assert_decode_error(
            data,
            "invalid XOR-RELAYED-ADDRESS attribute at byte 20: length is 2 bytes, "
            "shorter than the 4-byte header",
        )

    def test_fingerprint_not_last(self) -> None:
        """
        An attribute after FINGERPRINT fails.
        """
        body = attribute(AttributeType.FINGERPRINT, bytes(4)) + attribute(
            AttributeType.SOFTWARE, b"late"
        )
        self.assert_decode_error(
            with_header(body),
            "attribute at byte 28 follows FINGERPRINT, which must be the last "
            "attribute",
        )

    def test_fingerprint_length(self) -> None:
        """
        FINGERPRINT must be 4 bytes.
        """
        data = with_header(attribute(AttributeType.FINGERPRINT, bytes(8)))
        self.assert_decode_error(
            data,
            "invalid FINGERPRINT attribute at byte 20: length is 8 bytes, expected 4",
        )

    def test_integrity_length(self) -> None:
        """
        MESSAGE-INTEGRITY must be 20 bytes.
        """
        data = with_header(attribute(AttributeType.MESSAGE_INTEGRITY, bytes(16)))
        self.assert_decode_error(
            data,
            "invalid MESSAGE-INTEGRITY attribute at byte 20: length is 16 bytes, "
            "expected 20",
        )

    def test_integrity_sha256_length(self) -> None:
        """
        MESSAGE-INTEGRITY-SHA256 must be 16 to 32 bytes in multiples of 4.
        """
        for length in (12, 18, 36):
            data = with_header(
                attribute(AttributeType.MESSAGE_INTEGRITY_SHA256, bytes(length))
            )
            self.assert_decode_error(
                data,
                f"invalid MESSAGE-INTEGRITY-SHA256 attribute at byte 20: length is "
                f"{length} bytes, expected 16 to 32 in multiples of 4",
            )

    def test_malformed_known_value(self) -> None:
        """
        A known attribute whose value is malformed fails, naming the attribute
        and the fault.
        """
        data = with_header(attribute(AttributeType.PRIORITY, bytes(3)))
        self.assert_decode_error(
            data,
            "invalid PRIORITY attribute at byte 20: length is 3 bytes, expected 4",
        )

    def test_invalid_utf8(self) -> None:
        """
        A text attribute that is not UTF-8 fails.
        """
        data = with_header(attribute(AttributeType.USERNAME, b"ab\xff"))
        self.assert_decode_error(
            data,
            "invalid USERNAME attribute at byte 20: invalid UTF-8 in the text at "
            "byte 2",
        )

    def test_padding_ignored(self) -> None:
        """
        Padding bytes may hold anything.
        """
        value = struct.pack("!HH", AttributeType.SOFTWARE, 1) + b"x\xff\xfe\xfd"
        message = decode(with_header(value))
        self.assertEqual(message.attributes, [(AttributeType.SOFTWARE, "x")])

    def test_not_bytes(self) -> None:
        """
        An object without the buffer protocol raises L{StunDecodeError}.
        """
        self.assert_decode_error(
            "text",  # type: ignore[arg-type]
            "cannot decode a str, expected bytes",
        )

    def test_bytearray_input(self) -> None:
        """
        A L{bytearray} decodes like L{bytes}.
        """
        message = decode(bytearray(SAMPLE_REQUEST))  # type: ignore[arg-type]
        self.assertTrue(message.check_fingerprint())


class ProtectedAttributeTests(unittest.TestCase):
    """
    Only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are used after
    MESSAGE-INTEGRITY (RFC 8489 section 14.5).
    """

    def setUp(self) -> None:
        self.key = b"secret"
        request = StunMessage(
            Method.ALLOCATE,
            MessageClass.REQUEST,
            SAMPLE_TRANSACTION_ID,
            [(AttributeType.LIFETIME, 600)],
        )
        signed = request.encode(self.key)
        self.extra = attribute(AttributeType.LIFETIME, struct.pack("!I", 0))
        self.data = with_header(signed[20:] + self.extra, 0x0003)
        self.message = decode(self.data)

    def test_ignored(self) -> None:
        """
        An attribute after MESSAGE-INTEGRITY lands in C{ignored_attributes}
        with its raw bytes.
        """
        self.assertEqual(
            self.message.ignored_attributes,
            [(AttributeType.LIFETIME, bytes(4))],
        )

    def test_not_protected(self) -> None:
        """
        C{get} and C{attributes} see only the protected LIFETIME.
        """
        self.assertEqual(self.message.attributes, [(AttributeType.LIFETIME, 600)])
        self.assertEqual(self.message.get_all(AttributeType.LIFETIME), [600])

    def test_integrity_still_checks(self) -> None:
        """
        MESSAGE-INTEGRITY covers the message up to itself, so the appended
        attribute does not break it.
        """
        self.assertTrue(self.message.check_integrity(self.key))

    def test_sha256_and_fingerprint_honoured(self) -> None:
        """
        MESSAGE-INTEGRITY-SHA256 and FINGERPRINT after MESSAGE-INTEGRITY are
        used and checked.
        """
        request = StunMessage(
            Method.BINDING,
            MessageClass.REQUEST,
            SAMPLE_TRANSACTION_ID,
            [(AttributeType.USERNAME, "a:b")],
        )
        data = request.encode(self.key, fingerprint=True, integrity_sha256_key=b"other")
        message = decode(data)
        self.assertTrue(message.check_integrity(self.key))
        self.assertTrue(message.check_integrity_sha256(b"other"))
        self.assertTrue(message.check_fingerprint())
        self.assertEqual(message.ignored_attributes, [])

    def test_second_integrity_ignored(self) -> None:
        """
        A second MESSAGE-INTEGRITY is ignored, and the first one is checked.
        """
        second = attribute(AttributeType.MESSAGE_INTEGRITY, bytes(20))
        data = with_header(self.data[20:] + second, 0x0003)
        message = decode(data)
        self.assertTrue(message.check_integrity(self.key))
        self.assertEqual(
            message.ignored_attributes[-1],
            (AttributeType.MESSAGE_INTEGRITY, bytes(20)),
        )

    def test_after_sha256_ignored(self) -> None:
        """
        Attributes after MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT are
        ignored, because no integrity attribute covers them.
        """
        request = StunMessage(
            Method.BINDING, MessageClass.REQUEST, SAMPLE_TRANSACTION_ID
        )
        signed = request.encode(integrity_sha256_key=self.key)
        data = with_header(signed[20:] + self.extra)
        message = decode(data)
        self.assertTrue(message.check_integrity_sha256(self.key))
        self.assertEqual(message.attributes, [])
        self.assertEqual(
            message.ignored_attributes, [(AttributeType.LIFETIME, bytes(4))]
        )

    def test_truncated_sha256(self) -> None:
        """
        A MESSAGE-INTEGRITY-SHA256 truncated to 16 bytes checks against the
        first 16 bytes of the HMAC, with the length adjusted to end after it.
        """
        header = struct.pack("!HHI", 0x0001, 20, MAGIC_COOKIE) + bytes(12)
        digest = hmac_sha256(self.key, header)[:16]
        truncated = header + attribute(AttributeType.MESSAGE_INTEGRITY_SHA256, digest)
        self.assertTrue(decode(truncated).check_integrity_sha256(self.key))
        wrong = header + attribute(AttributeType.MESSAGE_INTEGRITY_SHA256, bytes(16))
        self.assertFalse(decode(wrong).check_integrity_sha256(self.key))

    def test_local_message_has_no_integrity(self) -> None:
        """
        A message built locally has no received MESSAGE-INTEGRITY or
        FINGERPRINT to check.
        """
        message = StunMessage.request(Method.BINDING)
        self.assertFalse(message.has_integrity)
        self.assertFalse(message.check_integrity(self.key))
        self.assertFalse(message.check_fingerprint())


class UnknownAttributeTests(unittest.TestCase):
    """
    Unknown attribute types are kept as raw bytes, and the
    comprehension-required ones are reported.
    """

    def setUp(self) -> None:
        body = (
            attribute(0x7F01, b"req")
            + attribute(AttributeType.USERNAME, b"u:f")
            + attribute(0xC001, b"optional")
            + attribute(0x7F01, b"again")
            + attribute(0x0003, bytes(4))
        )
        self.message = decode(with_header(body))

    def test_raw_values(self) -> None:
        """
        Unknown attributes keep their raw values and plain integer types.
        """
        self.assertEqual(self.message.get(0x7F01), b"req")
        self.assertEqual(self.message.get(0xC001), b"optional")

    def test_comprehension_required(self) -> None:
        """
        Types below 0x8000 that the codec does not know are reported once
        each, in wire order, but optional ones are not.
        """
        self.assertEqual(self.message.unknown_comprehension_required(), [0x7F01, 3])

    def test_known_only(self) -> None:
        """
        A message of known attributes has none to report.
        """
        self.assertEqual(decode(SAMPLE_REQUEST).unknown_comprehension_required(), [])

    def test_ignored_not_reported(self) -> None:
        """
        Unknown types after MESSAGE-INTEGRITY are ignored, not reported.
        """
        request = StunMessage(Method.BINDING, MessageClass.REQUEST, bytes(12))
        data = request.encode(b"key")
        data = with_header(data[20:] + attribute(0x7F01, b"x"))
        self.assertEqual(decode(data).unknown_comprehension_required(), [])

    def test_encode_raw(self) -> None:
        """
        An unknown attribute encodes its raw bytes.
        """
        message = StunMessage(
            Method.BINDING, MessageClass.INDICATION, bytes(12), [(0x7F01, b"abc")]
        )
        self.assertEqual(message.encode()[20:], attribute(0x7F01, b"abc"))

    def test_encode_unknown_not_bytes(self) -> None:
        """
        An unknown attribute with a value other than bytes cannot be encoded.
        """
        message = StunMessage(
            Method.BINDING, MessageClass.INDICATION, bytes(12), [(0x7F01, 5)]
        )
        error = self.assertRaises(TypeError, message.encode)
        self.assertEqual(
            str(error),
            "0x7F01 has no typed encoding, so its value must be bytes, not int",
        )


class ResponseBuilderTests(unittest.TestCase):
    """
    Requests and responses built from a message.
    """

    def setUp(self) -> None:
        self.request = decode(SAMPLE_REQUEST)

    def test_success_response(self) -> None:
        """
        A success response keeps the method and transaction id.
        """
        response = self.request.success_response(
            [(AttributeType.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853))]
        )
        self.assertEqual(response.method, Method.BINDING)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(response.transaction_id, SAMPLE_TRANSACTION_ID)
        self.assertEqual(
            response.get(AttributeType.XOR_MAPPED_ADDRESS), ("192.0.2.1", 32853)
        )

    def test_error_response(self) -> None:
        """
        An error response starts with ERROR-CODE and the RFC reason phrase.
        """
        response = self.request.error_response(
            420, attributes=[(AttributeType.UNKNOWN_ATTRIBUTES, (0x7F01,))]
        )
        self.assertEqual(response.message_class, MessageClass.ERROR_RESPONSE)
        self.assertEqual(response.transaction_id, SAMPLE_TRANSACTION_ID)
        self.assertEqual(
            response.attributes,
            [
                (AttributeType.ERROR_CODE, ErrorCode(420, "Unknown Attribute")),
                (AttributeType.UNKNOWN_ATTRIBUTES, (0x7F01,)),
            ],
        )

    def test_error_response_reason(self) -> None:
        """
        An error response takes a reason phrase of its own.
        """
        response = self.request.error_response(438, "Nonce expired")
        decoded = decode(response.encode())
        self.assertEqual(
            decoded.get(AttributeType.ERROR_CODE), ErrorCode(438, "Nonce expired")
        )

    def test_request_transaction_ids(self) -> None:
        """
        Each new request gets a fresh 12-byte transaction id.
        """
        first = StunMessage.request(Method.BINDING)
        second = StunMessage.request(Method.BINDING)
        self.assertEqual(len(first.transaction_id), 12)
        self.assertNotEqual(first.transaction_id, second.transaction_id)

    def test_add_chains(self) -> None:
        """
        C{add} appends and returns the message.
        """
        message = StunMessage.indication(Method.SEND)
        result = message.add(AttributeType.DATA, b"x").add(AttributeType.DATA, b"y")
        self.assertIs(result, message)
        self.assertEqual(message.get_all(AttributeType.DATA), [b"x", b"y"])
        self.assertTrue(message.has(AttributeType.DATA))
        self.assertFalse(message.has(AttributeType.USERNAME))

    def test_fingerprint_value(self) -> None:
        """
        FINGERPRINT is the CRC-32 of the message before it XOR 0x5354554e.
        """
        self.assertEqual(
            fingerprint(SAMPLE_REQUEST[:-8]),
            zlib.crc32(SAMPLE_REQUEST[:-8]) ^ 0x5354554E,
        )
        self.assertEqual(fingerprint(SAMPLE_REQUEST[:-8]), 0xE57A3BCF)


class AttributeTypeTests(unittest.TestCase):
    """
    The attribute types have their IANA values.
    """

    def test_values(self) -> None:
        """
        Each attribute type has the value of RFC 8489, RFC 8656, RFC 6062, RFC
        8445 or RFC 5780.
        """
        self.assertEqual(
            {
                attribute_type.name: attribute_type.value
                for attribute_type in AttributeType
            },
            {
                "MAPPED_ADDRESS": 0x0001,
                "USERNAME": 0x0006,
                "MESSAGE_INTEGRITY": 0x0008,
                "ERROR_CODE": 0x0009,
                "UNKNOWN_ATTRIBUTES": 0x000A,
                "CHANNEL_NUMBER": 0x000C,
                "LIFETIME": 0x000D,
                "XOR_PEER_ADDRESS": 0x0012,
                "DATA": 0x0013,
                "REALM": 0x0014,
                "NONCE": 0x0015,
                "XOR_RELAYED_ADDRESS": 0x0016,
                "REQUESTED_ADDRESS_FAMILY": 0x0017,
                "EVEN_PORT": 0x0018,
                "REQUESTED_TRANSPORT": 0x0019,
                "DONT_FRAGMENT": 0x001A,
                "MESSAGE_INTEGRITY_SHA256": 0x001C,
                "PASSWORD_ALGORITHM": 0x001D,
                "USERHASH": 0x001E,
                "XOR_MAPPED_ADDRESS": 0x0020,
                "RESERVATION_TOKEN": 0x0022,
                "PRIORITY": 0x0024,
                "USE_CANDIDATE": 0x0025,
                "CONNECTION_ID": 0x002A,
                "ADDITIONAL_ADDRESS_FAMILY": 0x8000,
                "ADDRESS_ERROR_CODE": 0x8001,
                "PASSWORD_ALGORITHMS": 0x8002,
                "ALTERNATE_DOMAIN": 0x8003,
                "ICMP": 0x8004,
                "SOFTWARE": 0x8022,
                "ALTERNATE_SERVER": 0x8023,
                "FINGERPRINT": 0x8028,
                "ICE_CONTROLLED": 0x8029,
                "ICE_CONTROLLING": 0x802A,
                "RESPONSE_ORIGIN": 0x802B,
                "OTHER_ADDRESS": 0x802C,
            },
        )

    def test_local_message_provides_interface(self) -> None:
        """
        A message built locally provides L{IStunMessage} too.
        """
        message = StunMessage.request(Method.BINDING)
        self.assertTrue(verifyObject(IStunMessage, message))
