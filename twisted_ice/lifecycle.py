"""
The operations layer of C{twistd mcs-ice}: reload on SIGHUP, drain on
SIGTERM, and the metrics endpoint, around the service tree of
L{twisted_ice.tap.makeService}.

L{OperationsService} is the root service. Its C{stopService}, which twistd
calls before shutdown, first drains: the session API responds 503 to new
sessions and C{/health}, TURN refuses new allocations (486, or 300 with
ALTERNATE-SERVER), and live sessions and allocations go on until they end or
C{--drain-timeout} passes. Only then do the other services stop. A second
SIGTERM (or SIGINT) ends the drain at once.
"""

from __future__ import annotations

import enum
import ipaddress
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any, cast

from twisted.application.service import IService, MultiService
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorTime
from twisted.logger import Logger
from twisted.python import usage

from twisted_ice.addresses import Address

DEFAULT_DRAIN_TIMEOUT = 60.0
"""Seconds SIGTERM waits for live sessions and allocations by default."""

DRAIN_POLL_INTERVAL = 1.0
"""Seconds between two counts of live sessions and allocations while
draining."""

OPERATIONS_OPTIONS = [
    [
        "config",
        None,
        None,
        "TOML or INI file of options, by their long names; the command line"
        " wins over it. SIGHUP rereads it.",
    ],
    [
        "metrics",
        None,
        None,
        "Twisted endpoint string of the Prometheus metrics page (/metrics),"
        " such as tcp:9100:interface=127.0.0.1. Default: no metrics.",
    ],
    [
        "drain-timeout",
        None,
        str(int(DEFAULT_DRAIN_TIMEOUT)),
        "Seconds SIGTERM waits for live sessions and TURN allocations to end"
        " before exiting. A second SIGTERM exits at once.",
    ],
    [
        "alternate-server",
        None,
        None,
        "IP:PORT that new TURN allocations are redirected to (300 Try"
        " Alternate) while draining. Default: refuse them with 486.",
    ],
]
"""The C{optParameters} rows of the operations options of C{twistd mcs-ice}."""

RELOADABLE_OPTIONS = frozenset(
    {
        "users",
        "user",
        "auth-secret",
        "allow-peer",
        "deny-peer",
        "alternate-server",
        "drain-timeout",
    }
)
"""Options that SIGHUP applies to the running server. A change to another
option is logged as needing a restart."""

_DERIVED_OPTIONS = frozenset(
    {"config", "dtls-fingerprint", "tls-context", "turn", "forward-allow"}
)

SignalHandler = Callable[[int, FrameType | None], Any] | int | None
SignalInstaller = Callable[[int, SignalHandler], SignalHandler]


# --- Options -----------------------------------------------------------------


def parse_alternate_server(value: str) -> Address:
    """
    Parse C{IP:PORT} or C{[IPv6]:PORT}.

    @raise usage.UsageError: naming the value when it is not one.
    """
    host, colon, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise usage.UsageError(
            f"invalid --alternate-server {value!r}: expected IP:PORT or [IPv6]:PORT"
        ) from None
    if not colon or not 0 < port <= 65535:
        raise usage.UsageError(
            f"invalid --alternate-server {value!r}: the port must be 1-65535"
        )
    return (str(address), port)


def check_operations_options(options: usage.Options) -> None:
    """
    Check and convert the operations options: C{drain-timeout} becomes a
    L{float}, C{alternate-server} an L{Address} or L{None}.

    @raise usage.UsageError: when a value is invalid.
    """
    timeout = options["drain-timeout"]
    try:
        seconds = float(str(timeout))
    except ValueError:
        raise usage.UsageError(
            f"invalid --drain-timeout {timeout!r}: not a number of seconds"
        ) from None
    if not 0 <= seconds < float("inf"):
        raise usage.UsageError(
            f"invalid --drain-timeout {timeout!r}: not 0 or more seconds"
        )
    options["drain-timeout"] = seconds
    if options["alternate-server"] is not None and not isinstance(
        options["alternate-server"], tuple
    ):
        options["alternate-server"] = parse_alternate_server(
            options["alternate-server"]
        )
    if options["metrics"] is not None and not options["metrics"].strip():
        raise usage.UsageError("invalid --metrics: empty endpoint string")


# --- Drain ---------------------------------------------------------------------


class DrainState(enum.StrEnum):
    """
    The states of a L{Drain}: C{running} until it starts, C{draining} until
    nothing is live or the timeout passes, then C{drained}.
    """

    RUNNING = "running"
    DRAINING = "draining"
    DRAINED = "drained"


