"""
The STUN message: decoding with the basic checks of RFC 8489 section 6.3,
encoding with MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and
checking those three against the bytes as received.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Iterable
from typing import Any

from zope.interface import implementer

from twisted_ice.interfaces import IStunMessage
from twisted_ice.stun.attributes import KNOWN_TYPES, PACKERS, UNPACKERS, attribute_name
from twisted_ice.stun.constants import (
    HEADER_LENGTH,
    MAGIC_COOKIE,
    AttributeType,
    MessageClass,
    Method,
    decode_message_type,
    encode_message_type,
)
from twisted_ice.stun.errors import StunDecodeError, default_reason
from twisted_ice.stun.integrity import fingerprint, hmac_sha1, hmac_sha256
from twisted_ice.stun.values import ErrorCode

Attribute = tuple[int, Any]
"""
One attribute: its type (an L{AttributeType} when known) and its value.
"""

_HEADER = struct.Struct("!HHI")
_LENGTH = struct.Struct("!H")
_ATTRIBUTE_HEADER = struct.Struct("!HH")
_UINT32 = struct.Struct("!I")
_PADDING = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")

_MESSAGE_INTEGRITY = AttributeType.MESSAGE_INTEGRITY
_MESSAGE_INTEGRITY_SHA256 = AttributeType.MESSAGE_INTEGRITY_SHA256
_FINGERPRINT = AttributeType.FINGERPRINT
_MESSAGE_INTEGRITY_HEADER = _ATTRIBUTE_HEADER.pack(_MESSAGE_INTEGRITY, 20)
_FINGERPRINT_HEADER = _ATTRIBUTE_HEADER.pack(_FINGERPRINT, 4)

_METHODS: dict[int, int] = {method.value: method for method in Method}
_CLASSES = tuple(MessageClass)

# Decoder states. Attributes after MESSAGE-INTEGRITY are ignored except
# MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489 section 14.5).
# Attributes after MESSAGE-INTEGRITY-SHA256 except FINGERPRINT are ignored too,
# because no integrity attribute covers them.
_BEFORE_INTEGRITY = 0
_AFTER_INTEGRITY = 1
_AFTER_INTEGRITY_SHA256 = 2

_DECODE_ERRORS = (ValueError, struct.error, OSError, IndexError, OverflowError)


@implementer(IStunMessage)
class StunMessage:
    """
    A STUN message, decoded by L{decode} or built locally.

    @ivar method: The 12-bit method, a L{Method} when known.
    @ivar message_class: The L{MessageClass}.
    @ivar transaction_id: The 12-byte transaction id.
    @ivar attributes: The attributes that MESSAGE-INTEGRITY protects, in wire
        order, as C{(type, value)} pairs. A type may repeat. MESSAGE-INTEGRITY,
        MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are not in this list.
    @ivar ignored_attributes: The attributes after MESSAGE-INTEGRITY (or
        MESSAGE-INTEGRITY-SHA256) other than the ones allowed there, with their
        raw bytes as values. They are not protected, so nothing may use them.
    @ivar raw: The bytes this message was decoded from, or L{None} for a
        message built locally. The integrity and fingerprint checks use them.
    @ivar message_integrity: The MESSAGE-INTEGRITY value as received, or
        L{None}.
    @ivar message_integrity_sha256: The MESSAGE-INTEGRITY-SHA256 value as
        received, or L{None}.
    @ivar fingerprint: The FINGERPRINT value as received, or L{None}.
    """

    __slots__ = (
        "method",
        "message_class",
        "transaction_id",
        "attributes",
        "ignored_attributes",
        "raw",
        "message_integrity",
        "message_integrity_sha256",
        "fingerprint",
        "_integrity_offset",
        "_integrity_sha256_offset",
        "_fingerprint_offset",
    )

    method: int
    message_class: MessageClass
    transaction_id: bytes
    attributes: list[Attribute]
    ignored_attributes: list[tuple[int, bytes]]
    raw: bytes | None
    message_integrity: bytes | None
    message_integrity_sha256: bytes | None
    fingerprint: int | None
    _integrity_offset: int
    _integrity_sha256_offset: int
    _fingerprint_offset: int

    def __init__(
        self,
        method: int,
        message_class: MessageClass,
        transaction_id: bytes,
        attributes: Iterable[Attribute] = (),
    ) -> None:
        if len(transaction_id) != 12:
            raise ValueError(
                f"transaction id is {len(transaction_id)} bytes, expected 12"
            )
        if not 0 <= method <= 0xFFF:
            raise ValueError(f"method 0x{method:x} does not fit in 12 bits")
        self.method = method
        self.message_class = message_class
        self.transaction_id = transaction_id
        self.attributes = list(attributes)
        self.ignored_attributes = []
        self.raw = None
        self.message_integrity = None
        self.message_integrity_sha256 = None
        self.fingerprint = None
        self._integrity_offset = -1
        self._integrity_sha256_offset = -1
        self._fingerprint_offset = -1

    def __repr__(self) -> str:
        method = getattr(self.method, "name", f"0x{self.method:03x}")
        message_class = getattr(self.message_class, "name", self.message_class)
        return (
            f"<StunMessage {method} {message_class} "
            f"{self.transaction_id.hex()} {self.attributes!r}>"
        )

    @classmethod
    def request(cls, method: int, attributes: Iterable[Attribute] = ()) -> StunMessage:
        """
        Return a request with a fresh random transaction id.
        """
        return cls(method, MessageClass.REQUEST, os.urandom(12), attributes)

    @classmethod
    def indication(
        cls, method: int, attributes: Iterable[Attribute] = ()
    ) -> StunMessage:
        """
        Return an indication with a fresh random transaction id.
        """
        return cls(method, MessageClass.INDICATION, os.urandom(12), attributes)

    def success_response(self, attributes: Iterable[Attribute] = ()) -> StunMessage:
        """
        Return a success response with this message's method and transaction
        id.
        """
        return StunMessage(
            self.method,
            MessageClass.SUCCESS_RESPONSE,
            self.transaction_id,
            attributes,
        )

    def error_response(
        self,
        code: int,
        reason: str | None = None,
        attributes: Iterable[Attribute] = (),
    ) -> StunMessage:
        """
        Return an error response with this message's method and transaction
        id, whose first attribute is ERROR-CODE with C{code} and C{reason}
        (the RFC reason phrase when L{None}), followed by C{attributes}.
        """
        if reason is None:
            reason = default_reason(code)
        response = StunMessage(
            self.method,
            MessageClass.ERROR_RESPONSE,
            self.transaction_id,
            [(AttributeType.ERROR_CODE, ErrorCode(code, reason))],
        )
        response.attributes.extend(attributes)
        return response

    # --- Attributes ---------------------------------------------------------

    def get(self, attribute_type: int) -> Any:
        """
        Return the value of the first protected attribute of this type, or
        L{None}.
        """
        for each_type, value in self.attributes:
            if each_type == attribute_type:
                return value
        return None

    def get_all(self, attribute_type: int) -> list[Any]:
        """
        Return the values of all protected attributes of this type, in order.
        """
        return [value for each, value in self.attributes if each == attribute_type]

    def has(self, attribute_type: int) -> bool:
        """
        Return whether a protected attribute of this type is present.
        """
        return any(each == attribute_type for each, _value in self.attributes)

    def add(self, attribute_type: int, value: Any) -> StunMessage:
        """
        Append an attribute and return this message, so that calls chain.
        """
        self.attributes.append((attribute_type, value))
        return self

    def unknown_comprehension_required(self) -> list[int]:
        """
        Return the types below 0x8000 in C{attributes} that the codec does not
        know, each once, in wire order: the UNKNOWN-ATTRIBUTES of a 420
        response (RFC 8489 section 6.3.1).
        """
        unknown: list[int] = []
        for attribute_type, _value in self.attributes:
            if (
                attribute_type < 0x8000
                and attribute_type not in KNOWN_TYPES
                and attribute_type not in unknown
            ):
                unknown.append(attribute_type)
        return unknown

    # --- Integrity and fingerprint ------------------------------------------

    @property
    def has_integrity(self) -> bool:
        """
        Whether the decoded message has a MESSAGE-INTEGRITY attribute.
        """
        return self._integrity_offset >= 0

    @property
    def has_integrity_sha256(self) -> bool:
        """
        Whether the decoded message has a MESSAGE-INTEGRITY-SHA256 attribute.
        """
        return self._integrity_sha256_offset >= 0

    @property
    def has_fingerprint(self) -> bool:
        """
        Whether the decoded message has a FINGERPRINT attribute.
        """
        return self._fingerprint_offset >= 0

    def _covered(self, offset: int, attribute_length: int) -> bytes:
        """
        Return the received bytes before the attribute at C{offset}, with the
        header length set as if that attribute (of C{attribute_length} value
        bytes) ended the message (RFC 8489 section 14.5).
        """
        raw = self.raw
        assert raw is not None
        length = offset - HEADER_LENGTH + 4 + attribute_length
        return raw[:2] + _LENGTH.pack(length) + raw[4:offset]

    def check_integrity(self, key: bytes) -> bool:
        """
        Return whether MESSAGE-INTEGRITY (HMAC-SHA1) is present and valid for
        C{key}, compared in constant time. A message built locally has none.
        """
        expected = self.message_integrity
        if expected is None:
            return False
        covered = self._covered(self._integrity_offset, 20)
        return hmac.compare_digest(hmac_sha1(key, covered), expected)

    def check_integrity_sha256(self, key: bytes) -> bool:
        """
        Return whether MESSAGE-INTEGRITY-SHA256 is present and valid for
        C{key}, compared in constant time. A truncated value (16 to 32 bytes)
        is compared with as many leading bytes of the HMAC (RFC 8489 section
        14.6).
        """
        expected = self.message_integrity_sha256
        if expected is None:
            return False
        covered = self._covered(self._integrity_sha256_offset, len(expected))
        digest = hmac_sha256(key, covered)[: len(expected)]
        return hmac.compare_digest(digest, expected)

    def check_fingerprint(self) -> bool:
        """
        Return whether FINGERPRINT is present and matches the message.
        """
        expected = self.fingerprint
        if expected is None:
            return False
        raw = self.raw
        assert raw is not None
        # FINGERPRINT is last, so the header length already ends after it.
        return fingerprint(raw[: self._fingerprint_offset]) == expected

    # --- Encoding -----------------------------------------------------------

    def encode(
        self,
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
        integrity_sha256_key: bytes | None = None,
    ) -> bytes:
        """
        Serialize the message: the attributes, then MESSAGE-INTEGRITY with
        C{integrity_key}, MESSAGE-INTEGRITY-SHA256 (32 bytes) with
        C{integrity_sha256_key}, and FINGERPRINT when asked, in that order.
        Padding is zeros.

        @raise ValueError: An attribute value cannot be encoded.
        @raise TypeError: An attribute value has the wrong type.
        """
        transaction_id = self.transaction_id
        parts: list[bytes] = []
        append = parts.append
        pack_header = _ATTRIBUTE_HEADER.pack
        for attribute_type, value in self.attributes:
            pack = PACKERS.get(attribute_type)
            if pack is not None:
                try:
                    packed = pack(value, transaction_id)
                except struct.error as e:
                    raise ValueError(
                        f"invalid {attribute_name(attribute_type)} value {value!r}: {e}"
                    ) from None
            elif isinstance(value, bytes):
                packed = value
            else:
                raise TypeError(
                    f"{attribute_name(attribute_type)} has no typed encoding, so its "
                    f"value must be bytes, not {type(value).__name__}"
                )
            length = len(packed)
            if length > 0xFFFF:
                raise ValueError(
                    f"{attribute_name(attribute_type)} value is {length} bytes, "
                    "longer than the maximum 65535"
                )
            append(pack_header(attribute_type, length))
            append(packed)
            append(_PADDING[-length & 3])
        body = b"".join(parts)

        message_type = encode_message_type(self.method, self.message_class)
        if integrity_key is not None:
            header = _HEADER.pack(message_type, len(body) + 24, MAGIC_COOKIE)
            digest = hmac_sha1(integrity_key, header + transaction_id + body)
            body += _MESSAGE_INTEGRITY_HEADER + digest
        if integrity_sha256_key is not None:
            header = _HEADER.pack(message_type, len(body) + 36, MAGIC_COOKIE)
            digest = hmac_sha256(integrity_sha256_key, header + transaction_id + body)
            body += _ATTRIBUTE_HEADER.pack(_MESSAGE_INTEGRITY_SHA256, 32) + digest
        if fingerprint:
            header = _HEADER.pack(message_type, len(body) + 8, MAGIC_COOKIE)
            crc = _fingerprint(header + transaction_id + body)
            return (
                header + transaction_id + body + _FINGERPRINT_HEADER + _UINT32.pack(crc)
            )

        if len(body) > 0xFFFF:
            raise ValueError(f"message body is {len(body)} bytes, longer than 65535")
        return (
            _HEADER.pack(message_type, len(body), MAGIC_COOKIE) + transaction_id + body
        )


_fingerprint = fingerprint


# --- Decoding ---------------------------------------------------------------


def decode(data: bytes) -> StunMessage:
    """
    Decode one STUN message, applying the basic checks of RFC 8489 section
    6.3 and unpacking the value of every attribute type in the codec's table.

    Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and
    FINGERPRINT, and after MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT,
    go to C{ignored_attributes} undecoded. Padding bytes are not checked.

    @raise StunDecodeError: A basic check failed or a known attribute has a
        malformed value. Nothing else is raised, whatever C{data} contains.
    """
    if type(data) is not bytes:
        try:
            data = memoryview(data).tobytes()
        except TypeError:
            raise StunDecodeError(
                f"cannot decode a {type(data).__name__}, expected bytes"
            ) from None
    size = len(data)
    if size < HEADER_LENGTH:
        raise StunDecodeError(
            f"message is {size} bytes, shorter than the 20-byte STUN header"
        )
    message_type, length, cookie = _HEADER.unpack_from(data)
    if message_type & 0xC000:
        raise StunDecodeError(
            f"the top two bits of the message type 0x{message_type:04x} are not zero"
        )
    if cookie != MAGIC_COOKIE:
        raise StunDecodeError(
            f"magic cookie is 0x{cookie:08x}, expected 0x{MAGIC_COOKIE:08x}"
        )
    if length & 3:
        raise StunDecodeError(f"message length {length} is not a multiple of 4")
    if length != size - HEADER_LENGTH:
        raise StunDecodeError(
            f"message length {length} does not match the {size - HEADER_LENGTH} "
            "bytes after the header"
        )

    transaction_id = data[8:20]
    attributes: list[Attribute] = []
    ignored: list[tuple[int, bytes]] = []
    append = attributes.append
    unpack_header = _ATTRIBUTE_HEADER.unpack_from
    unpackers = UNPACKERS
    state = _BEFORE_INTEGRITY
    integrity = integrity_sha256 = None
    integrity_offset = integrity_sha256_offset = fingerprint_offset = -1
    fingerprint_value = None

    offset = HEADER_LENGTH
    while offset < size:
        if fingerprint_offset >= 0:
            raise StunDecodeError(
                f"attribute at byte {offset} follows FINGERPRINT, which must be "
                "the last attribute"
            )
        # The length is a multiple of 4 and so is every offset, so the
        # 4-byte attribute header always fits.
        attribute_type, attribute_length = unpack_header(data, offset)
        start = offset + 4
        end = start + attribute_length
        if end > size:
            raise StunDecodeError(
                f"attribute {attribute_name(attribute_type)} at byte {offset} with "
                f"length {attribute_length} runs past the end of the message"
            )
        value = data[start:end]

        row = unpackers.get(attribute_type)
        if row is not None and state == _BEFORE_INTEGRITY:
            try:
                append((row[0], row[1](value, transaction_id)))
            except _DECODE_ERRORS as e:
                raise StunDecodeError(
                    f"invalid {attribute_name(attribute_type)} attribute at byte "
                    f"{offset}: {e}"
                ) from None
        elif attribute_type == _FINGERPRINT:
            if attribute_length != 4:
                raise StunDecodeError(
                    f"invalid FINGERPRINT attribute at byte {offset}: length is "
                    f"{attribute_length} bytes, expected 4"
                )
            fingerprint_value = _UINT32.unpack(value)[0]
            fingerprint_offset = offset
        elif attribute_type == _MESSAGE_INTEGRITY and state == _BEFORE_INTEGRITY:
            if attribute_length != 20:
                raise StunDecodeError(
                    f"invalid MESSAGE-INTEGRITY attribute at byte {offset}: length "
                    f"is {attribute_length} bytes, expected 20"
                )
            integrity = value
            integrity_offset = offset
            state = _AFTER_INTEGRITY
        elif (
            attribute_type == _MESSAGE_INTEGRITY_SHA256
            and state != _AFTER_INTEGRITY_SHA256
        ):
            # RFC 8489 section 14.6: at least 16 and at most 32 bytes, in
            # multiples of 4.
            if not 16 <= attribute_length <= 32 or attribute_length & 3:
                raise StunDecodeError(
                    f"invalid MESSAGE-INTEGRITY-SHA256 attribute at byte {offset}: "
                    f"length is {attribute_length} bytes, expected 16 to 32 in "
                    "multiples of 4"
                )
            integrity_sha256 = value
            integrity_sha256_offset = offset
            state = _AFTER_INTEGRITY_SHA256
        elif state != _BEFORE_INTEGRITY:
            ignored.append((attribute_type, value))
        else:
            append((attribute_type, value))

        offset = end + (-attribute_length & 3)

    message = StunMessage.__new__(StunMessage)
    method, message_class = decode_message_type(message_type)
    message.method = _METHODS.get(method, method)
    message.message_class = _CLASSES[message_class]
    message.transaction_id = transaction_id
    message.attributes = attributes
    message.ignored_attributes = ignored
    message.raw = data
    message.message_integrity = integrity
    message.message_integrity_sha256 = integrity_sha256
    message.fingerprint = fingerprint_value
    message._integrity_offset = integrity_offset
    message._integrity_sha256_offset = integrity_sha256_offset
    message._fingerprint_offset = fingerprint_offset
    return message
