"""
Reusable parts of the benchmarks: a server process on loopback (coturn's
C{turnserver} or C{twistd mcs-ice}), its CPU time from C{/proc}, a
rate-limited UDP sender that counts responses, and the uclient load of the
TURN benchmarks.

Every server started here listens on 127.0.0.1 only, keeps its files in a
temporary directory and is stopped by its PID.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.turnutils import uclient_command

ROOT = Path(__file__).resolve().parent.parent
"""The repository root; mcs-ice runs from here so it imports the working tree."""

LOOPBACK = "127.0.0.1"

# The static TURN user that the TURN benchmarks configure on both servers.
USER = "bench"
PASSWORD = "bench-password"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
"""The unit of utime and stime in C{/proc/PID/stat}, per second."""

_TWISTD = (
    "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
)


def process_cpu_seconds(pid: int) -> float:
    """
    Return the CPU time (user plus system, all threads) that process C{pid}
    has used so far, in seconds, with the kernel's clock-tick resolution
    (usually 10 ms).
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may contain spaces;
    # utime and stime are fields 14 and 15 (proc(5)).
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def process_cpu_ns(pid: int) -> int:
    """
    Return the CPU time that the live threads of process C{pid} have used
    so far, in nanoseconds, from the scheduler's C{/proc/PID/task/*/schedstat}.

    Finer than L{process_cpu_seconds}, but the time of threads that have
    exited is missing, so use it only across an interval in which the
    server starts and ends no thread.
    """
    total = 0
    for schedstat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(schedstat.read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total


def free_udp_port() -> int:
    """
    Return a UDP port that is free on 127.0.0.1 right now.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """
    A server under test: a subprocess with its output in a temporary
    directory.

    @ivar name: the label printed in results.
    @ivar port: the UDP port it listens on.
    @ivar directory: its temporary directory (log, PID file).
    """

    def __init__(self, name: str, argv: Sequence[str], port: int) -> None:
        self.name = name
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self._argv = [str(arg).replace("{dir}", str(self.directory)) for arg in argv]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """
        The process id.
        """
        assert self._process is not None, f"{self.name} was not started"
        return self._process.pid

    @property
    def log_path(self) -> Path:
        """
        The file that contains the server's standard output and error.
        """
        return self.directory / "output.log"

    def start(self, ready: Callable[[], bool], timeout: float = 15.0) -> None:
        """
        Start the process and wait until C{ready()} returns true.

        @raise RuntimeError: with the log, when it exits or is not ready
            within C{timeout} seconds.
        """
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603
                self._argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log_text = self.log_path.read_text(errors="replace")
                raise RuntimeError(f"{self.name} did not start; output:\n{log_text}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """
        Return the process's CPU time so far, in seconds.
        """
        return process_cpu_seconds(self.pid)

    def cpu_ns(self) -> int:
        """
        Return the CPU time of the process's live threads, in nanoseconds.
        """
        return process_cpu_ns(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """
        Send SIGTERM by PID, wait, kill after C{timeout} seconds, and delete
        the temporary directory.
        """
        process = self._process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        shutil.rmtree(self.directory, ignore_errors=True)


def coturn_argv(port: int, options: Sequence[str] = ()) -> list[str]:
    """
    Return the argv of coturn's C{turnserver} on 127.0.0.1 with C{options},
    without config file, CLI or DTLS, its log and PID file in its temporary
    directory, which L{ServerProcess} writes for C{{dir}}.

    @param options: the transports and the rest, e.g. C{--no-tcp}.
    """
    return [
        shutil.which("turnserver") or "turnserver",
        "-n",
        "--listening-ip",
        LOOPBACK,
        "--relay-ip",
        LOOPBACK,
        "--listening-port",
        str(port),
        *options,
        "--no-dtls",
        "--no-cli",
        "--no-software-attribute",
        "--log-file",
        "{dir}/turnserver.log",
        "--simple-log",
        "--pidfile",
        "{dir}/turnserver.pid",
    ]


def turnserver(port: int, extra_args: Sequence[str] = ()) -> ServerProcess:
    """
    Return coturn's C{turnserver} on 127.0.0.1, UDP only, without config
    file, CLI or TLS, its log and PID file in its temporary directory.

    @param extra_args: more options, e.g. C{--stun-only} or users.
    """
    argv = coturn_argv(port, ["--no-tcp", "--no-tls", *extra_args])
    return ServerProcess("coturn", argv, port)


def mcs_ice(port: int, extra_args: Sequence[str] = ()) -> ServerProcess:
    """
    Return C{twistd -n mcs-ice} on 127.0.0.1, run by this Python from the
    repository root.
    """
    argv = [
        sys.executable,
        "-c",
        _TWISTD,
        "-n",
        "--pidfile=",
        "mcs-ice",
        "--interface",
        LOOPBACK,
        "--udp-port",
        str(port),
        *extra_args,
    ]
    return ServerProcess("mcs-ice", argv, port)


TWISTED_ECHO = """
import sys
from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

class Echo(DatagramProtocol):
    def datagramReceived(self, data, addr):
        self.transport.write(data, addr)

reactor.listenUDP(int(sys.argv[1]), Echo(), interface="127.0.0.1")
reactor.run()
"""


def twisted_echo(port: int) -> ServerProcess:
    """
    Return a bare Twisted UDP echo server on 127.0.0.1. Its CPU time per
    echoed datagram is what the reactor and the interpreter cost without any
    work of the server's own: the floor that mcs-ice is compared with.
    """
    return ServerProcess(
        "twisted-echo", [sys.executable, "-c", TWISTED_ECHO, str(port)], port
    )


def answers(port: int, request: bytes, timeout: float = 0.5) -> bool:
    """
    Return whether a UDP server on 127.0.0.1:C{port} replies to C{request}
    within C{timeout} seconds.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(timeout)
        probe.sendto(request, (LOOPBACK, port))
        try:
            probe.recvfrom(65535)
        except TimeoutError:
            return False
        return True


@dataclass
class SendResult:
    """
    The counts and duration of one L{send_at_rate} run.

    @ivar sent: requests sent.
    @ivar received: responses received.
    @ivar seconds: wall-clock time from the first request to the end of the
        drain.
    """

    sent: int
    received: int
    seconds: float


def send_at_rate(
    port: int,
    requests: Sequence[bytes],
    rate: float,
    drain: float = 1.0,
    accept: Callable[[bytes], bool] | None = None,
) -> SendResult:
    """
    Send each of C{requests} once to 127.0.0.1:C{port} at C{rate} per
    second from one socket, counting the responses, then wait up to
    C{drain} seconds for the last ones.

    Requests leave in 1 ms batches. A sender that falls behind does not
    catch up in bursts larger than 10 ms worth of requests, so the offered
    rate stays at most C{rate}.

    @param accept: returns whether a datagram counts as a response; any
        datagram does by default.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    sock.bind((LOOPBACK, 0))
    sock.setblocking(False)
    address = (LOOPBACK, port)
    received = 0

    def receive_all() -> None:
        nonlocal received
        while True:
            try:
                data = sock.recv(65535)
            except BlockingIOError:
                return
            if accept is None or accept(data):
                received += 1

    start = time.monotonic()
    sent = 0
    total = len(requests)
    max_batch = max(1, int(rate / 100))
    try:
        while sent < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            batch_end = min(due, sent + max_batch)
            while sent < batch_end:
                try:
                    sock.sendto(requests[sent], address)
                except BlockingIOError:
                    break
                sent += 1
            receive_all()
            time.sleep(0.001)
        drain_end = time.monotonic() + drain
        while received < sent:
            left = drain_end - time.monotonic()
            if left <= 0:
                break
            select.select([sock], [], [], left)
            receive_all()
    finally:
        sock.close()
    return SendResult(sent, received, time.monotonic() - start)


def machine_description() -> str:
    """
    Return the CPU model and the number of CPUs this process may use.
    """
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{len(os.sched_getaffinity(0))} CPUs, {model}"


def uclient_load_command(
    uclient: str,
    port: int,
    peer: tuple[str, int],
    options: argparse.Namespace,
    flags: Sequence[str],
) -> list[str]:
    """
    Return the argv of one uclient load as L{USER} against the server on
    loopback C{port}, relaying to C{peer}.

    @param options: the parsed command line, with the C{clients},
        C{messages}, C{size} and C{interval} (milliseconds) of the load.
    """
    return uclient_command(
        uclient,
        (LOOPBACK, port),
        peer,
        user=USER,
        password=PASSWORD,
        clients=options.clients,
        messages=options.messages,
        size=options.size,
        interval_ms=options.interval,
        flags=flags,
    )
