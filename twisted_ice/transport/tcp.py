"""
The TCP/TLS mux: one listening port carries ICE-TCP (RFC 6544, passive
candidates, RFC 4571 framing) and TURN over TCP (RFC 8656 section 12.5).
Both run in the clear and inside TLS, and the first bytes of each connection
tell them apart.

Each connection becomes one L{Path} (L{Transport.TCP} or L{Transport.TLS})
once its first bytes decide what it carries. The L{TcpMux} factory is the
L{IPathWriter} of all those paths, and frames what the services send on them.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Mapping, MutableMapping
from typing import Any, cast

from twisted.application.service import MultiService
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IReactorSocket,
    IReactorTime,
)
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.usage import UsageError
from zope.interface import implementer

from twisted_ice.addresses import Path, Transport
from twisted_ice.interfaces import IIceService, IPathWriter, ITurnService
from twisted_ice.stun.binding import BindingResponder
from twisted_ice.transport.framing import StreamKind
from twisted_ice.transport.ports import (
    FAILURE_LOG_INTERVAL,
    AdoptedSocketService,
    RateLimit,
    bind_socket,
)
from twisted_ice.transport.tcp_connection import (
    CloseReason,
    DropReason,
    MuxConnection,
    tcp_address,
)
from twisted_ice.transport.tls import (
    ServerTlsContext,
    TlsConfigError,
    load_server_context,
)

FIRST_FRAME_TIMEOUT = 10.0
"""Seconds a new connection has to complete its first valid frame (the TLS
handshake included) before it is closed."""

DEFAULT_IDLE_TIMEOUT = 600.0
"""Seconds without a received frame after which a connection is closed.

