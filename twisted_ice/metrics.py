"""
Prometheus metrics of C{twistd mcs-ice}, served by twisted.web on
C{--metrics}.

L{ServerCollector} reads the counters and tables that the muxes and services
keep anyway, at scrape time, so metrics cost nothing per packet. No label
carries a user name or an address.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.twisted import MetricsResource
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.web.resource import Resource
from twisted.web.server import Site

from twisted_ice.ice import CheckResult, IceState
from twisted_ice.site_service import SiteService

if TYPE_CHECKING:
    from twisted_ice.lifecycle import ServiceTree

PREFIX = "twisted_ice"
"""The prefix of every metric name."""

CHECK_ERROR_CODES: Mapping[CheckResult, int] = {
    CheckResult.MISSING_ATTRIBUTE: 400,
    CheckResult.BAD_PRIORITY: 400,
    CheckResult.UNKNOWN_UFRAG: 401,
    CheckResult.BAD_INTEGRITY: 401,
    CheckResult.WRONG_REMOTE_UFRAG: 401,
    CheckResult.UNKNOWN_ATTRIBUTE: 420,
}
"""The error code of the response to each kind of failed check."""

CHECK_AUTHENTICATION_FAILURES = frozenset(
    {
        CheckResult.UNKNOWN_UFRAG,
        CheckResult.BAD_INTEGRITY,
        CheckResult.WRONG_REMOTE_UFRAG,
    }
)
"""The check results that are authentication failures."""


def _counter(name: str, documentation: str, labels: Iterable[str]) -> Any:
    return CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> Any:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))


class ServerCollector(Collector):
    """
    Collects the metrics of one C{twistd mcs-ice} service tree.
    """

    def __init__(self, tree: ServiceTree) -> None:
        """
        @param tree: the services whose counters are read at each scrape.
        """
        self.tree = tree

    def collect(self) -> Iterator[Metric]:
        """
        Yield every metric family, read from the services now.
        """
        yield from self._sessions()
        yield from self._checks()
        yield from self._traffic()
        yield from self._errors()
        yield from self._drops()
        yield from self._turn()
        yield from self._tcp()
        draining = _gauge("draining", "1 while the server drains on SIGTERM, else 0.")
        api = self.tree.api
        draining.add_metric([], 1.0 if api is not None and api.draining else 0.0)
        yield draining

    # --- ICE ---------------------------------------------------------------------

    def _sessions(self) -> Iterator[Metric]:
        sessions = _gauge("sessions", "ICE sessions by state.", ["state"])
        streams = _gauge("streams", "ICE media streams by state.", ["state"])
        session_states = dict.fromkeys(IceState, 0)
        stream_states = dict.fromkeys(IceState, 0)
        ice = self.tree.ice
        if ice is not None:
            for session in ice.agent.sessions.values():
                session_states[session.state] += 1
                for stream in session.streams:
                    stream_states[stream.state] += 1
        for state, count in session_states.items():
            sessions.add_metric([state.value], count)
        for state, count in stream_states.items():
            streams.add_metric([state.value], count)
        yield sessions
        yield streams

    def _checks(self) -> Iterator[Metric]:
        checks = _counter(
            "checks",
            "Connectivity checks handled by the lite ICE agent, by result"
            " (success, or why it failed).",
            ["result"],
        )
        results = self.tree.ice.check_results if self.tree.ice is not None else {}
        for result in CheckResult:
            checks.add_metric([result.value], results.get(result, 0))
        yield checks

    # --- Packets and bytes -------------------------------------------------------

    def _traffic(self) -> Iterator[Metric]:
        packets = _counter(
            "packets",
            "Datagrams (UDP) and frames (TCP, TLS) to and from clients, by"
            " direction and transport.",
            ["direction", "transport"],
        )
        octets = _counter(
            "bytes",
            "Bytes of those datagrams and frames, framing excluded.",
            ["direction", "transport"],
        )
        udp = self.tree.udp_mux
        if udp is not None:
            packets.add_metric(["received", "udp"], udp.packets_received)
            packets.add_metric(["sent", "udp"], udp.packets_sent)
            octets.add_metric(["received", "udp"], udp.bytes_received)
            octets.add_metric(["sent", "udp"], udp.bytes_sent)
        tcp = self.tree.tcp_mux
        if tcp is not None:
            from twisted_ice.addresses import Transport

            for transport in (Transport.TCP, Transport.TLS):
                name = transport.value
                packets.add_metric(["received", name], tcp.frames_received[transport])
                packets.add_metric(["sent", name], tcp.frames_sent[transport])
                octets.add_metric(["received", name], tcp.bytes_received[transport])
                octets.add_metric(["sent", name], tcp.bytes_sent[transport])
        yield packets
        yield octets

        relays = self._relays()
        relay_packets = _counter(
            "relay_packets",
            "Datagrams between TURN relay ports and peers, by direction.",
            ["direction"],
        )
        relay_bytes = _counter(
            "relay_bytes", "Bytes of those datagrams, by direction.", ["direction"]
        )
        if relays is not None:
            relay_packets.add_metric(["received"], relays.packets_received)
            relay_packets.add_metric(["sent"], relays.packets_sent)
            relay_bytes.add_metric(["received"], relays.bytes_received)
            relay_bytes.add_metric(["sent"], relays.bytes_sent)
        yield relay_packets
        yield relay_bytes

    def _relays(self) -> Any:
        turn = self.tree.turn
        return None if turn is None else getattr(turn, "_relays", None)

    # --- Errors and drops ----------------------------------------------------------

    def _errors(self) -> Iterator[Metric]:
        errors = _counter(
            "stun_errors_sent",
            "STUN error responses sent, by error code and the part that sent"
            " them (ice, turn, binding).",
            ["code", "service"],
        )
        ice = self.tree.ice
        if ice is not None:
            by_code: dict[int, int] = {}
            for result, code in CHECK_ERROR_CODES.items():
                by_code[code] = by_code.get(code, 0) + ice.check_results.get(result, 0)
            for code, count in sorted(by_code.items()):
                errors.add_metric([str(code), "ice"], count)
        turn = self.tree.turn
        if turn is not None:
            for code, count in sorted(turn.errors_sent.items()):
                errors.add_metric([str(code), "turn"], count)
        answered_420 = sum(
            mux.answered.get("binding-420", 0)
            for mux in (self.tree.udp_mux, self.tree.tcp_mux)
            if mux is not None
        )
        errors.add_metric(["420", "binding"], answered_420)
        yield errors

        authentication = _counter(
            "authentication_failures",
            "Requests rejected for their credentials: TURN 401 and 441 after"
            " a key lookup, ICE checks with an unknown ufrag or a wrong"
            " MESSAGE-INTEGRITY.",
            ["service"],
        )
        if turn is not None:
            authentication.add_metric(["turn"], turn.authentication_failures)
        if ice is not None:
            failures = sum(
                ice.check_results.get(result, 0)
                for result in CHECK_AUTHENTICATION_FAILURES
            )
            authentication.add_metric(["ice"], failures)
        yield authentication

        nonces = _counter(
            "nonce_failures",
            "TURN requests answered 438 (Stale Nonce): expired or foreign nonces.",
            [],
        )
        nonces.add_metric([], turn.errors_sent.get(438, 0) if turn is not None else 0)
        yield nonces

    def _drops(self) -> Iterator[Metric]:
        drops = _counter(
            "drops",
            "Packets, frames and messages dropped, by the part that dropped"
            " them and the reason.",
            ["component", "reason"],
        )
        from twisted_ice.transport.relay import RelayDropReason
        from twisted_ice.transport.tcp_connection import DropReason as TcpDropReason
        from twisted_ice.transport.turn import TurnDropReason
        from twisted_ice.transport.udp import DropReason as UdpDropReason

        # The known reasons of each component, exported at 0 before their
        # first drop; turn-core counts free-form reasons, so it has none.
        sources: list[tuple[str, Mapping[Any, int], Iterable[str]]] = []
        if self.tree.udp_mux is not None:
            sources.append(("udp", self.tree.udp_mux.drops, UdpDropReason))
        if self.tree.tcp_mux is not None:
            sources.append(("tcp", self.tree.tcp_mux.drops, TcpDropReason))
        turn = self.tree.turn
        if turn is not None:
            sources.append(("turn", turn.drops, TurnDropReason))
            sources.append(("turn-core", turn.core.drops, ()))
        relays = self._relays()
        if relays is not None:
            sources.append(("relay", relays.drops, RelayDropReason))
        for component, counter, known in sources:
            for reason, count in _with_known(counter, known):
                drops.add_metric([component, reason], count)
        yield drops

    # --- TURN and TCP ------------------------------------------------------------

    def _turn(self) -> Iterator[Metric]:
        allocations = _gauge(
            "allocations",
            "Live TURN allocations; a deleted allocation is removed at once.",
            ["state"],
        )
        turn = self.tree.turn
        allocations.add_metric(
            ["active"], turn.core.allocation_count if turn is not None else 0
        )
        yield allocations

    def _tcp(self) -> Iterator[Metric]:
        tcp = self.tree.tcp_mux
        open_connections = _gauge(
            "tcp_connections_open", "Open TCP connections, TLS ones included."
        )
        opened = _counter(
            "tcp_connections",
            "TCP connections accepted (kind tcp), and those that turned out to"
            " be TLS, ICE-TCP or TURN, by kind.",
            ["kind"],
        )
        closes = _counter(
            "tcp_closes",
            "TCP connections the server closed or rejected, by reason.",
            ["reason"],
        )
        if tcp is not None:
            from twisted_ice.transport.framing import StreamKind
            from twisted_ice.transport.tcp_connection import CloseReason

            open_connections.add_metric([], sum(tcp.per_source.values()))
            kinds = ["tcp", *(kind.value for kind in StreamKind)]
            for kind, count in _with_known(tcp.opened, kinds):
                opened.add_metric([kind], count)
            for reason, count in _with_known(tcp.closes, CloseReason):
                closes.add_metric([reason], count)
        else:
            open_connections.add_metric([], 0)
        yield open_connections
        yield opened
        yield closes


def _with_known(
    counter: Mapping[Any, int], known: Iterable[str]
) -> list[tuple[str, int]]:
    """
    Return the label values and counts of C{counter}, with each of the
    C{known} label values that it lacks at 0, sorted by label value.
    """
    counts = {str(label): count for label, count in counter.items()}
    for label in known:
        counts.setdefault(str(label), 0)
    return sorted(counts.items())


def build_registry(tree: ServiceTree) -> CollectorRegistry:
    """
    Return a registry with the metrics of C{tree} and of this process (CPU,
    memory, open files).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(tree))
    ProcessCollector(registry=registry)
    return registry


class _QuietSite(Site):
    """
    A site that writes no access log line per scrape.
    """

    def logPrefix(self) -> str:
        """
        Name the site in Twisted's C{... starting on PORT} line, which
        C{noisy} does not turn off.
        """
        return "mcs-ice metrics"

    def log(self, request: Any) -> None:
        """
        Log nothing.
        """


class MetricsService(SiteService):
    """
    Serves C{/metrics} of a registry on an endpoint while the service runs.
    """

    subject = "metrics"
    listening_format = "mcs-ice metrics listening on {kind} {host} port {port}"

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        registry: CollectorRegistry,
        description: str,
    ) -> None:
        """
        @param endpoint: where to listen.
        @param registry: the metrics to serve.
        @param description: the endpoint string, for messages.
        """
        root = Resource()
        root.putChild(b"metrics", MetricsResource(registry))  # type: ignore[no-untyped-call]
        site = _QuietSite(root)  # type: ignore[no-untyped-call]
        site.noisy = False
        super().__init__(endpoint, site, description)
