"""
Tests for L{twisted_ice.lifecycle}: the drain state machine, the signal
handling of L{OperationsService} and the reload of TURN settings.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python import usage
from twisted.trial import unittest

from twisted_ice import tap
from twisted_ice.credentials import RestCredentialStore, StaticCredentialStore
from twisted_ice.lifecycle import (
    Drain,
    DrainEnd,
    DrainState,
    OperationsService,
    Reloader,
    changed_options,
    check_operations_options,
    parse_alternate_server,
)
from twisted_ice.transport.turn import build_turn_service
from twisted_ice.transport.udp import UdpMux


class DrainTests(unittest.TestCase):
    """
    Tests for L{Drain}.
    """

    def setUp(self) -> None:
        """
        A drain of 60 s over a mutable live count.
        """
        self.clock = Clock()
        self.live = {"sessions": 1, "allocations": 1}
        self.begun: list[bool] = []
        self.drain = Drain(
            self.clock, 60.0, lambda: self.live, lambda: self.begun.append(True)
        )

    def start(self) -> list[DrainEnd]:
        """
        Start the drain; return the list its result lands in.
        """
        ends: list[DrainEnd] = []
        self.drain.start().addCallback(ends.append)
        return ends

    def test_starts_running(self) -> None:
        """
        A new drain is C{running}.
        """
        self.assertIs(self.drain.state, DrainState.RUNNING)

    def test_start_begins_once(self) -> None:
        """
        Starting calls C{begin} once, even when started twice.
        """
        self.start()
        self.start()
        self.assertEqual(self.begun, [True])

    def test_waits_while_live(self) -> None:
        """
        The drain waits while work is live.
        """
        ends = self.start()
        self.clock.advance(30)
        self.assertEqual(ends, [])
        self.assertIs(self.drain.state, DrainState.DRAINING)

    def test_ends_when_idle(self) -> None:
        """
        The drain ends at the first poll that finds nothing live.
        """
        ends = self.start()
        self.live = {"sessions": 0, "allocations": 0}
        self.clock.advance(1)
        self.assertEqual(ends, [DrainEnd.IDLE])
        self.assertIs(self.drain.state, DrainState.DRAINED)

    def test_idle_at_start_ends_at_once(self) -> None:
        """
        With nothing live, the drain ends without waiting.
        """
        self.live = {"sessions": 0, "allocations": 0}
        ends = self.start()
        self.assertEqual(ends, [DrainEnd.IDLE])

    def test_times_out(self) -> None:
        """
        After the timeout the drain ends though work is live.
        """
        ends = self.start()
        self.clock.advance(59)
        self.assertEqual(ends, [])
        self.clock.advance(1)
        self.assertEqual(ends, [DrainEnd.TIMEOUT])

    def test_force_ends_at_once(self) -> None:
        """
        L{Drain.force} ends a running drain at once.
        """
        ends = self.start()
        self.drain.force()
        self.assertEqual(ends, [DrainEnd.FORCED])

    def test_no_calls_left_after_end(self) -> None:
        """
        An ended drain leaves no delayed call behind.
        """
        self.start()
        self.drain.force()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_force_before_start_does_nothing(self) -> None:
        """
        Forcing a drain that has not started changes nothing.
        """
        self.drain.force()
        self.assertIs(self.drain.state, DrainState.RUNNING)

    def test_start_after_end_fires_at_once(self) -> None:
        """
        Starting an ended drain gives its end at once.
        """
        self.start()
        self.drain.force()
        self.assertEqual(self.start(), [DrainEnd.FORCED])

    def test_every_start_gets_result(self) -> None:
        """
        Each caller of L{Drain.start} gets the end.
        """
        first = self.start()
        second = self.start()
        self.clock.advance(60)
        self.assertEqual(first, [DrainEnd.TIMEOUT])
        self.assertEqual(second, [DrainEnd.TIMEOUT])

    def test_zero_timeout(self) -> None:
        """
        A timeout of 0 ends the drain at the next clock tick.
        """
        drain = Drain(self.clock, 0.0, lambda: self.live, lambda: None)
        ends: list[DrainEnd] = []
        drain.start().addCallback(ends.append)
        self.clock.advance(0)
        self.assertEqual(ends, [DrainEnd.TIMEOUT])


class FakeReactor(Clock):
    """
    A clock with C{stop}, C{callFromThread} and C{callWhenRunning} that run
    or record at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stops = 0

    def stop(self) -> None:
        """
        Count a stop.
        """
        self.stops += 1

    def callFromThread(self, function: Callable[..., Any], *args: Any) -> None:  # noqa: N802
        """
        Call C{function} now.
        """
        function(*args)

    def callWhenRunning(self, function: Callable[..., Any], *args: Any) -> None:  # noqa: N802
        """
        Call C{function} now: the reactor is running.
        """
        function(*args)