ICE consent checks arrive every few seconds on a live ICE-TCP connection
(RFC 7675). A TURN client that keeps the default 600 s allocation alive
refreshes it within that time (RFC 8656 section 7), so this default never
closes such a client. A client that requests a longer lifetime and stays
silent for longer is closed, and its allocation ends with the connection."""

DEFAULT_MAX_PER_SOURCE = 50
"""Maximum open connections from one source IP address. Many clients behind
one NAT share an address, which is why this is not lower."""

DEFAULT_MAX_CONNECTIONS = 1000
"""Maximum open connections on the listener."""


@implementer(IPathWriter)
class TcpMux(ServerFactory):
    """
    The factory of the TCP/TLS listener, and the L{IPathWriter} of its
    L{Transport.TCP} and L{Transport.TLS} paths.

    @ivar responder: the plain Binding responder.
    @ivar ice: the lite ICE agent, or L{None}.
    @ivar turn: the TURN server, or L{None}.
    @ivar tls_context: the TLS server context, or L{None} to close
        connections that start with a TLS record.
    @ivar tls_factory: the factory of TLS connections, when C{tls_context}
        is set.
    @ivar clock: the clock of every timer.
    @ivar first_frame_timeout: seconds a connection has for its first frame.
    @ivar idle_timeout: seconds without a frame before a connection closes.
    @ivar max_per_source: the maximum open connections per source IP address.
    @ivar max_connections: the maximum open connections on the listener.
    @ivar connections: the open connections by path, once their kind is
        known.
    @ivar per_source: the number of open connections by source IP address.
    @ivar closes: connections closed or rejected, by L{CloseReason}.
    @ivar drops: frames and messages dropped, by L{DropReason}.
    @ivar answered: the Binding requests this mux responded to itself.
    @ivar opened: the connections accepted, by their L{StreamKind} value
        (C{"tcp"} counts every accepted connection).
    @ivar frames_received: frames received, by path transport.
    @ivar bytes_received: the bytes of those frames, framing excluded.
    @ivar frames_sent: messages sent, by path transport.
    @ivar bytes_sent: the bytes of those messages, framing excluded.
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        responder: BindingResponder | None = None,
        ice: IIceService | None = None,
        turn: ITurnService | None = None,
        tls_context: ServerTlsContext | None = None,
        reactor: IReactorTime | None = None,
        first_frame_timeout: float = FIRST_FRAME_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_per_source: int = DEFAULT_MAX_PER_SOURCE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        """
        @param responder: the Binding responder. By default, one without
            SOFTWARE.
        @param ice: the lite ICE agent, or L{None}.
        @param turn: the TURN server, or L{None}.
        @param tls_context: the TLS server context, or L{None} for no TLS.
        @param reactor: the clock of the timers. The global reactor by
            default.
        @param first_frame_timeout: seconds a connection has for its first
            valid frame.
        @param idle_timeout: seconds without a received frame before a
            connection is closed.
        @param max_per_source: connections one source IP address may hold.
        @param max_connections: connections the listener may hold.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(IReactorTime, global_reactor)
        self.responder = responder if responder is not None else BindingResponder()
        self.ice = ice
        self.turn = turn
        self.tls_context = tls_context
        self.tls_factory: TLSMemoryBIOFactory | None = None
        if tls_context is not None:
            self.tls_factory = TLSMemoryBIOFactory(
                tls_context, False, self, clock=reactor
            )
        self.clock = reactor
        self.first_frame_timeout = first_frame_timeout
        self.idle_timeout = idle_timeout
        self.max_per_source = max_per_source
        self.max_connections = max_connections
        self.connections: dict[Path, MuxConnection] = {}
        self.per_source: Counter[str] = Counter()
        self.closes: Counter[CloseReason] = Counter()
        self.drops: Counter[DropReason] = Counter()
        self.answered: Counter[str] = Counter()
        self.opened: Counter[str] = Counter()
        self.frames_received: Counter[Transport] = Counter()
        self.bytes_received: Counter[Transport] = Counter()
        self.frames_sent: Counter[Transport] = Counter()
        self.bytes_sent: Counter[Transport] = Counter()
        self._open: set[MuxConnection] = set()
        self._failure_limit = RateLimit(reactor)
        self._reject_limit = RateLimit(reactor)

    def buildProtocol(self, addr: IAddress | None) -> MuxConnection | None:
        """
        Accept a connection unless its source IP address or the listener is
        at its limit. Returning L{None} makes Twisted close it at once.
        """
        assert addr is not None
        host = tcp_address(addr)[0]
        if len(self._open) >= self.max_connections:
            self._reject(CloseReason.CONNECTION_LIMIT, host)
            return None
        if self.per_source[host] >= self.max_per_source:
            self._reject(CloseReason.SOURCE_LIMIT, host)
            return None
        return MuxConnection(self)

    def _reject(self, reason: CloseReason, host: str) -> None:
        """
        Count and log (rate-limited) a connection rejected at accept.
        """
        self.closes[reason] += 1
        suppressed = self._reject_limit.allow()
        if suppressed is None:
            return
        self.log.warn(
            "Rejected a TCP connection from {host}: {reason}"
            " ({suppressed} more rejected since the last log)",
            host=host,
            reason=reason.value,
            suppressed=suppressed,
        )

    def log_failure(self, what: str, path: Path) -> None:
        """
        Log the exception being handled while doing C{what} on C{path}, at
        most once every L{FAILURE_LOG_INTERVAL} seconds.
        """
        suppressed = self._failure_limit.allow()
        if suppressed is None:
            return
        self.log.failure(
            "Failed to {what} on {path} (failures since the last log: {suppressed})",
            what=what,
            path=path,
            suppressed=suppressed,
        )

    def write_to(self, data: bytes, path: Path) -> None:
        """
        Frame C{data} for the connection of C{path} and send it; drop it
        when that connection is closed or unknown.
        """
        connection = self.connections.get(path)
        if connection is None:
            self.drops[DropReason.UNKNOWN_PATH] += 1
            return
        connection.send(data)

    def connection_opened(self, connection: MuxConnection) -> None:
        """
        Count a new TCP connection against the limits.
        """
        self._open.add(connection)
        self.per_source[connection._source] += 1
        self.opened["tcp"] += 1

    def connection_closed(self, connection: MuxConnection) -> None:
        """
        Release what a closed TCP connection counted against the limits.
        """
        if connection not in self._open:
            return
        self._open.discard(connection)
        source = connection._source
        self.per_source[source] -= 1
        if self.per_source[source] <= 0:
            del self.per_source[source]

    def path_opened(self, connection: MuxConnection) -> None:
        """
        Register the path of a connection whose kind is now known.
        """
        assert connection.path is not None and connection.kind is not None
        self.connections[connection.path] = connection
        self.opened[connection.kind.value] += 1
        if connection.path.transport is Transport.TLS:
            self.opened["tls"] += 1

    def path_closed(self, connection: MuxConnection) -> None:
        """
        Forget the path of a closed connection and tell the services.
        """
        path = connection.path
        assert path is not None
        if self.connections.get(path) is connection:
            del self.connections[path]
        if connection.kind is StreamKind.TURN and self.turn is not None:
            try:
                self.turn.path_closed(path)
            except Exception:
                self.log_failure("release a TURN path", path)
        ice_path_closed = getattr(self.ice, "path_closed", None)
        if ice_path_closed is not None:
            try:
                ice_path_closed(path)
            except Exception:
                self.log_failure("release an ICE path", path)

    def close_all(self) -> None:
        """
        Abort every open connection, as the listener stops.
        """
        for connection in list(self._open):
            connection._close(CloseReason.SHUTDOWN)


def bind_tcp_socket(interface: str, port: int, backlog: int = 128) -> socket.socket:
    """
    Create, bind and listen on the mux's TCP socket.

    An IPv6 C{interface} gets an IPv6 socket, and C{"::"} also accepts IPv4
    (dual-stack, IPV6_V6ONLY off). Binding happens before twistd starts the
    reactor, so that a port in use, or port 443 without the privilege,
    stops the process at once.

    @param interface: the address to bind to.
    @param port: the TCP port, or 0 for any free port.
    @param backlog: the listen queue length.
    @raise OSError: when the socket cannot be created, bound or listened on.
    """
    return bind_socket(interface, port, socket.SOCK_STREAM, backlog)


class TcpMuxService(AdoptedSocketService):
    """
    Runs a L{TcpMux} on an already listening TCP socket while the service
    runs.

    @ivar mux: the factory.
    """

    def __init__(
        self,
        sock: socket.socket,
        mux: TcpMux,
        reactor: IReactorSocket | None = None,
    ) -> None:
        """
        @param sock: a listening TCP socket, from L{bind_tcp_socket}. The
            service closes it once the reactor has adopted it.
        @param mux: the factory to run on C{sock}.
        @param reactor: the reactor; the global one by default.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor  # type: ignore[assignment]
        assert reactor is not None
        super().__init__(sock, reactor)
        self.mux = mux

    def _adopt(self, sock: socket.socket) -> IListeningPort:
        return self._reactor.adoptStreamPort(sock.fileno(), sock.family, self.mux)

    def _log_listening(self, port: IListeningPort) -> None:
        address = tcp_address(port.getHost())
        self.log.info(
            "mcs-ice listening on TCP {host} port {port} ({tls})",
            host=address[0],
            port=address[1],
            tls="TLS and plain" if self.mux.tls_context is not None else "plain",
        )

    def _stop_listening(self, port: IListeningPort) -> object:
        """
        Stop accepting connections and close the open ones.
        """
        self.log.info("mcs-ice stopped listening on TCP")
        self.mux.close_all()
        return port.stopListening()


