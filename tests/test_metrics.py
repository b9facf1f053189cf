"""
Tests for L{twisted_ice.metrics}: the collector reads the services'
counters at scrape time.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock
from twisted.trial import unittest

from twisted_ice.addresses import Transport
from twisted_ice.ice import CheckResult, IceState
from twisted_ice.metrics import MetricsService, build_registry
from twisted_ice.transport.tcp import TcpMux
from twisted_ice.transport.tcp_connection import CloseReason
from twisted_ice.transport.udp import DropReason, UdpMux


def fake_session(state: IceState, *stream_states: IceState) -> Any:
    """
    Return an object shaped like an ICE session, with streams.
    """
    streams = tuple(SimpleNamespace(state=s) for s in stream_states)
    return SimpleNamespace(state=state, streams=streams)


def fake_tree(**parts: Any) -> Any:
    """
    Return a service tree with only C{parts}; the others are L{None}.
    """
    tree = dict(udp_mux=None, tcp_mux=None, ice=None, turn=None, api=None)
    tree.update(parts)
    return SimpleNamespace(**tree)


def fake_turn() -> Any:
    """
    Return an object shaped like a TURN service with some counts.
    """
    relays = SimpleNamespace(
        packets_received=5,
        bytes_received=500,
        packets_sent=6,
        bytes_sent=600,
        drops=Counter({"too-large": 1}),
    )
    core = SimpleNamespace(allocation_count=3, drops=Counter({"no_permission": 4}))
    return SimpleNamespace(
        core=core,
        _relays=relays,
        drops=Counter({"too-many-lookups": 2}),
        errors_sent=Counter({401: 7, 438: 2, 486: 1}),
        authentication_failures=3,
    )


class CollectorTests(unittest.TestCase):
    """
    Tests for L{twisted_ice.metrics.ServerCollector}.
    """

    def value(self, tree: Any, name: str, **labels: str) -> float | None:
        """
        Return the value of one sample of the registry of C{tree}.
        """
        return build_registry(tree).get_sample_value(name, labels)

    def assert_sample(
        self, tree: Any, name: str, expected: float, **labels: str
    ) -> None:
        """
        Assert that the sample C{name} with C{labels} equals C{expected}.
        """
        self.assertEqual(self.value(tree, name, **labels), expected)

    def test_sessions_by_state(self) -> None:
        """
        Sessions are counted by state, each state present.
        """
        sessions = {
            "a": fake_session(IceState.COMPLETED, IceState.COMPLETED),
            "b": fake_session(IceState.COMPLETED, IceState.COMPLETED),
            "c": fake_session(IceState.NEW, IceState.NEW, IceState.NEW),
        }
        ice = SimpleNamespace(
            agent=SimpleNamespace(sessions=sessions), check_results=Counter()
        )
        tree = fake_tree(ice=ice)
        self.assert_sample(tree, "twisted_ice_sessions", 2, state="completed")
        self.assert_sample(tree, "twisted_ice_sessions", 1, state="new")
        self.assert_sample(tree, "twisted_ice_sessions", 0, state="closed")
        self.assert_sample(tree, "twisted_ice_streams", 2, state="new")

    def test_checks_and_ice_errors(self) -> None:
        """
        Check results are counted, and failed ones as the error codes sent.
        """
        results = Counter(
            {
                CheckResult.SUCCESS: 10,
                CheckResult.BAD_INTEGRITY: 2,
                CheckResult.UNKNOWN_UFRAG: 1,
                CheckResult.MISSING_ATTRIBUTE: 4,
            }
        )
        ice = SimpleNamespace(agent=SimpleNamespace(sessions={}), check_results=results)
        tree = fake_tree(ice=ice)
        self.assert_sample(tree, "twisted_ice_checks_total", 10, result="success")
        self.assert_sample(
            tree, "twisted_ice_stun_errors_sent_total", 3, code="401", service="ice"
        )
        self.assert_sample(
            tree, "twisted_ice_stun_errors_sent_total", 4, code="400", service="ice"
        )
        self.assert_sample(
            tree, "twisted_ice_authentication_failures_total", 3, service="ice"
        )

    def test_udp_traffic(self) -> None:
        """
        The UDP mux's packet and byte counters appear by direction.
        """
        mux = UdpMux(clock=Clock())
        mux.datagramReceived(b"\xff", ("127.0.0.1", 5000))
        tree = fake_tree(udp_mux=mux)
        self.assert_sample(
            tree, "twisted_ice_packets_total", 1, direction="received", transport="udp"
        )
        self.assert_sample(
            tree, "twisted_ice_bytes_total", 1, direction="received", transport="udp"
        )
        self.assert_sample(
            tree, "twisted_ice_packets_total", 0, direction="sent", transport="udp"
        )

    def test_udp_drops_by_reason(self) -> None:
        """
        The UDP mux's drops appear by reason.
        """
        mux = UdpMux(clock=Clock())
        mux.datagramReceived(b"\xff", ("127.0.0.1", 5000))
        tree = fake_tree(udp_mux=mux)
        reason = DropReason.UNKNOWN_FIRST_BYTE.value
        self.assert_sample(
            tree, "twisted_ice_drops_total", 1, component="udp", reason=reason
        )

    def test_udp_drops_zero_first(self) -> None:
        """
        Every known UDP drop reason appears at 0 before its first drop.
        """
        tree = fake_tree(udp_mux=UdpMux(clock=Clock()))
        for reason in DropReason:
            value = self.value(
                tree, "twisted_ice_drops_total", component="udp", reason=reason.value
            )
            self.assertEqual(value, 0, reason)

    def test_tcp_counters_zero_first(self) -> None:
        """
        Every connection kind and close reason appears at 0 before the first
        connection.
        """
        tree = fake_tree(tcp_mux=TcpMux(reactor=Clock()))
        for kind in ("tcp", "tls", "ice-tcp", "turn"):
            value = self.value(tree, "twisted_ice_tcp_connections_total", kind=kind)
            self.assertEqual(value, 0, kind)
        for reason in CloseReason:
            value = self.value(
                tree, "twisted_ice_tcp_closes_total", reason=reason.value
            )
            self.assertEqual(value, 0, reason)

    def test_tcp_counters(self) -> None:
        """
        The TCP mux's frames, connections and closes appear by label.
        """
        mux = TcpMux(reactor=Clock())
        mux.frames_received[Transport.TLS] += 2
        mux.bytes_sent[Transport.TCP] += 40
        mux.opened["tcp"] += 3
        mux.closes[CloseReason.IDLE_TIMEOUT] += 1
        mux.per_source["192.0.2.1"] = 2
        tree = fake_tree(tcp_mux=mux)
        self.assert_sample(
            tree, "twisted_ice_packets_total", 2, direction="received", transport="tls"
        )
        self.assert_sample(
            tree, "twisted_ice_bytes_total", 40, direction="sent", transport="tcp"
        )
        self.assert_sample(tree, "twisted_ice_tcp_connections_total", 3, kind="tcp")
        self.assert_sample(
            tree, "twisted_ice_tcp_closes_total", 1, reason="idle-timeout"
        )
        self.assert_sample(tree, "twisted_ice_tcp_connections_open", 2)

    def test_turn_counters(self) -> None:
        """
        TURN allocations, errors, nonce and authentication failures, relay
        traffic and drops appear.
        """
        tree = fake_tree(turn=fake_turn())
        self.assert_sample(tree, "twisted_ice_allocations", 3, state="active")
        self.assert_sample(
            tree, "twisted_ice_stun_errors_sent_total", 1, code="486", service="turn"
        )
        self.assert_sample(tree, "twisted_ice_nonce_failures_total", 2)
        self.assert_sample(
            tree, "twisted_ice_authentication_failures_total", 3, service="turn"
        )
        self.assert_sample(tree, "twisted_ice_relay_bytes_total", 600, direction="sent")
        self.assert_sample(
            tree,
            "twisted_ice_drops_total",
            4,
            component="turn-core",
            reason="no_permission",
        )
        self.assert_sample(
            tree, "twisted_ice_drops_total", 1, component="relay", reason="too-large"
        )

    def test_draining_gauge(self) -> None:
        """
        The draining gauge follows the API's flag.
        """
        api = SimpleNamespace(draining=False)
        tree = fake_tree(api=api)
        self.assert_sample(tree, "twisted_ice_draining", 0)
        api.draining = True
        self.assert_sample(tree, "twisted_ice_draining", 1)

    def test_empty_tree(self) -> None:
        """
        A tree without services still gives every family, with zeros.
        """
        tree = fake_tree()
        self.assert_sample(tree, "twisted_ice_allocations", 0, state="active")
        self.assert_sample(tree, "twisted_ice_nonce_failures_total", 0)

    def test_scrape_is_text(self) -> None:
        """
        The registry renders as the Prometheus text format.
        """
        text = generate_latest(build_registry(fake_tree(turn=fake_turn())))
        self.assertIn(b"# TYPE twisted_ice_allocations gauge", text)
        self.assertIn(b"# TYPE twisted_ice_drops_total counter", text)

    def test_no_address_labels(self) -> None:
        """
        No label value is an address, even with per-source counts present.
        """
        mux = TcpMux(reactor=Clock())
        mux.per_source["192.0.2.1"] = 1
        text = generate_latest(build_registry(fake_tree(tcp_mux=mux)))
        self.assertNotIn(b"192.0.2.1", text)


class MetricsServiceTests(unittest.TestCase):
    """
    L{MetricsService}'s site.
    """

    def test_site_log_prefix(self) -> None:
        """
        The site is named for what it serves in Twisted's start line.
        """
        service = MetricsService(None, CollectorRegistry(), "tcp:0")  # type: ignore[arg-type]
        self.assertEqual(service.site.logPrefix(), "mcs-ice metrics")

    def test_later_failure_logged(self) -> None:
        """
        A failure to listen that comes after startup is logged, not
        swallowed, and leaves no port.
        """
        later: defer.Deferred[Any] = defer.Deferred()
        endpoint = SimpleNamespace(listen=lambda factory: later)
        service = MetricsService(endpoint, CollectorRegistry(), "tcp:9100")  # type: ignore[arg-type]
        service.startService()
        later.errback(CannotListenError("127.0.0.1", 9100, OSError(98, "in use")))
        self.assertEqual(len(self.flushLoggedErrors(CannotListenError)), 1)
        self.assertIsNone(service.port)

    def test_immediate_failure_exits(self) -> None:
        """
        A port in use ends startup with one line naming the endpoint.
        """
        error = CannotListenError("127.0.0.1", 9100, OSError(98, "in use"))
        endpoint = SimpleNamespace(listen=lambda factory: defer.fail(error))
        service = MetricsService(endpoint, CollectorRegistry(), "tcp:9100")  # type: ignore[arg-type]
        with self.assertRaises(SystemExit) as caught:
            service.startService()
        self.assertIn("cannot listen for metrics on tcp:9100", str(caught.exception))
