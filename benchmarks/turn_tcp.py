"""
Compare the CPU time per relayed packet of coturn's turnserver and mcs-ice
for TURN over TCP and over TLS, under the same turnutils_uclient load.

Each server runs on 127.0.0.1 with one user, a test certificate and a
loopback echo peer (turnutils_peer). For each transport, uclient runs its
clients against one server at a time, and the server's CPU time (user plus
system, from /proc/PID/stat) over the run is divided by the packets it
relayed: every message counts twice, client to peer and back.

Run: python -m benchmarks.turn_tcp [--clients N] [--messages N] [--size B]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import (
    LOOPBACK,
    PASSWORD,
    USER,
    ServerProcess,
    coturn_argv,
    free_udp_port,
    machine_description,
    mcs_ice,
    uclient_load_command,
)
from tests.e2e.turnutils import (
    EchoPeer,
    UclientError,
    UclientResult,
    run_uclient,
)
from tests.test_tcp_tls import write_self_signed

REALM = "twisted-ice"

TRANSPORTS = {"tcp": ["-t"], "tls": ["-t", "-S"]}
"""uclient flags per transport. uclient relays with ChannelData, on channels
up to 0x7FFF (RFC 5766), so mcs-ice runs with C{--rfc5766-channels}."""


def free_tcp_port() -> int:
    """
    Return a TCP port that is free on 127.0.0.1 right now.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    """
    Return whether a TCP server on 127.0.0.1:C{port} accepts connections.
    """
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def coturn_tcp(port: int, certificate: Path, key: Path) -> ServerProcess:
    """
    Return coturn's turnserver on 127.0.0.1 with TCP and TLS on C{port} (it
    tells them apart like mcs-ice), no config file, CLI or DTLS, loopback
    peers allowed, its log and PID file in its temporary directory.
    """
    argv = coturn_argv(
        port,
        [
            "--tls-listening-port",
            str(port),
            "--cert",
            str(certificate),
            "--pkey",
            str(key),
            "--allow-loopback-peers",
            "--lt-cred-mech",
            "--realm",
            REALM,
            "--user",
            f"{USER}:{PASSWORD}",
            "--min-port",
            "50000",
            "--max-port",
            "54999",
        ],
    )
    return ServerProcess("coturn", argv, port)


def mcs_ice_tcp(port: int, certificate: Path, key: Path) -> ServerProcess:
    """
    Return mcs-ice on 127.0.0.1 with its TCP/TLS listener on C{port}, one
    user and loopback peers allowed.
    """
    server = mcs_ice(
        free_udp_port(),
        [
            "--api",
            f"tcp:{free_tcp_port()}:interface={LOOPBACK}",
            "--tcp-port",
            str(port),
            "--tls-cert",
            str(certificate),
            "--tls-key",
            str(key),
            "--user",
            f"{USER}:{PASSWORD}",
            "--realm",
            REALM,
            "--allow-peer",
            f"{LOOPBACK}/32",
            "--rfc5766-channels",
            "--relay-ports",
            "55000-59999",
        ],
    )
    server.port = port
    return server


def measure(
    server: ServerProcess,
    uclient: str,
    peer: EchoPeer,
    flags: Sequence[str],
    options: argparse.Namespace,
) -> tuple[UclientResult, float]:
    """
    Start C{server}, run one uclient load with C{flags} against it, and stop
    it.

    @return: uclient's result and the server's CPU seconds during the run.
    """
    server.start(lambda: accepts(server.port))
    try:
        argv = uclient_load_command(uclient, server.port, peer.address, options, flags)
        before = server.cpu_seconds()
        result = run_uclient(argv)
        after = server.cpu_seconds()
    finally:
        server.stop()
    assert isinstance(result, UclientResult)
    return result, after - before


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the comparison and print the table; return the exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=int, default=20, help="uclient clients (default 20)"
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=500,
        help="messages per client (default 500)",
    )
    parser.add_argument(
        "--size", type=int, default=100, help="message bytes (default 100)"
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=5,
        help="milliseconds between a client's messages (default 5)",
    )
    options = parser.parse_args(argv)
    if options.messages * options.interval / 1000 > 20:
        parser.error("--messages * --interval is over 20 s per run; keep runs short")

    uclient = shutil.which("turnutils_uclient")
    peer_command = shutil.which("turnutils_peer")
    if uclient is None or peer_command is None or shutil.which("turnserver") is None:
        print("coturn (turnserver, turnutils_uclient, turnutils_peer) not found")
        return 1

    directory = Path(tempfile.mkdtemp(prefix="bench-tls-"))
    certificate, key = write_self_signed(directory)
    peer = EchoPeer(peer_command, free_udp_port())
    print(f"machine: {machine_description()}")
    print(
        f"load: turnutils_uclient -m {options.clients} -n {options.messages}"
        f" -l {options.size} -z {options.interval}, per server and transport"
    )
    print(
        f"{'transport':<10} {'server':<8} {'sent':>7} {'back':>7} {'lost':>5}"
        f" {'CPU s':>6} {'CPU us/pkt':>11}"
    )
    status = 0
    try:
        for transport, flags in TRANSPORTS.items():
            per_packet: dict[str, float] = {}
            for build in (coturn_tcp, mcs_ice_tcp):
                server = build(free_tcp_port(), certificate, key)
                try:
                    result, cpu = measure(server, uclient, peer, flags, options)
                except (UclientError, RuntimeError) as error:
                    print(f"{transport} {server.name}: failed: {error}")
                    status = 1
                    continue
                relayed = result.sent + result.received
                per_packet[server.name] = cpu / relayed * 1e6 if relayed else 0.0
                print(
                    f"{transport:<10} {server.name:<8} {result.sent:>7}"
                    f" {result.received:>7} {result.lost:>5} {cpu:>6.2f}"
                    f" {per_packet[server.name]:>11.1f}"
                )
            if per_packet.get("coturn") and "mcs-ice" in per_packet:
                ratio = per_packet["mcs-ice"] / per_packet["coturn"]
                print(f"{transport:<10} ratio mcs-ice / coturn: {ratio:.2f}")
    finally:
        peer.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
