"""
Tests for the TCP and TLS options of C{twistd mcs-ice} and the listener
that L{twisted_ice.tap.makeService} builds from them.
"""

from __future__ import annotations

import socket
from pathlib import Path as FilePath

from twisted.application.service import MultiService
from twisted.trial import unittest

from tests.e2e.support import free_tcp_port
from tests.test_tcp_tls import write_self_signed
from twisted_ice import tap
from twisted_ice.addresses import Transport
from twisted_ice.transport.ice import IceService
from twisted_ice.transport.tcp import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PER_SOURCE,
    TcpMuxService,
)
from twisted_ice.transport.turn import TurnService
from twisted_ice.transport.udp import UdpMuxService

BASE = ["--interface", "127.0.0.1", "--udp-port", "0"]


def parse(*argv: str) -> tap.Options:
    """
    Parse C{argv} as C{twistd mcs-ice} options.
    """
    options = tap.Options()
    options.parseOptions([*BASE, *argv])
    return options


def exit_message(*argv: str) -> str:
    """
    Return the message of the L{SystemExit} that parsing C{argv} raises.
    """
    try:
        parse(*argv)
    except SystemExit as exit:
        return str(exit.code)
    raise AssertionError(f"{argv} parsed without an error")


class TcpOptionsTests(unittest.TestCase):
    """
    The TCP and TLS options are checked and converted.
    """

    def test_defaults(self) -> None:
        """
        By default the listener is on port 443 with the documented limits
        and no TLS.
        """
        options = parse()
        self.assertEqual(options["tcp-port"], 443)
        self.assertEqual(options["tcp-idle-timeout"], DEFAULT_IDLE_TIMEOUT)
        self.assertEqual(options["tcp-max-per-source"], DEFAULT_MAX_PER_SOURCE)
        self.assertEqual(options["tcp-max-connections"], DEFAULT_MAX_CONNECTIONS)
        self.assertIsNone(options["tls-context"])

    def test_port_out_of_range(self) -> None:
        """
        A TCP port over 65535 is one error line naming the option.
        """
        message = exit_message("--tcp-port", "70000")
        self.assertIn("invalid --tcp-port 70000", message)
        self.assertNotIn("\n", message)

    def test_idle_timeout_not_positive(self) -> None:
        """
        An idle timeout of 0 is rejected.
        """
        self.assertIn(
            "invalid --tcp-idle-timeout", exit_message("--tcp-idle-timeout", "0")
        )

    def test_limit_not_a_number(self) -> None:
        """
        A per-source limit that is not a number is rejected.
        """
        self.assertIn(
            "invalid --tcp-max-per-source", exit_message("--tcp-max-per-source", "x")
        )

    def test_certificate_without_key(self) -> None:
        """
        C{--tls-cert} without C{--tls-key} is rejected.
        """
        self.assertIn("missing --tls-key", exit_message("--tls-cert", "cert.pem"))

    def test_tls_loaded(self) -> None:
        """
        A matching certificate and key become the TLS context.
        """
        directory = FilePath(self.mktemp())
        directory.mkdir()
        certificate, key = write_self_signed(directory)
        options = parse("--tls-cert", str(certificate), "--tls-key", str(key))
        self.assertIsNotNone(options["tls-context"])

    def test_tls_without_tcp_port(self) -> None:
        """
        C{--tls-cert} and C{--tls-key} with C{--tcp-port 0} end parsing
        with one line, instead of being ignored.
        """
        directory = FilePath(self.mktemp())
        directory.mkdir()
        certificate, key = write_self_signed(directory)
        message = exit_message(
            "--tcp-port", "0", "--tls-cert", str(certificate), "--tls-key", str(key)
        )
        self.assertIn("TLS needs the TCP listener", message)
        self.assertIn("set --tcp-port", message)
        self.assertNotIn("\n", message)


class TcpServiceTests(unittest.TestCase):
    """
    L{tap.makeService} adds the TCP/TLS listener and wires it to the
    services.
    """

    def make_service(self, *argv: str) -> MultiService:
        """
        Build the service tree, closing its sockets in cleanup.
        """
        service = tap.makeService(parse(*argv))
        assert isinstance(service, MultiService)
        for child in service:
            if isinstance(child, UdpMuxService | TcpMuxService):
                self.addCleanup(child.stopService)
        return service

    def test_port_zero_no_listener(self) -> None:
        """
        C{--tcp-port 0} builds no TCP listener.
        """
        service = self.make_service("--tcp-port", "0")
        self.assertEqual(
            [child for child in service if isinstance(child, TcpMuxService)], []
        )

    def test_listener_wired(self) -> None:
        """
        The listener's mux is the TCP and TLS writer of the ICE and TURN
        services, and the ICE service puts its port in TCP candidates.
        """
        port = free_tcp_port()
        service = self.make_service(
            "--tcp-port",
            str(port),
            "--user",
            "alice:secret",
            "--tcp-idle-timeout",
            "30",
        )
        [listener] = [child for child in service if isinstance(child, TcpMuxService)]
        [ice] = [child for child in service if isinstance(child, IceService)]
        [turn] = [child for child in service if isinstance(child, TurnService)]
        mux = listener.mux
        self.assertIs(ice.writers[Transport.TCP], mux)
        self.assertIs(ice.writers[Transport.TLS], mux)
        self.assertIs(turn.writers[Transport.TCP], mux)
        self.assertIs(turn.writers[Transport.TLS], mux)
        self.assertEqual(ice.tcp_port, port)
        self.assertIs(mux.ice, ice)
        self.assertIs(mux.turn, turn)
        self.assertEqual(mux.idle_timeout, 30)

    def test_port_in_use(self) -> None:
        """
        A TCP port in use ends the process with one line naming the address.
        """
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        options = parse("--tcp-port", str(port))
        with self.assertRaises(SystemExit) as raised:
            tap.makeService(options)
        message = str(raised.exception.code)
        self.assertIn(f"cannot listen on TCP 127.0.0.1 port {port}", message)
        self.assertNotIn("\n", message)
