"""
Helpers that the UDP mux and the TCP/TLS mux share: binding their socket
before the reactor runs, the service that has the reactor adopt that socket,
and the rate limit of their failure logs.
"""

from __future__ import annotations

import socket

from twisted.application.service import Service
from twisted.internet.interfaces import IListeningPort, IReactorSocket, IReactorTime
from twisted.logger import Logger

FAILURE_LOG_INTERVAL = 10.0
"""Seconds between two logged failures of the same kind. Failures in between
are only counted."""


class RateLimit:
    """
    Lets one event through every L{FAILURE_LOG_INTERVAL} seconds and counts
    the others.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._last = float("-inf")
        self._suppressed = 0

    def allow(self) -> int | None:
        """
        Decide whether the current event may be logged.

        @return: the number of events suppressed since the last one that was
            let through, or L{None} when this one is suppressed and counted.
        """
        now = self._clock.seconds()
        if now - self._last < FAILURE_LOG_INTERVAL:
            self._suppressed += 1
            return None
        suppressed = self._suppressed
        self._last = now
        self._suppressed = 0
        return suppressed


def bind_socket(
    interface: str, port: int, kind: int, backlog: int | None = None
) -> socket.socket:
    """
    Create and bind a non-blocking socket, and listen on it when
    C{backlog} is given.

    An IPv6 C{interface} gets an IPv6 socket; C{"::"} also accepts IPv4
    (dual-stack, IPV6_V6ONLY off). A stream socket gets SO_REUSEADDR, so
    a restart can bind while old connections are in TIME_WAIT.

    @param interface: the address to bind to.
    @param port: the port, or 0 for any free port.
    @param kind: C{socket.SOCK_DGRAM} or C{socket.SOCK_STREAM}.
    @param backlog: the listen queue length, or L{None} not to listen.
    @raise OSError: when the socket cannot be created, bound or listened on.
    """
    family = socket.AF_INET6 if ":" in interface else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and interface == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((interface, port))
        if backlog is not None:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class AdoptedSocketService(Service):
    """
    Has the reactor adopt a socket bound before it ran, and stops listening
    on it when the service stops.

    Subclasses implement L{_adopt} and L{_log_listening}, and may extend
    L{_stop_listening}.

    @ivar port: the listening port while the service runs, else L{None}.
    """

    log = Logger()

    def __init__(self, sock: socket.socket, reactor: IReactorSocket) -> None:
        """
        @param sock: a bound socket. The service closes it once the reactor
            has adopted it, or when the service stops before it starts.
        @param reactor: the reactor that adopts C{sock}.
        """
        self.port: IListeningPort | None = None
        self._socket: socket.socket | None = sock
        self._reactor = reactor

    def _adopt(self, sock: socket.socket) -> IListeningPort:
        """
        Have C{self._reactor} adopt C{sock} and return the listening port.
        """
        raise NotImplementedError

    def _log_listening(self, port: IListeningPort) -> None:
        """
        Log the address that C{port} listens on.
        """
        raise NotImplementedError

    def _stop_listening(self, port: IListeningPort) -> object:
        """
        Stop C{port}, which was listening.

        @return: what C{port.stopListening} returns.
        """
        return port.stopListening()

    def startService(self) -> None:
        """
        Have the reactor adopt the socket, and log the address.

        @raise RuntimeError: when the service was started before.
        """
        super().startService()  # type: ignore[no-untyped-call]
        sock = self._socket
        if sock is None:
            raise RuntimeError(f"a {type(self).__name__} cannot be started twice")
        self.port = self._adopt(sock)
        sock.close()
        self._socket = None
        self._log_listening(self.port)

    def stopService(self) -> object:
        """
        Stop listening, or close the socket if the service never started.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        port, self.port = self.port, None
        if port is None:
            return None
        return self._stop_listening(port)


__all__ = [
    "FAILURE_LOG_INTERVAL",
    "AdoptedSocketService",
    "RateLimit",
    "bind_socket",
]
