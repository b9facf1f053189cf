"""
The UDP mux: one socket carries STUN, TURN, DTLS and RTP, distinguished by
the first byte of each datagram (RFC 7983, RFC 8656 section 12).
"""

from __future__ import annotations

import enum
import functools
import socket
import sys
from collections import Counter
from collections.abc import Callable
from typing import cast

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IListeningPort, IReactorSocket, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from zope.interface import implementer

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.interfaces import IIceService, IPathWriter, ITurnService
from twisted_ice.stun import (
    MAGIC_COOKIE,
    AttributeType,
    MessageClass,
    Method,
    StunDecodeError,
    StunMessage,
    decode,
)
from twisted_ice.stun.binding import BindingResponder, unmap_ipv4
from twisted_ice.transport.batching import SendBatch
from twisted_ice.transport.ports import (
    AdoptedSocketService,
    RateLimit,
    bind_socket,
)

MAX_DATAGRAM = 65535
"""The maximum datagram size read from the socket. No UDP payload is larger."""

_UDP = Transport.UDP
# Path(...) runs the Python-level __new__ of a NamedTuple; the per-packet
# path builds its Paths with tuple.__new__, in C.
_new_path = cast(
    Callable[[tuple[Transport, Address, Address]], Path],
    functools.partial(tuple.__new__, Path),
)
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
_BINDING_ERROR_RESPONSE = b"\x01\x11"
_SEND_INDICATION_LOW = 0x16
"""The second byte of a Send indication's message type, 0x0016."""

_TURN_REQUESTS = frozenset(
    {Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND}
)


class DropReason(enum.StrEnum):
    """
    Why the mux dropped a datagram: the keys of L{UdpMux.drops}.
    """

    EMPTY = "empty"
    UNKNOWN_FIRST_BYTE = "unknown-first-byte"
    NO_MAGIC_COOKIE = "no-magic-cookie"
    MALFORMED = "malformed"
    BAD_FINGERPRINT = "bad-fingerprint"
    RESPONSE = "response"
    BINDING_INDICATION = "binding-indication"
    UNHANDLED_STUN = "unhandled-stun"
    NO_ICE_SERVICE = "no-ice-service"
    NO_TURN_SERVICE = "no-turn-service"
    MEDIA_NOT_CHECKED = "media-not-checked"
    SEND_FAILED = "send-failed"
    EXCEPTION = "exception"


