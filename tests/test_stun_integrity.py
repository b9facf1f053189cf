"""
Tests for L{twisted_ice.stun.integrity}: the long-term key, the OpaqueString
profile, the HMACs and FINGERPRINT.
"""

from __future__ import annotations

import hashlib
import hmac

from twisted.trial import unittest

from twisted_ice.stun import (
    PasswordAlgorithmId,
    fingerprint,
    hmac_sha1,
    hmac_sha256,
    long_term_key,
    opaque_string,
)

USERNAME = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"


class OpaqueStringTests(unittest.TestCase):
    """
    The OpaqueString profile of RFC 8265 section 4.2.
    """

    def test_ascii_unchanged(self) -> None:
        """
        Printable ASCII, case included, is kept as it is.
        """
        self.assertEqual(opaque_string("TheMatrIX"), "TheMatrIX")

    def test_non_ascii_space(self) -> None:
        """
        Non-ASCII spaces become U+0020.
        """
        self.assertEqual(opaque_string("a\u3000b\u00a0c"), "a b c")

    def test_nfc(self) -> None:
        """
        The result is in Normalization Form C.
        """
        self.assertEqual(opaque_string("e\u0301"), "\u00e9")

    def test_no_compatibility_mapping(self) -> None:
        """
        Compatibility characters are kept: OpaqueString uses NFC, not NFKC as
        SASLprep did.
        """
        self.assertEqual(opaque_string("M\u00aatr\u2168"), "M\u00aatr\u2168")

    def test_katakana(self) -> None:
        """
        The RFC 5769 username is kept as it is.
        """
        self.assertEqual(opaque_string(USERNAME), USERNAME)

    def test_empty(self) -> None:
        """
        An empty string is rejected.
        """
        error = self.assertRaises(ValueError, opaque_string, "", "password")
        self.assertEqual(
            str(error),
            "invalid password: the OpaqueString profile (RFC 8265) rejects an "
            "empty string",
        )

    def test_default_ignorable(self) -> None:
        """
        A default-ignorable code point such as U+00AD (soft hyphen) is
        rejected, so the RFC 5769 password in its SASLprep input form is.
        """
        error = self.assertRaises(
            ValueError, opaque_string, "The\u00adM\u00aatr\u2168", "password"
        )
        self.assertEqual(
            str(error),
            "invalid password: the OpaqueString profile (RFC 8265) rejects the "
            "code point at position 3 (DISALLOWED/precis_ignorable_properties)",
        )

    def test_control(self) -> None:
        """
        A control character is rejected, and the message does not quote it.
        """
        error = self.assertRaises(ValueError, opaque_string, "ab\x07", "username")
        self.assertIn("position 2", str(error))
        self.assertNotIn("\x07", str(error))

    def test_unassigned(self) -> None:
        """
        An unassigned code point is rejected.
        """
        self.assertRaises(ValueError, opaque_string, "a\U000e0fff")


class LongTermKeyTests(unittest.TestCase):
    """
    The long-term credential key of RFC 8489 section 9.2.2.
    """

    def test_rfc_5769(self) -> None:
        """
        The key of the RFC 5769 section 2.4 credentials is MD5 of
        "username:realm:password" in UTF-8.
        """
        key = long_term_key(USERNAME, "example.org", "TheMatrIX")
        expected = hashlib.md5(  # noqa: S324
            f"{USERNAME}:example.org:TheMatrIX".encode()
        ).digest()
        self.assertEqual(key, expected)
        self.assertEqual(key.hex(), "e8ca7ad59d5eb0518e312911d2dab2a9")

    def test_prepared(self) -> None:
        """
        The parts are prepared before hashing: a non-ASCII space in the
        password gives the key of the password with U+0020.
        """
        self.assertEqual(
            long_term_key("user", "realm", "a\u3000b"),
            long_term_key("user", "realm", "a b"),
        )

    def test_sha256(self) -> None:
        """
        With PASSWORD-ALGORITHM SHA-256 the key is SHA-256 of the same text.
        """
        key = long_term_key("user", "realm", "pass", PasswordAlgorithmId.SHA256)
        self.assertEqual(key, hashlib.sha256(b"user:realm:pass").digest())

    def test_unknown_algorithm(self) -> None:
        """
        An unknown password algorithm is rejected.
        """
        error = self.assertRaises(
            ValueError, long_term_key, "user", "realm", "pass", 0x7777
        )
        self.assertEqual(str(error), "unknown password algorithm 0x7777")

    def test_empty_password(self) -> None:
        """
        An empty password is rejected.
        """
        self.assertRaises(ValueError, long_term_key, "user", "realm", "")


class DigestTests(unittest.TestCase):
    """
    The HMACs and FINGERPRINT.
    """

    def test_hmac_sha1(self) -> None:
        """
        L{hmac_sha1} is HMAC-SHA1, 20 bytes.
        """
        digest = hmac_sha1(b"key", b"data")
        self.assertEqual(digest, hmac.new(b"key", b"data", "sha1").digest())
        self.assertEqual(len(digest), 20)

    def test_hmac_sha256(self) -> None:
        """
        L{hmac_sha256} is HMAC-SHA256, 32 bytes.
        """
        digest = hmac_sha256(b"key", b"data")
        self.assertEqual(digest, hmac.new(b"key", b"data", "sha256").digest())
        self.assertEqual(len(digest), 32)

    def test_fingerprint_empty(self) -> None:
        """
        The FINGERPRINT of no bytes is the XOR value itself, since CRC-32 of
        nothing is 0.
        """
        self.assertEqual(fingerprint(b""), 0x5354554E)
