"""
Helpers shared by the end-to-end tests: free loopback ports, the real
C{twistd mcs-ice} server as a subprocess, a blocking UDP client, and
L{require_command} for the external tools the tests drive.

Everything here blocks with a bounded timeout, so it can run in a trial
C{setUp} or test method without the reactor; wrap a call in
C{twisted.internet.threads.deferToThread} to use it from reactor code.

Typical use::

    def setUp(self) -> None:
        self.server = start_server(self, extra_args=["--software", "x"])

    def test_something(self) -> None:
        client = UdpClient(self)
        client.send(request, self.server.udp_address)
        reply = client.receive(timeout=2.0)
        ...
        self.server.assert_clean_log(self)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from twisted.trial import unittest

ROOT = Path(__file__).resolve().parents[2]
"""The repository root, the working directory of every server started here."""

LOOPBACK = "127.0.0.1"

START_TIMEOUT = 15.0
"""Seconds a server has to log that it listens."""

STOP_TIMEOUT = 10.0
"""Seconds a server has to exit after SIGTERM before it is killed."""

UDP_READY = re.compile(r"mcs-ice listening on UDP \S+ port (\d+)")
"""The log line the UDP mux writes once it reads datagrams."""

UNCLEAN_LOG = re.compile(r"Unhandled Error|Traceback \(most recent call last\)")

TWISTD = [
    sys.executable,
    "-c",
    "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()",
]
"""
The argv that runs twistd with this Python. Run from L{ROOT}, it imports the
working tree, where the installed C{twistd} script would import the installed
copy.
"""


def free_port(kind: int = socket.SOCK_DGRAM, host: str = LOOPBACK) -> int:
    """
    Return a port that is free on C{host} right now.

    Another process may take the port before the caller binds it. With
    thousands of ephemeral ports to pick from this is unlikely, but possible.

    @param kind: C{socket.SOCK_DGRAM} for UDP (the default) or
        C{socket.SOCK_STREAM} for TCP.
    @param host: the loopback address to probe.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def free_udp_port(host: str = LOOPBACK) -> int:
    """
    Return a UDP port that is free on C{host} right now.
    """
    return free_port(socket.SOCK_DGRAM, host)


def free_tcp_port(host: str = LOOPBACK) -> int:
    """
    Return a TCP port that is free on C{host} right now.
    """
    return free_port(socket.SOCK_STREAM, host)


