"""
End-to-end tests of TURN over TCP and TLS: coturn's C{turnutils_uclient}
(C{-t}, and C{-t -S} for TLS) against the real C{twistd mcs-ice} on the
TCP/TLS port, relaying to C{turnutils_peer}.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from twisted.trial import unittest

from tests.e2e.session_api import SessionApiClient
from tests.e2e.support import (
    LOOPBACK,
    UDP_READY,
    free_tcp_port,
    free_udp_port,
    require_command,
    start_server,
)
from tests.e2e.turnutils import EchoPeer, UclientResult, run_uclient, uclient_command
from tests.test_tcp_tls import write_self_signed

TCP_READY = re.compile(r"mcs-ice listening on TCP \S+ port (\d+)")
"""The log line the TCP/TLS listener writes once it accepts connections."""

USER = "alice"
PASSWORD = "wonderland"

CLIENTS = 4
"""Concurrent uclient clients, an even number: uclient runs them in pairs."""

MESSAGES = 100
"""Messages each client sends."""


class TurnOverTcpTests(unittest.TestCase):
    """
    C{turnutils_uclient} relays through the server over TCP and TLS without
    losing a packet.
    """

    def setUp(self) -> None:
        self.uclient = require_command("turnutils_uclient")
        peer_command = require_command("turnutils_peer")
        directory = Path(self.mktemp()).resolve()
        directory.mkdir(parents=True)
        certificate, key = write_self_signed(directory)
        self.tcp_port = free_tcp_port()
        self.server = start_server(
            self,
            extra_args=[
                *SessionApiClient().server_args,
                "--tcp-port",
                str(self.tcp_port),
                "--tls-cert",
                str(certificate),
                "--tls-key",
                str(key),
                "--user",
                f"{USER}:{PASSWORD}",
                "--allow-peer",
                f"{LOOPBACK}/32",
                # coturn's uclient binds channels up to 0x7FFF (RFC 5766).
                "--rfc5766-channels",
            ],
            ready=(UDP_READY, TCP_READY),
        )
        self.peer = EchoPeer(peer_command, free_udp_port())
        self.addCleanup(self.peer.stop)

    def relay(self, flags: Sequence[str]) -> UclientResult:
        """
        Run uclient to the TCP/TLS port with C{flags}.
        """
        argv = uclient_command(
            self.uclient,
            (LOOPBACK, self.tcp_port),
            self.peer.address,
            user=USER,
            password=PASSWORD,
            clients=CLIENTS,
            messages=MESSAGES,
            interval_ms=5,
            flags=flags,
        )
        result = run_uclient(argv)
        assert isinstance(result, UclientResult)
        return result

    def assert_no_loss(self, result: UclientResult) -> None:
        """
        Every message uclient sent came back.
        """
        self.assertEqual(result.returncode, 0, result.output)
        self.assertEqual(result.sent, CLIENTS * MESSAGES, result.output)
        self.assertEqual(result.received, result.sent, result.output)
        self.assertEqual(result.lost, 0, result.output)
        self.server.assert_clean_log(self)

    def test_tcp_send_indications(self) -> None:
        """
        Over TCP with Send and Data indications (C{-t -s}), nothing is lost.
        """
        self.assert_no_loss(self.relay(["-t", "-s"]))

    def test_tls_send_indications(self) -> None:
        """
        Over TLS with Send and Data indications (C{-t -S -s}), nothing is
        lost.
        """
        self.assert_no_loss(self.relay(["-t", "-S", "-s"]))

    def test_tcp_channel_data(self) -> None:
        """
        Over TCP with ChannelData (C{-t}), padded on the stream, nothing is
        lost.
        """
        self.assert_no_loss(self.relay(["-t"]))

    def test_tls_channel_data(self) -> None:
        """
        Over TLS with ChannelData (C{-t -S}), nothing is lost.
        """
        self.assert_no_loss(self.relay(["-t", "-S"]))

    def test_tcp_odd_sizes(self) -> None:
        """
        ChannelData of a length that needs padding (101 bytes) comes back
        with its length: the padding is not relayed.
        """
        argv = uclient_command(
            self.uclient,
            (LOOPBACK, self.tcp_port),
            self.peer.address,
            user=USER,
            password=PASSWORD,
            clients=2,
            messages=50,
            size=101,
            interval_ms=5,
            flags=["-t"],
        )
        result = run_uclient(argv)
        assert isinstance(result, UclientResult)
        self.assertEqual(result.lost, 0, result.output)
        self.assertIn("tot_recv_bytes ~ 10100", result.output)
