"""
The plain STUN Binding responder (RFC 8489 section 6.3): answers Binding
requests that carry no USERNAME with the client's reflexive address.

Sans-I/O: bytes or a decoded message and the source address go in, the bytes
of the response come out, and the caller sends them to the source address.
"""

from __future__ import annotations

import socket
import struct
import zlib

from twisted_ice.addresses import Address
from twisted_ice.stun.constants import (
    FINGERPRINT_XOR,
    MAGIC_COOKIE,
    AttributeType,
    MessageClass,
)
from twisted_ice.stun.message import StunMessage

UNKNOWN_ATTRIBUTE = 420
"""The error code for an unknown comprehension-required attribute."""

_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
_PORT_XOR = MAGIC_COOKIE >> 16
_BINDING_SUCCESS = b"\x01\x01"
_FINGERPRINT_HEADER = b"\x80\x28\x00\x04"
_UINT32 = struct.Struct("!I")
_XOR_MAPPED_IPV4 = struct.Struct("!HHHHI")
_XOR_MAPPED_IPV6_HEAD = struct.Struct("!HHHH")
_IPV4_MAPPED_PREFIX = "::ffff:"


def unmap_ipv4(address: Address) -> Address:
    """
    Return C{address} with an IPv4-mapped IPv6 host (C{::ffff:192.0.2.1}), as a
    dual-stack socket reports IPv4 clients, replaced by the IPv4 host.
    """
    host = address[0]
    if host.startswith(_IPV4_MAPPED_PREFIX) and "." in host:
        return (host[len(_IPV4_MAPPED_PREFIX) :], address[1])
    return address


class BindingResponder:
    """
    Answers STUN Binding requests without USERNAME: a success with
    XOR-MAPPED-ADDRESS, or a 420 listing the unknown comprehension-required
    attributes.

    The success carries FINGERPRINT only when the request had one and
    SOFTWARE only when C{software} is set, so that a response reflected at a
    spoofed source stays as small as the request allows.

    @ivar software: the SOFTWARE value added to every response, or L{None}.
    """

    def __init__(self, software: str | None = None) -> None:
        """
        @param software: the SOFTWARE value added to every response, or
            L{None} (the default) for none.
        """
        self.software = software
        self._software_attribute = b""
        if software:
            self._software_attribute = _encode_software(software)

    def respond_fast(self, data: bytes, source: Address) -> bytes | None:
        """
        Build the success response to C{data} when it is a Binding request
        with no attribute, or with only a valid FINGERPRINT, and no decoding
        is needed.

        @param data: a datagram whose first byte is 0-3.
        @param source: the address C{data} came from.
        @return: the response bytes, or L{None} when C{data} is anything else
            (another message, a bad FINGERPRINT, a malformed message). The
            caller then decodes C{data} and routes it by its content.
        """
        length = len(data)
        if length == 20:
            if data[0] or data[1] != 1 or data[2] or data[3]:
                return None
            fingerprint = False
        elif length == 28:
            if data[:4] != b"\x00\x01\x00\x08" or data[20:24] != _FINGERPRINT_HEADER:
                return None
            expected = zlib.crc32(data[:20]) ^ FINGERPRINT_XOR
            if _UINT32.unpack_from(data, 24)[0] != expected:
                return None
            fingerprint = True
        else:
            return None
        if data[4:8] != _COOKIE_BYTES:
            return None
        return self._success(data[8:20], source, fingerprint)

    def respond(self, request: StunMessage, source: Address) -> bytes | None:
        """
        Build the response to a decoded Binding request without USERNAME.

        The caller has already dropped messages that fail the RFC 8489
        section 6.3 basic checks or carry a wrong FINGERPRINT.

        @param request: the decoded Binding request or indication.
        @param source: the address C{request} came from.
        @return: the response bytes: a 420 with UNKNOWN-ATTRIBUTES when the
            request has unknown comprehension-required attributes, a success
            otherwise. L{None} for an indication, which gets no response
            (RFC 8489 section 6.3.2).
        """
        if request.message_class is not MessageClass.REQUEST:
            return None
        unknown = request.unknown_comprehension_required()
        if unknown:
            response = request.error_response(
                UNKNOWN_ATTRIBUTE,
                attributes=[(AttributeType.UNKNOWN_ATTRIBUTES, tuple(unknown))],
            )
            if self.software:
                response.add(AttributeType.SOFTWARE, self.software)
            return response.encode(fingerprint=request.has_fingerprint)
        return self._success(
            request.transaction_id, source, bool(request.has_fingerprint)
        )

    def _success(
        self, transaction_id: bytes, source: Address, fingerprint: bool
    ) -> bytes:
        """
        Encode a Binding success response with XOR-MAPPED-ADDRESS for
        C{source}, then SOFTWARE and FINGERPRINT as configured and asked.

        This is the codec's encoding written out by hand, because it runs for
        every plain Binding request and is the server's hottest path.
        """
        host, port = unmap_ipv4(source)
        if ":" in host:
            packed = socket.inet_pton(socket.AF_INET6, host)
            key = _COOKIE_BYTES + transaction_id
            xored = bytes(a ^ b for a, b in zip(packed, key, strict=True))
            mapped = (
                _XOR_MAPPED_IPV6_HEAD.pack(
                    AttributeType.XOR_MAPPED_ADDRESS, 20, 0x0002, port ^ _PORT_XOR
                )
                + xored
            )
        else:
            address = _UINT32.unpack(socket.inet_aton(host))[0]
            mapped = _XOR_MAPPED_IPV4.pack(
                AttributeType.XOR_MAPPED_ADDRESS,
                8,
                0x0001,
                port ^ _PORT_XOR,
                address ^ MAGIC_COOKIE,
            )
        body = mapped + self._software_attribute
        if not fingerprint:
            return (
                _BINDING_SUCCESS
                + len(body).to_bytes(2, "big")
                + _COOKIE_BYTES
                + transaction_id
                + body
            )
        message = (
            _BINDING_SUCCESS
            + (len(body) + 8).to_bytes(2, "big")
            + _COOKIE_BYTES
            + transaction_id
            + body
        )
        crc = zlib.crc32(message) ^ FINGERPRINT_XOR
        return message + _FINGERPRINT_HEADER + _UINT32.pack(crc)


def _encode_software(software: str) -> bytes:
    """
    Encode a SOFTWARE attribute, padded to 4 bytes with zeros.

    RFC 8489 section 14.14 limits the value to 763 bytes.
    """
    value = software.encode("utf-8")
    if len(value) > 763:
        raise ValueError(f"SOFTWARE is {len(value)} bytes long; the maximum is 763")
    padding = b"\x00" * (-len(value) % 4)
    header = struct.pack("!HH", AttributeType.SOFTWARE, len(value))
    return header + value + padding
