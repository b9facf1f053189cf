"""
MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT computations, and
the long-term credential key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import zlib

import precis_i18n

from twisted_ice.stun.constants import FINGERPRINT_XOR, PasswordAlgorithmId

_OPAQUE_STRING = precis_i18n.get_profile("OpaqueString")

KEY_CACHE_SIZE = 4096
"""
How many long-term keys L{long_term_key} remembers. Preparing the three
strings with OpaqueString is most of the cost of a key, and every
authenticated TURN request needs one, so the keys of recent users are kept.
"""


def hmac_sha1(key: bytes, data: bytes) -> bytes:
    """
    Return the 20-byte HMAC-SHA1 of C{data}, the MESSAGE-INTEGRITY value.
    """
    return hmac.digest(key, data, "sha1")


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """
    Return the 32-byte HMAC-SHA256 of C{data}, the MESSAGE-INTEGRITY-SHA256
    value before any truncation.
    """
    return hmac.digest(key, data, "sha256")


def fingerprint(data: bytes) -> int:
    """
    Return the FINGERPRINT value of C{data}: its CRC-32 XORed with 0x5354554e
    (RFC 8489 section 14.7).
    """
    return zlib.crc32(data) ^ FINGERPRINT_XOR


def opaque_string(text: str, field: str = "string") -> str:
    """
    Prepare C{text} with the OpaqueString profile of RFC 8265: non-ASCII
    spaces become U+0020, the result is NFC-normalized, and empty strings and
    disallowed code points (controls, default-ignorable code points such as
    U+00AD, unassigned code points, ...) are rejected.

    @param field: The name of the value in the error message, such as
        C{"password"}.
    @raise ValueError: C{text} is empty or contains a disallowed code point.
        The message names the position and the rule, never the character, so
        that a password does not leak into logs.
    """
    try:
        prepared: str = _OPAQUE_STRING.enforce(text)
    except UnicodeEncodeError as e:
        if not text:
            raise ValueError(
                f"invalid {field}: the OpaqueString profile (RFC 8265) rejects an "
                "empty string"
            ) from None
        raise ValueError(
            f"invalid {field}: the OpaqueString profile (RFC 8265) rejects the "
            f"code point at position {e.start} ({e.reason})"
        ) from None
    return prepared


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def long_term_key(
    username: str,
    realm: str,
    password: str,
    algorithm: int = PasswordAlgorithmId.MD5,
) -> bytes:
    """
    Return the long-term credential key: the MD5 (or, with PASSWORD-ALGORITHM
    SHA-256, the SHA-256) of C{username ":" realm ":" password}, each prepared
    with the OpaqueString profile, in UTF-8 (RFC 8489 section 9.2.2).

    @raise ValueError: A part is empty or contains a code point that
        OpaqueString disallows, or C{algorithm} is unknown.
    """
    text = ":".join(
        (
            opaque_string(username, "username"),
            opaque_string(realm, "realm"),
            opaque_string(password, "password"),
        )
    )
    if algorithm == PasswordAlgorithmId.MD5:
        # MD5 is what RFC 8489 section 9.2.2 prescribes for this key.
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()
    if algorithm == PasswordAlgorithmId.SHA256:
        return hashlib.sha256(text.encode("utf-8")).digest()
    raise ValueError(f"unknown password algorithm 0x{algorithm:04x}")