TCP_OPTIONS = [
    [
        "tcp-port",
        None,
        "443",
        "TCP port for ICE-TCP and TURN over TCP and TLS (0 turns it off).",
    ],
    [
        "tcp-idle-timeout",
        None,
        str(int(DEFAULT_IDLE_TIMEOUT)),
        "Seconds without a received frame before a TCP connection is closed.",
    ],
    [
        "tcp-max-per-source",
        None,
        str(DEFAULT_MAX_PER_SOURCE),
        "Maximum number of TCP connections from one source IP address.",
    ],
    [
        "tcp-max-connections",
        None,
        str(DEFAULT_MAX_CONNECTIONS),
        "Maximum number of open TCP connections; keep it below the open file"
        " limit (ulimit -n).",
    ],
    [
        "tls-cert",
        None,
        None,
        "PEM certificate chain for TLS on --tcp-port, the server certificate"
        " first. Default: no TLS.",
    ],
    ["tls-key", None, None, "PEM private key (unencrypted) of --tls-cert."],
]
"""The C{optParameters} rows of the TCP and TLS options of C{twistd mcs-ice}."""


def _positive(option: str, value: object, kind: type[int] | type[float]) -> float:
    """
    Convert C{value} to a positive number of C{kind}.

    @raise UsageError: naming C{option} when it is not one.
    """
    try:
        number = kind(str(value))
    except ValueError:
        raise UsageError(f"invalid {option} {value!r}: not a number") from None
    if not 0 < number < float("inf"):
        raise UsageError(f"invalid {option} {value!r}: not a positive number")
    return number