def require_command(name: str) -> str:
    """
    Return the full path of the external command C{name} (a name on C{PATH}
    or an absolute path), for a test that cannot run without it.

    @raise unittest.FailTest: when it is missing and the C{CI} environment
        variable is set, because CI installs every tool the tests need.
    @raise unittest.SkipTest: when it is missing outside CI.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} not found; install it (Debian: coturn, chromium)"
    if os.environ.get("CI"):
        raise unittest.FailTest(message)
    raise unittest.SkipTest(message)


def twistd_command(
    udp_port: int, extra_args: Sequence[str] = (), interface: str = LOOPBACK
) -> list[str]:
    """
    Return the argv of C{twistd -n --pidfile= mcs-ice --interface INTERFACE
    --udp-port UDP_PORT EXTRA_ARGS}, run by this Python so that it imports
    the working tree.
    """
    return [
        *TWISTD,
        "-n",
        "--pidfile=",
        "mcs-ice",
        "--interface",
        interface,
        "--udp-port",
        str(udp_port),
        # The TCP listener's default port is 443: off unless a test sets it.
        "--tcp-port",
        "0",
        # SIGTERM from stop() exits without draining live sessions and
        # allocations, unless a test sets --drain-timeout itself.
        "--drain-timeout",
        "0",
        # The session API's default port is 8090: any free port here.
        "--api",
        "tcp:0:interface=127.0.0.1",
        *extra_args,
    ]


def run_twistd(
    args: Sequence[str], timeout: float = START_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """
    Run C{twistd -n --pidfile= mcs-ice ARGS} to completion, for options that
    make it exit at once (C{--help}, invalid values, a port in use).

    @return: the finished process, with C{stdout} and C{stderr} as text.
    @raise subprocess.TimeoutExpired: when it still runs after C{timeout}
        seconds; it is killed first.
    """
    argv = [*TWISTD, "-n", "--pidfile=", "mcs-ice", *args]
    return subprocess.run(  # noqa: S603
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_server_environment(),
    )


def _server_environment() -> dict[str, str]:
    """
    Return the environment for a server: this one, unbuffered.
    """
    environment = dict(os.environ)
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


class ServerProcess:
    """
    The real C{twistd -n mcs-ice} server as a subprocess on loopback, its
    standard output and error (where twistd logs with C{-n}) in a temporary
    file.

    @ivar udp_port: the server's UDP port.
    @ivar interface: the address it listens on.
    @ivar argv: the command line.
    @ivar process: the running process, after L{start}.
    """

    def __init__(
        self,
        udp_port: int | None = None,
        extra_args: Sequence[str] = (),
        interface: str = LOOPBACK,
    ) -> None:
        """
        @param udp_port: the UDP port; a free one by default.
        @param extra_args: more C{mcs-ice} options.
        @param interface: the address to listen on.
        """
        self.udp_port = udp_port if udp_port is not None else free_udp_port(interface)
        self.interface = interface
        self.argv = twistd_command(self.udp_port, extra_args, interface)
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="mcs-ice-", suffix=".log", delete=False
        )
        self.log_path = Path(self._log.name)

    @property
    def udp_address(self) -> tuple[str, int]:
        """
        The server's UDP address, C{(interface, udp_port)}.
        """
        return (self.interface, self.udp_port)

    @property
    def pid(self) -> int:
        """
        The process id of the running server.
        """
        assert self.process is not None, "the server was not started"
        return self.process.pid

    def start(
        self,
        ready: Sequence[re.Pattern[str] | str] = (UDP_READY,),
        timeout: float = START_TIMEOUT,
    ) -> None:
        """
        Start the server and wait until its log matches every pattern in
        C{ready}.

        @param ready: regular expressions (or plain strings, searched
            literally) that the log must all contain; by default the UDP
            mux's listening line.
        @param timeout: seconds to wait.
        @raise unittest.FailTest: with the log, when the server exits or
            times out first. A server that is still running is stopped.
        """
        patterns = [
            re.compile(re.escape(p)) if isinstance(p, str) else p for p in ready
        ]
        self.process = subprocess.Popen(  # noqa: S603
            self.argv,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_server_environment(),
        )
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()
            if all(pattern.search(text) for pattern in patterns):
                return
            if self.process.poll() is not None:
                raise unittest.FailTest(
                    f"mcs-ice exited with status {self.process.returncode}"
                    f" before it was ready; log:\n{text}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise unittest.FailTest(
                    f"mcs-ice did not log {[p.pattern for p in patterns]} within"
                    f" {timeout} s; log:\n{self.log_text()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """
        Send SIGTERM to the server by its PID and wait for it to exit; kill
        it when it still runs after C{timeout} seconds. Does nothing when it
        has already exited.

        @return: its exit status (0 after a clean shutdown, negative when a
            signal ended it), or L{None} when it was never started.
        """
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        return process.returncode

    def log_text(self) -> str:
        """
        Return everything the server has written so far.
        """
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def unclean_lines(self) -> list[str]:
        """
        Return the log lines that report an unhandled error or a traceback.
        """
        return [
            line for line in self.log_text().splitlines() if UNCLEAN_LOG.search(line)
        ]

    def assert_clean_log(self, testcase: unittest.TestCase) -> None:
        """
        Fail C{testcase} when the log reports an unhandled error or a
        traceback; the failure message contains the whole log.
        """
        testcase.assertEqual(self.unclean_lines(), [], self.log_text())

    def close(self) -> None:
        """
        Stop the server and delete its log file.
        """
        self.stop()
        self._log.close()
        self.log_path.unlink(missing_ok=True)


def start_server(
    testcase: unittest.TestCase,
    udp_port: int | None = None,
    extra_args: Sequence[str] = (),
    ready: Sequence[re.Pattern[str] | str] = (UDP_READY,),
) -> ServerProcess:
    """
    Start a L{ServerProcess} for C{testcase} and register its cleanup.

    The cleanup stops the server, fails the test when the log shows an
    unhandled error or a traceback, and deletes the log.
    """
    server = ServerProcess(udp_port, extra_args)

    def clean_up() -> None:
        try:
            server.stop()
            server.assert_clean_log(testcase)
        finally:
            server.close()

    testcase.addCleanup(clean_up)
    server.start(ready)
    return server


class UdpClient:
    """
    A blocking UDP socket on 127.0.0.1 for raw STUN and TURN exchanges.

    @ivar socket: the socket, bound to a free port.
    """

    def __init__(
        self, testcase: unittest.TestCase | None = None, host: str = LOOPBACK
    ) -> None:
        """
        @param testcase: when given, the socket closes in its cleanup.
        @param host: the loopback address to bind.
        """
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.socket.bind((host, 0))
        if testcase is not None:
            testcase.addCleanup(self.socket.close)

    @property
    def address(self) -> tuple[str, int]:
        """
        The client's own address.
        """
        host, port = self.socket.getsockname()[:2]
        return (host, port)

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        """
        Send one datagram to C{address}.
        """
        self.socket.sendto(data, address)

    def receive(self, timeout: float = 2.0) -> bytes | None:
        """
        Return the next datagram, or L{None} when none arrives within
        C{timeout} seconds.
        """
        self.socket.settimeout(timeout)
        try:
            data, _ = self.socket.recvfrom(65535)
        except TimeoutError:
            return None
        return data

    def exchange(
        self, data: bytes, address: tuple[str, int], timeout: float = 2.0
    ) -> bytes | None:
        """
        Send C{data} to C{address} and return the first reply, or L{None}
        when none arrives within C{timeout} seconds.
        """
        self.send(data, address)
        return self.receive(timeout)
