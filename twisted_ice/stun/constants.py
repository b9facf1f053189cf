"""
STUN protocol constants: the magic cookie, methods, classes and attribute types.
"""

from __future__ import annotations

import enum

MAGIC_COOKIE = 0x2112A442
"""
The fixed value at bytes 4-7 of every STUN message (RFC 8489 section 5).
"""

HEADER_LENGTH = 20
"""
The size of the STUN message header in bytes.
"""

FINGERPRINT_XOR = 0x5354554E
"""
The value XORed with the CRC-32 to form FINGERPRINT (RFC 8489 section 14.7).
"""


class Method(enum.IntEnum):
    """
    STUN methods (RFC 8489, RFC 8656, RFC 6062), 12 bits on the wire.
    """

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009
    CONNECT = 0x00A
    CONNECTION_BIND = 0x00B
    CONNECTION_ATTEMPT = 0x00C


class MessageClass(enum.IntEnum):
    """
    STUN message classes (RFC 8489 section 5), as the two bits C1 C0.
    """

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS_RESPONSE = 0b10
    ERROR_RESPONSE = 0b11


class AttributeType(enum.IntEnum):
    """
    STUN attribute types. Types below 0x8000 are comprehension-required.
    """

    # RFC 8489
    MAPPED_ADDRESS = 0x0001
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REALM = 0x0014
    NONCE = 0x0015
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    PASSWORD_ALGORITHMS = 0x8002
    ALTERNATE_DOMAIN = 0x8003
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028

    # RFC 8656 (TURN)
    CHANNEL_NUMBER = 0x000C
    LIFETIME = 0x000D
    XOR_PEER_ADDRESS = 0x0012
    DATA = 0x0013
    XOR_RELAYED_ADDRESS = 0x0016
    REQUESTED_ADDRESS_FAMILY = 0x0017
    EVEN_PORT = 0x0018
    REQUESTED_TRANSPORT = 0x0019
    DONT_FRAGMENT = 0x001A
    RESERVATION_TOKEN = 0x0022
    ADDITIONAL_ADDRESS_FAMILY = 0x8000
    ADDRESS_ERROR_CODE = 0x8001
    ICMP = 0x8004

    # RFC 6062 (TURN over TCP to peers)
    CONNECTION_ID = 0x002A

    # RFC 8445 (ICE)
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A

    # RFC 5780 (NAT behaviour discovery)
    RESPONSE_ORIGIN = 0x802B
    OTHER_ADDRESS = 0x802C


class AddressFamily(enum.IntEnum):
    """
    Address family values of address attributes and of REQUESTED-ADDRESS-FAMILY.
    """

    IPV4 = 0x01
    IPV6 = 0x02


class PasswordAlgorithmId(enum.IntEnum):
    """
    PASSWORD-ALGORITHM values (RFC 8489 section 18.5).
    """

    MD5 = 0x0001
    SHA256 = 0x0002


class TransportProtocol(enum.IntEnum):
    """
    REQUESTED-TRANSPORT values: IANA protocol numbers (RFC 8656, RFC 6062).
    """

    TCP = 6
    UDP = 17


def encode_message_type(method: int, message_class: int) -> int:
    """
    Return the 14-bit message type, with the class bits interleaved in the
    12-bit method as M11..M7 C1 M6..M4 C0 M3..M0 (RFC 8489 section 5).
    """
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 0b01) << 4)
        | ((message_class & 0b10) << 7)
    )


def decode_message_type(message_type: int) -> tuple[int, int]:
    """
    Return the C{(method, class)} that a 14-bit message type carries.
    """
    method = (
        (message_type & 0x000F)
        | ((message_type >> 1) & 0x0070)
        | ((message_type >> 2) & 0x0F80)
    )
    message_class = ((message_type >> 4) & 0b01) | ((message_type >> 7) & 0b10)
    return method, message_class
