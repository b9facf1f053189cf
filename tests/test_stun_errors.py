"""
Tests for L{twisted_ice.stun.errors}: the STUN error family and its codes.
"""

from __future__ import annotations

from twisted.trial import unittest

from twisted_ice.stun import (
    AddressFamilyNotSupported,
    AllocationMismatch,
    AllocationQuotaReached,
    BadRequest,
    ConnectionAlreadyExists,
    ConnectionTimeoutOrFailure,
    Forbidden,
    InsufficientCapacity,
    PeerAddressFamilyMismatch,
    RoleConflict,
    ServerError,
    StaleNonce,
    StunError,
    TryAlternate,
    Unauthorized,
    UnknownAttribute,
    UnsupportedTransportProtocol,
    WrongCredentials,
)

CODES: list[tuple[type[StunError], int, str]] = [
    (TryAlternate, 300, "Try Alternate"),
    (BadRequest, 400, "Bad Request"),
    (Unauthorized, 401, "Unauthenticated"),
    (Forbidden, 403, "Forbidden"),
    (UnknownAttribute, 420, "Unknown Attribute"),
    (AllocationMismatch, 437, "Allocation Mismatch"),
    (StaleNonce, 438, "Stale Nonce"),
    (AddressFamilyNotSupported, 440, "Address Family not Supported"),
    (WrongCredentials, 441, "Wrong Credentials"),
    (UnsupportedTransportProtocol, 442, "Unsupported Transport Protocol"),
    (PeerAddressFamilyMismatch, 443, "Peer Address Family Mismatch"),
    (ConnectionAlreadyExists, 446, "Connection Already Exists"),
    (ConnectionTimeoutOrFailure, 447, "Connection Timeout or Failure"),
    (AllocationQuotaReached, 486, "Allocation Quota Reached"),
    (RoleConflict, 487, "Role Conflict"),
    (ServerError, 500, "Server Error"),
    (InsufficientCapacity, 508, "Insufficient Capacity"),
]


class StunErrorTests(unittest.TestCase):
    """
    Each subclass carries its RFC code and reason phrase.
    """

    def test_codes(self) -> None:
        """
        Each subclass has its RFC code and default reason phrase.
        """
        for error_class, code, reason in CODES:
            error = error_class()
            self.assertEqual(error.code, code)
            self.assertEqual(error.reason, reason)
            self.assertIsInstance(error, StunError)

    def test_from_code(self) -> None:
        """
        L{StunError.from_code} returns the subclass of a known code.
        """
        for error_class, code, _reason in CODES:
            self.assertIs(type(StunError.from_code(code)), error_class)

    def test_from_unknown_code(self) -> None:
        """
        A code without a subclass gives a plain L{StunError}.
        """
        error = StunError.from_code(599, "Odd")
        self.assertIs(type(error), StunError)
        self.assertEqual(str(error), "599 Odd")

    def test_own_reason(self) -> None:
        """
        A reason phrase given replaces the RFC one.
        """
        error = StaleNonce("Nonce expired")
        self.assertEqual(error.reason, "Nonce expired")
        self.assertEqual(str(error), "438 Nonce expired")

    def test_unknown_attribute_types(self) -> None:
        """
        L{UnknownAttribute} carries the types for UNKNOWN-ATTRIBUTES.
        """
        error = UnknownAttribute((0x7F01, 0x0003))
        self.assertEqual(error.unknown_attributes, (0x7F01, 0x0003))
        self.assertEqual(error.code, 420)

    def test_code_range(self) -> None:
        """
        A code outside 300-699 is rejected.
        """
        error = self.assertRaises(ValueError, StunError, 200)
        self.assertEqual(str(error), "STUN error code 200 is not in the range 300-699")

    def test_generic_reason(self) -> None:
        """
        A code without an RFC phrase gets a generic one.
        """
        self.assertEqual(StunError(599).reason, "Error 599")
