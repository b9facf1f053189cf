"""
Compare the TURN relay of mcs-ice with coturn's C{turnserver}.

Starts coturn's C{turnserver} and C{twistd mcs-ice} on loopback, one after
the other, each with the same long-term user, its own relay port range and
the loopback echo peer (C{turnutils_peer}) allowed. For each server it:

  - runs coturn's C{turnutils_uclient} with the same load (clients,
    messages, size, interval), and prints the lost packets, the average
    round-trip time from uclient's summary, and the server's CPU time per
    relayed packet (user plus system time from C{/proc/PID/stat}; each
    message is relayed twice, to the peer and back);
  - before that load, runs uclient once more with the same clients and only
    C{--short-messages} messages each. The difference between the CPU time
    of the two runs, divided by the difference in relayed packets, is the
    marginal CPU time per relayed packet: what relaying costs once the
    allocations exist, without the requests that create and delete them
    (allocation, authentication, permissions, channels) and without the
    idle seconds that uclient waits at the end;
  - creates allocations from as many client sockets, a window at a time,
    and prints allocations per second and the resident memory (VmRSS) added
    per allocation.

Run from the repository root::

    python -m benchmarks.turn [--clients 10] [--messages 500] [--size 100]
        [--interval 10] [--allocations 500] [--rounds 3] [--short-messages 50]
        [--send-indications]

With the defaults a run takes about two and a half minutes.
"""

from __future__ import annotations

import argparse
import selectors
import shutil
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import (
    LOOPBACK,
    PASSWORD,
    USER,
    ServerProcess,
    answers,
    free_udp_port,
    machine_description,
    mcs_ice,
    process_cpu_ns,
    turnserver,
    uclient_load_command,
)
from tests.e2e.turnutils import (
    EchoPeer,
    UclientError,
    UclientResult,
    run_uclient,
)
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunDecodeError,
    StunMessage,
    decode,
    long_term_key,
)

REALM = "twisted-ice"
UDP_TRANSPORT = 17
ALLOCATION_WINDOW = 50
"""Allocations in flight at once in the allocation benchmark."""

ALLOCATION_TIMEOUT = 2.0
"""Seconds to wait for one round of responses before giving up on a window."""

BINDING_REQUEST = StunMessage.request(Method.BINDING).encode()


@dataclass
class TurnResult:
    """
    The figures of one server in one round.
    """

    name: str
    uclient: UclientResult
    cpu_seconds: float
    cpu_ns: int
    short_uclient: UclientResult
    short_cpu_ns: int
    allocations: int
    allocation_seconds: float
    rss_kib_added: int

    @property
    def relayed(self) -> int:
        """
        Packets the server relayed: each message goes to the peer and back.
        """
        return self.uclient.sent + self.uclient.received

    @property
    def cpu_us_per_packet(self) -> float:
        """
        Server CPU microseconds per relayed packet, from C{/proc/PID/stat}.
        """
        return self.cpu_seconds / max(1, self.relayed) * 1e6

    @property
    def schedstat_us_per_packet(self) -> float:
        """
        Server CPU microseconds per relayed packet, from the scheduler's
        nanosecond counters.
        """
        return self.cpu_ns / max(1, self.relayed) / 1e3

    @property
    def marginal_us_per_packet(self) -> float:
        """
        Server CPU microseconds per relayed packet beyond those of the short
        run, from the scheduler's counters: the cost of relaying alone.
        """
        short = self.short_uclient.sent + self.short_uclient.received
        return (self.cpu_ns - self.short_cpu_ns) / max(1, self.relayed - short) / 1e3

    @property
    def allocations_per_second(self) -> float:
        """
        Allocations created per second, both round trips included.
        """
        return self.allocations / max(1e-9, self.allocation_seconds)

    @property
    def kib_per_allocation(self) -> float:
        """
        Resident memory added per allocation, in KiB.
        """
        return self.rss_kib_added / max(1, self.allocations)


