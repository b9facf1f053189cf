"""
The zope.interface contracts between the parts of twisted-ice.

Each area keeps its contracts in its own section below.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

from twisted_ice.addresses import Address, Path, Transport

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from twisted_ice.api.status import SessionInfo
    from twisted_ice.media import MediaSpec

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
        "list of (type, value) pairs; a type may repeat. MESSAGE-INTEGRITY, "
        "MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are not in it."
    )
    ignored_attributes = Attribute(
        "The attributes after MESSAGE-INTEGRITY that RFC 8489 section 14.5 "
        "says to ignore, as (type, raw bytes) pairs. Never to be used."
    )
    has_integrity = Attribute("Whether MESSAGE-INTEGRITY is present.")
    has_integrity_sha256 = Attribute("Whether MESSAGE-INTEGRITY-SHA256 is present.")
    has_fingerprint = Attribute("Whether FINGERPRINT is present.")

    def get(attribute_type: int) -> Any:
        """
        Return the value of the first protected attribute of this type, or
        L{None}.
        """

    def get_all(attribute_type: int) -> list[Any]:
        """
        Return the values of all protected attributes of this type, in order.
        """

    def has(attribute_type: int) -> bool:
        """
        Return whether a protected attribute of this type is present.
        """

    def add(attribute_type: int, value: Any) -> IStunMessage:
        """
        Append an attribute and return the message.
        """

    def unknown_comprehension_required() -> list[int]:
        """
        Return the attribute types below 0x8000 that the codec does not know,
        each once, for the UNKNOWN-ATTRIBUTES of a 420 response.
        """

    def check_integrity(key: bytes) -> bool:
        """
        Return whether MESSAGE-INTEGRITY (HMAC-SHA1) is present and valid for
        C{key}, compared in constant time.
        """

    def check_integrity_sha256(key: bytes) -> bool:
        """
        Return whether MESSAGE-INTEGRITY-SHA256 is present and valid for
        C{key}, compared in constant time.
        """

    def check_fingerprint() -> bool:
        """
        Return whether FINGERPRINT is present and matches the message.
        """

    def encode(
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
        integrity_sha256_key: bytes | None = None,
    ) -> bytes:
        """
        Serialize the message, adding MESSAGE-INTEGRITY with C{integrity_key},
        MESSAGE-INTEGRITY-SHA256 with C{integrity_sha256_key} and then
        FINGERPRINT when asked.
        """

    def success_response(
        attributes: Iterable[tuple[int, Any]] = (),
    ) -> IStunMessage:
        """
        Return a success response with the same method and transaction id.
        """

    def error_response(
        code: int,
        reason: str | None = None,
        attributes: Iterable[tuple[int, Any]] = (),
    ) -> IStunMessage:
        """
        Return an error response with the same method and transaction id and
        an ERROR-CODE with C{code} and C{reason} (the RFC phrase when L{None}).
        """


# --- The muxes and the services behind them ---------------------------------
#
# The UDP mux (and the TCP/TLS mux) classify what arrives and hand it to the
# services below. Each service writes what it sends through an IPathWriter, so
# the same service works on UDP, TCP and TLS paths.


class IPathWriter(Interface):
    """
    A sender of bytes to a client on one of its paths.
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
        Handle one decoded STUN message that arrived on C{path}. C{data} is
        its encoded form. Responses are sent through the service's
        IPathWriter. Implementations catch and log their own exceptions, so
        this never raises.
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
        Handle one ChannelData message that arrived on C{path}. Never raises.

        The TCP/TLS mux strips the stream's padding, but UDP datagrams may
        or may not carry padding. So bytes after the length in the header
        are ignored.
        """

    def send_indication_received(data: bytes, path: Path) -> bool:
        """
        Relay a Send indication that arrived on C{path}, given undecoded, when
        it has the common form that the TURN service parses without the
        general decoder. Never raises.

        @return: L{True} when it was handled (relayed or dropped), L{False}
            when the caller must decode it and pass it to C{stun_received}.
        """

    def path_closed(path: Path) -> None:
        """
        Release the allocation and state of C{path}, because its TCP or TLS
        connection has closed.
        """


# --- ICE -------------------------------------------------------------------
#
# The ICE service hands each media packet of an accepted 5-tuple to the
# stream's IStreamHandler. The handler sends through the IMediaStream it was
# built with.


class IMediaStream(Interface):
    """
    One media stream of an ICE session, as seen by its stream handler.
    """

    session_id = Attribute("The id of the session the stream belongs to, a L{str}.")
    mid = Attribute("The stream's media id from the offer, a L{str}.")

    def send(data: bytes) -> None:
        """
        Send one DTLS, RTP or RTCP packet to the client on the stream's
        selected path. Before any nomination, the packet goes on the path
        the stream last received media on.

        Without either path the packet is dropped and counted. The muxes
        count failed sends (a full or closed socket) instead of raising.
        """


class IStreamHandler(Interface):
    """
    The receiver of a media stream's packets: an application, a relay to a
    backend, or an echo.
    """

    def packet_received(data: bytes) -> None:
        """
        Handle one DTLS, RTP or RTCP packet that the client sent on an accepted
        5-tuple of the stream.

        Implementations should not raise. The ICE service logs an exception
        that escapes, rate-limited, and keeps the stream.
        """

    def stream_closed() -> None:
        """
        Release the handler's resources, because the stream's session has
        ended. No packet is given to the handler after this call, and its
        sends are dropped.
        """


class ISessionManager(Interface):
    """
    The session operations of the ICE service: the Python API for embedding
    applications, which the HTTP session API also calls.

    Sessions are described by L{SessionInfo} snapshots, media by
    L{MediaSpec}.
    """

    def create_session(
        offer: str,
        answer: str | None = None,
        media: MediaSpec | None = None,
        transports: frozenset[Transport] | None = None,
    ) -> SessionInfo:
        """
        Create a session for the SDP C{offer} and return its L{SessionInfo}.

        @param answer: An SDP answer without ICE attributes to merge the ICE
            attributes into; L{None} mirrors the offer.
        @param media: What to do with the media; L{None} means C{echo}.
        @param transports: The transports (C{udp}, C{tcp}) to put
            candidates for in the answer; L{None} means all.
        @raise ValueError: The offer, the answer or the media is invalid; the
            message says what is wrong and may be shown to the client.
        """

    def get_session(session_id: str) -> SessionInfo | None:
        """
        Return the L{SessionInfo} of a live session, or L{None}.
        """

    def restart_session(session_id: str, offer: str) -> SessionInfo | None:
        """
        Restart ICE for a live session with a new offer (new credentials)
        and return the new L{SessionInfo}, or L{None} for an unknown session.

        @raise ValueError: The offer is invalid.
        """

    def close_session(session_id: str) -> bool:
        """
        End a session and close its streams' handlers. Return whether it
        existed.
        """


# --- TURN ------------------------------------------------------------------
#
# The TURN adapter looks up long-term keys through an ICredentialStore and
# gives the sans-I/O core an IRelayAllocator for relay ports.


class ICredentialStore(Interface):
    """
    The long-term credentials of TURN users (RFC 8489 section 9.2).
    """

    def get_keys(username: str, realm: str) -> Deferred[list[bytes]]:
        """
        Look up the candidate long-term keys of C{username} in C{realm}.
        Each is C{long_term_key(username, realm, password)}. There are
        several while TURN REST secrets rotate. The list is empty for an
        unknown or expired user, and the Deferred does not fail for one.
        """


class IRelayAllocator(Interface):
    """
    The relay ports of the TURN server, bound synchronously by the adapter.
    """

    def families() -> frozenset[int]:
        """
        Return the address families (L{twisted_ice.stun.AddressFamily}
        values) that relay ports can be bound in.
        """

    def reserve(family: int, even_port: bool, reserve_next: bool) -> Address | None:
        """
        Bind a relay UDP port of C{family} and return its address, or
        L{None} when no port is free.

        @param even_port: The port must be even (EVEN-PORT, RFC 8656).
        @param reserve_next: Also hold the next port, C{port + 1}, bound to no
            allocation, for a later L{take_reserved}. Fail (L{None}) when it
            is not free.
        """

    def take_reserved(address: Address) -> bool:
        """
        Turn the held port at C{address} into a relay port. Return whether it
        was still held.
        """

    def release(address: Address) -> None:
        """
        Close the relay port or release the held port at C{address}. Unknown
        addresses are ignored.
        """