class DrainEnd(enum.StrEnum):
    """
    Why a drain ended: the result of L{Drain.start}'s L{Deferred}.
    """

    IDLE = "idle"
    TIMEOUT = "timeout"
    FORCED = "forced"


class Drain:
    """
    The drain state machine: stop taking new work, then wait until the live
    count is 0 or C{timeout} seconds have passed.

    @ivar state: the L{DrainState}.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        timeout: float,
        live: Callable[[], Mapping[str, int]],
        begin: Callable[[], None],
        interval: float = DRAIN_POLL_INTERVAL,
    ) -> None:
        """
        @param clock: the clock of the timeout and of the polls.
        @param timeout: the maximum seconds to wait for live work.
        @param live: a callable that returns the live work by kind, such as
            C{{"sessions": 2, "allocations": 1}}. It is polled every
            C{interval} seconds.
        @param begin: a callable run once when the drain starts, to reject
            new work.
        @param interval: seconds between two polls of C{live}.
        """
        self.state = DrainState.RUNNING
        self.timeout = timeout
        self._clock = clock
        self._live = live
        self._begin = begin
        self._interval = interval
        self._done: Deferred[DrainEnd] | None = None
        self._poll_call: IDelayedCall | None = None
        self._timeout_call: IDelayedCall | None = None
        self._end: DrainEnd | None = None

    def start(self) -> Deferred[DrainEnd]:
        """
        Start draining, once. Every call returns a L{Deferred} that fires
        with the L{DrainEnd} when the drain is over.
        """
        if self.state is DrainState.DRAINED:
            assert self._end is not None
            return succeed(self._end)
        if self._done is None:
            self._done = Deferred()
            self.state = DrainState.DRAINING
            self._begin()
            live = dict(self._live())
            self.log.info(
                "Draining: no new sessions or allocations. Waiting up to"
                " {timeout} s for {live}",
                event="drain.started",
                timeout=self.timeout,
                live=_describe(live),
                **live,
            )
            self._timeout_call = self._clock.callLater(
                self.timeout, self._finish, DrainEnd.TIMEOUT
            )
            self._poll()
        return self._chained()

    def force(self) -> None:
        """
        End the drain at once, when it is running.
        """
        if self.state is DrainState.DRAINING:
            self._finish(DrainEnd.FORCED)

    def _chained(self) -> Deferred[DrainEnd]:
        assert self._done is not None
        result: Deferred[DrainEnd] = Deferred()
        if self.state is DrainState.DRAINED:
            assert self._end is not None
            result.callback(self._end)
        else:
            self._done.addBoth(_pass_on, result)
        return result

    def _poll(self) -> None:
        self._poll_call = None
        if self.state is not DrainState.DRAINING:
            return
        if not any(self._live().values()):
            self._finish(DrainEnd.IDLE)
            return
        self._poll_call = self._clock.callLater(self._interval, self._poll)

    def _finish(self, end: DrainEnd) -> None:
        if self.state is not DrainState.DRAINING:
            return
        for call in (self._poll_call, self._timeout_call):
            if call is not None and call.active():
                call.cancel()
        self._poll_call = self._timeout_call = None
        self.state = DrainState.DRAINED
        self._end = end
        live = dict(self._live())
        self.log.info(
            "Drain ended ({end}) with {live}",
            event="drain.ended",
            end=end.value,
            live=_describe(live),
            **live,
        )
        assert self._done is not None
        self._done.callback(end)


def _pass_on(result: Any, target: Deferred[DrainEnd]) -> Any:
    target.callback(result)
    return result


def _describe(live: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in live.items())


# --- Finding the services --------------------------------------------------------


def walk(service: IService) -> Iterator[IService]:
    """
    Yield C{service} and every service below it.
    """
    yield service
    if isinstance(service, MultiService):
        for child in service:
            yield from walk(child)


class ServiceTree:
    """
    The parts of a C{twistd mcs-ice} service tree that operations read:
    each is L{None} when the tree lacks it.
    """

    def __init__(self, root: IService) -> None:
        """
        Find the parts below C{root}.
        """
        from twisted_ice.api import ApiService, SessionApi
        from twisted_ice.credentials import ReloadOnSighup
        from twisted_ice.transport.ice import IceService
        from twisted_ice.transport.tcp import TcpMuxService
        from twisted_ice.transport.turn import TurnService
        from twisted_ice.transport.udp import UdpMuxService

        self.udp_mux = None
        self.tcp_mux = None
        self.ice: IceService | None = None
        self.turn: TurnService | None = None
        self.api: SessionApi | None = None
        self.users_reloader: ReloadOnSighup | None = None
        for service in walk(root):
            if isinstance(service, UdpMuxService):
                self.udp_mux = service.mux
            elif isinstance(service, TcpMuxService):
                self.tcp_mux = service.mux
            elif isinstance(service, IceService):
                self.ice = service
            elif isinstance(service, TurnService):
                self.turn = service
            elif isinstance(service, ApiService):
                resource = service.site.resource
                if isinstance(resource, SessionApi):
                    self.api = resource
            elif isinstance(service, ReloadOnSighup):
                self.users_reloader = service

    def live(self) -> dict[str, int]:
        """
        Return the sessions that are not closed or disconnected, and the
        TURN allocations.
        """
        from twisted_ice.ice import IceState

        sessions = 0
        if self.ice is not None:
            ended = (IceState.CLOSED, IceState.DISCONNECTED)
            sessions = sum(
                1
                for session in self.ice.agent.sessions.values()
                if session.state not in ended
            )
        allocations = self.turn.core.allocation_count if self.turn else 0
        return {"sessions": sessions, "allocations": allocations}

    def begin_drain(self, alternate_server: Address | None) -> None:
        """
        Make the API and TURN refuse new sessions and allocations.
        """
        if self.api is not None:
            self.api.draining = True
        if self.turn is not None:
            self.turn.alternate_server = alternate_server
            self.turn.draining = True


# --- Reload ----------------------------------------------------------------------


def _comparable(value: Any) -> bool:
    return value is None or isinstance(
        value, str | int | float | bool | list | tuple | range
    )


def changed_options(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """
    Return the names of the options whose value differs, in order, skipping
    values derived at parse time (such as a generated certificate).
    """
    names = []
    for name in sorted(set(old) | set(new)):
        if name in _DERIVED_OPTIONS:
            continue
        before, after = old.get(name), new.get(name)
        if not (_comparable(before) and _comparable(after)):
            continue
        if before != after:
            names.append(name)
    return names


class Reloader:
    """
    Rereads the command line and the configuration file and applies the
    reloadable options to the running services: the TURN users file and
    C{--user} users, the REST secrets, the peer policy, the drain options.

    Sessions and allocations are untouched: only the credential stores and
    the policy that later requests meet change.

    @ivar options: the settings in effect, from the last successful reload.
    @ivar started: the settings the process started with.
    """

    log = Logger()

    def __init__(
        self,
        options: usage.Options,
        tree: ServiceTree,
        parse: Callable[[Sequence[str]], usage.Options] | None = None,
    ) -> None:
        """
        @param options: the options the server started with. L{options}
            is replaced by each successful reload, and L{started} keeps
            them to tell which changes still need a restart.
        @param tree: the services to apply the options to.
        @param parse: parses an argv into checked options, raising
            L{usage.UsageError} or L{SystemExit}; a new instance of
            C{type(options)} by default.
        """
        self.options = options
        self.started = options
        self.tree = tree
        self._parse = parse or self._parse_again
        self.on_reload: list[Callable[[usage.Options], None]] = []

    def _parse_again(self, argv: Sequence[str]) -> usage.Options:
        options = type(self.options)()
        options.parseOptions(list(argv))
        return options

    def reload(self) -> bool:
        """
        Parse the options again and apply the reloadable ones.

        When parsing fails (L{usage.UsageError} or L{SystemExit}) or applying
        the new settings raises, log the error and keep the settings loaded
        before.

        @return: whether the new settings were applied.
        """
        argv = getattr(self.options, "argv", None) or []
        try:
            new = self._parse(argv)
        except (usage.UsageError, SystemExit) as error:
            self.log.error(
                "Reload failed, keeping the settings loaded before: {error}",
                event="reload.failed",
                error=str(error),
            )
            return False
        applied = [
            name
            for name in changed_options(self.options, new)
            if name in RELOADABLE_OPTIONS
        ]
        # Compared with the start-up settings, not the previous reload's, so a
        # pending restart is reported on every reload until it is done, and a
        # value set back to the running one needs none.
        restart = [
            name
            for name in changed_options(self.started, new)
            if name not in RELOADABLE_OPTIONS
        ]
        try:
            contents_changed = self.apply(new)
        except Exception:
            self.log.failure(
                "Reload failed, keeping the settings loaded before",
                event="reload.failed",
            )
            return False
        applied = sorted(set(applied) | set(contents_changed))
        self.options = new
        for callback in self.on_reload:
            callback(new)
        self.log.info(
            "Reloaded the settings; changed: {applied}",
            event="reload.done",
            applied=", ".join(applied) or "nothing",
            changed=applied,
        )
        if restart:
            self.log.warn(
                "Changed options that take effect only after a restart: {restart}",
                event="reload.restart-needed",
                restart=", ".join(restart),
                restart_needed=restart,
            )
        return True

    def apply(self, new: Mapping[str, Any]) -> list[str]:
        """
        Apply the reloadable TURN options of C{new}: credential stores and
        peer policy. Nothing is changed when building them fails.

        @return: the options whose files changed although their values did
            not: C{["users"]} when the users file's contents changed.
        """
        turn = self.tree.turn
        if turn is None:
            if new.get("turn"):
                self.log.warn(
                    "TURN is configured now but was not at startup."
                    " Restart to enable it",
                    event="reload.restart-needed",
                )
            return []
        from twisted_ice.credentials import (
            ChainedCredentialStore,
            RestCredentialStore,
            StaticCredentialStore,
            UsersFileStore,
            parse_user,
        )
        from twisted_ice.transport.turn import own_addresses
        from twisted_ice.turn import PeerPolicy

        policy = PeerPolicy(
            own_addresses=own_addresses(new),
            allow=new["allow-peer"],
            deny=new["deny-peer"],
        )
        static_users = dict(map(parse_user, new["user"]))
        secrets = [secret.encode("utf-8") for secret in new["auth-secret"]]

        store = turn._store
        stores = store.stores if isinstance(store, ChainedCredentialStore) else [store]
        users_file = next((s for s in stores if isinstance(s, UsersFileStore)), None)
        static = next(
            (
                s
                for s in stores
                if type(s) is StaticCredentialStore  # not a UsersFileStore
            ),
            None,
        )
        rest = next((s for s in stores if isinstance(s, RestCredentialStore)), None)
        new_stores: list[Any] = []
        if new["users"] is not None and users_file is None:
            users_file = UsersFileStore(new["users"])
            new_stores.append(users_file)
        if static is None and static_users:
            static = StaticCredentialStore()
            new_stores.append(static)
        if rest is None and secrets:
            rest = RestCredentialStore([], separator=new["rest-api-separator"])
            new_stores.append(rest)

        # Everything is built: now change the running objects.
        contents_changed = []
        if users_file is not None:
            users_before = dict(users_file.users)
            if new["users"] is None:
                users_file.users = {}
            else:
                users_file.path = new["users"]
                users_file.reload()
            if users_file.users != users_before:
                contents_changed.append("users")
        if static is not None:
            static.users = static_users
        if rest is not None:
            rest.secrets = secrets
        if new_stores:
            if isinstance(store, ChainedCredentialStore):
                store.stores.extend(new_stores)
            else:
                turn._store = ChainedCredentialStore([store, *new_stores])
        turn.core.policy = policy
        turn.alternate_server = new.get("alternate-server")
        return contents_changed


# --- The root service --------------------------------------------------------------


class OperationsService(MultiService):
    """
    The root of the C{twistd mcs-ice} service tree: logs start and stop,
    reloads on SIGHUP, drains on SIGTERM and SIGINT before its children stop.

    @ivar drain: the drain state machine.
    @ivar reloader: what SIGHUP runs.
    """

    log = Logger()

    def __init__(
        self,
        tree: ServiceTree,
        reloader: Reloader,
        drain_timeout: float,
        alternate_server: Address | None = None,
        reactor: Any = None,
        install: SignalInstaller = signal.signal,
    ) -> None:
        """
        @param tree: the services to drain.
        @param reloader: runs the reload.
        @param drain_timeout: seconds to wait for live work on stop.
        @param alternate_server: the ALTERNATE-SERVER of 300 responses while
            draining, or L{None} for 486.
        @param reactor: the clock, C{stop} and C{callFromThread}, or L{None}
            for the global reactor.
        @param install: installs a signal handler and returns the previous
            one, like L{signal.signal}; tests pass a fake.
        """
        super().__init__()  # type: ignore[no-untyped-call]
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.tree = tree
        self.reloader = reloader
        self.alternate_server = alternate_server
        self._reactor = reactor
        self._install = install
        self._previous: dict[int, SignalHandler] = {}
        self.drain = Drain(
            cast(IReactorTime, reactor),
            drain_timeout,
            tree.live,
            self._begin_drain,
        )
        reloader.on_reload.append(self._reloaded)

    def _begin_drain(self) -> None:
        self.tree.begin_drain(self.alternate_server)

    def _reloaded(self, options: usage.Options) -> None:
        self.alternate_server = options.get("alternate-server")
        if self.drain.state is DrainState.RUNNING:
            self.drain.timeout = options["drain-timeout"]

    def startService(self) -> None:
        """
        Start the children, and install the signal handlers once the reactor
        runs (after the reactor's own).
        """
        super().startService()  # type: ignore[no-untyped-call]
        cast(IReactorCore, self._reactor).callWhenRunning(self.install_handlers)

    def install_handlers(self) -> None:
        """
        Install the SIGHUP, SIGTERM and SIGINT handlers, keeping the ones
        they replace for L{stopService}.
        """
        if not self.running:
            return
        for number, handler in (
            (signal.SIGHUP, self._sighup),
            (signal.SIGTERM, self._sigterm),
            (signal.SIGINT, self._sigterm),
        ):
            self._previous[number] = self._install(number, handler)
        # Logged only now: a signal that arrives before this line may still
        # meet the default handlers, which end the process without a drain.
        self.log.info(
            "mcs-ice started; SIGHUP reloads, SIGTERM drains for up to"
            " {drain_timeout} s",
            event="server.started",
            drain_timeout=self.drain.timeout,
        )

    def restore_handlers(self) -> None:
        """
        Put back the signal handlers that L{install_handlers} replaced.
        """
        previous, self._previous = self._previous, {}
        for number, handler in previous.items():
            self._install(number, signal.SIG_DFL if handler is None else handler)

    def _sighup(self, number: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.reloader.reload)

    def _sigterm(self, number: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.terminate, signal.Signals(number).name)

    def terminate(self, name: str = "SIGTERM") -> None:
        """
        Stop the reactor, which drains before the services stop. When
        already draining, end the drain at once.
        """
        if self.drain.state is DrainState.RUNNING:
            self.log.info(
                "Received {signal}, draining. Send it again to exit at once",
                event="server.stopping",
                signal=name,
            )
            self._reactor.stop()
        elif self.drain.state is DrainState.DRAINING:
            self.log.info(
                "Received {signal} again: exiting without waiting",
                event="server.stopping",
                signal=name,
            )
            self.drain.force()

    def stopService(self) -> Deferred[Any]:
        """
        Drain, then stop the children.
        """
        done = self.drain.start()
        done.addCallback(self._stop_children)
        return done

    def _stop_children(self, end: DrainEnd) -> Any:
        self.restore_handlers()
        stopped = super().stopService()  # type: ignore[no-untyped-call]
        self.log.info("mcs-ice stopped", event="server.stopped")
        return stopped


# --- Building --------------------------------------------------------------------


def build_operations(options: usage.Options, parent: MultiService) -> IService:
    """
    Move the services of C{parent} into an L{OperationsService}, with the
    metrics endpoint when C{--metrics} is set. The users file reload that
    the TURN builder added is replaced by the reload of every option.

    @return: the new root service.
    @raise SystemExit: when the C{--metrics} endpoint string is invalid.
    """
    tree = ServiceTree(parent)
    if tree.users_reloader is not None:
        tree.users_reloader.disownServiceParent()  # type: ignore[no-untyped-call]
    root = OperationsService(
        tree,
        Reloader(options, tree),
        options["drain-timeout"],
        options["alternate-server"],
    )
    # The services move to the root, in order, so the tree stays one level.
    for child in list(parent):
        child.disownServiceParent()
        child.setServiceParent(root)
    if options["metrics"] is not None:
        from twisted.internet import reactor

        from twisted_ice.metrics import MetricsService, build_registry

        try:
            endpoint = endpoints.serverFromString(reactor, options["metrics"])
        except ValueError as error:
            raise SystemExit(
                f"twistd mcs-ice: invalid --metrics {options['metrics']!r}: {error}"
            ) from None
        service = MetricsService(endpoint, build_registry(tree), options["metrics"])
        service.setServiceParent(root)  # type: ignore[no-untyped-call]
    return root


__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "OPERATIONS_OPTIONS",
    "Drain",
    "DrainEnd",
    "DrainState",
    "OperationsService",
    "Reloader",
    "ServiceTree",
    "build_operations",
    "check_operations_options",
    "parse_alternate_server",
]