class FakeSignals:
    """
    Records installed signal handlers, like L{signal.signal}.
    """

    def __init__(self) -> None:
        self.handlers: dict[int, Any] = {}

    def __call__(self, number: int, handler: Any) -> Any:
        """
        Install C{handler}; return the previous one.
        """
        previous = self.handlers.get(number)
        self.handlers[number] = handler
        return previous


class FakeTree:
    """
    A service tree with a mutable live count and a draining flag.
    """

    def __init__(self) -> None:
        self.counts = {"sessions": 1, "allocations": 1}
        self.draining_with: list[Any] = []

    def live(self) -> dict[str, int]:
        """
        Return the live counts.
        """
        return self.counts

    def begin_drain(self, alternate_server: Any) -> None:
        """
        Record the drain.
        """
        self.draining_with.append(alternate_server)


class ChildService(MultiService):
    """
    A child that records when it stops.
    """

    stopped = False

    def stopService(self) -> Any:
        """
        Record the stop.
        """
        self.stopped = True
        return super().stopService()


class OperationsServiceTests(unittest.TestCase):
    """
    Tests for L{OperationsService}: SIGTERM drains before the children stop.
    """

    def setUp(self) -> None:
        """
        A started service with one child, fake signals and a fake reactor.
        """
        self.reactor = FakeReactor()
        self.signals = FakeSignals()
        self.tree = FakeTree()
        reloads: list[bool] = []
        reloader = SimpleNamespace(reload=lambda: reloads.append(True), on_reload=[])
        self.reloads = reloads
        self.service = OperationsService(
            self.tree,  # type: ignore[arg-type]
            reloader,  # type: ignore[arg-type]
            30.0,
            ("192.0.2.7", 3478),
            reactor=self.reactor,
            install=self.signals,
        )
        self.child = ChildService()
        self.child.setServiceParent(self.service)
        self.service.startService()

    def send(self, number: int) -> None:
        """
        Deliver signal C{number} to the installed handler.
        """
        self.signals.handlers[number](number, None)

    def test_handlers_installed(self) -> None:
        """
        SIGHUP, SIGTERM and SIGINT get handlers once the reactor runs.
        """
        for number in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            self.assertTrue(callable(self.signals.handlers.get(number)), number)

    def test_sighup_reloads(self) -> None:
        """
        SIGHUP runs the reload.
        """
        self.send(signal.SIGHUP)
        self.assertEqual(self.reloads, [True])

    def test_sigterm_stops_reactor(self) -> None:
        """
        The first SIGTERM stops the reactor, which then stops the service.
        """
        self.send(signal.SIGTERM)
        self.assertEqual(self.reactor.stops, 1)

    def test_stop_drains_first(self) -> None:
        """
        Stopping begins the drain with the alternate server and leaves the
        children running while work is live.
        """
        self.service.stopService()
        self.assertEqual(self.tree.draining_with, [("192.0.2.7", 3478)])
        self.assertFalse(self.child.stopped)

    def test_children_stop_after_timeout(self) -> None:
        """
        The children stop once the drain timeout passes.
        """
        stopped: Deferred[Any] = self.service.stopService()
        results: list[Any] = []
        stopped.addCallback(results.append)
        self.reactor.advance(30)
        self.assertTrue(self.child.stopped)
        self.assertEqual(len(results), 1)

    def test_children_stop_when_idle(self) -> None:
        """
        The children stop as soon as nothing is live.
        """
        self.service.stopService()
        self.tree.counts = {"sessions": 0, "allocations": 0}
        self.reactor.advance(1)
        self.assertTrue(self.child.stopped)

    def test_second_sigterm_forces(self) -> None:
        """
        A second SIGTERM during the drain stops the children at once.
        """
        self.send(signal.SIGTERM)
        self.service.stopService()
        self.send(signal.SIGTERM)
        self.assertTrue(self.child.stopped)
        self.assertEqual(self.reactor.stops, 1)

    def test_handlers_restored(self) -> None:
        """
        The handlers in place before are put back when the children stop;
        none in place means the default.
        """
        self.service.stopService()
        self.service.drain.force()
        self.assertEqual(self.signals.handlers[signal.SIGTERM], signal.SIG_DFL)


