"""
One connection of the TCP/TLS mux: sniffing its first bytes, TLS, frame
splitting and routing, its timers, and the framing of what is sent to it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, cast
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IPushProducer,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunDecodeError,
    StunMessage,
    decode,
)
from twisted_ice.stun.binding import unmap_ipv4
from twisted_ice.transport.framing import (
    SNIFF_BYTES,
    FramingError,
    Rfc4571Splitter,
    StreamKind,
    TurnFrameKind,
    TurnStreamSplitter,
    frame_rfc4571,
    pad_channel_data,
    sniff,
)

if TYPE_CHECKING:
    from twisted_ice.transport.tcp import TcpMux

_TURN_REQUESTS = frozenset(
    {Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND}
)


class CloseReason(enum.StrEnum):
    """
    Why the mux closed a connection, or rejected it at accept: the keys of
    L{TcpMux.closes}.
    """

    SOURCE_LIMIT = "source-limit"
    CONNECTION_LIMIT = "connection-limit"
    UNKNOWN_PROTOCOL = "unknown-protocol"
    TLS_NOT_CONFIGURED = "tls-not-configured"
    TLS_IN_TLS = "tls-in-tls"
    FRAMING_ERROR = "framing-error"
    INVALID_FIRST_FRAME = "invalid-first-frame"
    FIRST_FRAME_TIMEOUT = "first-frame-timeout"
    IDLE_TIMEOUT = "idle-timeout"
    SHUTDOWN = "shutdown"


class DropReason(enum.StrEnum):
    """
    Why the mux dropped a frame it received or a message a service sent:
    the keys of L{TcpMux.drops}.
    """

    EMPTY_FRAME = "empty-frame"
    UNKNOWN_FIRST_BYTE = "unknown-first-byte"
    MALFORMED = "malformed"
    BAD_FINGERPRINT = "bad-fingerprint"
    RESPONSE = "response"
    BINDING_INDICATION = "binding-indication"
    UNHANDLED_STUN = "unhandled-stun"
    TURN_ON_ICE_TCP = "turn-on-ice-tcp"
    NO_ICE_SERVICE = "no-ice-service"
    NO_TURN_SERVICE = "no-turn-service"
    MEDIA_NOT_CHECKED = "media-not-checked"
    EXCEPTION = "exception"
    UNKNOWN_PATH = "unknown-path"
    SEND_BUFFER_FULL = "send-buffer-full"
    UNFRAMEABLE = "unframeable"


class _StreamTransport(TypingProtocol):
    """
    The methods the mux calls on a TCP transport or a L{TLSMemoryBIOProtocol}.
    """

    def write(self, data: bytes) -> None: ...
    def getHost(self) -> IAddress: ...
    def getPeer(self) -> IAddress: ...
    def abortConnection(self) -> None: ...
    def registerProducer(self, producer: object, streaming: bool) -> None: ...
    def unregisterProducer(self) -> None: ...


def tcp_address(address: IAddress) -> Address:
    """
    Return the C{(host, port)} of a Twisted TCP address, IPv4-mapped IPv6
    written as IPv4.
    """
    host: str = address.host  # type: ignore[attr-defined]
    port: int = address.port  # type: ignore[attr-defined]
    return unmap_ipv4((host, port))


@implementer(IPushProducer)
class MuxConnection(Protocol):
    """
    One connection of the mux, or the plaintext inside one TLS connection.

    Reads until the first bytes decide the kind (L{sniff}), then splits the
    stream into frames and routes each one:

      - on ICE-TCP, STUN Binding requests with USERNAME go to the ICE
        service and DTLS (first byte 20-63) and RTP/RTCP (128-191) frames
        to its C{media_received};
      - on TURN, Allocate, Refresh, CreatePermission and ChannelBind
        requests, Send indications and ChannelData go to the TURN service,
        Binding requests with USERNAME to the ICE service;
      - on both, a Binding request without USERNAME gets a Binding response
        from the L{BindingResponder}.

    A TLS connection gets a L{TLSMemoryBIOProtocol} fed with the bytes read
    so far, which runs a second L{MuxConnection} (C{inner}) on the
    plaintext. The outer connection keeps the timers and the limits.

    @ivar kind: the L{StreamKind}, once decided.
    @ivar path: the path, once the kind is ICE-TCP or TURN.
    """

    def __init__(self, mux: TcpMux, outer: MuxConnection | None = None) -> None:
        """
        @param mux: the factory that owns the services and the counters.
        @param outer: the TCP connection this one runs inside, for the
            plaintext of TLS; L{None} for a TCP connection.
        """
        self.mux = mux
        self.kind: StreamKind | None = None
        self.path: Path | None = None
        self._outer = outer
        self._source = ""
        self._pending = b""
        self._splitter: Rfc4571Splitter | TurnStreamSplitter | None = None
        self._tls: TLSMemoryBIOProtocol | None = None
        self._closed = False
        self._send_paused = False
        self._first_frame_seen = False
        self._first_frame_call: IDelayedCall | None = None
        self._idle_call: IDelayedCall | None = None
        self._last_frame = 0.0

    @property
    def stream(self) -> _StreamTransport:
        """
        The transport: TCP, or TLS for the plaintext inside TLS.
        """
        return cast(_StreamTransport, self.transport)

    # --- Twisted's hooks ----------------------------------------------------

    def connectionMade(self) -> None:
        """
        Start the first-frame timer (outer connections) and watch the send
        buffer.
        """
        self.stream.registerProducer(self, True)
        if self._outer is not None:
            return
        self._source = tcp_address(self.stream.getPeer())[0]
        self.mux.connection_opened(self)
        self._first_frame_call = self.mux.clock.callLater(
            self.mux.first_frame_timeout, self._close, CloseReason.FIRST_FRAME_TIMEOUT
        )

    def dataReceived(self, data: bytes) -> None:
        """
        Sniff, decrypt or split C{data} and route the frames it completes.
        """
        if self._closed:
            return
        if self._tls is not None:
            self._tls.dataReceived(data)
            return
        if self._splitter is None:
            self._pending += data
            kind = sniff(self._pending[:SNIFF_BYTES])
            if kind is None:
                return
            data, self._pending = self._pending, b""
            self._start(kind, data)
            return
        self._feed(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Cancel the timers, forget the path and tell the services.
        """
        self._closed = True
        for call in (self._first_frame_call, self._idle_call):
            if call is not None and call.active():
                call.cancel()
        self._first_frame_call = self._idle_call = None
        tls, self._tls = self._tls, None
        if tls is not None:
            tls.connectionLost(reason)
        if self.path is not None:
            self.mux.path_closed(self)
        if self._outer is None:
            self.mux.connection_closed(self)

    # --- IPushProducer: the send buffer --------------------------------------

    def pauseProducing(self) -> None:
        """
        Drop what the services send until the send buffer drains, because a
        client that does not read must not make this process buffer without
        bound.
        """
        self._send_paused = True

    def resumeProducing(self) -> None:
        """
        Send again: the send buffer has drained.
        """
        self._send_paused = False

    def stopProducing(self) -> None:
        """
        Stop sending: the connection is closing.
        """
        self._send_paused = True

    # --- Sending -------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """
        Frame one message for this connection and write it: an RFC 4571
        length on ICE-TCP, STUN as it is and ChannelData padded to 4 bytes on
        TURN.
        """
        if self._closed or self.transport is None:
            self.mux.drops[DropReason.UNKNOWN_PATH] += 1
            return
        if self._send_paused:
            self.mux.drops[DropReason.SEND_BUFFER_FULL] += 1
            return
        try:
            if self.kind is StreamKind.ICE_TCP:
                framed = frame_rfc4571(data)
            elif data and 0x40 <= data[0] <= 0x7F:
                framed = pad_channel_data(data)
            else:
                framed = data
        except ValueError:
            self.mux.drops[DropReason.UNFRAMEABLE] += 1
            return
        self.stream.write(framed)
        if self.path is not None:
            self.mux.frames_sent[self.path.transport] += 1
            self.mux.bytes_sent[self.path.transport] += len(data)

    # --- Receiving -------------------------------------------------------------

    def _root(self) -> MuxConnection:
        """
        Return the TCP connection: this one, or the one it runs inside.
        """
        return self._outer if self._outer is not None else self

    def _start(self, kind: StreamKind, data: bytes) -> None:
        """
        Act on the sniffed C{kind}, then process the bytes read so far.
        """
        if kind is StreamKind.REJECT:
            self._close(CloseReason.UNKNOWN_PROTOCOL)
            return
        if kind is StreamKind.TLS:
            if self._outer is not None:
                self._close(CloseReason.TLS_IN_TLS)
            elif self.mux.tls_factory is None:
                self._close(CloseReason.TLS_NOT_CONFIGURED)
            else:
                self._start_tls(self.mux.tls_factory, data)
            return

        self.kind = kind
        transport = Transport.TCP if self._outer is None else Transport.TLS
        self.path = Path(
            transport,
            tcp_address(self.stream.getHost()),
            tcp_address(self.stream.getPeer()),
        )
        if kind is StreamKind.ICE_TCP:
            self._splitter = Rfc4571Splitter()
        else:
            self._splitter = TurnStreamSplitter()
        self.mux.path_opened(self)
        self._feed(data)

    def _start_tls(self, factory: TLSMemoryBIOFactory, data: bytes) -> None:
        """
        Run a TLS server on this connection, starting with C{data}.
        """
        inner = MuxConnection(self.mux, outer=self)
        self.stream.unregisterProducer()
        tls = TLSMemoryBIOProtocol(factory, inner)
        self._tls = tls
        tls.makeConnection(self.transport)
        tls.dataReceived(data)

    def _feed(self, data: bytes) -> None:
        """
        Split C{data} into frames and route them.
        """
        splitter = self._splitter
        assert splitter is not None
        frames: list[tuple[TurnFrameKind | None, bytes]]
        try:
            if isinstance(splitter, Rfc4571Splitter):
                frames = [(None, frame) for frame in splitter.feed(data)]
                if splitter.empty_frames:
                    self.mux.drops[DropReason.EMPTY_FRAME] += splitter.empty_frames
                    splitter.empty_frames = 0
            else:
                frames = list(splitter.feed(data))
        except FramingError:
            self._close(CloseReason.FRAMING_ERROR)
            return
        for frame_kind, frame in frames:
            if self._closed:
                return
            self._frame_received(frame, frame_kind)

    def _frame_received(self, frame: bytes, frame_kind: TurnFrameKind | None) -> None:
        """
        Route one frame. The first frame of a connection must be a STUN
        message that decodes, or ChannelData; anything else closes it.
        """
        assert self.path is not None
        self.mux.frames_received[self.path.transport] += 1
        self.mux.bytes_received[self.path.transport] += len(frame)
        try:
            valid = self._route(frame, frame_kind, self.path)
        except Exception:
            self.mux.drops[DropReason.EXCEPTION] += 1
            self.mux.log_failure("route a frame", self.path)
            valid = True
        if not self._first_frame_seen and not valid:
            self._close(CloseReason.INVALID_FIRST_FRAME)
            return
        self._root()._activity()
        self._first_frame_seen = True

    def _route(
        self, frame: bytes, frame_kind: TurnFrameKind | None, path: Path
    ) -> bool:
        """
        Hand one frame to its service.

        @return: whether the frame was a valid message (a STUN message that
            decodes, ChannelData, or a media packet), routed or dropped.
        """
        mux = self.mux
        if frame_kind is TurnFrameKind.CHANNEL_DATA:
            if mux.turn is None:
                mux.drops[DropReason.NO_TURN_SERVICE] += 1
            else:
                mux.turn.channel_data_received(frame, path)
            return True

        first = frame[0]
        if first < 4:
            return self._stun_received(frame, path)
        if 128 <= first < 192 or 20 <= first < 64:
            if mux.ice is None:
                mux.drops[DropReason.NO_ICE_SERVICE] += 1
            elif not mux.ice.media_received(frame, path):
                mux.drops[DropReason.MEDIA_NOT_CHECKED] += 1
            return True
        mux.drops[DropReason.UNKNOWN_FIRST_BYTE] += 1
        return False

    def _stun_received(self, data: bytes, path: Path) -> bool:
        """
        Decode and route one STUN message.

        @return: whether it decoded and passed its FINGERPRINT check.
        """
        mux = self.mux
        try:
            message = decode(data)
        except StunDecodeError:
            mux.drops[DropReason.MALFORMED] += 1
            return False
        if message.has_fingerprint and not message.check_fingerprint():
            mux.drops[DropReason.BAD_FINGERPRINT] += 1
            return False

        method = message.method
        message_class = message.message_class
        if method == Method.BINDING and message_class is MessageClass.REQUEST:
            self._binding_received(message, data, path)
        elif method == Method.BINDING and message_class is MessageClass.INDICATION:
            mux.drops[DropReason.BINDING_INDICATION] += 1
        elif (message_class is MessageClass.REQUEST and method in _TURN_REQUESTS) or (
            message_class is MessageClass.INDICATION and method == Method.SEND
        ):
            if self.kind is not StreamKind.TURN:
                mux.drops[DropReason.TURN_ON_ICE_TCP] += 1
            elif mux.turn is None:
                mux.drops[DropReason.NO_TURN_SERVICE] += 1
            else:
                mux.turn.stun_received(message, data, path)
        elif message_class in (MessageClass.REQUEST, MessageClass.INDICATION):
            mux.drops[DropReason.UNHANDLED_STUN] += 1
        else:
            mux.drops[DropReason.RESPONSE] += 1
        return True

    def _binding_received(self, message: StunMessage, data: bytes, path: Path) -> None:
        """
        Route a Binding request: a check to the ICE agent, a plain request
        to the responder.
        """
        mux = self.mux
        if message.has(AttributeType.USERNAME):
            if mux.ice is None:
                mux.drops[DropReason.NO_ICE_SERVICE] += 1
                return
            mux.ice.stun_received(message, data, path)
            return
        response = mux.responder.respond(message, path.remote)
        if response is not None:
            self.send(response)
            mux.answered["binding"] += 1

    # --- Timers and closing ------------------------------------------------------

    def _activity(self) -> None:
        """
        Note a valid frame on this (outer) connection: stop the first-frame
        timer and push the idle deadline back.
        """
        clock = self.mux.clock
        self._last_frame = clock.seconds()
        call = self._first_frame_call
        if call is not None:
            self._first_frame_call = None
            if call.active():
                call.cancel()
        if self._idle_call is None and not self._closed:
            self._idle_call = clock.callLater(self.mux.idle_timeout, self._check_idle)

    def _check_idle(self) -> None:
        """
        Close the connection when no frame arrived for the idle timeout;
        otherwise wait for the rest of it. A timer per connection that is
        moved only when it fires costs nothing per frame.
        """
        clock = self.mux.clock
        remaining = self._last_frame + self.mux.idle_timeout - clock.seconds()
        if remaining > 0:
            self._idle_call = clock.callLater(remaining, self._check_idle)
            return
        self._idle_call = None
        self._close(CloseReason.IDLE_TIMEOUT)

    def _close(self, reason: CloseReason) -> None:
        """
        Abort the TCP connection for C{reason}, without waiting for the send
        buffer to drain.
        """
        root = self._root()
        if root._closed:
            return
        self._closed = True
        root._closed = True
        self.mux.closes[reason] += 1
        self.mux.log.debug(
            "Closing TCP connection from {client}: {reason}",
            client=tcp_address(root.stream.getPeer()),
            reason=reason.value,
        )
        root.stream.abortConnection()
