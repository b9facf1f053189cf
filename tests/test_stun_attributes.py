"""
Tests for L{twisted_ice.stun.attributes}: every attribute kind survives
encoding and decoding, and malformed values are rejected with a clear message.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial import unittest

from twisted_ice.stun import (
    KNOWN_TYPES,
    MAGIC_COOKIE,
    AddressErrorCode,
    AttributeType,
    ErrorCode,
    Icmp,
    MessageClass,
    Method,
    PasswordAlgorithm,
    StunDecodeError,
    StunMessage,
    decode,
)

HYPOTHESIS = settings(max_examples=300, deadline=None)

ipv4_hosts = st.ip_addresses(v=4).map(str)
ipv6_hosts = st.ip_addresses(v=6).map(
    lambda address: socket.inet_ntop(socket.AF_INET6, address.packed)
)
addresses = st.tuples(ipv4_hosts | ipv6_hosts, st.integers(0, 0xFFFF))
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=100)
reasons = text.filter(lambda reason: len(reason.encode()) <= 763)
error_codes = st.integers(300, 699)


def unsigned(bits: int) -> st.SearchStrategy[int]:
    """
    Return a strategy for unsigned integers of C{bits} bits.
    """
    return st.integers(0, (1 << bits) - 1)


password_algorithms = st.builds(PasswordAlgorithm, unsigned(16), st.binary(max_size=20))

VALUES: dict[AttributeType, st.SearchStrategy[Any]] = {
    AttributeType.MAPPED_ADDRESS: addresses,
    AttributeType.ALTERNATE_SERVER: addresses,
    AttributeType.RESPONSE_ORIGIN: addresses,
    AttributeType.OTHER_ADDRESS: addresses,
    AttributeType.XOR_MAPPED_ADDRESS: addresses,
    AttributeType.XOR_PEER_ADDRESS: addresses,
    AttributeType.XOR_RELAYED_ADDRESS: addresses,
    AttributeType.USERNAME: text.filter(lambda value: len(value.encode()) <= 508),
    AttributeType.REALM: reasons,
    AttributeType.NONCE: reasons,
    AttributeType.SOFTWARE: reasons,
    AttributeType.ALTERNATE_DOMAIN: st.text(
        st.characters(min_codepoint=0, max_codepoint=127), max_size=255
    ),
    AttributeType.ERROR_CODE: st.builds(ErrorCode, error_codes, reasons),
    AttributeType.UNKNOWN_ATTRIBUTES: st.lists(unsigned(16), max_size=10).map(tuple),
    AttributeType.CHANNEL_NUMBER: unsigned(16),
    AttributeType.LIFETIME: unsigned(32),
    AttributeType.PRIORITY: unsigned(32),
    AttributeType.CONNECTION_ID: unsigned(32),
    AttributeType.REQUESTED_TRANSPORT: unsigned(8),
    AttributeType.REQUESTED_ADDRESS_FAMILY: unsigned(8),
    AttributeType.ADDITIONAL_ADDRESS_FAMILY: unsigned(8),
    AttributeType.ICE_CONTROLLED: unsigned(64),
    AttributeType.ICE_CONTROLLING: unsigned(64),
    AttributeType.DATA: st.binary(max_size=300),
    AttributeType.RESERVATION_TOKEN: st.binary(min_size=8, max_size=8),
    AttributeType.USERHASH: st.binary(min_size=32, max_size=32),
    AttributeType.EVEN_PORT: st.booleans(),
    AttributeType.USE_CANDIDATE: st.just(True),
    AttributeType.DONT_FRAGMENT: st.just(True),
    AttributeType.PASSWORD_ALGORITHM: password_algorithms,
    AttributeType.PASSWORD_ALGORITHMS: st.lists(password_algorithms, max_size=4).map(
        tuple
    ),
    AttributeType.ADDRESS_ERROR_CODE: st.builds(
        AddressErrorCode, unsigned(8), error_codes, reasons
    ),
    AttributeType.ICMP: st.builds(Icmp, unsigned(8), unsigned(8), unsigned(32)),
}

unknown_types = unsigned(16).filter(lambda value: value not in KNOWN_TYPES)
unknown_attributes = st.tuples(unknown_types, st.binary(max_size=40))
known_attributes = st.one_of(
    *(
        st.tuples(st.just(attribute_type), strategy)
        for attribute_type, strategy in VALUES.items()
    )
)
transaction_ids = st.binary(min_size=12, max_size=12)


def round_trip(
    attributes: list[tuple[int, Any]], transaction_id: bytes = bytes(12)
) -> StunMessage:
    """
    Encode a Binding indication with C{attributes} and decode it again.
    """
    message = StunMessage(
        Method.BINDING, MessageClass.INDICATION, transaction_id, attributes
    )
    return decode(message.encode())


class RoundTripTests(unittest.TestCase):
    """
    Encoding then decoding gives back every value of every attribute kind.
    """

    def test_every_kind_listed(self) -> None:
        """
        The strategies cover every attribute type with a typed value.
        """
        handled_by_message = {
            AttributeType.MESSAGE_INTEGRITY,
            AttributeType.MESSAGE_INTEGRITY_SHA256,
            AttributeType.FINGERPRINT,
        }
        self.assertEqual(set(VALUES), set(AttributeType) - handled_by_message)

    @HYPOTHESIS
    @given(attribute=known_attributes, transaction_id=transaction_ids)
    def test_known_attribute(
        self, attribute: tuple[AttributeType, Any], transaction_id: bytes
    ) -> None:
        """
        One attribute of any known kind decodes to the value it was encoded
        from, with its L{AttributeType} member as type.
        """
        decoded = round_trip([attribute], transaction_id)
        self.assertEqual(decoded.attributes, [attribute])
        self.assertIsInstance(decoded.attributes[0][0], AttributeType)

    @HYPOTHESIS
    @given(attribute=unknown_attributes)
    def test_unknown_attribute(self, attribute: tuple[int, bytes]) -> None:
        """
        An attribute of an unknown type keeps its raw bytes.
        """
        self.assertEqual(round_trip([attribute]).attributes, [attribute])

    @HYPOTHESIS
    @given(
        attributes=st.lists(known_attributes | unknown_attributes, max_size=8),
        transaction_id=transaction_ids,
        integrity_key=st.none() | st.binary(max_size=64),
        integrity_sha256_key=st.none() | st.binary(max_size=64),
        fingerprint=st.booleans(),
    )
    def test_message(
        self,
        attributes: list[tuple[int, Any]],
        transaction_id: bytes,
        integrity_key: bytes | None,
        integrity_sha256_key: bytes | None,
        fingerprint: bool,
    ) -> None:
        """
        A message of several attributes decodes to the same attributes in the
        same order, and passes the checks it was encoded with.
        """
        message = StunMessage(
            Method.ALLOCATE, MessageClass.REQUEST, transaction_id, attributes
        )
        encoded = message.encode(
            integrity_key,
            fingerprint=fingerprint,
            integrity_sha256_key=integrity_sha256_key,
        )
        decoded = decode(encoded)
        self.assertEqual(decoded.attributes, attributes)
        self.assertEqual(decoded.ignored_attributes, [])
        self.assertEqual(decoded.transaction_id, transaction_id)
        self.assertEqual(decoded.has_integrity, integrity_key is not None)
        self.assertEqual(decoded.has_fingerprint, fingerprint)
        if integrity_key is not None:
            self.assertTrue(decoded.check_integrity(integrity_key))
        if integrity_sha256_key is not None:
            self.assertTrue(decoded.check_integrity_sha256(integrity_sha256_key))
        if fingerprint:
            self.assertTrue(decoded.check_fingerprint())


def value_error(attribute_type: int, value: bytes) -> str:
    """
    Return the message of the L{StunDecodeError} that decoding a message with
    one attribute of C{attribute_type} and C{value} raises.
    """
    padding = bytes(-len(value) & 3)
    body = struct.pack("!HH", attribute_type, len(value)) + value + padding
    header = struct.pack("!HHI", 0x0011, len(body), MAGIC_COOKIE) + bytes(12)
    try:
        decode(header + body)
    except StunDecodeError as e:
        return str(e)
    raise AssertionError("decode did not raise StunDecodeError")


class MalformedValueTests(unittest.TestCase):
    """
    Values of known attributes that do not match their format are rejected
    with the attribute name and the fault.
    """

    def test_error_code_short(self) -> None:
        """
        ERROR-CODE needs at least 4 bytes.
        """
        self.assertEqual(
            value_error(AttributeType.ERROR_CODE, b"\x00\x00\x04"),
            "invalid ERROR-CODE attribute at byte 20: length is 3 bytes, shorter "
            "than the minimum 4",
        )

    def test_error_code_class(self) -> None:
        """
        The ERROR-CODE class must be 3 to 6.
        """
        self.assertEqual(
            value_error(AttributeType.ERROR_CODE, b"\x00\x00\x02\x00"),
            "invalid ERROR-CODE attribute at byte 20: class 2 and number 0 do not "
            "form an error code in the range 300-699",
        )

    def test_error_code_number(self) -> None:
        """
        The ERROR-CODE number must be below 100.
        """
        self.assertEqual(
            value_error(AttributeType.ERROR_CODE, b"\x00\x00\x04\x64"),
            "invalid ERROR-CODE attribute at byte 20: class 4 and number 100 do not "
            "form an error code in the range 300-699",
        )

    def test_error_code_reserved_bits(self) -> None:
        """
        The reserved bits of ERROR-CODE are ignored.
        """
        body = struct.pack("!HH", AttributeType.ERROR_CODE, 4) + b"\xff\xff\xfc\x26"
        data = struct.pack("!HHI", 0x0111, len(body), MAGIC_COOKIE) + bytes(12) + body
        self.assertEqual(decode(data).get(AttributeType.ERROR_CODE), ErrorCode(438, ""))

    def test_unknown_attributes_odd(self) -> None:
        """
        UNKNOWN-ATTRIBUTES contains 16-bit types, so its length is even.
        """
        self.assertEqual(
            value_error(AttributeType.UNKNOWN_ATTRIBUTES, b"\x00\x01\x00"),
            "invalid UNKNOWN-ATTRIBUTES attribute at byte 20: length is 3 bytes, "
            "not a multiple of 2",
        )

    def test_username_too_long(self) -> None:
        """
        A received USERNAME is at most 763 bytes (RFC 8489 section 14.3).
        """
        self.assertEqual(
            value_error(AttributeType.USERNAME, b"u" * 764),
            "invalid USERNAME attribute at byte 20: text is 764 bytes, longer "
            "than the maximum 763",
        )

    def test_username_763_bytes(self) -> None:
        """
        A received USERNAME of 763 bytes is accepted, as RFC 5389 allowed.
        """
        body = struct.pack("!HH", AttributeType.USERNAME, 763) + b"u" * 763 + b"\0"
        data = struct.pack("!HHI", 0x0001, len(body), MAGIC_COOKIE) + bytes(12) + body
        self.assertEqual(decode(data).get(AttributeType.USERNAME), "u" * 763)

    def test_domain_not_ascii(self) -> None:
        """
        ALTERNATE-DOMAIN is ASCII.
        """
        self.assertEqual(
            value_error(AttributeType.ALTERNATE_DOMAIN, b"\xc3\xa9.example"),
            "invalid ALTERNATE-DOMAIN attribute at byte 20: domain has a non-ASCII "
            "byte at byte 0",
        )

    def test_domain_too_long(self) -> None:
        """
        ALTERNATE-DOMAIN is at most 255 characters.
        """
        self.assertEqual(
            value_error(AttributeType.ALTERNATE_DOMAIN, b"d" * 256),
            "invalid ALTERNATE-DOMAIN attribute at byte 20: domain is 256 bytes, "
            "longer than the maximum 255",
        )

    def test_nonce_too_long(self) -> None:
        """
        NONCE is at most 763 bytes.
        """
        self.assertEqual(
            value_error(AttributeType.NONCE, b"n" * 764),
            "invalid NONCE attribute at byte 20: text is 764 bytes, longer than "
            "the maximum 763",
        )

    def test_reason_not_utf8(self) -> None:
        """
        The ERROR-CODE reason phrase must be UTF-8.
        """
        self.assertEqual(
            value_error(AttributeType.ERROR_CODE, b"\x00\x00\x04\x00\xc3"),
            "invalid ERROR-CODE attribute at byte 20: invalid UTF-8 in the reason "
            "phrase at byte 0",
        )

    def test_flag_with_value(self) -> None:
        """
        USE-CANDIDATE has no value.
        """
        self.assertEqual(
            value_error(AttributeType.USE_CANDIDATE, b"\x00"),
            "invalid USE-CANDIDATE attribute at byte 20: length is 1 bytes, expected 0",
        )

    def test_even_port_length(self) -> None:
        """
        EVEN-PORT is one byte.
        """
        self.assertEqual(
            value_error(AttributeType.EVEN_PORT, b"\x80\x00"),
            "invalid EVEN-PORT attribute at byte 20: length is 2 bytes, expected 1",
        )

    def test_even_port_reserved_bits(self) -> None:
        """
        Only the top bit of EVEN-PORT counts.
        """
        body = struct.pack("!HH", AttributeType.EVEN_PORT, 1) + b"\x7f\x00\x00\x00"
        data = struct.pack("!HHI", 0x0003, len(body), MAGIC_COOKIE) + bytes(12) + body
        self.assertIs(decode(data).get(AttributeType.EVEN_PORT), False)

    def test_channel_number_length(self) -> None:
        """
        CHANNEL-NUMBER is 4 bytes: the number and 16 reserved bits.
        """
        self.assertEqual(
            value_error(AttributeType.CHANNEL_NUMBER, b"\x40\x00"),
            "invalid CHANNEL-NUMBER attribute at byte 20: length is 2 bytes, "
            "expected 4",
        )

    def test_tie_breaker_length(self) -> None:
        """
        ICE-CONTROLLING is 8 bytes.
        """
        self.assertEqual(
            value_error(AttributeType.ICE_CONTROLLING, bytes(4)),
            "invalid ICE-CONTROLLING attribute at byte 20: length is 4 bytes, "
            "expected 8",
        )

    def test_reservation_token_length(self) -> None:
        """
        RESERVATION-TOKEN is 8 bytes.
        """
        self.assertEqual(
            value_error(AttributeType.RESERVATION_TOKEN, bytes(4)),
            "invalid RESERVATION-TOKEN attribute at byte 20: length is 4 bytes, "
            "expected 8",
        )

    def test_password_algorithm_cut(self) -> None:
        """
        PASSWORD-ALGORITHM parameters may not run past the value.
        """
        self.assertEqual(
            value_error(AttributeType.PASSWORD_ALGORITHM, b"\x00\x01\x00\x08ab"),
            "invalid PASSWORD-ALGORITHM attribute at byte 20: parameters of 8 "
            "bytes at byte 4 run past the end of the value",
        )

    def test_password_algorithms_cut(self) -> None:
        """
        An entry of PASSWORD-ALGORITHMS needs its 4-byte header.
        """
        self.assertEqual(
            value_error(AttributeType.PASSWORD_ALGORITHMS, b"\x00\x01\x00\x00\x00"),
            "invalid PASSWORD-ALGORITHMS attribute at byte 20: algorithm at byte 4 "
            "is cut short: 1 bytes left, 4 needed",
        )

    def test_icmp_length(self) -> None:
        """
        ICMP is 8 bytes.
        """
        self.assertEqual(
            value_error(AttributeType.ICMP, bytes(4)),
            "invalid ICMP attribute at byte 20: length is 4 bytes, expected 8",
        )

    def test_address_error_code_class(self) -> None:
        """
        ADDRESS-ERROR-CODE carries an error code like ERROR-CODE.
        """
        self.assertEqual(
            value_error(AttributeType.ADDRESS_ERROR_CODE, b"\x02\x00\x07\x00"),
            "invalid ADDRESS-ERROR-CODE attribute at byte 20: class 7 and number 0 "
            "do not form an error code in the range 300-699",
        )


class EncodeValueTests(unittest.TestCase):
    """
    Values that cannot be encoded raise L{ValueError} or L{TypeError} naming
    the fault.
    """

    def encode_error(self, attribute_type: int, value: object) -> str:
        """
        Return the message of the error that encoding one attribute raises.
        """
        message = StunMessage(
            Method.BINDING,
            MessageClass.INDICATION,
            bytes(12),
            [(attribute_type, value)],
        )
        error = self.assertRaises((ValueError, TypeError), message.encode)
        return str(error)

    def test_bad_host(self) -> None:
        """
        A host that is not an IP address is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.XOR_PEER_ADDRESS, ("example.com", 1)),
            "host 'example.com' is not an IPv4 or IPv6 address",
        )

    def test_bad_port(self) -> None:
        """
        A port above 65535 is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.MAPPED_ADDRESS, ("192.0.2.1", 65536)),
            "port 65536 is not in the range 0-65535",
        )

    def test_bad_error_code(self) -> None:
        """
        An error code outside 300-699 is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.ERROR_CODE, ErrorCode(200, "OK")),
            "error code 200 is not in the range 300-699",
        )

    def test_integer_range(self) -> None:
        """
        An integer too large for its field is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.CHANNEL_NUMBER, 0x10000),
            "65536 is not an unsigned 16-bit integer",
        )

    def test_username_too_long(self) -> None:
        """
        A USERNAME of 509 bytes or more is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.USERNAME, "\u00e9" * 255),
            "username is 510 bytes in UTF-8, longer than the maximum 508",
        )

    def test_software_too_long(self) -> None:
        """
        A SOFTWARE of 128 characters or more is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.SOFTWARE, "s" * 128),
            "text is 128 characters, longer than the maximum 127",
        )

    def test_domain_not_ascii(self) -> None:
        """
        An ALTERNATE-DOMAIN with a non-ASCII character is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.ALTERNATE_DOMAIN, "b\u00fccher.example"),
            "domain has a non-ASCII character at position 1",
        )

    def test_flag_value(self) -> None:
        """
        A flag attribute takes only L{True}.
        """
        self.assertEqual(
            self.encode_error(AttributeType.USE_CANDIDATE, False),
            "a flag attribute takes the value True, not False",
        )

    def test_data_type(self) -> None:
        """
        DATA takes bytes.
        """
        self.assertEqual(
            self.encode_error(AttributeType.DATA, "text"),
            "value must be bytes, not str",
        )

    def test_reason_too_long(self) -> None:
        """
        A reason phrase of 128 characters or more is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.ERROR_CODE, ErrorCode(400, "r" * 128)),
            "reason phrase is 128 characters, longer than the maximum 127",
        )

    def test_struct_range(self) -> None:
        """
        A field value out of range for its struct field is a L{ValueError}.
        """
        self.assertEqual(
            self.encode_error(AttributeType.ICMP, Icmp(256, 0, 0)),
            "invalid ICMP value Icmp(type=256, code=0, data=0): ubyte format "
            "requires 0 <= number <= 255",
        )

    def test_value_too_long(self) -> None:
        """
        A value longer than the 16-bit length field allows is rejected.
        """
        self.assertEqual(
            self.encode_error(AttributeType.DATA, bytes(0x10000)),
            "DATA value is 65536 bytes, longer than the maximum 65535",
        )