def rss_kib(pid: int) -> int:
    """
    Return the resident set size of process C{pid}, in KiB.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _receive(
    selector: selectors.DefaultSelector, waiting: set[socket.socket]
) -> dict[socket.socket, StunMessage]:
    """
    Read one response on each socket of C{waiting}, until all have one or
    L{ALLOCATION_TIMEOUT} passes.
    """
    responses: dict[socket.socket, StunMessage] = {}
    deadline = time.monotonic() + ALLOCATION_TIMEOUT
    while len(responses) < len(waiting):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in selector.select(left):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data = sock.recv(65535)
            try:
                responses[sock] = decode(data)
            except StunDecodeError:
                continue
    return responses


def allocate_many(port: int, count: int) -> tuple[int, float, list[socket.socket]]:
    """
    Create up to C{count} allocations on 127.0.0.1:C{port}, one per client
    socket, L{ALLOCATION_WINDOW} at a time: an Allocate that gets the 401
    challenge, then the signed Allocate.

    @return: the allocations created, the seconds taken, and the sockets,
        which the caller closes after measuring memory.
    """
    server = (LOOPBACK, port)
    key = long_term_key(USER, REALM, PASSWORD)
    sockets: list[socket.socket] = []
    created = 0
    start = time.monotonic()
    with selectors.DefaultSelector() as selector:
        for first in range(0, count, ALLOCATION_WINDOW):
            window = []
            for _ in range(min(ALLOCATION_WINDOW, count - first)):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind((LOOPBACK, 0))
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
                sockets.append(sock)
                window.append(sock)

            for sock in window:
                request = StunMessage.request(
                    Method.ALLOCATE,
                    [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)],
                )
                sock.sendto(request.encode(fingerprint=True), server)
            challenges = _receive(selector, set(window))

            for sock, challenge in list(challenges.items()):
                nonce = challenge.get(AttributeType.NONCE)
                if nonce is None:
                    # Not a 401 challenge: a 437, say, when the kernel gave
                    # this socket the port of an earlier client that still
                    # has an allocation. It counts as a failed allocation.
                    del challenges[sock]
                    continue
                signed = StunMessage.request(
                    Method.ALLOCATE,
                    [
                        (AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT),
                        (AttributeType.USERNAME, USER),
                        (AttributeType.REALM, REALM),
                        (AttributeType.NONCE, nonce),
                    ],
                )
                sock.sendto(signed.encode(integrity_key=key, fingerprint=True), server)
            successes = _receive(selector, set(challenges))
            created += sum(
                1
                for response in successes.values()
                if response.message_class is MessageClass.SUCCESS_RESPONSE
            )
            for sock in window:
                selector.unregister(sock)
    return created, time.monotonic() - start, sockets


def measure(
    server: ServerProcess,
    peer: EchoPeer,
    arguments: argparse.Namespace,
    uclient: str,
) -> TurnResult:
    """
    Start C{server}, run the relay load and the allocation benchmark, and
    stop it.
    """
    server.start(lambda: answers(server.port, BINDING_REQUEST))
    try:
        flags = ["-s"] if arguments.send_indications else []
        short_load = argparse.Namespace(**vars(arguments))
        short_load.messages = arguments.short_messages
        short_argv = uclient_load_command(
            uclient, server.port, peer.address, short_load, flags
        )
        before_ns = process_cpu_ns(server.pid)
        short_result = run_uclient(short_argv)
        short_cpu_ns = process_cpu_ns(server.pid) - before_ns
        assert isinstance(short_result, UclientResult)

        argv = uclient_load_command(
            uclient, server.port, peer.address, arguments, flags
        )
        before, before_ns = server.cpu_seconds(), process_cpu_ns(server.pid)
        result = run_uclient(argv)
        cpu = server.cpu_seconds() - before
        cpu_ns = process_cpu_ns(server.pid) - before_ns
        assert isinstance(result, UclientResult)

        rss_before = rss_kib(server.pid)
        created, seconds, sockets = allocate_many(server.port, arguments.allocations)
        # Let the server finish what the last responses started.
        time.sleep(0.5)
        rss_added = rss_kib(server.pid) - rss_before
        for sock in sockets:
            sock.close()
    finally:
        server.stop()
    return TurnResult(
        server.name,
        result,
        cpu,
        cpu_ns,
        short_result,
        short_cpu_ns,
        created,
        seconds,
        rss_added,
    )


def print_results(
    rounds: list[list[TurnResult]], arguments: argparse.Namespace
) -> None:
    """
    Print one row per server and round, the medians and the CPU ratios.
    """
    print(f"machine: {machine_description()}")
    print(
        f"load: {arguments.clients} clients x {arguments.messages} messages of"
        f" {arguments.size} bytes every {arguments.interval} ms"
        f" (short run: {arguments.short_messages} messages);"
        f" {arguments.allocations} allocations;"
        f" {'Send indications' if arguments.send_indications else 'channels'}"
    )
    print(
        f"{'round':>5} {'server':<8} {'sent':>6} {'lost':>5} {'rtt ms':>7}"
        f" {'us/pkt stat':>11} {'schedstat':>9} {'marginal':>8}"
        f" {'alloc/s':>8} {'KiB/alloc':>9}"
    )
    by_name: dict[str, list[TurnResult]] = {}
    for number, results in enumerate(rounds, start=1):
        for result in results:
            by_name.setdefault(result.name, []).append(result)
            print(
                f"{number:>5} {result.name:<8} {result.uclient.sent:>6}"
                f" {result.uclient.lost:>5} {result.uclient.round_trip_ms:>7.3f}"
                f" {result.cpu_us_per_packet:>11.1f}"
                f" {result.schedstat_us_per_packet:>9.1f}"
                f" {result.marginal_us_per_packet:>8.1f}"
                f" {result.allocations_per_second:>8.0f}"
                f" {result.kib_per_allocation:>9.2f}"
            )
    medians = {
        name: (
            statistics.median(r.cpu_us_per_packet for r in results),
            statistics.median(r.schedstat_us_per_packet for r in results),
            statistics.median(r.marginal_us_per_packet for r in results),
        )
        for name, results in by_name.items()
    }
    for name, (stat, schedstat, marginal) in medians.items():
        print(
            f"median {name}: {stat:.1f} us (stat), {schedstat:.1f} us (schedstat),"
            f" {marginal:.1f} us (marginal)"
        )
    if "coturn" in medians and "mcs-ice" in medians:
        coturn, mcs = medians["coturn"], medians["mcs-ice"]
        print(
            "CPU per relayed packet, mcs-ice / coturn:"
            f" {mcs[0] / coturn[0]:.2f} (stat), {mcs[1] / coturn[1]:.2f} (schedstat),"
            f" {mcs[2] / coturn[2]:.2f} (marginal)"
        )


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """
    Parse the command line.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10, help="uclient -m")
    parser.add_argument("--messages", type=int, default=500, help="uclient -n")
    parser.add_argument("--size", type=int, default=100, help="uclient -l, bytes")
    parser.add_argument(
        "--interval", type=int, default=10, help="uclient -z, milliseconds"
    )
    parser.add_argument(
        "--allocations", type=int, default=500, help="allocations to create"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, alternating the servers"
    )
    parser.add_argument(
        "--short-messages",
        type=int,
        default=50,
        help="uclient -n of the short run that the marginal figure subtracts",
    )
    parser.add_argument(
        "--send-indications",
        action="store_true",
        help="relay with Send and Data indications (uclient -s), not channels",
    )
    parser.add_argument(
        "--only",
        choices=["coturn", "mcs-ice"],
        help="measure one server only",
    )
    arguments = parser.parse_args(argv)
    for name in ("clients", "messages", "size", "rounds"):
        if getattr(arguments, name) < 1:
            parser.error(
                f"invalid --{name} {getattr(arguments, name)}: expected at least 1"
            )
    for name in ("interval", "allocations"):
        if getattr(arguments, name) < 0:
            parser.error(
                f"invalid --{name} {getattr(arguments, name)}: expected 0 or more"
            )
    if not 0 < arguments.short_messages < arguments.messages:
        parser.error(
            f"invalid --short-messages {arguments.short_messages}: expected at"
            f" least 1 and fewer than --messages ({arguments.messages})"
        )
    return arguments