class OptionsTests(unittest.TestCase):
    """
    Tests for the operations options.
    """

    def options(self, **values: Any) -> dict[str, Any]:
        """
        Return checked options with C{values} over the defaults.
        """
        options: dict[str, Any] = {
            "drain-timeout": "60",
            "alternate-server": None,
            "metrics": None,
        }
        options.update(values)
        check_operations_options(options)  # type: ignore[arg-type]
        return options

    def test_drain_timeout_float(self) -> None:
        """
        C{--drain-timeout} becomes seconds as a float.
        """
        self.assertEqual(self.options()["drain-timeout"], 60.0)

    def test_drain_timeout_negative(self) -> None:
        """
        A negative timeout is rejected, naming the option.
        """
        with self.assertRaises(usage.UsageError) as caught:
            self.options(**{"drain-timeout": "-1"})
        self.assertIn("--drain-timeout '-1'", str(caught.exception))

    def test_alternate_server_ipv4(self) -> None:
        """
        C{IP:PORT} becomes an address.
        """
        self.assertEqual(parse_alternate_server("192.0.2.1:3478"), ("192.0.2.1", 3478))

    def test_alternate_server_ipv6(self) -> None:
        """
        C{[IPv6]:PORT} becomes an address.
        """
        self.assertEqual(
            parse_alternate_server("[2001:db8::1]:443"), ("2001:db8::1", 443)
        )

    def test_alternate_server_name_rejected(self) -> None:
        """
        A host name is rejected: ALTERNATE-SERVER carries an address.
        """
        with self.assertRaises(usage.UsageError) as caught:
            parse_alternate_server("turn.example:3478")
        self.assertIn("expected IP:PORT", str(caught.exception))

    def test_alternate_server_port_zero(self) -> None:
        """
        Port 0 is rejected.
        """
        with self.assertRaises(usage.UsageError):
            parse_alternate_server("192.0.2.1:0")


def parse_tap(argv: Sequence[str]) -> tap.Options:
    """
    Parse C{twistd mcs-ice} options on loopback, TCP off.
    """
    options = tap.Options()
    options.parseOptions(["--interface", "127.0.0.1", "--tcp-port", "0", *argv])
    return options