@implementer(IPathWriter)
class UdpMux(DatagramProtocol):
    """
    Classifies each datagram by its first byte and routes it: STUN by
    method and USERNAME, DTLS and RTP/RTCP to the ICE service, ChannelData
    to the TURN service. The mux responds to plain Binding requests
    itself.

    STUN routing, per message:
      - a Binding request with USERNAME goes to C{ice}, which responds with
        401 or drops it when the ufrag is not local. It is dropped when
        C{ice} is L{None};
      - Allocate, Refresh, CreatePermission and ChannelBind requests and Send
        indications go to C{turn}, or are dropped when it is L{None};
      - a Binding request without USERNAME gets a Binding response from the
        L{BindingResponder};
      - Binding indications (keepalives), responses and everything else are
        dropped.

    A message that fails the RFC 8489 section 6.3 basic checks, carries a
    wrong FINGERPRINT or has no magic cookie (an RFC 3489 client) is
    dropped silently.

    @ivar ice: the lite ICE agent, or L{None}.
    @ivar turn: the TURN server, or L{None}.
    @ivar batch: the L{SendBatch} that sends at the end of each reactor
        iteration, or L{None} when each datagram is sent at once.
    @ivar responder: the plain Binding responder.
    @ivar drops: the number of dropped datagrams by L{DropReason}.
    @ivar answered: the number of requests this mux answered itself, by kind
        (C{"binding"} for a success, C{"binding-420"}).
    @ivar local: this socket's own address, once it listens.
    @ivar packets_received: datagrams received, dropped ones included.
    @ivar bytes_received: the bytes of those datagrams.
    @ivar packets_sent: datagrams sent.
    @ivar bytes_sent: the bytes of those datagrams.
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        responder: BindingResponder | None = None,
        ice: IIceService | None = None,
        turn: ITurnService | None = None,
        clock: IReactorTime | None = None,
        batch: SendBatch | None = None,
    ) -> None:
        """
        @param responder: the Binding responder. By default, one without
            SOFTWARE.
        @param ice: the lite ICE agent, or L{None}.
        @param turn: the TURN server, or L{None}.
        @param clock: the clock used to rate-limit failure logs. The global
            reactor by default.
        @param batch: the batch that holds datagrams until the end of the
            reactor iteration, or L{None} to send each one at once.
        """
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        assert clock is not None
        self.responder = responder if responder is not None else BindingResponder()
        self.ice = ice
        self.turn = turn
        self.batch = batch
        self.drops: Counter[DropReason] = Counter()
        self.answered: Counter[str] = Counter()
        self.local: Address = ("", 0)
        self.packets_received = 0
        self.bytes_received = 0
        self.packets_sent = 0
        self.bytes_sent = 0
        self._clock = clock
        self._write: Callable[[bytes, Address], object] = _write_nowhere
        self._ipv6_socket = False
        self._failure_limit = RateLimit(clock)

    def startProtocol(self) -> None:
        """
        Record the local address that L{Path}s carry.
        """
        assert self.transport is not None
        # Twisted's udp.Port.write checks the address family of every
        # destination with several parser calls. The mux only sends to
        # addresses that recvfrom reported or that are in its own Paths, so
        # it sends through the port's socket directly when there is one.
        sock = getattr(self.transport, "socket", None)
        if isinstance(sock, socket.socket):
            self._write = sock.sendto
        else:
            self._write = self.transport.write
        host = self.transport.getHost()
        self.local = unmap_ipv4((host.host, host.port))
        self._ipv6_socket = ":" in host.host

    def datagramReceived(self, data: bytes, addr: Address) -> None:
        """
        Classify and route one datagram. Never raises: a failure anywhere is
        counted as L{DropReason.EXCEPTION} and logged, at most once every
        L{FAILURE_LOG_INTERVAL} seconds.
        """
        self.packets_received += 1
        self.bytes_received += len(data)
        try:
            if not data:
                self.drops[DropReason.EMPTY] += 1
                return
            first = data[0]
            if first < 4:
                response = self.responder.respond_fast(data, addr)
                if response is not None:
                    self._send(response, addr)
                    self.answered["binding"] += 1
                    return
                self._stun_received(data, addr)
            elif 128 <= first < 192 or 20 <= first < 64:
                self._media_received(data, addr)
            elif 64 <= first < 128:
                # RFC 8656 channels are 0x4000-0x4FFF (RFC 7983: first byte
                # 64-79), but RFC 5766 clients such as coturn's uclient use
                # up to 0x7FFF. The TURN core drops channels it does not
                # accept, so the whole range goes there. This is the
                # per-packet path of TURN, so _path is inlined.
                turn = self.turn
                if turn is None:
                    self.drops[DropReason.NO_TURN_SERVICE] += 1
                    return
                if self._ipv6_socket:
                    addr = unmap_ipv4(addr)
                turn.channel_data_received(data, _new_path((_UDP, self.local, addr)))
            else:
                self.drops[DropReason.UNKNOWN_FIRST_BYTE] += 1
        except Exception:
            self.drops[DropReason.EXCEPTION] += 1
            self._log_failure(addr)

    def write_to(self, data: bytes, path: Path) -> None:
        """
        Send C{data} to C{path.remote} from this socket. C{path.remote}
        must be an IP address, as in the Paths the mux hands out.

        An IPv4 address is written as IPv4-mapped IPv6 when this socket is a
        dual-stack IPv6 socket.
        """
        remote = path.remote
        if self._ipv6_socket and ":" not in remote[0]:
            remote = ("::ffff:" + remote[0], remote[1])
        self._send(data, remote)

    def _send(self, data: bytes, addr: Address) -> None:
        """
        Send one datagram, at the end of the reactor iteration when the mux
        has a L{batch}.
        """
        batch = self.batch
        if batch is None:
            self._send_now(data, addr)
        else:
            batch.add(self._send_now, data, addr)

    def _send_now(self, data: bytes, addr: Address) -> None:
        """
        Send one datagram now. A failed send (a full socket buffer, an
        unreachable network) is counted as L{DropReason.SEND_FAILED} and
        logged, rate-limited.
        """
        try:
            self._write(data, addr)
        except OSError:
            self.drops[DropReason.SEND_FAILED] += 1
            self._log_failure(addr, "send a datagram to")
            return
        self.packets_sent += 1
        self.bytes_sent += len(data)

    def _path(self, addr: Address) -> Path:
        """
        Build the L{Path} a datagram from C{addr} arrived on, with IPv4-mapped
        IPv6 addresses written as IPv4.
        """
        if self._ipv6_socket:
            addr = unmap_ipv4(addr)
        return _new_path((_UDP, self.local, addr))

    def _stun_received(self, data: bytes, addr: Address) -> None:
        """
        Decode a datagram whose first byte is 0-3, check it and route it.
        """
        if data[4:8] != _COOKIE_BYTES:
            # An RFC 3489 client's message, or not STUN at all. This server
            # does not respond to RFC 3489 clients.
            self.drops[DropReason.NO_MAGIC_COOKIE] += 1
            return
        turn = self.turn
        if (
            data[1] == _SEND_INDICATION_LOW
            and data[0] == 0
            and turn is not None
            and turn.send_indication_received(data, self._path(addr))
        ):
            # A Send indication of the common form, relayed without the
            # general decoder: this is the per-packet path of TURN clients
            # that use no channel.
            return
        try:
            message = decode(data)
        except StunDecodeError:
            self.drops[DropReason.MALFORMED] += 1
            return
        if message.has_fingerprint and not message.check_fingerprint():
            self.drops[DropReason.BAD_FINGERPRINT] += 1
            return

        method = message.method
        message_class = message.message_class
        if method == Method.BINDING:
            self._binding_received(message, data, addr)
        elif message_class is MessageClass.REQUEST and method in _TURN_REQUESTS:
            self._turn_stun_received(message, data, addr)
        elif message_class is MessageClass.INDICATION and method == Method.SEND:
            self._turn_stun_received(message, data, addr)
        elif message_class in (MessageClass.REQUEST, MessageClass.INDICATION):
            self.drops[DropReason.UNHANDLED_STUN] += 1
        else:
            self.drops[DropReason.RESPONSE] += 1

    def _binding_received(
        self, message: StunMessage, data: bytes, addr: Address
    ) -> None:
        """
        Route a Binding message: a check to the ICE agent, a plain request to
        the responder.
        """
        message_class = message.message_class
        if message_class is MessageClass.INDICATION:
            self.drops[DropReason.BINDING_INDICATION] += 1
            return
        if message_class is not MessageClass.REQUEST:
            self.drops[DropReason.RESPONSE] += 1
            return

        if message.has(AttributeType.USERNAME):
            if self.ice is None:
                self.drops[DropReason.NO_ICE_SERVICE] += 1
                return
            self.ice.stun_received(message, data, self._path(addr))
            return

        response = self.responder.respond(message, addr)
        if response is None:
            return
        self._send(response, addr)
        if response[:2] == _BINDING_ERROR_RESPONSE:
            self.answered["binding-420"] += 1
        else:
            self.answered["binding"] += 1

    def _turn_stun_received(
        self, message: StunMessage, data: bytes, addr: Address
    ) -> None:
        """
        Hand a TURN request or Send indication to the TURN service.
        """
        if self.turn is None:
            self.drops[DropReason.NO_TURN_SERVICE] += 1
            return
        self.turn.stun_received(message, data, self._path(addr))

    def _media_received(self, data: bytes, addr: Address) -> None:
        """
        Hand a DTLS, RTP or RTCP packet to the ICE service.
        """
        if self.ice is None:
            self.drops[DropReason.NO_ICE_SERVICE] += 1
            return
        if not self.ice.media_received(data, self._path(addr)):
            self.drops[DropReason.MEDIA_NOT_CHECKED] += 1

    def _log_failure(
        self, addr: Address, action: str = "handle a datagram from"
    ) -> None:
        """
        Log the exception being handled, unless one was logged less than
        L{FAILURE_LOG_INTERVAL} seconds ago. In that case only count it.

        @param action: what failed, completing "Failed to ...".
        """
        unlogged = self._failure_limit.allow()
        if unlogged is None:
            return
        self.log.failure(
            "Failed to {action} {client} (failures since the last log: {unlogged})",
            action=action,
            client=addr,
            unlogged=unlogged,
        )


def _write_nowhere(data: bytes, addr: Address) -> None:
    """
    Drop C{data}: the mux has no transport yet.
    """


def bind_udp_socket(interface: str, port: int) -> socket.socket:
    """
    Create and bind the mux's UDP socket.

    An IPv6 C{interface} gets an IPv6 socket, and C{"::"} also accepts IPv4
    (dual-stack, IPV6_V6ONLY off). Binding happens here, before twistd
    starts the reactor, so that a port in use stops the process at once.

    @param interface: the address to bind to.
    @param port: the UDP port, or 0 for any free port.
    @raise OSError: when the socket cannot be created or bound.
    """
    return bind_socket(interface, port, socket.SOCK_DGRAM)


DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024
"""
The receive buffer requested for the mux socket by default, in bytes. In a test
on loopback, all of a burst of 2,000 Binding requests got a response with it.
With the common kernel default of 212,992 bytes, 551 of them were dropped.
"""


def set_receive_buffer(sock: socket.socket, size: int) -> int:
    """
    Request a receive buffer of C{size} bytes on C{sock}, and return the size
    that the kernel granted.

    C{SO_RCVBUFFORCE} exceeds C{net.core.rmem_max} but needs CAP_NET_ADMIN.
    Without it, C{SO_RCVBUF} is capped at that limit. Linux reports twice the
    size asked for, because it counts its own bookkeeping, so the returned
    size is halved.
    """
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    try:
        if force is None:
            raise PermissionError
        sock.setsockopt(socket.SOL_SOCKET, force, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return int(granted // 2 if sys.platform == "linux" else granted)


def default_interface() -> str:
    """
    Return the address that listens on all interfaces: C{"::"} (dual-stack)
    when this host can bind an IPv6 socket, C{"0.0.0.0"} otherwise.
    """
    if not socket.has_ipv6:
        return "0.0.0.0"  # noqa: S104
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return "0.0.0.0"  # noqa: S104
    try:
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        probe.bind(("::", 0))
    except OSError:
        return "0.0.0.0"  # noqa: S104
    finally:
        probe.close()
    return "::"


class UdpMuxService(AdoptedSocketService):
    """
    Runs a L{UdpMux} on an already bound UDP socket while the service runs.

    @ivar mux: the protocol.
    """

    def __init__(
        self,
        sock: socket.socket,
        mux: UdpMux,
        reactor: IReactorSocket | None = None,
    ) -> None:
        """
        @param sock: a bound UDP socket, from L{bind_udp_socket}. The service
            closes it once the reactor has adopted it.
        @param mux: the protocol to run on C{sock}.
        @param reactor: the reactor; the global one by default.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(IReactorSocket, global_reactor)
        assert reactor is not None
        super().__init__(sock, reactor)
        self.mux = mux

    def _adopt(self, sock: socket.socket) -> IListeningPort:
        return self._reactor.adoptDatagramPort(
            sock.fileno(), sock.family, self.mux, maxPacketSize=MAX_DATAGRAM
        )

    def _log_listening(self, port: IListeningPort) -> None:
        address = cast(IPv4Address | IPv6Address, port.getHost())
        self.log.info(
            "mcs-ice listening on UDP {host} port {port}",
            host=address.host,
            port=address.port,
        )

    def _stop_listening(self, port: IListeningPort) -> object:
        """
        Send what the batch holds, then stop reading datagrams. The port
        closes the socket.
        """
        if self.mux.batch is not None:
            self.mux.batch.flush()
        self.log.info("mcs-ice stopped listening on UDP")
        return port.stopListening()