def main(argv: Sequence[str]) -> int:
    """
    Run the comparison and print it.
    """
    arguments = parse_arguments(argv)
    uclient = shutil.which("turnutils_uclient")
    peer_command = shutil.which("turnutils_peer")
    if uclient is None or peer_command is None:
        print("turnutils_uclient and turnutils_peer are needed (Debian: coturn)")
        return 2

    peer = EchoPeer(peer_command, free_udp_port())
    rounds: list[list[TurnResult]] = []
    failed = False
    try:
        for _ in range(arguments.rounds):
            results = []
            for server in servers(arguments):
                try:
                    results.append(measure(server, peer, arguments, uclient))
                except (UclientError, RuntimeError) as error:
                    print(f"{server.name}: failed: {error}")
                    failed = True
            rounds.append(results)
    finally:
        peer.stop()
    print_results(rounds, arguments)
    return 1 if failed else 0


def servers(arguments: argparse.Namespace) -> list[ServerProcess]:
    """
    Return the servers to measure, not started: coturn's C{turnserver} and
    C{twistd mcs-ice}, each with the benchmark user, the loopback peer
    allowed and its own relay port range.
    """
    chosen = []
    if arguments.only in (None, "coturn"):
        chosen.append(
            turnserver(
                free_udp_port(),
                [
                    "--lt-cred-mech",
                    "--user",
                    f"{USER}:{PASSWORD}",
                    "--realm",
                    REALM,
                    "--allow-loopback-peers",
                    "--min-port",
                    "40000",
                    "--max-port",
                    "44999",
                ],
            )
        )
    if arguments.only in (None, "mcs-ice"):
        chosen.append(
            mcs_ice(
                free_udp_port(),
                [
                    "--tcp-port",
                    "0",
                    "--api",
                    f"tcp:0:interface={LOOPBACK}",
                    "--user",
                    f"{USER}:{PASSWORD}",
                    "--realm",
                    REALM,
                    "--allow-peer",
                    "127.0.0.1/32",
                    "--rfc5766-channels",
                    "--relay-ports",
                    "45000-49999",
                ],
            )
        )
    return chosen


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
