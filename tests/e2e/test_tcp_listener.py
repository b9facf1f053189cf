"""
End-to-end tests of the TCP/TLS listener with raw sockets: the real
C{twistd mcs-ice} on loopback, plain TCP and TLS clients, and bad input.
"""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path

from twisted.trial import unittest

from tests.e2e.session_api import SessionApiClient
from tests.e2e.support import (
    LOOPBACK,
    UDP_READY,
    free_tcp_port,
    run_twistd,
    start_server,
)
from tests.test_tcp_tls import write_self_signed
from twisted_ice.stun import AttributeType, Method, StunMessage, decode
from twisted_ice.transport.framing import frame_rfc4571

TCP_READY = re.compile(r"mcs-ice listening on TCP \S+ port (\d+)")
"""The log line the TCP/TLS listener writes once it accepts connections."""

RECEIVE_TIMEOUT = 5.0
"""Seconds a client waits for a response or for the server to close."""


def binding_request() -> tuple[bytes, bytes]:
    """
    Return a Binding request without attributes and its transaction id.
    """
    request = StunMessage.request(Method.BINDING)
    return request.encode(), request.transaction_id


def receive_exactly(sock: socket.socket | ssl.SSLSocket, size: int) -> bytes:
    """
    Read C{size} bytes, or fewer when the server closes first.
    """
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def receive_stun(sock: socket.socket | ssl.SSLSocket) -> StunMessage:
    """
    Read one unframed STUN message.
    """
    header = receive_exactly(sock, 20)
    body = receive_exactly(sock, int.from_bytes(header[2:4], "big"))
    return decode(header + body)


def closed_by_server(sock: socket.socket) -> bool:
    """
    Return whether the server closes C{sock} (end of file or reset) within
    L{RECEIVE_TIMEOUT} seconds, reading and discarding anything it sends
    first.
    """
    sock.settimeout(RECEIVE_TIMEOUT)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


