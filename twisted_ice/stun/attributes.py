"""
Packing and unpacking of STUN attribute values, one pair of functions per value
kind, and the table that maps each attribute type to its pair.

An unpack function takes the attribute value (without padding) and the
transaction id, and returns the typed value or raises L{ValueError} with a
message that the decoder prefixes with the attribute name. A pack function
takes the typed value and the transaction id and returns the value bytes,
raising L{ValueError} or L{TypeError} for a value it cannot encode.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

from twisted_ice.addresses import Address
from twisted_ice.stun.constants import MAGIC_COOKIE, AddressFamily, AttributeType
from twisted_ice.stun.values import AddressErrorCode, ErrorCode, Icmp, PasswordAlgorithm

Unpack = Callable[[bytes, bytes], Any]
Pack = Callable[[Any, bytes], bytes]

_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
_PORT_XOR = MAGIC_COOKIE >> 16

_ADDRESS_HEADER = struct.Struct("!xBH")
_ERROR_CODE_HEADER = struct.Struct("!HBB")
_ADDRESS_ERROR_CODE_HEADER = struct.Struct("!BBBB")
_PASSWORD_ALGORITHM_HEADER = struct.Struct("!HH")
_ICMP = struct.Struct("!2xBBI")
_UINT8_PADDED = struct.Struct("!B3x")
_UINT16_PADDED = struct.Struct("!H2x")
_UINT32 = struct.Struct("!I")
_UINT64 = struct.Struct("!Q")

_inet_ntoa = socket.inet_ntoa
_inet_ntop = socket.inet_ntop
_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6


def _check_length(value: bytes, expected: int) -> None:
    if len(value) != expected:
        raise ValueError(f"length is {len(value)} bytes, expected {expected}")


# --- Addresses --------------------------------------------------------------


def _split_address(value: bytes) -> tuple[int, int]:
    """
    Return the family and port of an address value after checking that its
    length matches the family (RFC 8489 section 14.1).
    """
    length = len(value)
    if length < 4:
        raise ValueError(f"length is {length} bytes, shorter than the 4-byte header")
    family, port = _ADDRESS_HEADER.unpack_from(value)
    if family == AddressFamily.IPV4:
        if length != 8:
            raise ValueError(f"length is {length} bytes, but an IPv4 address takes 8")
    elif family == AddressFamily.IPV6:
        if length != 20:
            raise ValueError(f"length is {length} bytes, but an IPv6 address takes 20")
    else:
        raise ValueError(f"address family 0x{family:02x} is neither IPv4 nor IPv6")
    return family, port


def unpack_address(value: bytes, transaction_id: bytes) -> Address:
    """
    Unpack MAPPED-ADDRESS and the other plain address attributes.
    """
    family, port = _split_address(value)
    if family == AddressFamily.IPV4:
        return (_inet_ntoa(value[4:8]), port)
    return (_inet_ntop(_AF_INET6, value[4:20]), port)


def unpack_xor_address(value: bytes, transaction_id: bytes) -> Address:
    """
    Unpack XOR-MAPPED-ADDRESS and the other XOR address attributes: the port is
    XORed with the cookie's top 16 bits, an IPv4 address with the cookie, and
    an IPv6 address with the cookie and the transaction id (RFC 8489 section
    14.2).
    """
    family, port = _split_address(value)
    port ^= _PORT_XOR
    if family == AddressFamily.IPV4:
        host = int.from_bytes(value[4:8], "big") ^ MAGIC_COOKIE
        return (_inet_ntoa(host.to_bytes(4, "big")), port)
    mask = int.from_bytes(_COOKIE_BYTES + transaction_id, "big")
    host = int.from_bytes(value[4:20], "big") ^ mask
    return (_inet_ntop(_AF_INET6, host.to_bytes(16, "big")), port)


def _host_bytes(address: Address) -> tuple[int, bytes]:
    host, port = address
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} is not in the range 0-65535")
    try:
        if ":" in host:
            return AddressFamily.IPV6, _inet_pton(_AF_INET6, host)
        return AddressFamily.IPV4, _inet_pton(_AF_INET, host)
    except OSError:
        raise ValueError(f"host {host!r} is not an IPv4 or IPv6 address") from None


def pack_address(value: Address, transaction_id: bytes) -> bytes:
    """
    Pack a plain address attribute value.
    """
    family, host = _host_bytes(value)
    return _ADDRESS_HEADER.pack(family, value[1]) + host


def pack_xor_address(value: Address, transaction_id: bytes) -> bytes:
    """
    Pack an XOR address attribute value.
    """
    family, host = _host_bytes(value)
    port = value[1] ^ _PORT_XOR
    if family == AddressFamily.IPV4:
        masked = int.from_bytes(host, "big") ^ MAGIC_COOKIE
        return _ADDRESS_HEADER.pack(family, port) + masked.to_bytes(4, "big")
    mask = int.from_bytes(_COOKIE_BYTES + transaction_id, "big")
    masked = int.from_bytes(host, "big") ^ mask
    return _ADDRESS_HEADER.pack(family, port) + masked.to_bytes(16, "big")


# --- Text -------------------------------------------------------------------


# RFC 8489 sections 14.3, 14.8, 14.9, 14.10 and 14.14: a receiver accepts
# USERNAME, REALM, NONCE, SOFTWARE and reason phrases of up to 763 bytes, the
# RFC 5389 limit. A sender keeps USERNAME below 509 bytes and the others below
# 128 characters.
_MAX_RECEIVED_TEXT_BYTES = 763
_MAX_USERNAME_BYTES = 508
_MAX_TEXT_CHARACTERS = 127

# RFC 8489 section 14.16: ALTERNATE-DOMAIN is a DNS name of at most 255 ASCII
# characters.
_MAX_DOMAIN_LENGTH = 255


def _decode_utf8(value: bytes, what: str) -> str:
    if len(value) > _MAX_RECEIVED_TEXT_BYTES:
        raise ValueError(
            f"{what} is {len(value)} bytes, longer than the maximum "
            f"{_MAX_RECEIVED_TEXT_BYTES}"
        )
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"invalid UTF-8 in the {what} at byte {e.start}") from None


def _encode_utf8(value: str, what: str) -> bytes:
    if len(value) > _MAX_TEXT_CHARACTERS:
        raise ValueError(
            f"{what} is {len(value)} characters, longer than the maximum "
            f"{_MAX_TEXT_CHARACTERS}"
        )
    return value.encode("utf-8")


def unpack_text(value: bytes, transaction_id: bytes) -> str:
    """
    Unpack USERNAME, REALM, NONCE or SOFTWARE: UTF-8 of at most 763 bytes.
    """
    return _decode_utf8(value, "text")


def pack_text(value: str, transaction_id: bytes) -> bytes:
    """
    Pack REALM, NONCE or SOFTWARE: fewer than 128 characters.
    """
    return _encode_utf8(value, "text")


def pack_username(value: str, transaction_id: bytes) -> bytes:
    """
    Pack USERNAME: fewer than 509 bytes of UTF-8.
    """
    encoded = value.encode("utf-8")
    if len(encoded) > _MAX_USERNAME_BYTES:
        raise ValueError(
            f"username is {len(encoded)} bytes in UTF-8, longer than the maximum "
            f"{_MAX_USERNAME_BYTES}"
        )
    return encoded


def unpack_domain(value: bytes, transaction_id: bytes) -> str:
    """
    Unpack ALTERNATE-DOMAIN: at most 255 ASCII characters.

    NOTE: the DNS name syntax (labels, A-labels) is not checked.
    """
    if len(value) > _MAX_DOMAIN_LENGTH:
        raise ValueError(
            f"domain is {len(value)} bytes, longer than the maximum "
            f"{_MAX_DOMAIN_LENGTH}"
        )
    try:
        return value.decode("ascii")
    except UnicodeDecodeError as e:
        raise ValueError(f"domain has a non-ASCII byte at byte {e.start}") from None


def pack_domain(value: str, transaction_id: bytes) -> bytes:
    """
    Pack ALTERNATE-DOMAIN.
    """
    if len(value) > _MAX_DOMAIN_LENGTH:
        raise ValueError(
            f"domain is {len(value)} characters, longer than the maximum "
            f"{_MAX_DOMAIN_LENGTH}"
        )
    try:
        return value.encode("ascii")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"domain has a non-ASCII character at position {e.start}"
        ) from None


# --- Error codes ------------------------------------------------------------


def _split_code(error_class: int, number: int) -> int:
    error_class &= 0x07
    if not 3 <= error_class <= 6 or number > 99:
        raise ValueError(
            f"class {error_class} and number {number} do not form an error code "
            "in the range 300-699"
        )
    return error_class * 100 + number


def _check_code(code: int) -> None:
    if not 300 <= code <= 699:
        raise ValueError(f"error code {code} is not in the range 300-699")


def _pack_reason(reason: str) -> bytes:
    return _encode_utf8(reason, "reason phrase")


def _unpack_reason(value: bytes) -> str:
    return _decode_utf8(value, "reason phrase")


def unpack_error_code(value: bytes, transaction_id: bytes) -> ErrorCode:
    """
    Unpack ERROR-CODE: 21 reserved bits, a 3-bit class, an 8-bit number and
    the reason phrase (RFC 8489 section 14.8).
    """
    if len(value) < 4:
        raise ValueError(f"length is {len(value)} bytes, shorter than the minimum 4")
    _reserved, error_class, number = _ERROR_CODE_HEADER.unpack_from(value)
    return ErrorCode(_split_code(error_class, number), _unpack_reason(value[4:]))


def pack_error_code(value: ErrorCode, transaction_id: bytes) -> bytes:
    """
    Pack ERROR-CODE.
    """
    code, reason = value
    _check_code(code)
    return _ERROR_CODE_HEADER.pack(0, code // 100, code % 100) + _pack_reason(reason)


def unpack_address_error_code(value: bytes, transaction_id: bytes) -> AddressErrorCode:
    """
    Unpack ADDRESS-ERROR-CODE: an 8-bit family, 13 reserved bits, then class,
    number and reason as in ERROR-CODE (RFC 8656 section 18.12).
    """
    if len(value) < 4:
        raise ValueError(f"length is {len(value)} bytes, shorter than the minimum 4")
    family, _reserved, error_class, number = _ADDRESS_ERROR_CODE_HEADER.unpack_from(
        value
    )
    code = _split_code(error_class, number)
    return AddressErrorCode(family, code, _unpack_reason(value[4:]))


def pack_address_error_code(value: AddressErrorCode, transaction_id: bytes) -> bytes:
    """
    Pack ADDRESS-ERROR-CODE.
    """
    family, code, reason = value
    _check_code(code)
    header = _ADDRESS_ERROR_CODE_HEADER.pack(family, 0, code // 100, code % 100)
    return header + _pack_reason(reason)


def unpack_unknown_attributes(value: bytes, transaction_id: bytes) -> tuple[int, ...]:
    """
    Unpack UNKNOWN-ATTRIBUTES, a list of 16-bit types (RFC 8489 section 14.13).
    """
    if len(value) % 2:
        raise ValueError(f"length is {len(value)} bytes, not a multiple of 2")
    return struct.unpack(f"!{len(value) // 2}H", value)


def pack_unknown_attributes(value: tuple[int, ...], transaction_id: bytes) -> bytes:
    """
    Pack UNKNOWN-ATTRIBUTES.
    """
    return struct.pack(f"!{len(value)}H", *value)


# --- Password algorithms ----------------------------------------------------


def _unpack_password_algorithm_at(
    value: bytes, offset: int
) -> tuple[PasswordAlgorithm, int]:
    """
    Return the algorithm at C{offset} and the offset after its padded
    parameters.
    """
    if len(value) - offset < 4:
        raise ValueError(
            f"algorithm at byte {offset} is cut short: {len(value) - offset} bytes "
            "left, 4 needed"
        )
    algorithm, parameters_length = _PASSWORD_ALGORITHM_HEADER.unpack_from(value, offset)
    start = offset + 4
    end = start + parameters_length
    if end > len(value):
        raise ValueError(
            f"parameters of {parameters_length} bytes at byte {start} run past the "
            "end of the value"
        )
    padded_end = min(end + (-parameters_length & 3), len(value))
    return PasswordAlgorithm(algorithm, value[start:end]), padded_end


def unpack_password_algorithm(value: bytes, transaction_id: bytes) -> PasswordAlgorithm:
    """
    Unpack PASSWORD-ALGORITHM (RFC 8489 section 14.12).
    """
    algorithm, end = _unpack_password_algorithm_at(value, 0)
    if end != len(value):
        raise ValueError(f"{len(value) - end} bytes follow the algorithm parameters")
    return algorithm


def unpack_password_algorithms(
    value: bytes, transaction_id: bytes
) -> tuple[PasswordAlgorithm, ...]:
    """
    Unpack PASSWORD-ALGORITHMS, a list of algorithms whose parameters are each
    padded to 4 bytes (RFC 8489 section 14.11).
    """
    algorithms = []
    offset = 0
    while offset < len(value):
        algorithm, offset = _unpack_password_algorithm_at(value, offset)
        algorithms.append(algorithm)
    return tuple(algorithms)


def _pack_one_password_algorithm(value: PasswordAlgorithm, padded: bool) -> bytes:
    algorithm, parameters = value
    packed = _PASSWORD_ALGORITHM_HEADER.pack(algorithm, len(parameters)) + parameters
    if padded:
        packed += bytes(-len(parameters) & 3)
    return packed


def pack_password_algorithm(value: PasswordAlgorithm, transaction_id: bytes) -> bytes:
    """
    Pack PASSWORD-ALGORITHM.
    """
    return _pack_one_password_algorithm(value, padded=False)


def pack_password_algorithms(
    value: tuple[PasswordAlgorithm, ...], transaction_id: bytes
) -> bytes:
    """
    Pack PASSWORD-ALGORITHMS.
    """
    return b"".join(_pack_one_password_algorithm(each, padded=True) for each in value)


# --- Numbers, flags and opaque bytes ----------------------------------------


def _int_unpacker(packing: struct.Struct) -> Unpack:
    size = packing.size
    unpack = packing.unpack

    def unpack_int(value: bytes, transaction_id: bytes) -> int:
        if len(value) != size:
            raise ValueError(f"length is {len(value)} bytes, expected {size}")
        number: int = unpack(value)[0]
        return number

    return unpack_int


def _int_packer(packing: struct.Struct, bits: int) -> Pack:
    pack = packing.pack

    def pack_int(value: int, transaction_id: bytes) -> bytes:
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{value} is not an unsigned {bits}-bit integer")
        return pack(value)

    return pack_int


def unpack_even_port(value: bytes, transaction_id: bytes) -> bool:
    """
    Unpack EVEN-PORT: the R bit, the top bit of its one byte (RFC 8656
    section 18.7).
    """
    _check_length(value, 1)
    return bool(value[0] & 0x80)


def pack_even_port(value: bool, transaction_id: bytes) -> bytes:
    """
    Pack EVEN-PORT.
    """
    return b"\x80" if value else b"\x00"


def unpack_flag(value: bytes, transaction_id: bytes) -> bool:
    """
    Unpack an attribute without a value, such as USE-CANDIDATE.
    """
    if value:
        raise ValueError(f"length is {len(value)} bytes, expected 0")
    return True


def pack_flag(value: bool, transaction_id: bytes) -> bytes:
    """
    Pack an attribute without a value. Its value must be L{True}.
    """
    if value is not True:
        raise ValueError(f"a flag attribute takes the value True, not {value!r}")
    return b""


def unpack_bytes(value: bytes, transaction_id: bytes) -> bytes:
    """
    Unpack an opaque value such as DATA.
    """
    return value


def pack_bytes(value: bytes, transaction_id: bytes) -> bytes:
    """
    Pack an opaque value.
    """
    if not isinstance(value, bytes):
        raise TypeError(f"value must be bytes, not {type(value).__name__}")
    return value


def _fixed_bytes_unpacker(size: int) -> Unpack:
    def unpack_fixed_bytes(value: bytes, transaction_id: bytes) -> bytes:
        _check_length(value, size)
        return value

    return unpack_fixed_bytes


def _fixed_bytes_packer(size: int) -> Pack:
    def pack_fixed_bytes(value: bytes, transaction_id: bytes) -> bytes:
        if not isinstance(value, bytes):
            raise TypeError(f"value must be bytes, not {type(value).__name__}")
        if len(value) != size:
            raise ValueError(f"value is {len(value)} bytes, expected {size}")
        return value

    return pack_fixed_bytes


def unpack_icmp(value: bytes, transaction_id: bytes) -> Icmp:
    """
    Unpack ICMP: 16 reserved bits, type, code and 32 bits of error data (RFC
    8656 section 18.13).

    NOTE: the RFC's figure draws the type 7 bits and the code 9 bits wide.
    This codec reads them as one byte each, the size of both fields in ICMPv4
    and ICMPv6.
    """
    _check_length(value, 8)
    icmp_type, icmp_code, data = _ICMP.unpack(value)
    return Icmp(icmp_type, icmp_code, data)


def pack_icmp(value: Icmp, transaction_id: bytes) -> bytes:
    """
    Pack ICMP.
    """
    return _ICMP.pack(*value)


# --- The table --------------------------------------------------------------

_text = (unpack_text, pack_text)
_address = (unpack_address, pack_address)
_xor_address = (unpack_xor_address, pack_xor_address)
_uint8 = (_int_unpacker(_UINT8_PADDED), _int_packer(_UINT8_PADDED, 8))
_uint16 = (_int_unpacker(_UINT16_PADDED), _int_packer(_UINT16_PADDED, 16))
_uint32 = (_int_unpacker(_UINT32), _int_packer(_UINT32, 32))
_uint64 = (_int_unpacker(_UINT64), _int_packer(_UINT64, 64))
_flag = (unpack_flag, pack_flag)

ATTRIBUTE_KINDS: tuple[tuple[AttributeType, Unpack, Pack], ...] = (
    (AttributeType.MAPPED_ADDRESS, *_address),
    (AttributeType.ALTERNATE_SERVER, *_address),
    (AttributeType.RESPONSE_ORIGIN, *_address),
    (AttributeType.OTHER_ADDRESS, *_address),
    (AttributeType.XOR_MAPPED_ADDRESS, *_xor_address),
    (AttributeType.XOR_PEER_ADDRESS, *_xor_address),
    (AttributeType.XOR_RELAYED_ADDRESS, *_xor_address),
    (AttributeType.USERNAME, unpack_text, pack_username),
    (AttributeType.REALM, *_text),
    (AttributeType.NONCE, *_text),
    (AttributeType.SOFTWARE, *_text),
    (AttributeType.ALTERNATE_DOMAIN, unpack_domain, pack_domain),
    (AttributeType.ERROR_CODE, unpack_error_code, pack_error_code),
    (
        AttributeType.UNKNOWN_ATTRIBUTES,
        unpack_unknown_attributes,
        pack_unknown_attributes,
    ),
    (AttributeType.CHANNEL_NUMBER, *_uint16),
    (AttributeType.LIFETIME, *_uint32),
    (AttributeType.PRIORITY, *_uint32),
    (AttributeType.CONNECTION_ID, *_uint32),
    (AttributeType.REQUESTED_TRANSPORT, *_uint8),
    (AttributeType.REQUESTED_ADDRESS_FAMILY, *_uint8),
    (AttributeType.ADDITIONAL_ADDRESS_FAMILY, *_uint8),
    (AttributeType.ICE_CONTROLLED, *_uint64),
    (AttributeType.ICE_CONTROLLING, *_uint64),
    (AttributeType.DATA, unpack_bytes, pack_bytes),
    (
        AttributeType.RESERVATION_TOKEN,
        _fixed_bytes_unpacker(8),
        _fixed_bytes_packer(8),
    ),
    (AttributeType.USERHASH, _fixed_bytes_unpacker(32), _fixed_bytes_packer(32)),
    (AttributeType.EVEN_PORT, unpack_even_port, pack_even_port),
    (AttributeType.USE_CANDIDATE, *_flag),
    (AttributeType.DONT_FRAGMENT, *_flag),
    (
        AttributeType.PASSWORD_ALGORITHM,
        unpack_password_algorithm,
        pack_password_algorithm,
    ),
    (
        AttributeType.PASSWORD_ALGORITHMS,
        unpack_password_algorithms,
        pack_password_algorithms,
    ),
    (
        AttributeType.ADDRESS_ERROR_CODE,
        unpack_address_error_code,
        pack_address_error_code,
    ),
    (AttributeType.ICMP, unpack_icmp, pack_icmp),
)
"""
One row per attribute type with a typed value: the type, its unpack function
and its pack function. MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and
FINGERPRINT are handled by the message codec itself.
"""

UNPACKERS: dict[int, tuple[AttributeType, Unpack]] = {
    attribute_type: (attribute_type, unpack)
    for attribute_type, unpack, _pack in ATTRIBUTE_KINDS
}
PACKERS: dict[int, Pack] = {
    attribute_type: pack for attribute_type, _unpack, pack in ATTRIBUTE_KINDS
}

KNOWN_TYPES: frozenset[int] = frozenset(UNPACKERS) | {
    AttributeType.MESSAGE_INTEGRITY,
    AttributeType.MESSAGE_INTEGRITY_SHA256,
    AttributeType.FINGERPRINT,
}
"""
Every attribute type the codec understands.
"""


def attribute_name(attribute_type: int) -> str:
    """
    Return the RFC name of an attribute type (C{XOR-MAPPED-ADDRESS}), or its
    hex value when the codec does not know it.
    """
    try:
        return AttributeType(attribute_type).name.replace("_", "-")
    except ValueError:
        return f"0x{attribute_type:04X}"
