"""
The ICE service: the Twisted adapter around the sans-I/O lite agent.

It responds to the checks the muxes route to it, runs the consent timer, hands
media from accepted 5-tuples to each stream's handler and sends what the
handler sends on the stream's selected path. It is also the Python API for
sessions (L{ISessionManager}) that the HTTP API calls.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IReactorUDP
from twisted.logger import Logger
from zope.interface import implementer

from twisted_ice.addresses import Path, Transport
from twisted_ice.api.status import SessionInfo, SessionLimitError, StreamInfo
from twisted_ice.ice import (
    Candidate,
    CheckResult,
    ConsentExpired,
    CredentialsRetired,
    IceAgent,
    IceState,
    Nominated,
    PathClosed,
    Session,
    SessionStateChanged,
    StateChanged,
    Stream,
    host_candidates,
)
from twisted_ice.interfaces import (
    IIceService,
    IMediaStream,
    IPathWriter,
    ISessionManager,
    IStreamHandler,
    IStunMessage,
)
from twisted_ice.media import EchoHandler, ForwardHandler, ForwardPolicy, MediaSpec
from twisted_ice.stun import StunMessage

FAILURE_LOG_INTERVAL = 10.0
"""
Minimum seconds between two logged failures. Failures in between are only
counted.
"""

DEFAULT_SESSION_IDLE_TIMEOUT = 300.0
"""
Seconds a session may stay C{new} (no check passed yet), C{disconnected}
(consent expired) or C{checking} without a passed check before the service
closes it, because a client that went away never deletes its session.
"""

IDLE_STATES = frozenset({IceState.NEW, IceState.CHECKING, IceState.DISCONNECTED})
"""
The session states the idle timeout applies to. A C{checking} session may
still pass checks (with the credentials from before an ICE restart, or on
another of its streams), so it is closed only when none passed for the
timeout.
"""

HandlerFactory = Callable[[MediaSpec, IMediaStream], IStreamHandler]
"""
Builds the handler of one stream from the session's media.
"""


@implementer(IMediaStream)
class MediaStream:
    """
    The stream side that a handler talks to, kept per stream in the core
    L{Stream}'s C{handler} slot.

    @ivar stream: The core stream.
    @ivar handler: The stream's handler, once built.
    @ivar last_path: The path media last arrived on. Sends use it until a
        path is nominated.
    @ivar packets_dropped: Sends that had no path to leave on.
    """

    def __init__(self, service: IceService, stream: Stream) -> None:
        self.service = service
        self.stream = stream
        self.handler: IStreamHandler | None = None
        self.last_path: Path | None = None
        self.packets_dropped = 0
        self.closed = False

    @property
    def session_id(self) -> str:
        """
        The id of the stream's session.
        """
        return self.stream.session.id

    @property
    def mid(self) -> str:
        """
        The stream's media id, or an empty string when the offer has none.
        """
        return self.stream.mid or ""

    def send(self, data: bytes) -> None:
        """
        Send C{data} on the selected path while consent is live.

        Before any nomination, C{data} goes on the path media last arrived
        on, while that path is still accepted. Otherwise it is dropped and
        counted.
        """
        stream = self.stream
        path = stream.send_path
        if path is None and stream.selected is None and not self.closed:
            last = self.last_path
            if last is not None and self.service.agent.stream_for_path(last) is stream:
                path = last
        writer = None if path is None else self.service.writers.get(path.transport)
        if path is None or writer is None or self.closed:
            self.packets_dropped += 1
            return
        writer.write_to(data, path)
        stream.packets_sent += 1
        stream.bytes_sent += len(data)

    def close(self) -> None:
        """
        Tell the handler the stream has ended, once.
        """
        if self.closed:
            return
        self.closed = True
        if self.handler is not None:
            self.handler.stream_closed()


@implementer(IIceService, ISessionManager)
class IceService(Service):
    """
    The lite ICE agent on Twisted.

    @ivar agent: The sans-I/O core.
    @ivar writers: The writer of each transport that paths can arrive on.
        The UDP mux registers itself for C{udp}, the TCP mux for C{tcp} and
        C{tls}.
    @ivar addresses: The IP addresses put in host candidates.
    @ivar udp_port: The UDP port of the candidates. With 0, the candidates
        take the port of the UDP writer's C{local} address (the mux's socket).
    @ivar tcp_port: The port of passive TCP candidates, or L{None} for none.
    @ivar fingerprint: The DTLS certificate fingerprint put in mirrored SDP
        answers.
    @ivar forward_policy: Where C{forward} media may go.
    @ivar max_sessions: The maximum number of open sessions, or L{None} for
        no limit.
    @ivar session_idle_timeout: Seconds after which a C{new} or
        C{disconnected} session, or a C{checking} one without a passed check,
        is closed, or L{None} to keep it until it is closed through the API.
    @ivar checks_failed: Checks whose handling raised an exception. Any
        nonzero count is a bug.
    @ivar check_results: Checks handled, by L{CheckResult}.
    """

    log = Logger()

    def __init__(
        self,
        addresses: Sequence[str],
        udp_port: int,
        tcp_port: int | None = None,
        fingerprint: str | None = None,
        forward_policy: ForwardPolicy | None = None,
        agent: IceAgent | None = None,
        handler_factory: HandlerFactory | None = None,
        reactor: IReactorTime | None = None,
        session_idle_timeout: float | None = DEFAULT_SESSION_IDLE_TIMEOUT,
        max_sessions: int | None = None,
    ) -> None:
        """
        @param handler_factory: The factory of stream handlers. By default
            it builds C{echo} and C{forward} handlers from the session's
            L{MediaSpec}.
        @param reactor: The reactor for the consent timer and the sockets of
            C{forward} handlers. The global reactor by default.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(IReactorTime, global_reactor)
        self.reactor = reactor
        self.agent = agent if agent is not None else IceAgent()
        self.writers: dict[Transport, IPathWriter] = {}
        self.addresses = tuple(addresses)
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.fingerprint = fingerprint
        self.forward_policy = forward_policy or ForwardPolicy()
        self.handler_factory = handler_factory or self.build_handler
        self.session_idle_timeout = session_idle_timeout
        self.max_sessions = max_sessions
        self.checks_failed = 0
        self.check_results: Counter[CheckResult] = Counter()
        self._media: dict[str, MediaSpec] = {}
        self._timer: IDelayedCall | None = None
        self._idle_since: dict[str, float] = {}
        self._idle_timer: IDelayedCall | None = None
        self._last_failure_log = float("-inf")
        self._unlogged_failures = 0

    # --- IIceService: what the muxes call ------------------------------------

    def is_local_ufrag(self, ufrag: str) -> bool:
        """
        Return whether C{ufrag} belongs to a live stream.
        """
        return bool(self.agent.is_local_ufrag(ufrag))

    def stun_received(self, message: IStunMessage, data: bytes, path: Path) -> None:
        """
        Handle one connectivity check and send the response through the
        writer of C{path}'s transport.

        The events the check caused are logged and the consent timer is
        rescheduled. Exceptions are counted in C{checks_failed} and logged,
        never raised.
        """
        try:
            outcome = self.agent.handle_check(
                cast(StunMessage, message), path, self.reactor.seconds()
            )
            self.check_results[outcome.result] += 1
            if outcome.response is not None:
                writer = self.writers.get(path.transport)
                if writer is not None:
                    writer.write_to(outcome.response, path)
            if outcome.events:
                self.log_events(outcome.events)
            self.schedule()
        except Exception:
            self.checks_failed += 1
            self.log_failure(path)

    def media_received(self, data: bytes, path: Path) -> bool:
        """
        Give C{data} to the handler of the stream that C{path} has been
        accepted for. Return L{False} for a path that has passed no check.

        An exception from the handler is logged, not raised.
        """
        stream = self.agent.stream_for_path(path)
        if stream is None:
            return False
        stream.packets_received += 1
        stream.bytes_received += len(data)
        media = stream.handler
        if media is not None and media.handler is not None:
            media.last_path = path
            try:
                media.handler.packet_received(data)
            except Exception:
                self.log_failure(path)
        return True

    def path_closed(self, path: Path) -> None:
        """
        Forget C{path}, because its TCP or TLS connection has closed and
        nothing can be sent on it any more.

        The agent unregisters the path and clears a nomination of it, so no
        send goes to a dead connection. Sends then fall back to the path
        media last arrived on, but only while that path is still accepted.
        """
        stream = self.agent.stream_for_path(path)
        if stream is not None and stream.handler is not None:
            if stream.handler.last_path == path:
                stream.handler.last_path = None
        events = self.agent.path_closed(path, self.reactor.seconds())
        if events:
            self.log_events(events)

    # --- ISessionManager: the Python API ----------------------------------

    def create_session(
        self,
        offer: str,
        answer: str | None = None,
        media: MediaSpec | None = None,
        transports: frozenset[Transport] | None = None,
    ) -> SessionInfo:
        """
        Create a session for C{offer} and build its streams' handlers.

        @param transports: The transports to put candidates for; all the
            configured ones when L{None}.
        @raise ValueError: The offer, the SDP answer or the media is invalid,
            or no candidate is left for C{transports}.
        @raise SessionLimitError: C{max_sessions} sessions are open.
        """
        if self.max_sessions is not None and len(self.agent.sessions) >= (
            self.max_sessions
        ):
            self.log.warn(
                "Rejected a session: {count} sessions open, the maximum",
                count=len(self.agent.sessions),
            )
            raise SessionLimitError(
                f"this server holds its maximum of {self.max_sessions} sessions."
                " Retry later or on another server"
            )
        media = media if media is not None else MediaSpec()
        if media.target is not None:
            self.forward_policy.check(media.target)
        candidates = self.candidates(transports)

        session = self.agent.create_session(
            offer,
            candidates=candidates,
            fingerprint=self.fingerprint,
            answer=answer,
            now=self.reactor.seconds(),
        )
        self._media[session.id] = media
        self.mark_idle(session.id)
        try:
            self.attach_handlers(session.streams, media)
        except Exception:
            self.close_session(session.id)
            raise
        self.log.info(
            "Created session {session_id}: media {mode}, streams: {streams}",
            event="session.created",
            session_id=session.id,
            streams=len(session.streams),
            mode=media.mode,
        )
        self.schedule()
        return self.session_info(session)

    def get_session(self, session_id: str) -> SessionInfo | None:
        """
        Return a snapshot of a live session, or L{None}.
        """
        session = self.agent.get_session(session_id)
        if session is None or session.state == IceState.CLOSED:
            return None
        return self.session_info(session)

    def restart_session(self, session_id: str, offer: str) -> SessionInfo | None:
        """
        Restart ICE for a live session with a new offer.

        Streams new in the offer get handlers; the handlers of streams gone
        from it are closed.

        @raise ValueError: The offer is invalid.
        """
        session = self.agent.get_session(session_id)
        if session is None:
            return None
        before = list(session.streams)
        try:
            session = self.agent.restart_session(
                session_id, offer, now=self.reactor.seconds()
            )
        except KeyError:
            return None
        after = set(map(id, session.streams))
        for stream in before:
            if id(stream) not in after and stream.handler is not None:
                stream.handler.close()
        self.attach_handlers(session.streams, self._media.get(session_id, MediaSpec()))
        # The agent returns no events from a restart, and the restart is
        # client activity, so the idle clock starts again here.
        if session.state in IDLE_STATES:
            self.mark_idle(session_id)
        else:
            self._idle_since.pop(session_id, None)
        self.log.info("Restarted ICE for session {session_id}", session_id=session_id)
        self.schedule()
        return self.session_info(session)

    def close_session(self, session_id: str) -> bool:
        """
        End a session and close its handlers.
        """
        session = self.agent.close_session(session_id)
        self._media.pop(session_id, None)
        self._idle_since.pop(session_id, None)
        if session is None:
            return False
        for stream in session.streams:
            if stream.handler is not None:
                stream.handler.close()
        self.log.info(
            "Closed session {session_id}", event="session.closed", session_id=session_id
        )
        return True

    # --- helpers ------------------------------------------------------------

    def candidates(self, transports: frozenset[Transport] | None) -> list[Candidate]:
        """
        Return the host candidates for C{transports} (all when L{None}).

        @raise ValueError: No candidate is left.
        """
        udp_port = self.udp_port
        if udp_port == 0:
            # Started with --udp-port 0, so take the port the mux was bound to.
            local = getattr(self.writers.get(Transport.UDP), "local", ("", 0))
            udp_port = local[1]
        candidates = host_candidates(self.addresses, udp_port, self.tcp_port)
        if transports is not None:
            names = {str(transport) for transport in transports}
            candidates = tuple(c for c in candidates if c.transport in names)
        if not candidates:
            wanted = ", ".join(sorted(map(str, transports or ())))
            raise ValueError(f"this server has no candidates for transport {wanted}")
        return list(candidates)

    def attach_handlers(self, streams: Iterable[Stream], media: MediaSpec) -> None:
        """
        Build a handler for each stream that has none yet.
        """
        for stream in streams:
            if stream.handler is not None:
                continue
            binding = MediaStream(self, stream)
            stream.handler = binding
            binding.handler = self.handler_factory(media, binding)

    def build_handler(self, media: MediaSpec, stream: IMediaStream) -> IStreamHandler:
        """
        Build the C{echo} or C{forward} handler of C{stream}.
        """
        if media.mode == "forward" and media.target is not None:
            handler = ForwardHandler(
                stream, media.target, cast(IReactorUDP, self.reactor)
            )
            handler.start()
            return handler
        return EchoHandler(stream)

    def session_info(self, session: Session) -> SessionInfo:
        """
        Return a snapshot of C{session}.
        """
        return SessionInfo(
            id=session.id,
            answer=session.answer,
            state=str(session.state),
            streams=tuple(self.stream_info(stream) for stream in session.streams),
        )

    def stream_info(self, stream: Stream) -> StreamInfo:
        """
        Return a snapshot of C{stream}.
        """
        media = stream.handler
        return StreamInfo(
            mid=stream.mid or "",
            state=str(stream.state),
            selected=stream.selected,
            packets_received=stream.packets_received,
            packets_sent=stream.packets_sent,
            bytes_received=stream.bytes_received,
            bytes_sent=stream.bytes_sent,
            packets_dropped=media.packets_dropped if media is not None else 0,
        )

    def schedule(self) -> None:
        """
        Make the one consent timer fire at or before the agent's next
        deadline. A timer already due earlier is left alone, because firing
        early only costs one call to C{expire}.
        """
        deadline = self.agent.next_deadline()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None and timer.active() and timer.getTime() <= deadline:
            return
        delay = max(0.0, deadline - self.reactor.seconds())
        if timer is not None and timer.active():
            timer.reset(delay)
        else:
            self._timer = self.reactor.callLater(delay, self.expire)

    def expire(self) -> None:
        """
        Expire consent that has run out, then schedule the next deadline.
        """
        self._timer = None
        try:
            events = self.agent.expire(self.reactor.seconds())
            self.log_events(events)
        except Exception:
            self.log.failure("Consent expiry failed")
        self.schedule()

    def mark_idle(self, session_id: str) -> None:
        """
        Record that a session entered one of L{IDLE_STATES} now, and make
        sure the idle sweep is scheduled.
        """
        if self.session_idle_timeout is None:
            return
        self._idle_since[session_id] = self.reactor.seconds()
        if self._idle_timer is None or not self._idle_timer.active():
            self._idle_timer = self.reactor.callLater(
                self.session_idle_timeout, self.close_idle_sessions
            )

    def close_idle_sessions(self) -> None:
        """
        Close the sessions idle for C{session_idle_timeout} seconds, then
        schedule the sweep for the next one.
        """
        self._idle_timer = None
        timeout = self.session_idle_timeout
        if timeout is None:
            return
        now = self.reactor.seconds()
        expired = [
            session_id
            for session_id, since in self._idle_since.items()
            if since + timeout <= now
        ]
        for session_id in expired:
            session = self.agent.get_session(session_id)
            last_check = self.last_check(session)
            if last_check is not None and last_check + timeout > now:
                # Checks still pass, so the idle clock runs from the last.
                self._idle_since[session_id] = last_check
                continue
            state = "closed" if session is None else str(session.state)
            self.log.info(
                "Closing session {session_id}: {state} for {timeout:.0f} s",
                session_id=session_id,
                state=state,
                timeout=timeout,
            )
            self.close_session(session_id)
        if self._idle_since:
            first = min(self._idle_since.values())
            self._idle_timer = self.reactor.callLater(
                max(0.0, first + timeout - now), self.close_idle_sessions
            )

    @staticmethod
    def last_check(session: Session | None) -> float | None:
        """
        Return when the last check passed on a C{checking} session's
        streams, or L{None} for a session in any other state or without a
        passed check.
        """
        if session is None or session.state is not IceState.CHECKING:
            return None
        checks = [
            stream.last_check
            for stream in session.streams
            if stream.last_check is not None
        ]
        return max(checks, default=None)

    def log_events(self, events: Iterable[Any]) -> None:
        """
        Log the session lifecycle events of the agent. Per-check events stay
        at debug level.
        """
        for event in events:
            if isinstance(event, SessionStateChanged):
                if event.new in IDLE_STATES:
                    self.mark_idle(event.session.id)
                else:
                    self._idle_since.pop(event.session.id, None)
                self.log.info(
                    "Session {session_id} is {state}",
                    event="session.state",
                    session_id=event.session.id,
                    state=str(event.new),
                )
            elif isinstance(event, StateChanged):
                self.log.debug(
                    "Stream {mid} of session {session_id} is {state}",
                    mid=event.stream.mid,
                    session_id=event.stream.session.id,
                    state=str(event.new),
                )
            elif isinstance(event, Nominated):
                self.log.info(
                    "Stream {mid} of session {session_id} selected {transport}"
                    " {host}:{port}",
                    mid=event.stream.mid,
                    session_id=event.stream.session.id,
                    transport=str(event.path.transport),
                    host=event.path.remote[0],
                    port=event.path.remote[1],
                )
            elif isinstance(event, ConsentExpired):
                self.log.info(
                    "Consent expired for stream {mid} of session {session_id}",
                    mid=event.stream.mid,
                    session_id=event.stream.session.id,
                )
            elif isinstance(event, PathClosed):
                self.log.info(
                    "Stream {mid} of session {session_id} lost its {transport}"
                    " path to {host}:{port}: the connection closed{note}",
                    mid=event.stream.mid,
                    session_id=event.stream.session.id,
                    transport=str(event.path.transport),
                    host=event.path.remote[0],
                    port=event.path.remote[1],
                    note=", so no path is selected" if event.selected else "",
                )
            elif isinstance(event, CredentialsRetired):
                self.log.info(
                    "Stream {mid} of session {session_id} retired its previous"
                    " credentials",
                    mid=event.stream.mid,
                    session_id=event.stream.session.id,
                )

    def log_failure(self, path: Path) -> None:
        """
        Log the exception being handled, at most once every
        L{FAILURE_LOG_INTERVAL} seconds, and count the ones not logged.
        """
        now = self.reactor.seconds()
        if now - self._last_failure_log < FAILURE_LOG_INTERVAL:
            self._unlogged_failures += 1
            return
        self.log.failure(
            "ICE service failed on a packet from {client}"
            " (failures since the last log: {unlogged})",
            client=path.remote,
            unlogged=self._unlogged_failures,
        )
        self._last_failure_log = now
        self._unlogged_failures = 0

    def stopService(self) -> None:
        """
        Close every session, so that C{forward} sockets close, and stop the
        timer.
        """
        for session_id in list(self.agent.sessions):
            self.close_session(session_id)
        for timer in (self._timer, self._idle_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._timer = None
        self._idle_timer = None
        super().stopService()  # type: ignore[no-untyped-call]


def default_public_addresses(interface: str) -> list[str]:
    """
    Return the addresses to put in candidates when C{--public-ip} is not
    given.

    A specific C{interface} is returned as it is. For a wildcard address or
    no interface, the result is every address of this machine's interfaces
    except loopback and link-local ones. C{0.0.0.0} gives IPv4 only, and
    C{::} or no interface gives IPv4 and IPv6.
    """
    if interface and interface not in ("0.0.0.0", "::"):  # noqa: S104
        return [interface]

    import ifaddr

    wanted = (4,) if interface == "0.0.0.0" else (4, 6)  # noqa: S104
    addresses = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            host = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            address = ipaddress.ip_address(host)
            if address.version not in wanted:
                continue
            if address.is_loopback or address.is_link_local:
                continue
            if str(address) not in addresses:
                addresses.append(str(address))
    addresses.sort(key=lambda host: ":" in host)
    return addresses