class TcpListenerTests(unittest.TestCase):
    """
    The plain TCP side of the listener: sniffing, framing and closing.
    """

    def setUp(self) -> None:
        self.tcp_port = free_tcp_port()
        self.server = start_server(
            self,
            extra_args=[
                *SessionApiClient().server_args,
                "--tcp-port",
                str(self.tcp_port),
                "--tcp-max-per-source",
                "3",
                "--tcp-idle-timeout",
                "2",
            ],
            ready=(UDP_READY, TCP_READY),
        )

    def connect(self) -> socket.socket:
        """
        Open a TCP connection to the listener, closed in cleanup.
        """
        sock = socket.create_connection((LOOPBACK, self.tcp_port), RECEIVE_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(sock.close)
        return sock

    def test_turn_binding(self) -> None:
        """
        A Binding request without framing (TURN over TCP) gets a Binding
        response with the client's address.
        """
        sock = self.connect()
        request, transaction_id = binding_request()
        sock.sendall(request)
        response = receive_stun(sock)
        self.assertEqual(response.transaction_id, transaction_id)
        self.assertEqual(
            response.get(AttributeType.XOR_MAPPED_ADDRESS), sock.getsockname()
        )

    def test_ice_tcp_binding_framed(self) -> None:
        """
        A Binding request in an RFC 4571 frame gets a framed response.
        """
        sock = self.connect()
        request, transaction_id = binding_request()
        sock.sendall(frame_rfc4571(request))
        length = int.from_bytes(receive_exactly(sock, 2), "big")
        response = decode(receive_exactly(sock, length))
        self.assertEqual(response.transaction_id, transaction_id)

    def test_one_byte_writes(self) -> None:
        """
        A request sent one byte per segment gets its response.
        """
        sock = self.connect()
        request, transaction_id = binding_request()
        for byte in request:
            sock.send(bytes([byte]))
        self.assertEqual(receive_stun(sock).transaction_id, transaction_id)

    def test_many_requests_one_write(self) -> None:
        """
        Many requests in one write each get a response, in order.
        """
        sock = self.connect()
        requests = [binding_request() for _ in range(50)]
        sock.sendall(b"".join(request for request, _ in requests))
        received = [receive_stun(sock).transaction_id for _ in requests]
        self.assertEqual(received, [transaction_id for _, transaction_id in requests])

    def test_http_request_closed(self) -> None:
        """
        An HTTP request is closed without a response.
        """
        sock = self.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertTrue(closed_by_server(sock))

    def test_client_hello_closed(self) -> None:
        """
        A TLS ClientHello on a listener without a certificate is closed.
        """
        raw = self.connect()
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with self.assertRaises((ssl.SSLError, OSError)):
            context.wrap_socket(raw, server_hostname="localhost")

    def test_garbage_closed(self) -> None:
        """
        Bytes that match no protocol are closed.
        """
        sock = self.connect()
        sock.sendall(b"\xff" * 64)
        self.assertTrue(closed_by_server(sock))

    def test_bad_stun_length_closed(self) -> None:
        """
        A STUN length that is not a multiple of 4 after a valid request is
        closed.
        """
        sock = self.connect()
        request, _ = binding_request()
        sock.sendall(request)
        receive_stun(sock)
        sock.sendall(b"\x00\x01\x00\x05\x21\x12\xa4\x42" + b"\x00" * 12)
        self.assertTrue(closed_by_server(sock))

    def test_idle_timeout(self) -> None:
        """
        A connection idle past C{--tcp-idle-timeout} (2 s here) is closed.
        """
        sock = self.connect()
        request, _ = binding_request()
        sock.sendall(request)
        receive_stun(sock)
        self.assertTrue(closed_by_server(sock))

    def test_per_source_limit(self) -> None:
        """
        A fourth connection from one address, over C{--tcp-max-per-source}
        3, is closed at once, while the first three still work.
        """
        first = [self.connect() for _ in range(3)]
        fourth = self.connect()
        self.assertTrue(closed_by_server(fourth))
        request, transaction_id = binding_request()
        first[0].sendall(request)
        self.assertEqual(receive_stun(first[0]).transaction_id, transaction_id)


class TlsListenerTests(unittest.TestCase):
    """
    TLS on the listener's port, beside plain TCP.
    """

    def setUp(self) -> None:
        directory = Path(self.mktemp()).resolve()
        directory.mkdir(parents=True)
        self.certificate, self.key = write_self_signed(directory)
        self.tcp_port = free_tcp_port()
        self.server = start_server(
            self,
            extra_args=[
                *SessionApiClient().server_args,
                "--tcp-port",
                str(self.tcp_port),
                "--tls-cert",
                str(self.certificate),
                "--tls-key",
                str(self.key),
            ],
            ready=(UDP_READY, TCP_READY),
        )

    def connect_tls(
        self, alpn: list[str] | None = None, maximum: ssl.TLSVersion | None = None
    ) -> ssl.SSLSocket:
        """
        Open a TLS connection that trusts the test certificate.
        """
        context = ssl.create_default_context(cafile=str(self.certificate))
        if alpn is not None:
            context.set_alpn_protocols(alpn)
        if maximum is not None:
            context.maximum_version = maximum
        raw = socket.create_connection((LOOPBACK, self.tcp_port), RECEIVE_TIMEOUT)
        self.addCleanup(raw.close)
        sock = context.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(sock.close)
        return sock

    def test_binding_over_tls(self) -> None:
        """
        A Binding request inside TLS gets its response inside TLS.
        """
        sock = self.connect_tls()
        request, transaction_id = binding_request()
        sock.sendall(request)
        self.assertEqual(receive_stun(sock).transaction_id, transaction_id)

    def test_alpn_stun_turn(self) -> None:
        """
        A client offering ALPN C{stun.turn} gets it (RFC 7443).
        """
        sock = self.connect_tls(alpn=["stun.turn"])
        self.assertEqual(sock.selected_alpn_protocol(), "stun.turn")

    def test_alpn_other_ignored(self) -> None:
        """
        A client offering only another ALPN id connects with none selected.
        """
        sock = self.connect_tls(alpn=["h2"])
        self.assertIsNone(sock.selected_alpn_protocol())

    def test_tls_1_3(self) -> None:
        """
        A default client negotiates TLS 1.3.
        """
        sock = self.connect_tls()
        self.assertEqual(sock.version(), "TLSv1.3")

    def test_tls_1_2(self) -> None:
        """
        A TLS 1.2 client is accepted.
        """
        sock = self.connect_tls(maximum=ssl.TLSVersion.TLSv1_2)
        self.assertEqual(sock.version(), "TLSv1.2")

    def test_plain_tcp_beside_tls(self) -> None:
        """
        Plain TCP still works on the TLS port.
        """
        sock = socket.create_connection((LOOPBACK, self.tcp_port), RECEIVE_TIMEOUT)
        self.addCleanup(sock.close)
        request, transaction_id = binding_request()
        sock.sendall(request)
        self.assertEqual(receive_stun(sock).transaction_id, transaction_id)


class TlsStartupTests(unittest.TestCase):
    """
    Bad TLS files stop the server at start with one line.
    """

    def run_server(self, *args: str) -> tuple[int, str]:
        """
        Run the server with C{args} until it exits.

        @return: its exit status and standard error.
        """
        result = run_twistd(
            [
                "--interface",
                LOOPBACK,
                "--udp-port",
                "0",
                *SessionApiClient().server_args,
                "--tcp-port",
                str(free_tcp_port()),
                *args,
            ]
        )
        return result.returncode, result.stderr

    def test_missing_certificate(self) -> None:
        """
        A missing certificate file is one error line and exit status 1.
        """
        missing = str(Path(self.mktemp()).resolve())
        status, error = self.run_server("--tls-cert", missing, "--tls-key", missing)
        self.assertEqual(status, 1)
        self.assertIn(f"cannot read --tls-cert {missing}", error)
        self.assertEqual(len(error.strip().splitlines()), 1, error)

    def test_invalid_certificate(self) -> None:
        """
        A certificate file that is not PEM is one error line and exit
        status 1.
        """
        bad = Path(self.mktemp()).resolve()
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_text("not a certificate\n")
        status, error = self.run_server("--tls-cert", str(bad), "--tls-key", str(bad))
        self.assertEqual(status, 1)
        self.assertIn("invalid --tls-cert", error)
        self.assertEqual(len(error.strip().splitlines()), 1, error)

    def test_key_without_certificate(self) -> None:
        """
        C{--tls-key} without C{--tls-cert} is an error.
        """
        status, error = self.run_server("--tls-key", "key.pem")
        self.assertEqual(status, 1)
        self.assertIn("missing --tls-cert", error)