def check_tcp_options(options: MutableMapping[str, Any]) -> None:
    """
    Check and convert the TCP and TLS options, and load the TLS certificate
    and key into C{options["tls-context"]} (L{None} without TLS).

    @raise UsageError: when a value is invalid or a TLS file cannot be
        loaded.
    """
    try:
        port = int(str(options["tcp-port"]))
    except ValueError:
        raise UsageError(
            f"invalid --tcp-port {options['tcp-port']!r}: not a port number"
        ) from None
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid --tcp-port {port}: not in 0-65535")
    options["tcp-port"] = port
    options["tcp-idle-timeout"] = _positive(
        "--tcp-idle-timeout", options["tcp-idle-timeout"], float
    )
    for option in ("tcp-max-per-source", "tcp-max-connections"):
        options[option] = int(_positive(f"--{option}", options[option], int))

    certificate, key = options["tls-cert"], options["tls-key"]
    options["tls-context"] = None
    if certificate is None and key is None:
        return
    if certificate is None or key is None:
        missing = "--tls-cert" if certificate is None else "--tls-key"
        raise UsageError(f"missing {missing}: --tls-cert and --tls-key go together")
    if port == 0:
        raise UsageError(
            "invalid --tls-cert with --tcp-port 0: TLS needs the TCP listener,"
            " so set --tcp-port to a port such as 443"
        )
    try:
        options["tls-context"] = load_server_context(certificate, key)
    except TlsConfigError as error:
        raise UsageError(str(error)) from None


def build_tcp_mux(
    options: Mapping[str, Any],
    parent: MultiService,
    interface: str,
    responder: BindingResponder,
    ice: IIceService | None,
    turn: ITurnService | None,
) -> TcpMux | None:
    """
    Bind the TCP port and add the service that runs the mux on it, or
    return L{None} when C{--tcp-port} is 0.

    @param options: the options checked by L{check_tcp_options}.
    @param parent: the service the listener is added to.
    @param interface: the address to listen on.
    @param responder: the plain Binding responder shared with the UDP mux.
    @param ice: the lite ICE agent; its paths on TCP and TLS are written
        through the mux.
    @param turn: the TURN server, likewise.
    @raise SystemExit: when the port cannot be bound.
    """
    port = options["tcp-port"]
    if not port:
        return None
    try:
        sock = bind_tcp_socket(interface, port)
    except OSError as error:
        raise SystemExit(
            f"twistd mcs-ice: cannot listen on TCP {interface} port {port}:"
            f" {error.strerror or error}"
        ) from None
    mux = TcpMux(
        responder=responder,
        ice=ice,
        turn=turn,
        tls_context=options["tls-context"],
        idle_timeout=options["tcp-idle-timeout"],
        max_per_source=options["tcp-max-per-source"],
        max_connections=options["tcp-max-connections"],
    )
    register = getattr(turn, "register_writer", None)
    if register is not None:
        register(Transport.TCP, mux)
        register(Transport.TLS, mux)
    writers = getattr(ice, "writers", None)
    if isinstance(writers, dict):
        writers[Transport.TCP] = mux
        writers[Transport.TLS] = mux
    if ice is not None and hasattr(ice, "tcp_port"):
        # Put passive TCP host candidates (RFC 6544) in every SDP answer.
        ice.tcp_port = port
    TcpMuxService(sock, mux).setServiceParent(parent)  # type: ignore[no-untyped-call]
    return mux


__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_PER_SOURCE",
    "FAILURE_LOG_INTERVAL",
    "FIRST_FRAME_TIMEOUT",
    "CloseReason",
    "DropReason",
    "MuxConnection",
    "TcpMux",
    "TcpMuxService",
    "TCP_OPTIONS",
    "bind_tcp_socket",
    "build_tcp_mux",
    "check_tcp_options",
]
