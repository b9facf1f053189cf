"""
End-to-end tests of the STUN server: the real C{twistd mcs-ice} on loopback,
queried by coturn's C{turnutils_stunclient} and by raw UDP sockets.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading

from twisted.trial import unittest

from tests.e2e.support import (
    LOOPBACK,
    ROOT,
    TWISTD,
    ServerProcess,
    UdpClient,
    free_udp_port,
    require_command,
    run_twistd,
    start_server,
)
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
)

SILENCE = 0.5
"""Seconds to wait for a response that must not come."""

REFLEXIVE = re.compile(r"UDP reflexive addr: (\S+):(\d+)")


def binding_request(*attributes: tuple[int, object]) -> StunMessage:
    """
    Build a Binding request with a fresh transaction id.
    """
    return StunMessage.request(Method.BINDING, list(attributes))


class UdpForwarder:
    """
    Forwards datagrams from one client to a server and back, from a socket
    of its own, so that the source port the server sees is known.

    Runs in a thread for at most C{lifetime} seconds.

    @ivar port: the port clients send to.
    @ivar outgoing_port: the source port of what reaches the server.
    """

    def __init__(self, server: tuple[str, int], lifetime: float = 10.0) -> None:
        self.server = server
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind((LOOPBACK, 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind((LOOPBACK, 0))
        self.port: int = self.front.getsockname()[1]
        self.outgoing_port: int = self.back.getsockname()[1]
        self._lifetime = lifetime
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """
        Forward one request and its response at a time until closed or the
        lifetime ends.
        """
        self.front.settimeout(self._lifetime)
        self.back.settimeout(2.0)
        try:
            while True:
                data, client = self.front.recvfrom(65535)
                self.back.sendto(data, self.server)
                reply, _ = self.back.recvfrom(65535)
                self.front.sendto(reply, client)
        except OSError:
            return

    def close(self) -> None:
        """
        Close both sockets, which ends the thread.
        """
        self.front.close()
        self.back.close()
        self._thread.join(5.0)


class StunClientTests(unittest.TestCase):
    """
    coturn's C{turnutils_stunclient} against the real server.
    """

    def test_stunclient_mapped_address(self) -> None:
        """
        turnutils_stunclient reports the address and port its request came
        from as its reflexive address.
        """
        stunclient = require_command("turnutils_stunclient")
        server = start_server(self)
        forwarder = UdpForwarder(server.udp_address)
        self.addCleanup(forwarder.close)

        result = subprocess.run(  # noqa: S603
            [stunclient, "-p", str(forwarder.port), LOOPBACK],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )

        match = REFLEXIVE.search(result.stdout)
        self.assertIsNotNone(match, result.stdout + result.stderr)
        assert match is not None
        self.assertEqual(match.group(1), LOOPBACK)
        self.assertEqual(int(match.group(2)), forwarder.outgoing_port)

    def test_stunclient_direct(self) -> None:
        """
        turnutils_stunclient talking to the server directly gets 127.0.0.1
        and exits with status 0.
        """
        stunclient = require_command("turnutils_stunclient")
        server = start_server(self)
        result = subprocess.run(  # noqa: S603
            [stunclient, "-p", str(server.udp_port), LOOPBACK],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        match = REFLEXIVE.search(result.stdout)
        self.assertIsNotNone(match, result.stdout + result.stderr)
        assert match is not None
        self.assertEqual(match.group(1), LOOPBACK)
        self.assertEqual(result.returncode, 0)


class RawBindingTests(unittest.TestCase):
    """
    Raw Binding requests, good and malformed, against one real server.
    """

    def setUp(self) -> None:
        """
        Start the server and a client socket.
        """
        self.server = start_server(self)
        self.client = UdpClient(self)

    def exchange(self, data: bytes, timeout: float = 2.0) -> bytes | None:
        """
        Send C{data} to the server and return its response, or L{None}.
        """
        return self.client.exchange(data, self.server.udp_address, timeout)

    def assert_still_answers(self) -> None:
        """
        Assert that a good request sent after the bad one gets a response.
        """
        reply = self.exchange(binding_request().encode())
        self.assertIsNotNone(reply)
        assert reply is not None
        self.assertEqual(decode(reply).message_class, MessageClass.SUCCESS_RESPONSE)

    def assert_silent_drop(self, data: bytes) -> None:
        """
        Assert that C{data} gets no answer and the server still answers a
        good request afterwards.
        """
        self.assertIsNone(self.exchange(data, timeout=SILENCE))
        self.assert_still_answers()

    def test_mapped_address(self) -> None:
        """
        XOR-MAPPED-ADDRESS is the client socket's own address and port.
        """
        reply = self.exchange(binding_request().encode())
        assert reply is not None
        response = decode(reply)
        self.assertEqual(
            response.get(AttributeType.XOR_MAPPED_ADDRESS), self.client.address
        )

    def test_fingerprint_echoed(self) -> None:
        """
        A request with FINGERPRINT gets a response with a valid FINGERPRINT.
        """
        reply = self.exchange(binding_request().encode(fingerprint=True))
        assert reply is not None
        self.assertTrue(decode(reply).check_fingerprint())

    def test_no_software_by_default(self) -> None:
        """
        Without C{--software} the response has no SOFTWARE.
        """
        reply = self.exchange(binding_request().encode())
        assert reply is not None
        self.assertFalse(decode(reply).has(AttributeType.SOFTWARE))

    def test_unknown_required_gets_420(self) -> None:
        """
        An unknown comprehension-required attribute gets a 420 whose
        UNKNOWN-ATTRIBUTES lists exactly that type.
        """
        request = binding_request((0x0031, b"abcd"), (0x8031, b"optional"))
        reply = self.exchange(request.encode())
        assert reply is not None
        response = decode(reply)
        self.assertEqual(response.message_class, MessageClass.ERROR_RESPONSE)
        self.assertEqual(response.get(AttributeType.ERROR_CODE).code, 420)
        self.assertEqual(response.get(AttributeType.UNKNOWN_ATTRIBUTES), (0x0031,))
        self.assertEqual(response.transaction_id, request.transaction_id)

    def test_truncated_attribute(self) -> None:
        """
        An attribute running past the end of the message gets no answer.
        """
        data = bytearray(binding_request((AttributeType.SOFTWARE, "abcd")).encode())
        data[22:24] = b"\x00\x40"
        self.assert_silent_drop(bytes(data))

    def test_bad_length(self) -> None:
        """
        A header length that does not match the datagram gets no answer.
        """
        data = bytearray(binding_request((AttributeType.SOFTWARE, "abcd")).encode())
        data[3] += 4
        self.assert_silent_drop(bytes(data))

    def test_bad_address_length(self) -> None:
        """
        An IPv4 address attribute 12 bytes long (8 is right) gets no answer.
        """
        request = binding_request((AttributeType.XOR_MAPPED_ADDRESS, ("1.2.3.4", 5)))
        data = bytearray(request.encode())
        data[22:24] = b"\x00\x0c"
        data[3] += 4
        self.assert_silent_drop(bytes(data) + b"\x00" * 4)

    def test_wrong_fingerprint(self) -> None:
        """
        A FINGERPRINT that does not match gets no answer.
        """
        data = bytearray(binding_request().encode(fingerprint=True))
        data[-1] ^= 0xFF
        self.assert_silent_drop(bytes(data))

    def test_fingerprint_not_last(self) -> None:
        """
        An attribute after FINGERPRINT gets no answer.
        """
        data = binding_request().encode(fingerprint=True)
        data = data[:3] + b"\x10" + data[4:] + b"\x80\x22\x00\x04abcd"
        self.assert_silent_drop(data)

    def test_no_magic_cookie(self) -> None:
        """
        An RFC 3489 Binding request, without the magic cookie, gets no
        answer.
        """
        self.assert_silent_drop(b"\x00\x01\x00\x00" + bytes(range(16)))

    def test_not_stun(self) -> None:
        """
        A datagram outside every RFC 7983 range gets no answer.
        """
        self.assert_silent_drop(b"\xff" * 40)


class AddressFamilyTests(unittest.TestCase):
    """
    The server on IPv6 and on a dual-stack socket.
    """

    def require_ipv6(self) -> None:
        """
        Skip unless this host can bind an IPv6 loopback socket.
        """
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
                probe.bind(("::1", 0))
        except OSError:
            raise unittest.SkipTest("this host has no IPv6 loopback") from None

    def start(self, interface: str) -> ServerProcess:
        """
        Start the server on C{interface} and stop it in cleanup.
        """
        server = ServerProcess(free_udp_port(), interface=interface)

        def clean_up() -> None:
            try:
                server.stop()
                server.assert_clean_log(self)
            finally:
                server.close()

        self.addCleanup(clean_up)
        server.start()
        return server

    def test_ipv6_mapped_address(self) -> None:
        """
        An IPv6 client gets its IPv6 address in XOR-MAPPED-ADDRESS.
        """
        self.require_ipv6()
        server = self.start("::1")
        client = UdpClient(self, host="::1")
        reply = client.exchange(binding_request().encode(), ("::1", server.udp_port))
        assert reply is not None
        mapped = decode(reply).get(AttributeType.XOR_MAPPED_ADDRESS)
        self.assertEqual(mapped, client.address)

    def test_dual_stack_ipv4_client(self) -> None:
        """
        On C{--interface ::} an IPv4 client gets its IPv4 address.
        """
        self.require_ipv6()
        server = self.start("::")
        client = UdpClient(self)
        reply = client.exchange(binding_request().encode(), (LOOPBACK, server.udp_port))
        assert reply is not None
        mapped = decode(reply).get(AttributeType.XOR_MAPPED_ADDRESS)
        self.assertEqual(mapped, client.address)


class ProcessTests(unittest.TestCase):
    """
    How the twistd process starts, fails and stops.
    """

    def assert_one_line_error(self, result: subprocess.CompletedProcess[str]) -> None:
        """
        Assert a non-zero exit with exactly one line on standard error and
        no traceback.
        """
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertNotIn("Traceback", result.stdout + result.stderr)

    def test_bad_port_option(self) -> None:
        """
        An invalid C{--udp-port} gives one line and a non-zero exit.
        """
        result = run_twistd(["--udp-port", "abc"])
        self.assert_one_line_error(result)
        self.assertIn("--udp-port", result.stderr)

    def test_unknown_option(self) -> None:
        """
        An unknown option gives one line and a non-zero exit.
        """
        result = run_twistd(["--no-such-option"])
        self.assert_one_line_error(result)

    def test_port_in_use(self) -> None:
        """
        A UDP port in use gives one line naming it and a non-zero exit.
        """
        blocker = UdpClient(self)
        port = blocker.address[1]
        result = run_twistd(["--interface", LOOPBACK, "--udp-port", str(port)])
        self.assert_one_line_error(result)
        self.assertIn(f"port {port}", result.stderr)

    def test_help(self) -> None:
        """
        C{twistd mcs-ice --help} lists the options and exits with status 0.
        """
        result = run_twistd(["--help"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("--udp-port", result.stdout)
        self.assertIn("--software", result.stdout)

    def test_plugin_listed(self) -> None:
        """
        C{twistd --help} lists the mcs-ice plugin.
        """
        result = subprocess.run(  # noqa: S603
            [*TWISTD, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("mcs-ice", result.stdout)

    def test_sigterm_stops_cleanly(self) -> None:
        """
        SIGTERM stops the server: it closes the port, logs its shutdown and
        exits with status 0, with no traceback.
        """
        server = ServerProcess()
        self.addCleanup(server.close)
        server.start()
        status = server.stop()
        self.assertEqual(status, 0)
        self.assertIn("stopped listening on UDP", server.log_text())
        self.assertIn("Server Shut Down.", server.log_text())
        self.assertEqual(server.unclean_lines(), [])
