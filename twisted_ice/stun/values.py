"""
The structured values of STUN attributes that are more than one field.
"""

from __future__ import annotations

from typing import NamedTuple


class ErrorCode(NamedTuple):
    """
    The value of ERROR-CODE (RFC 8489 section 14.8).

    @ivar code: The error code, 300 to 699.
    @ivar reason: The UTF-8 reason phrase.
    """

    code: int
    reason: str


class PasswordAlgorithm(NamedTuple):
    """
    The value of PASSWORD-ALGORITHM and one entry of PASSWORD-ALGORITHMS
    (RFC 8489 sections 14.11 and 14.12).

    @ivar algorithm: A L{twisted_ice.stun.PasswordAlgorithmId} value.
    @ivar parameters: The algorithm parameters, empty for MD5 and SHA-256.
    """

    algorithm: int
    parameters: bytes = b""


class AddressErrorCode(NamedTuple):
    """
    The value of ADDRESS-ERROR-CODE (RFC 8656 section 18.12).

    @ivar family: The L{twisted_ice.stun.AddressFamily} the error is about.
    @ivar code: The error code, 300 to 699.
    @ivar reason: The UTF-8 reason phrase.
    """

    family: int
    code: int
    reason: str


class Icmp(NamedTuple):
    """
    The value of ICMP (RFC 8656 section 18.13).

    @ivar type: The ICMP type, 0 to 255.
    @ivar code: The ICMP code, 0 to 255.
    @ivar data: The 32-bit error data field of the ICMP message, as an
        unsigned integer.
    """

    type: int
    code: int
    data: int
