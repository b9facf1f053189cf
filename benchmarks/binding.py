"""
Compare the CPU time per STUN Binding response of mcs-ice and coturn.

Starts coturn's C{turnserver --stun-only} and C{twistd mcs-ice} on loopback,
offers each the same number of Binding requests at the same rate, one server
after the other, and prints each server's CPU microseconds per response (from
C{/proc/PID/stat}) and their ratio.

Run from the repository root::

    python -m benchmarks.binding [--rate 5000] [--count 50000]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from benchmarks.common import (
    ServerProcess,
    answers,
    free_udp_port,
    machine_description,
    mcs_ice,
    send_at_rate,
    turnserver,
)

MAGIC_COOKIE = b"\x21\x12\xa4\x42"
BINDING_REQUEST = b"\x00\x01\x00\x00"
BINDING_SUCCESS = b"\x01\x01"


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


def measure(
    server: ServerProcess, count: int, rate: float, warmup: int
) -> tuple[int, int, float]:
    """
    Start C{server}, warm it up, offer C{count} requests at C{rate} per
    second, and stop it.

    @return: requests sent, responses received, and the server's CPU
        seconds during the run.
    """
    probe = binding_requests(1)[0]
    server.start(lambda: answers(server.port, probe))
    try:
        send_at_rate(server.port, binding_requests(warmup), rate)
        requests = binding_requests(count)
        before = server.cpu_seconds()
        result = send_at_rate(server.port, requests, rate, accept=is_binding_success)
        after = server.cpu_seconds()
    finally:
        server.stop()
    return result.sent, result.received, after - before


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the comparison and print the table; return the exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate", type=float, default=5000, help="requests per second (default 5000)"
    )
    parser.add_argument(
        "--count", type=int, default=50000, help="requests per server (default 50000)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2000, help="requests before measuring"
    )
    options = parser.parse_args(argv)
    if options.count / options.rate > 25:
        parser.error("--count / --rate is over 25 s per server; keep runs short")

    servers = [
        turnserver(free_udp_port(), ["--stun-only"]),
        mcs_ice(free_udp_port()),
    ]
    print(f"machine: {machine_description()}")
    print(f"load: {options.count} Binding requests at {options.rate:g}/s per server")
    print(
        f"{'server':<10} {'sent':>8} {'answered':>9} {'CPU s':>7} {'CPU us/resp':>12}"
    )
    per_response: dict[str, float] = {}
    for server in servers:
        sent, received, cpu = measure(
            server, options.count, options.rate, options.warmup
        )
        if received == 0:
            print(f"{server.name}: no responses", file=sys.stderr)
            return 1
        per_response[server.name] = cpu / received * 1e6
        print(
            f"{server.name:<10} {sent:>8} {received:>9} {cpu:>7.2f}"
            f" {per_response[server.name]:>12.1f}"
        )
    ratio = per_response["mcs-ice"] / per_response["coturn"]
    print(f"ratio mcs-ice / coturn: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