class ReloaderTests(unittest.TestCase):
    """
    Tests for L{Reloader} against a real TURN service.
    """

    def setUp(self) -> None:
        """
        A TURN service with one static user and one REST secret.
        """
        self.argv = ["--user", "alice:one", "--auth-secret", "s1"]
        self.options = parse_tap(self.argv)
        parent = MultiService()
        self.turn = build_turn_service(self.options, parent, UdpMux(clock=Clock()))
        assert self.turn is not None
        self.tree = SimpleNamespace(turn=self.turn)
        self.next_argv: list[str] = self.argv

    def reloader(self) -> Reloader:
        """
        Return a reloader that parses L{next_argv} on reload.
        """
        return Reloader(
            self.options,
            self.tree,  # type: ignore[arg-type]
            parse=lambda argv: parse_tap(self.next_argv),
        )

    def stores(self) -> list[Any]:
        """
        Return the TURN service's credential stores.
        """
        return list(self.turn._store.stores)  # type: ignore[attr-defined]

    def test_secrets_replaced(self) -> None:
        """
        New REST secrets replace the old ones.
        """
        self.next_argv = ["--user", "alice:one", "--auth-secret", "s2"]
        self.assertTrue(self.reloader().reload())
        rest = [s for s in self.stores() if isinstance(s, RestCredentialStore)]
        self.assertEqual(rest[0].secrets, [b"s2"])

    def test_users_replaced(self) -> None:
        """
        New C{--user} users replace the old ones.
        """
        self.next_argv = ["--user", "bob:two", "--auth-secret", "s1"]
        self.reloader().reload()
        static = [s for s in self.stores() if type(s) is StaticCredentialStore]
        self.assertEqual(static[0].users, {"bob": "two"})

    def test_policy_replaced(self) -> None:
        """
        A new deny rule reaches the TURN core's peer policy.
        """
        before = self.turn.core.policy
        self.next_argv = [*self.argv, "--deny-peer", "198.51.100.0/24"]
        self.reloader().reload()
        self.assertIsNot(self.turn.core.policy, before)
        self.assertFalse(self.turn.core.policy.is_allowed(("198.51.100.1", 1)))

    def test_error_keeps_old_settings(self) -> None:
        """
        An invalid option fails the reload and changes nothing.
        """
        before = self.turn.core.policy
        self.next_argv = [*self.argv, "--deny-peer", "not-a-network"]
        self.assertFalse(self.reloader().reload())
        self.assertIs(self.turn.core.policy, before)

    def test_restart_needed_reported(self) -> None:
        """
        A changed option that cannot be reloaded is listed, not applied.
        """
        self.next_argv = [*self.argv, "--realm", "other"]
        self.assertEqual(
            changed_options(self.options, parse_tap(self.next_argv)), ["realm"]
        )

    def reload_events(self, reloader: Reloader, event: str) -> list[LogEvent]:
        """
        Run one reload of C{reloader}; return its log events named C{event}.
        """
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        try:
            reloader.reload()
        finally:
            globalLogPublisher.removeObserver(events.append)
        return [e for e in events if e.get("event") == event]

    def test_restart_needed_repeated(self) -> None:
        """
        A pending restart is reported again on the next reload, until the
        process restarts.
        """
        reloader = self.reloader()
        self.next_argv = [*self.argv, "--realm", "other"]
        first = self.reload_events(reloader, "reload.restart-needed")
        second = self.reload_events(reloader, "reload.restart-needed")
        self.assertEqual(first[0]["restart_needed"], ["realm"])
        self.assertEqual(len(second), 1)
        self.assertEqual(second[0]["restart_needed"], ["realm"])

    def test_restart_needed_set_back(self) -> None:
        """
        A value set back to the one the process started with needs no
        restart.
        """
        reloader = self.reloader()
        self.next_argv = [*self.argv, "--realm", "other"]
        reloader.reload()
        self.next_argv = self.argv
        events = self.reload_events(reloader, "reload.restart-needed")
        self.assertEqual(events, [])

    def test_users_file_contents_listed(self) -> None:
        """
        A reload after the users file's contents changed lists C{users} in
        C{reload.done}'s C{changed}, though the option's value is the same.
        """
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as file:
            file.write("carol:three\n")
        self.argv = ["--users", path]
        self.setUp_without_secret()
        with open(path, "w", encoding="utf-8") as file:
            file.write("carol:four\n")
        self.next_argv = self.argv
        events = self.reload_events(self.reloader(), "reload.done")
        self.assertEqual(events[0]["changed"], ["users"])

    def test_users_file_unchanged_not_listed(self) -> None:
        """
        A reload with the same users file contents lists nothing.
        """
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as file:
            file.write("carol:three\n")
        self.argv = ["--users", path]
        self.setUp_without_secret()
        self.next_argv = self.argv
        events = self.reload_events(self.reloader(), "reload.done")
        self.assertEqual(events[0]["changed"], [])

    def test_rest_store_added(self) -> None:
        """
        Secrets added where there were none get a REST store.
        """
        self.argv = ["--user", "alice:one"]
        self.setUp_without_secret()
        self.next_argv = ["--user", "alice:one", "--auth-secret", "s9"]
        self.reloader().reload()
        rest = [s for s in self.stores() if isinstance(s, RestCredentialStore)]
        self.assertEqual(rest[0].secrets, [b"s9"])

    def setUp_without_secret(self) -> None:  # noqa: N802
        """
        Rebuild the TURN service from L{argv}.
        """
        self.options = parse_tap(self.argv)
        self.turn = build_turn_service(
            self.options, MultiService(), UdpMux(clock=Clock())
        )
        assert self.turn is not None
        self.tree = SimpleNamespace(turn=self.turn)


class HealthTests(unittest.TestCase):
    """
    Tests for C{GET /health} and the 503 of new sessions while draining.
    """

    def render(self, api: Any, method: bytes, path: list[bytes]) -> tuple[int, Any]:
        """
        Render one request on C{api}; return the status code and the JSON.
        """
        import json

        from twisted.web.test.requesthelper import DummyRequest

        request = DummyRequest(path)
        request.method = method
        body = api.render(request)
        return request.responseCode or 200, json.loads(body)

    def api(self) -> Any:
        """
        Return a session API with a token and no manager behind it.
        """
        from twisted_ice.api import SessionApi

        return SessionApi(SimpleNamespace(), token="secret-token")

    def test_ok_without_token(self) -> None:
        """
        C{/health} responds 200 C{{"status": "ok"}} without the bearer token.
        """
        code, body = self.render(self.api(), b"GET", [b"health"])
        self.assertEqual(code, 200)
        self.assertEqual(body, {"status": "ok"})

    def test_draining_503(self) -> None:
        """
        While draining, C{/health} responds 503 C{{"status": "draining"}}.
        """
        api = self.api()
        api.draining = True
        code, body = self.render(api, b"GET", [b"health"])
        self.assertEqual(code, 503)
        self.assertEqual(body, {"status": "draining"})

    def test_post_not_allowed(self) -> None:
        """
        C{POST /health} gets 405.
        """
        code, _ = self.render(self.api(), b"POST", [b"health"])
        self.assertEqual(code, 405)

    def test_sessions_still_need_token(self) -> None:
        """
        Other paths still need the token.
        """
        code, _ = self.render(self.api(), b"GET", [b"sessions", b"x"])
        self.assertEqual(code, 401)
