"""
Measure the lite ICE agent: checks per second and CPU time per check, CPU
time per media packet through the UDP mux with the C{echo} handler beside a
bare Twisted UDP echo server (the floor), and memory per session.

The first two parts run the real C{twistd mcs-ice} server on 127.0.0.1 and
read its CPU time from C{/proc/PID/stat}; the bare echo server runs in the
same way in the same run. The session part creates sessions in this process
through the Python API and reads the resident set size.

Run from the repository root::

    python -m benchmarks.ice [--rate 5000] [--checks 20000] [--packets 50000]
        [--sessions 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import secrets
import sys
import textwrap
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import (
    LOOPBACK,
    ServerProcess,
    answers,
    free_udp_port,
    machine_description,
    mcs_ice,
    send_at_rate,
)
from twisted_ice.stun import AttributeType, Method, StunMessage

REMOTE_UFRAG = "bEnC"
REMOTE_PWD = "benchmarkpasswordbenchmark"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        f"a=ice-ufrag:{REMOTE_UFRAG}",
        f"a=ice-pwd:{REMOTE_PWD}",
        "a=fingerprint:sha-256 " + ":".join(["5A"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=sctp-port:5000",
        "",
    ]
)

BARE_ECHO = textwrap.dedent(
    """
    import sys
    from twisted.internet import reactor
    from twisted.internet.protocol import DatagramProtocol

    class Echo(DatagramProtocol):
        def datagramReceived(self, data, addr):
            self.transport.write(data, addr)

    reactor.listenUDP(int(sys.argv[1]), Echo(), interface="127.0.0.1",
                      maxPacketSize=65535)
    reactor.run()
    """
)


def free_tcp_port() -> int:
    """
    Return a TCP port that is free on 127.0.0.1 right now.
    """
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def create_session(api_port: int) -> tuple[str, str]:
    """
    Create an C{echo} session through the HTTP API and return the local
    ufrag and password from its answer.
    """
    request = urllib.request.Request(  # noqa: S310
        f"http://{LOOPBACK}:{api_port}/sessions",
        data=OFFER.encode(),
        method="POST",
        headers={"Content-Type": "application/sdp"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        answer = reply.read().decode()
    ufrag = pwd = ""
    for line in answer.splitlines():
        if line.startswith("a=ice-ufrag:"):
            ufrag = line.split(":", 1)[1]
        elif line.startswith("a=ice-pwd:"):
            pwd = line.split(":", 1)[1]
    return ufrag, pwd


def api_ready(api_port: int) -> bool:
    """
    Return whether the session API answers.
    """
    try:
        urllib.request.urlopen(  # noqa: S310
            f"http://{LOOPBACK}:{api_port}/sessions", timeout=0.5
        )
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def build_checks(ufrag: str, pwd: str, count: int) -> list[bytes]:
    """
    Return C{count} valid checks for the session, as a browser sends them:
    USERNAME, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY and FINGERPRINT,
    the first with USE-CANDIDATE.
    """
    checks = []
    key = pwd.encode("ascii")
    for index in range(count):
        attributes: list[tuple[int, object]] = [
            (AttributeType.USERNAME, f"{ufrag}:{REMOTE_UFRAG}"),
            (AttributeType.PRIORITY, 0x6E7F1EFF),
            (AttributeType.ICE_CONTROLLING, 0x1234),
        ]
        if index == 0:
            attributes.append((AttributeType.USE_CANDIDATE, True))
        message = StunMessage.request(Method.BINDING, attributes)
        checks.append(message.encode(integrity_key=key, fingerprint=True))
    return checks


def is_check_success(data: bytes) -> bool:
    """
    Return whether C{data} starts like a Binding success response.
    """
    return data[:2] == b"\x01\x01"


def media_packets(count: int, size: int) -> list[bytes]:
    """
    Return C{count} RTP-like packets (first byte 0x80) of C{size} bytes.
    """
    body = os.urandom(size - 2)
    return [b"\x80" + bytes([index % 128]) + body for index in range(count)]


def measure_ice(options: argparse.Namespace) -> dict[str, float]:
    """
    Run the check and media parts against one mcs-ice server.
    """
    api_port = free_tcp_port()
    server = mcs_ice(
        free_udp_port(),
        ["--api", f"tcp:{api_port}:interface={LOOPBACK}", "--tcp-port", "0"],
    )
    server.start(lambda: api_ready(api_port))
    results: dict[str, float] = {}
    try:
        ufrag, pwd = create_session(api_port)
        warmup = build_checks(ufrag, pwd, 1000)
        send_at_rate(server.port, warmup, options.rate)

        checks = build_checks(ufrag, pwd, options.checks)
        before = server.cpu_seconds()
        result = send_at_rate(
            server.port, checks, options.rate, accept=is_check_success
        )
        cpu = server.cpu_seconds() - before
        results["checks_sent"] = result.sent
        results["checks_answered"] = result.received
        results["checks_per_second"] = result.received / result.seconds
        results["check_cpu_us"] = cpu / max(1, result.received) * 1e6

        # One socket sends a check first, so that its 5-tuple is accepted,
        # then the media; the server handles them in order.
        ufrag, pwd = create_session(api_port)
        requests = build_checks(ufrag, pwd, 1) + media_packets(
            options.packets, options.size
        )
        before = server.cpu_seconds()
        result = send_at_rate(server.port, requests, options.media_rate)
        cpu = server.cpu_seconds() - before
        results["media_sent"] = result.sent
        results["media_echoed"] = result.received
        results["media_cpu_us"] = cpu / max(1, result.received) * 1e6
    finally:
        server.stop()
    return results


def measure_floor(options: argparse.Namespace) -> dict[str, float]:
    """
    Run the media part against a bare Twisted UDP echo server.
    """
    port = free_udp_port()
    server = ServerProcess(
        "bare-echo", [sys.executable, "-c", BARE_ECHO, str(port)], port
    )
    server.start(lambda: answers(port, b"\x80probe"))
    try:
        requests = [b"\x80check"] + media_packets(options.packets, options.size)
        before = server.cpu_seconds()
        result = send_at_rate(server.port, requests, options.media_rate)
        cpu = server.cpu_seconds() - before
    finally:
        server.stop()
    return {
        "floor_sent": result.sent,
        "floor_echoed": result.received,
        "floor_cpu_us": cpu / max(1, result.received) * 1e6,
    }


def resident_bytes() -> int:
    """
    Return this process's resident set size in bytes.
    """
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * PAGE_SIZE


def measure_sessions(count: int) -> dict[str, float]:
    """
    Create C{count} sessions through the Python API of an L{IceService} on a
    clock, and return the resident memory and the time per session.
    """
    from twisted.internet.task import Clock

    from twisted_ice.transport.ice import IceService

    service = IceService(
        addresses=["127.0.0.1"],
        udp_port=9000,
        fingerprint="sha-256 " + ":".join(["AB"] * 32),
        reactor=Clock(),
    )
    # Distinct remote credentials per offer, as real clients have.
    offers = [OFFER.replace(REMOTE_PWD, secrets.token_hex(13)) for _ in range(count)]
    gc.collect()
    before = resident_bytes()
    start = time.process_time()
    for offer in offers:
        service.create_session(offer)
    seconds = time.process_time() - start
    gc.collect()
    after = resident_bytes()
    return {
        "sessions": count,
        "session_bytes": (after - before) / count,
        "session_create_us": seconds / count * 1e6,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the three parts and print the figures; return the exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=5000, help="checks per second")
    parser.add_argument("--checks", type=int, default=20000, help="checks sent")
    parser.add_argument(
        "--media-rate", type=float, default=10000, help="media packets per second"
    )
    parser.add_argument("--packets", type=int, default=50000, help="media packets")
    parser.add_argument("--size", type=int, default=200, help="media packet bytes")
    parser.add_argument(
        "--sessions", type=int, default=100000, help="sessions for the memory part"
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    options = parser.parse_args(argv)
    if options.checks / options.rate > 25 or options.packets / options.media_rate > 25:
        parser.error("a part would send for over 25 s; keep runs short")
    if options.sessions > 200000:
        parser.error("--sessions is capped at 200000")

    results: dict[str, float] = {}
    results.update(measure_ice(options))
    results.update(measure_floor(options))
    results["media_ratio"] = results["media_cpu_us"] / results["floor_cpu_us"]
    results.update(measure_sessions(options.sessions))

    if options.json:
        print(json.dumps(results))
        return 0
    print(f"machine: {machine_description()}")
    print(
        f"checks: {results['checks_answered']:.0f}/{results['checks_sent']:.0f}"
        f" answered at {options.rate:g}/s offered,"
        f" {results['checks_per_second']:.0f}/s,"
        f" {results['check_cpu_us']:.1f} us CPU per check"
        f" (so at most about {1e6 / results['check_cpu_us']:.0f} checks/s"
        " on one core, an estimate)"
    )
    print(
        f"media ({options.size} B at {options.media_rate:g}/s):"
        f" mux + echo {results['media_cpu_us']:.1f} us/packet"
        f" ({results['media_echoed']:.0f}/{results['media_sent']:.0f} echoed),"
        f" bare Twisted echo {results['floor_cpu_us']:.1f} us/packet"
        f" ({results['floor_echoed']:.0f}/{results['floor_sent']:.0f}),"
        f" ratio {results['media_ratio']:.2f} (target at most 1.3)"
    )
    print(
        f"sessions: {results['sessions']:.0f} created,"
        f" {results['session_bytes'] / 1024:.1f} KiB RSS per session,"
        f" {results['session_create_us']:.0f} us CPU per session"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
