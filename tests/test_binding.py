"""
Tests for L{twisted_ice.stun.binding}: the plain Binding responder.
"""

from __future__ import annotations

from twisted.trial import unittest

from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
)
from twisted_ice.stun.binding import BindingResponder, unmap_ipv4

CLIENT = ("192.0.2.1", 54321)
TRANSACTION_ID = bytes(range(12))


def binding_request(*attributes: tuple[int, object]) -> StunMessage:
    """
    Build a Binding request with a fixed transaction id.
    """
    return StunMessage(
        Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID, list(attributes)
    )


class UnmapIpv4Tests(unittest.TestCase):
    """
    Tests for L{unmap_ipv4}.
    """

    def test_mapped_address_becomes_ipv4(self) -> None:
        """
        An IPv4-mapped IPv6 host is written as the IPv4 host.
        """
        self.assertEqual(unmap_ipv4(("::ffff:192.0.2.1", 5)), ("192.0.2.1", 5))

    def test_ipv6_unchanged(self) -> None:
        """
        Any other IPv6 host stays as it is.
        """
        self.assertEqual(unmap_ipv4(("2001:db8::1", 5)), ("2001:db8::1", 5))

    def test_ipv4_unchanged(self) -> None:
        """
        An IPv4 host stays as it is.
        """
        self.assertEqual(unmap_ipv4(CLIENT), CLIENT)


class RespondFastTests(unittest.TestCase):
    """
    Tests for L{BindingResponder.respond_fast}, the path that responds
    to a Binding request without decoding it.
    """

    def test_plain_request_answered(self) -> None:
        """
        A Binding request without attributes gets a Binding success response
        with the same transaction id.
        """
        data = binding_request().encode()
        response = decode(BindingResponder().respond_fast(data, CLIENT) or b"")
        self.assertEqual(response.method, Method.BINDING)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(response.transaction_id, TRANSACTION_ID)

    def test_xor_mapped_address_is_source(self) -> None:
        """
        XOR-MAPPED-ADDRESS is the source address of the request.
        """
        data = binding_request().encode()
        response = decode(BindingResponder().respond_fast(data, CLIENT) or b"")
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)

    def test_no_fingerprint_without_request_fingerprint(self) -> None:
        """
        A request without FINGERPRINT gets a response without FINGERPRINT.
        """
        data = binding_request().encode()
        response = decode(BindingResponder().respond_fast(data, CLIENT) or b"")
        self.assertFalse(response.has_fingerprint)

    def test_fingerprint_echoed(self) -> None:
        """
        A request with FINGERPRINT gets a response with a valid FINGERPRINT
        (RFC 8489 section 7.3.1).
        """
        data = binding_request().encode(fingerprint=True)
        response = decode(BindingResponder().respond_fast(data, CLIENT) or b"")
        self.assertTrue(response.has_fingerprint)
        self.assertTrue(response.check_fingerprint())

    def test_no_software_by_default(self) -> None:
        """
        Without configured SOFTWARE the response has no SOFTWARE attribute.
        """
        data = binding_request().encode()
        response = decode(BindingResponder().respond_fast(data, CLIENT) or b"")
        self.assertFalse(response.has(AttributeType.SOFTWARE))

    def test_software_when_configured(self) -> None:
        """
        Configured SOFTWARE is in the response.
        """
        data = binding_request().encode(fingerprint=True)
        responder = BindingResponder(software="mcs-ice test")
        response = decode(responder.respond_fast(data, CLIENT) or b"")
        self.assertEqual(response.get(AttributeType.SOFTWARE), "mcs-ice test")
        self.assertTrue(response.check_fingerprint())

    def test_ipv6_source(self) -> None:
        """
        An IPv6 source gets an IPv6 XOR-MAPPED-ADDRESS, XORed with the cookie
        and the transaction id (RFC 8489 section 14.2).
        """
        source = ("2001:db8::1:2", 4000)
        data = binding_request().encode()
        response = decode(BindingResponder().respond_fast(data, source) or b"")
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), source)

    def test_ipv4_mapped_source(self) -> None:
        """
        An IPv4 client on a dual-stack socket gets its IPv4 address.
        """
        data = binding_request().encode()
        source = ("::ffff:192.0.2.1", 54321)
        response = decode(BindingResponder().respond_fast(data, source) or b"")
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)

    def test_same_bytes_as_codec(self) -> None:
        """
        The hand-written encoding equals the codec's encoding of the same
        response.
        """
        responder = BindingResponder(software="abc")
        for source in [CLIENT, ("2001:db8::7", 9)]:
            for fingerprint in [False, True]:
                request = binding_request()
                expected = (
                    request.success_response(
                        [
                            (AttributeType.XOR_MAPPED_ADDRESS, source),
                            (AttributeType.SOFTWARE, "abc"),
                        ]
                    )
                ).encode(fingerprint=fingerprint)
                data = request.encode(fingerprint=fingerprint)
                self.assertEqual(responder.respond_fast(data, source), expected)

    def test_other_attributes_not_fast(self) -> None:
        """
        A request with an attribute other than FINGERPRINT goes to the
        decoding path.
        """
        data = binding_request((AttributeType.SOFTWARE, "client")).encode()
        self.assertIsNone(BindingResponder().respond_fast(data, CLIENT))

    def test_bad_fingerprint_not_fast(self) -> None:
        """
        A request with a wrong FINGERPRINT goes to the decoding path, which
        drops it.
        """
        data = bytearray(binding_request().encode(fingerprint=True))
        data[-1] ^= 1
        self.assertIsNone(BindingResponder().respond_fast(bytes(data), CLIENT))

    def test_no_cookie_not_fast(self) -> None:
        """
        A 20-byte message without the magic cookie gets no response here.
        """
        data = bytearray(binding_request().encode())
        data[4] = 0
        self.assertIsNone(BindingResponder().respond_fast(bytes(data), CLIENT))

    def test_indication_not_fast(self) -> None:
        """
        A Binding indication gets no response here.
        """
        indication = StunMessage(
            Method.BINDING, MessageClass.INDICATION, TRANSACTION_ID
        ).encode()
        self.assertIsNone(BindingResponder().respond_fast(indication, CLIENT))

    def test_bad_length_not_fast(self) -> None:
        """
        A header whose length field does not match the data is not answered
        here.
        """
        data = b"\x00\x01\x00\x04" + binding_request().encode()[4:]
        self.assertIsNone(BindingResponder().respond_fast(data, CLIENT))

    def test_software_too_long(self) -> None:
        """
        SOFTWARE longer than 763 bytes (RFC 8489 section 14.14) is rejected.
        """
        self.assertRaises(ValueError, BindingResponder, "x" * 764)


