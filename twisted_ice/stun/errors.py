# The error classes carry the RFC names of the codes, without an Error suffix.
# ruff: noqa: N818
"""
The errors of the STUN codec and the STUN error codes a server sends.

L{StunDecodeError} is the receive-path error: bytes that are not a valid STUN
message. L{StunError} and its subclasses are protocol errors that a service
raises while handling a valid request and turns into an error response with
the code they carry.
"""

from __future__ import annotations

from typing import ClassVar


class StunDecodeError(ValueError):
    """
    Bytes failed the basic checks of RFC 8489 section 6.3, or an attribute
    value is malformed. A receiver drops such a message silently.
    """


REASON_PHRASES: dict[int, str] = {
    300: "Try Alternate",
    400: "Bad Request",
    401: "Unauthenticated",
    403: "Forbidden",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    446: "Connection Already Exists",
    447: "Connection Timeout or Failure",
    486: "Allocation Quota Reached",
    487: "Role Conflict",
    500: "Server Error",
    508: "Insufficient Capacity",
}
"""
The reason phrases that RFC 8489, RFC 8656, RFC 6062 and RFC 8445 give each
error code.
"""


def default_reason(code: int) -> str:
    """
    Return the RFC reason phrase of C{code}, or a generic one for a code that
    has none.
    """
    phrase = REASON_PHRASES.get(code)
    if phrase is not None:
        return phrase
    return f"Error {code}"


class StunError(Exception):
    """
    A STUN protocol error carrying the error code and reason phrase of the
    error response it becomes.

    @ivar code: The error code, 300 to 699.
    @ivar reason: The reason phrase, the RFC's one unless given.
    """

    code: int
    reason: str

    def __init__(self, code: int, reason: str | None = None) -> None:
        if not 300 <= code <= 699:
            raise ValueError(f"STUN error code {code} is not in the range 300-699")
        self.code = code
        self.reason = default_reason(code) if reason is None else reason
        super().__init__(code, self.reason)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}"

    @staticmethod
    def from_code(code: int, reason: str | None = None) -> StunError:
        """
        Return an instance of the subclass for C{code}, or a plain
        L{StunError} for a code without one.
        """
        error_class = _ERRORS_BY_CODE.get(code)
        if error_class is None:
            return StunError(code, reason)
        return error_class(reason=reason)


class _CodedStunError(StunError):
    """
    A L{StunError} whose subclass fixes the code.
    """

    error_code: ClassVar[int] = 500

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(self.error_code, reason)


class TryAlternate(_CodedStunError):
    """
    300: the client should use the server in ALTERNATE-SERVER.
    """

    error_code = 300


class BadRequest(_CodedStunError):
    """
    400: the request was malformed.
    """

    error_code = 400


class Unauthorized(_CodedStunError):
    """
    401: the request lacked valid credentials ("Unauthenticated" in RFC 8489).
    """

    error_code = 401


class Forbidden(_CodedStunError):
    """
    403: the request was valid but is not allowed.
    """

    error_code = 403


class UnknownAttribute(_CodedStunError):
    """
    420: the request had comprehension-required attributes the server does not
    understand.

    @ivar unknown_attributes: The attribute types to list in
        UNKNOWN-ATTRIBUTES.
    """

    error_code = 420

    def __init__(
        self, unknown_attributes: tuple[int, ...] = (), reason: str | None = None
    ) -> None:
        super().__init__(reason)
        self.unknown_attributes = tuple(unknown_attributes)


class AllocationMismatch(_CodedStunError):
    """
    437: the request conflicts with the state of the allocation (RFC 8656).
    """

    error_code = 437


class StaleNonce(_CodedStunError):
    """
    438: the NONCE is no longer valid, so the client retries with the new one.
    """

    error_code = 438


class AddressFamilyNotSupported(_CodedStunError):
    """
    440: the server does not support the requested address family (RFC 8656).
    """

    error_code = 440


class WrongCredentials(_CodedStunError):
    """
    441: the credentials differ from those of the allocation (RFC 8656).
    """

    error_code = 441


class UnsupportedTransportProtocol(_CodedStunError):
    """
    442: the server does not support the REQUESTED-TRANSPORT (RFC 8656).
    """

    error_code = 442


class PeerAddressFamilyMismatch(_CodedStunError):
    """
    443: the peer address family differs from the relayed one (RFC 8656).
    """

    error_code = 443


class ConnectionAlreadyExists(_CodedStunError):
    """
    446: a connection to that peer already exists (RFC 6062).
    """

    error_code = 446


class ConnectionTimeoutOrFailure(_CodedStunError):
    """
    447: the connection to the peer failed or timed out (RFC 6062).
    """

    error_code = 447


class AllocationQuotaReached(_CodedStunError):
    """
    486: the user has no more allocations left (RFC 8656).
    """

    error_code = 486


class RoleConflict(_CodedStunError):
    """
    487: both ICE agents claim the same role (RFC 8445).
    """

    error_code = 487


class ServerError(_CodedStunError):
    """
    500: the server failed temporarily.
    """

    error_code = 500


class InsufficientCapacity(_CodedStunError):
    """
    508: the server has no capacity left for the allocation (RFC 8656).
    """

    error_code = 508


_ERRORS_BY_CODE: dict[int, type[_CodedStunError]] = {
    error_class.error_code: error_class
    for error_class in (
        TryAlternate,
        BadRequest,
        Unauthorized,
        Forbidden,
        UnknownAttribute,
        AllocationMismatch,
        StaleNonce,
        AddressFamilyNotSupported,
        WrongCredentials,
        UnsupportedTransportProtocol,
        PeerAddressFamilyMismatch,
        ConnectionAlreadyExists,
        ConnectionTimeoutOrFailure,
        AllocationQuotaReached,
        RoleConflict,
        ServerError,
        InsufficientCapacity,
    )
}
