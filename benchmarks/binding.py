"""
Compare the CPU time per STUN Binding response of mcs-ice and coturn.

Starts coturn's C{turnserver --stun-only}, C{twistd mcs-ice} and a bare
Twisted UDP echo server (the floor of any Twisted server) on loopback, then
offers each the same number of Binding requests at the same rate, one server
after the other, for a few alternating rounds. For each round it prints each
server's CPU microseconds per response, from utime plus stime in
C{/proc/PID/stat} (10 ms ticks) and from the scheduler's nanosecond counters
in C{/proc/PID/task/*/schedstat}, and at the end the medians and the ratios.

Run from the repository root::

    python -m benchmarks.binding [--rate 5000] [--count 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.common import (
    LOOPBACK,
    ServerProcess,
    answers,
    free_udp_port,
    machine_description,
    mcs_ice,
    send_at_rate,
    turnserver,
    twisted_echo,
)

MAGIC_COOKIE = b"\x21\x12\xa4\x42"
BINDING_REQUEST = b"\x00\x01\x00\x00"
BINDING_SUCCESS = b"\x01\x01"

MAX_SECONDS = 60.0
"""The maximum total duration of the offered load, in seconds, so a run is bounded."""


def binding_requests(count: int) -> list[bytes]:
    """
    Return C{count} Binding requests without attributes, each with its own
    random transaction id.
    """
    return [BINDING_REQUEST + MAGIC_COOKIE + os.urandom(12) for _ in range(count)]


def is_binding_success(data: bytes) -> bool:
    """
    Return whether C{data} starts like a Binding success response.
    """
    return data[:2] == BINDING_SUCCESS


@dataclass
class Round:
    """
    One server's figures for one round of load.

    @ivar sent: requests sent.
    @ivar received: Binding success responses received.
    @ivar stat_seconds: CPU seconds from C{/proc/PID/stat}.
    @ivar schedstat_seconds: CPU seconds from the schedstat counters.
    """

    sent: int
    received: int
    stat_seconds: float
    schedstat_seconds: float

    def per_response(self, seconds: float) -> float:
        """
        Return C{seconds} per received response, in microseconds.
        """
        return seconds / max(self.received, 1) * 1e6


def is_echo(data: bytes) -> bool:
    """
    Return whether C{data} is a Binding request coming back from the echo
    server.
    """
    return data[:2] == BINDING_REQUEST[:2]


def measure_round(server: ServerProcess, count: int, rate: float) -> Round:
    """
    Offer C{count} requests at C{rate} per second to the running C{server}
    and read its CPU time before and after.
    """
    requests = binding_requests(count)
    accept = is_echo if server.name == "twisted-echo" else is_binding_success
    stat_before, schedstat_before = server.cpu_seconds(), server.cpu_ns()
    result = send_at_rate(server.port, requests, rate, accept=accept)
    stat_after, schedstat_after = server.cpu_seconds(), server.cpu_ns()
    return Round(
        result.sent,
        result.received,
        stat_after - stat_before,
        (schedstat_after - schedstat_before) / 1e9,
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """
    Parse the command line; reject loads longer than L{MAX_SECONDS}.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--rate", type=float, default=5000, help="requests per second (default 5000)"
    )
    parser.add_argument(
        "--count",
        type=int,
        default=20000,
        help="requests per server and round (default 20000)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds (default 3)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2000,
        help="requests to each server before measuring (default 2000)",
    )
    arguments = parser.parse_args(argv)
    seconds = 3 * arguments.rounds * arguments.count / arguments.rate
    if seconds > MAX_SECONDS:
        parser.error(f"the load would last {seconds:.0f} s; at most {MAX_SECONDS:.0f}")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the comparison and print the figures; return the exit status.
    """
    arguments = parse_arguments(argv)
    servers = [
        turnserver(free_udp_port(), ["--stun-only"]),
        # The TCP listener (443) and the session API (8090) are not under
        # test: off, and on any free port.
        mcs_ice(
            free_udp_port(),
            ["--tcp-port", "0", "--api", f"tcp:0:interface={LOOPBACK}"],
        ),
        twisted_echo(free_udp_port()),
    ]
    print(f"machine: {machine_description()}")
    print(
        f"load: {arguments.count} Binding requests at {arguments.rate:g}/s"
        f" per server and round, {arguments.rounds} rounds"
    )
    print(
        f"{'round':>5} {'server':<12} {'sent':>7} {'answered':>8}"
        f" {'us/resp (stat)':>15} {'us/resp (schedstat)':>20}"
    )
    rounds: dict[str, list[Round]] = {server.name: [] for server in servers}
    probe = binding_requests(1)[0]
    try:
        for server in servers:
            server.start(lambda server=server: answers(server.port, probe))
            send_at_rate(
                server.port, binding_requests(arguments.warmup), arguments.rate
            )
        for number in range(1, arguments.rounds + 1):
            for server in servers:
                result = measure_round(server, arguments.count, arguments.rate)
                rounds[server.name].append(result)
                print(
                    f"{number:>5} {server.name:<12} {result.sent:>7}"
                    f" {result.received:>8}"
                    f" {result.per_response(result.stat_seconds):>15.2f}"
                    f" {result.per_response(result.schedstat_seconds):>20.2f}"
                )
    finally:
        for server in servers:
            server.stop()

    if any(result.received == 0 for results in rounds.values() for result in results):
        print("a server sent no responses in some round", file=sys.stderr)
        return 1
    medians = {
        name: (
            statistics.median(r.per_response(r.stat_seconds) for r in results),
            statistics.median(r.per_response(r.schedstat_seconds) for r in results),
        )
        for name, results in rounds.items()
    }
    for name, (stat, schedstat) in medians.items():
        print(f"median {name:<12} {stat:.2f} us (stat), {schedstat:.2f} us (schedstat)")
    for reference in ["coturn", "twisted-echo"]:
        stat_ratio = medians["mcs-ice"][0] / medians[reference][0]
        schedstat_ratio = medians["mcs-ice"][1] / medians[reference][1]
        print(
            f"ratio mcs-ice / {reference}: {stat_ratio:.2f} (stat),"
            f" {schedstat_ratio:.2f} (schedstat)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