class RespondTests(unittest.TestCase):
    """
    Tests for L{BindingResponder.respond}, which answers decoded requests.
    """

    def test_success(self) -> None:
        """
        A decoded request without unknown attributes gets a success with
        XOR-MAPPED-ADDRESS.
        """
        request = decode(binding_request((AttributeType.SOFTWARE, "x")).encode())
        response = decode(BindingResponder().respond(request, CLIENT) or b"")
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)

    def test_unknown_required_gets_420(self) -> None:
        """
        An unknown comprehension-required attribute gets a 420 error response
        (RFC 8489 section 6.3.1).
        """
        request = decode(binding_request((0x0031, b"abcd")).encode())
        response = decode(BindingResponder().respond(request, CLIENT) or b"")
        self.assertEqual(response.message_class, MessageClass.ERROR_RESPONSE)
        self.assertEqual(response.get(AttributeType.ERROR_CODE).code, 420)

    def test_420_lists_exactly_unknown(self) -> None:
        """
        UNKNOWN-ATTRIBUTES lists each unknown comprehension-required type and
        neither known nor optional ones.
        """
        request = decode(
            binding_request(
                (0x0031, b"abcd"),
                (AttributeType.SOFTWARE, "x"),
                (0x8031, b"optional"),
                (0x7FFF, b""),
            ).encode()
        )
        response = decode(BindingResponder().respond(request, CLIENT) or b"")
        self.assertEqual(
            response.get(AttributeType.UNKNOWN_ATTRIBUTES), (0x0031, 0x7FFF)
        )

    def test_420_has_no_mapped_address(self) -> None:
        """
        The 420 carries no XOR-MAPPED-ADDRESS.
        """
        request = decode(binding_request((0x0031, b"abcd")).encode())
        response = decode(BindingResponder().respond(request, CLIENT) or b"")
        self.assertFalse(response.has(AttributeType.XOR_MAPPED_ADDRESS))

    def test_420_fingerprint_echoed(self) -> None:
        """
        A 420 carries FINGERPRINT when the request had one, and not otherwise.
        """
        with_fingerprint = decode(
            binding_request((0x0031, b"abcd")).encode(fingerprint=True)
        )
        without = decode(binding_request((0x0031, b"abcd")).encode())
        responder = BindingResponder()
        answered = decode(responder.respond(with_fingerprint, CLIENT) or b"")
        self.assertTrue(answered.check_fingerprint())
        answered = decode(responder.respond(without, CLIENT) or b"")
        self.assertFalse(answered.has_fingerprint)

    def test_420_software_when_configured(self) -> None:
        """
        A 420 carries SOFTWARE only when it is configured.
        """
        request = decode(binding_request((0x0031, b"abcd")).encode())
        plain = decode(BindingResponder().respond(request, CLIENT) or b"")
        named = decode(BindingResponder("srv").respond(request, CLIENT) or b"")
        self.assertFalse(plain.has(AttributeType.SOFTWARE))
        self.assertEqual(named.get(AttributeType.SOFTWARE), "srv")

    def test_unknown_optional_ignored(self) -> None:
        """
        Unknown comprehension-optional attributes (0x8000-0xFFFF) are ignored.
        """
        request = decode(binding_request((0x8031, b"abcd")).encode())
        response = decode(BindingResponder().respond(request, CLIENT) or b"")
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)

    def test_indication_gets_nothing(self) -> None:
        """
        An indication, even one with unknown comprehension-required
        attributes, gets no response (RFC 8489 section 6.3.2).
        """
        indication = StunMessage(
            Method.BINDING, MessageClass.INDICATION, TRANSACTION_ID, [(0x31, b"")]
        )
        self.assertIsNone(
            BindingResponder().respond(decode(indication.encode()), CLIENT)
        )
