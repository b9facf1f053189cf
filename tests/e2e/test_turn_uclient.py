"""
End-to-end tests of the TURN server with coturn's C{turnutils_uclient}: the
real C{twistd mcs-ice} server on 127.0.0.1 relays the clients' messages to a
C{turnutils_peer} echo peer on loopback and back.

The loopback peer is allowed with C{--allow-peer 127.0.0.1/32}, since the
peer policy denies loopback by default.
"""

from __future__ import annotations

from twisted.trial import unittest

from tests.e2e.support import (
    LOOPBACK,
    ServerProcess,
    UdpClient,
    free_tcp_port,
    free_udp_port,
    require_command,
    start_server,
)
from tests.e2e.turnutils import (
    EchoPeer,
    UclientError,
    UclientResult,
    run_uclient,
    uclient_command,
)
from twisted_ice.stun import MessageClass, Method, StunMessage, decode

USER = "alice"
PASSWORD = "wonderland"
SECRET = "rest-secret-for-tests"
CLIENTS = 10
MESSAGES = 200
NEGATIVE_TIMEOUT = 30.0
"""Seconds a negative-mode uclient run may take before it is stopped."""


class UclientTests(unittest.TestCase):
    """
    C{turnutils_uclient} against the real server.
    """

    def setUp(self) -> None:
        self.uclient = require_command("turnutils_uclient")
        peer_command = require_command("turnutils_peer")
        self.peer = EchoPeer(peer_command, free_udp_port())
        self.addCleanup(self.peer.stop)

    def start(self, *args: str) -> ServerProcess:
        """
        Start the server with TURN on, the session API on a free port, and
        the loopback peer allowed.
        """
        return start_server(
            self,
            extra_args=[
                "--api",
                f"tcp:{free_tcp_port()}:interface={LOOPBACK}",
                "--allow-peer",
                "127.0.0.1/32",
                # uclient binds channel numbers up to 0x7FFF, so its
                # ChannelData can start with 0x50-0x7F. The UDP mux routes
                # first bytes 64-127 to the TURN service, and this flag
                # makes TURN accept the RFC 5766 range above 0x4FFF.
                "--rfc5766-channels",
                *args,
            ],
        )

    def relay(
        self, server: ServerProcess, *flags: str, secret: bool = False
    ) -> UclientResult:
        """
        Run uclient with C{CLIENTS} clients of C{MESSAGES} messages each
        against C{server}, with the static user or, with C{secret}, a TURN
        REST username and password.
        """
        argv = uclient_command(
            self.uclient,
            server.udp_address,
            self.peer.address,
            user=USER,
            password=None if secret else PASSWORD,
            secret=SECRET if secret else None,
            clients=CLIENTS,
            messages=MESSAGES,
            flags=flags,
        )
        result = run_uclient(argv)
        assert isinstance(result, UclientResult)
        return result

    def assert_all_relayed(self, result: UclientResult) -> None:
        """
        Assert that every message came back and none was lost.
        """
        self.assertEqual(result.returncode, 0, result.output[-3000:])
        self.assertEqual(result.sent, CLIENTS * MESSAGES, result.output[-3000:])
        self.assertEqual(result.received, CLIENTS * MESSAGES, result.output[-3000:])
        self.assertEqual(result.lost, 0, result.output[-3000:])
        self.assertEqual(result.send_dropped, 0, result.output[-3000:])

    def assert_binding_answered(self, server: ServerProcess) -> None:
        """
        Assert that the server still responds to a plain Binding request.
        """
        request = StunMessage.request(Method.BINDING)
        reply = UdpClient(self).exchange(request.encode(), server.udp_address)
        self.assertIsNotNone(reply, "no Binding response")
        assert reply is not None
        response = decode(reply)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(response.transaction_id, request.transaction_id)

    def test_long_term_credentials(self) -> None:
        """
        With a static user, 10 clients relay 200 messages each over channels
        with none lost.
        """
        server = self.start("--user", f"{USER}:{PASSWORD}")
        self.assert_all_relayed(self.relay(server))

    def test_rest_secret(self) -> None:
        """
        With a TURN REST secret, uclient's generated username and password
        are accepted and nothing is lost.
        """
        server = self.start("--auth-secret", SECRET)
        self.assert_all_relayed(self.relay(server, secret=True))

    def test_send_indications(self) -> None:
        """
        With Send and Data indications in place of channels, nothing is lost.
        """
        server = self.start("--user", f"{USER}:{PASSWORD}")
        self.assert_all_relayed(self.relay(server, "-s"))

    def test_mandatory_padding(self) -> None:
        """
        With ChannelData padded to 4 bytes (as pjnath sends it), nothing is
        lost.
        """
        server = self.start("--user", f"{USER}:{PASSWORD}")
        self.assert_all_relayed(self.relay(server, "-D"))

    def test_negative_modes(self) -> None:
        """
        uclient's negative tests (C{-N}) and negative protocol tests (C{-R})
        leave the server running and responding to Binding requests, with no
        unhandled error in its log (checked by the cleanup of
        L{start_server}).
        """
        server = self.start("--user", f"{USER}:{PASSWORD}")
        for flag in ("-N", "-R"):
            argv = uclient_command(
                self.uclient,
                server.udp_address,
                self.peer.address,
                user=USER,
                password=PASSWORD,
                clients=2,
                messages=20,
                flags=[flag],
            )
            try:
                run_uclient(argv, timeout=NEGATIVE_TIMEOUT, check=False)
            except UclientError:
                # -R corrupts random bytes of its requests. A corrupted
                # request is dropped or rejected, so uclient may then wait
                # forever for its response.
                pass
            assert server.process is not None
            self.assertIsNone(server.process.poll(), server.log_text()[-3000:])
            self.assert_binding_answered(server)
        self.assertEqual(server.unclean_lines(), [])
