"""
Drive coturn's test clients: C{turnutils_peer}, a UDP echo peer, and
C{turnutils_uclient}, which allocates relays on a TURN server, sends
messages through them to the peer and counts what comes back.

Shared by the end-to-end tests and C{benchmarks/turn.py}. Every process runs
with a timeout and is stopped by its PID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"

UCLIENT_TIMEOUT = 90.0
"""
Seconds a uclient run may take before it is killed: it waits forever for a
server that does not answer.
"""

_SENT_RECEIVED = re.compile(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", re.M)
_LOST = re.compile(
    r"Total lost packets (\d+) \(([\d.]+)%\), total send dropped (\d+)", re.M
)
_ROUND_TRIP = re.compile(
    r"Average round trip delay ([\d.]+) ms; min = ([\d.]+) ms, max = ([\d.]+) ms"
)
_JITTER = re.compile(r"Average jitter ([\d.]+) ms")


class UclientError(Exception):
    """
    C{turnutils_uclient} timed out, or its output has no summary.
    """


@dataclass(frozen=True)
class UclientResult:
    """
    The summary that C{turnutils_uclient} prints at its end.

    @ivar sent: messages sent through the relays.
    @ivar received: messages that came back.
    @ivar lost: messages lost, as uclient counts them.
    @ivar send_dropped: messages uclient could not send.
    @ivar round_trip_ms: the average round-trip time, in milliseconds;
        uclient measures it with a resolution of 1 ms.
    @ivar round_trip_max_ms: the largest round-trip time, in milliseconds.
    @ivar jitter_ms: the average jitter, in milliseconds.
    @ivar elapsed: the wall-clock seconds of the run.
    @ivar returncode: uclient's exit status.
    @ivar output: everything uclient printed.
    """

    sent: int
    received: int
    lost: int
    send_dropped: int
    round_trip_ms: float
    round_trip_max_ms: float
    jitter_ms: float
    elapsed: float
    returncode: int
    output: str


def parse_uclient_output(
    output: str, returncode: int = 0, elapsed: float = 0.0
) -> UclientResult:
    """
    Read the summary lines of a C{turnutils_uclient} run.

    @raise UclientError: when the output has no summary, as when uclient gave
        up before sending.
    """
    counts = _SENT_RECEIVED.findall(output)
    lost = _LOST.search(output)
    round_trip = _ROUND_TRIP.search(output)
    if not counts or lost is None or round_trip is None:
        tail = "\n".join(output.splitlines()[-20:])
        raise UclientError(
            f"turnutils_uclient exited with status {returncode} without a"
            f" summary; last lines:\n{tail}"
        )
    jitter = _JITTER.search(output)
    sent, received = counts[-1]
    return UclientResult(
        sent=int(sent),
        received=int(received),
        lost=int(lost.group(1)),
        send_dropped=int(lost.group(3)),
        round_trip_ms=float(round_trip.group(1)),
        round_trip_max_ms=float(round_trip.group(3)),
        jitter_ms=float(jitter.group(1)) if jitter else 0.0,
        elapsed=elapsed,
        returncode=returncode,
        output=output,
    )


def uclient_command(
    uclient: str,
    server: tuple[str, int],
    peer: tuple[str, int],
    *,
    user: str,
    password: str | None = None,
    secret: str | None = None,
    clients: int = 10,
    messages: int = 200,
    size: int = 100,
    interval_ms: int = 20,
    flags: Sequence[str] = (),
) -> list[str]:
    """
    Return the argv of a uclient run against C{server}, relaying to C{peer}.

    @param user: the user name (C{-u}); with C{secret}, the user id that
        uclient puts after its own expiry timestamp.
    @param password: the password (C{-w}) of a static user.
    @param secret: the TURN REST secret (C{-W}), in place of a password.
    @param clients: C{-m}, the number of clients; each allocates two relays
        (RTP and RTCP) unless C{-c} is among C{flags}.
    @param messages: C{-n}, messages each client sends.
    @param size: C{-l}, the message length in bytes.
    @param interval_ms: C{-z}, milliseconds between two messages of a client.
    @param flags: more uclient flags, such as C{-s}, C{-D}, C{-N} or C{-R}.
    """
    argv = [uclient, "-p", str(server[1]), "-u", user]
    if password is not None:
        argv += ["-w", password]
    if secret is not None:
        argv += ["-W", secret]
    argv += [
        "-m",
        str(clients),
        "-n",
        str(messages),
        "-l",
        str(size),
        "-z",
        str(interval_ms),
        "-e",
        peer[0],
        "-r",
        str(peer[1]),
        *flags,
        server[0],
    ]
    return argv


def run_uclient(
    argv: Sequence[str], timeout: float = UCLIENT_TIMEOUT, check: bool = True
) -> UclientResult | subprocess.CompletedProcess[str]:
    """
    Run a uclient command to its end.

    @param check: whether to parse the summary; without it, return the
        finished process, as for the negative modes, whose output has no
        reliable summary.
    @raise UclientError: when it runs longer than C{timeout} seconds (it is
        killed), or, with C{check}, has no summary.
    """
    start = time.monotonic()
    try:
        finished = subprocess.run(  # noqa: S603
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        output = error.stdout or b""
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        tail = "\n".join(text.splitlines()[-20:])
        raise UclientError(
            f"turnutils_uclient did not finish within {timeout} s; last lines:\n{tail}"
        ) from None
    if not check:
        return finished
    output = finished.stdout + finished.stderr
    return parse_uclient_output(output, finished.returncode, time.monotonic() - start)


class EchoPeer:
    """
    C{turnutils_peer} on a loopback port: it sends every datagram back to
    its source.
    """

    def __init__(self, command: str, port: int, host: str = LOOPBACK) -> None:
        """
        @param command: the path of C{turnutils_peer}.
        @param port: the UDP port to listen on.
        @param host: the loopback address to listen on.
        """
        self.address = (host, port)
        self.process = subprocess.Popen(  # noqa: S603
            [command, "-L", host, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """
        Stop the peer by its PID; kill it when it still runs after
        C{timeout} seconds.
        """
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
