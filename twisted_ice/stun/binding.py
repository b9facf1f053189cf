"""
The plain STUN Binding responder (RFC 8489 section 6.3): responds to Binding
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
_PLAIN_REQUEST = b"\x00\x01\x00\x00" + _COOKIE_BYTES
_FINGERPRINT_REQUEST = b"\x00\x01\x00\x08" + _COOKIE_BYTES
_FINGERPRINT_HEADER = b"\x80\x28\x00\x04"
_BINDING_SUCCESS = 0x0101
_XOR_MAPPED_ADDRESS = int(AttributeType.XOR_MAPPED_ADDRESS)
_FAMILY_IPV4 = 0x01
_FAMILY_IPV6 = 0x02
_UINT32 = struct.Struct("!I")
# The header and XOR-MAPPED-ADDRESS of a success response in one pack:
# message type, length, cookie, transaction id, then attribute type, length,
# family, X-Port and X-Address (RFC 8489 sections 5 and 14.2).
_IPV4_SUCCESS = struct.Struct("!HHI12sHHHHI")
_IPV6_SUCCESS = struct.Struct("!HHI12sHHHH16s")
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
    Responds to STUN Binding requests without USERNAME: a success with
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
            if data.startswith(_PLAIN_REQUEST):
                return self._success(data[8:20], source, False)
            return None
        if (
            length == 28
            and data.startswith(_FINGERPRINT_REQUEST)
            and data.startswith(_FINGERPRINT_HEADER, 20)
            and _UINT32.unpack_from(data, 24)[0]
            == zlib.crc32(data[:20]) ^ FINGERPRINT_XOR
        ):
            return self._success(data[8:20], source, True)
        return None

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
        host, port = source
        extra = len(self._software_attribute) + (8 if fingerprint else 0)
        if host.startswith(_IPV4_MAPPED_PREFIX) and "." in host:
            host = host[len(_IPV4_MAPPED_PREFIX) :]
        if ":" not in host:
            address = int.from_bytes(socket.inet_aton(host), "big")
            message = _IPV4_SUCCESS.pack(
                _BINDING_SUCCESS,
                12 + extra,
                MAGIC_COOKIE,
                transaction_id,
                _XOR_MAPPED_ADDRESS,
                8,
                _FAMILY_IPV4,
                port ^ _PORT_XOR,
                address ^ MAGIC_COOKIE,
            )
        else:
            address = int.from_bytes(socket.inet_pton(socket.AF_INET6, host), "big")
            key = int.from_bytes(_COOKIE_BYTES + transaction_id, "big")
            message = _IPV6_SUCCESS.pack(
                _BINDING_SUCCESS,
                24 + extra,
                MAGIC_COOKIE,
                transaction_id,
                _XOR_MAPPED_ADDRESS,
                20,
                _FAMILY_IPV6,
                port ^ _PORT_XOR,
                (address ^ key).to_bytes(16, "big"),
            )
        if self._software_attribute:
            message += self._software_attribute
        if fingerprint:
            crc = zlib.crc32(message) ^ FINGERPRINT_XOR
            message += _FINGERPRINT_HEADER + _UINT32.pack(crc)
        return message


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
