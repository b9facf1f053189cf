"""
The zope.interface contracts between the parts of twisted-ice.

Each area keeps its contracts in its own section below.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

# --- STUN ------------------------------------------------------------------


class IStunMessage(Interface):
    """
    A decoded or locally built STUN message (RFC 8489).
    """

    method = Attribute("The 12-bit method, a L{twisted_ice.stun.Method} when known.")
    message_class = Attribute("The L{twisted_ice.stun.MessageClass}.")
    transaction_id = Attribute("The 12-byte transaction id, as L{bytes}.")
    attributes = Attribute(
        "The attributes that MESSAGE-INTEGRITY protects, in wire order, as a "
        "list of (type, value) pairs; a type may repeat."
    )

    def get(attribute_type: int) -> object | None:
        """
        Return the value of the first protected attribute of this type, or
        L{None}.
        """

    def check_integrity(key: bytes) -> bool:
        """
        Return whether MESSAGE-INTEGRITY (HMAC-SHA1) is present and valid for
        C{key}, compared in constant time.
        """

    def check_fingerprint() -> bool:
        """
        Return whether FINGERPRINT is present and matches the message.
        """

    def encode(integrity_key: bytes | None = None, fingerprint: bool = False) -> bytes:
        """
        Serialize the message, adding MESSAGE-INTEGRITY with C{integrity_key}
        and then FINGERPRINT when asked.
        """


# --- ICE -------------------------------------------------------------------


# --- TURN ------------------------------------------------------------------
