"""
The zope.interface contracts between the parts of twisted-ice.

Each area keeps its contracts in its own section below.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

from twisted_ice.addresses import Path

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


# --- The muxes and the services behind them ---------------------------------
#
# The UDP mux (and the TCP/TLS mux) classify what arrives and hand it to the
# services below. Each service writes what it sends through an IPathWriter, so
# the same service works on UDP, TCP and TLS paths.


class IPathWriter(Interface):
    """
    Something that sends bytes to a client on one of its paths.
    """

    def write_to(data: bytes, path: Path) -> None:
        """
        Send one STUN message, ChannelData message or media packet to
        C{path.remote} over C{path}. Stream transports add their own framing.
        Unknown or closed paths drop the data.
        """


class IStunService(Interface):
    """
    A service that STUN messages are routed to.
    """

    def stun_received(message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Handle one decoded STUN message that arrived on C{path}; C{data} is its
        encoded form. Responses are sent through the service's IPathWriter.
        Never raises.
        """


class IIceService(IStunService):
    """
    The lite ICE agent as the muxes see it.
    """

    def is_local_ufrag(ufrag: str) -> bool:
        """
        Return whether C{ufrag} is a local ICE username fragment of a live
        stream.
        """

    def media_received(data: bytes, path: Path) -> bool:
        """
        Hand one DTLS, RTP or RTCP packet to the stream that C{path} belongs to.
        Return L{False}, and do nothing else, when C{path} has not passed a
        check.
        """


class ITurnService(IStunService):
    """
    The TURN server as the muxes see it.
    """

    def channel_data_received(data: bytes, path: Path) -> None:
        """
        Handle one ChannelData message (its padding included on stream
        transports) that arrived on C{path}. Never raises.
        """

    def path_closed(path: Path) -> None:
        """
        Release what belongs to C{path}: a TCP or TLS connection has closed.
        """


# --- ICE -------------------------------------------------------------------


# --- TURN ------------------------------------------------------------------
