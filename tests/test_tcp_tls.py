"""
Tests for TLS on the TCP/TLS mux: L{twisted_ice.transport.tls} and TLS
connections of L{twisted_ice.transport.tcp.TcpMux}, with a TLS client over
L{StringTransport}s.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path as FilePath

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import CertificateOptions, TLSVersion
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.trial import unittest
from zope.interface import implementer

from twisted_ice.addresses import Path, Transport
from twisted_ice.stun import AttributeType, Method, StunMessage, decode
from twisted_ice.transport.framing import frame_rfc4571
from twisted_ice.transport.tcp import CloseReason, MuxConnection, TcpMux
from twisted_ice.transport.tls import (
    ALPN_STUN_TURN,
    TlsConfigError,
    load_server_context,
)

from .test_tcp import CLIENT, SERVER, FakeIce, FakeTurn, allocate, binding_check


def write_self_signed(
    directory: FilePath, name: str = "localhost"
) -> tuple[FilePath, FilePath]:
    """
    Write a self-signed ECDSA P-256 certificate for C{name} (also valid for
    127.0.0.1) and its key as PEM files in C{directory}.

    @return: the certificate and key paths.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(name),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certificate_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


class _Recorder(Protocol):
    """
    A client protocol that stores what it receives.
    """

    def __init__(self) -> None:
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        """
        Store C{data}.
        """
        self.received += data


@implementer(IOpenSSLClientConnectionCreator)
class _OldTlsClient:
    """
    A TLS client that offers only TLS 1.0 and 1.1, at OpenSSL security
    level 0 so that the local OpenSSL sends the ClientHello at all.
    """

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        """
        Create the client side of one connection.
        """
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
        context.set_min_proto_version(SSL.TLS1_VERSION)
        context.set_max_proto_version(SSL.TLS1_1_VERSION)
        connection = SSL.Connection(context, None)
        connection.set_connect_state()
        return connection


class LoadContextTests(unittest.TestCase):
    """
    L{load_server_context} loads PEM files or raises L{TlsConfigError}.
    """

    def setUp(self) -> None:
        self.directory = FilePath(self.mktemp())
        self.directory.mkdir()
        self.certificate, self.key = write_self_signed(self.directory)

    def test_loads(self) -> None:
        """
        A matching certificate and key load.
        """
        context = load_server_context(str(self.certificate), str(self.key))
        self.assertIsNotNone(context.context)

    def test_missing_file(self) -> None:
        """
        A missing certificate file raises, naming the option and file.
        """
        missing = str(self.directory / "missing.pem")
        error = self.assertRaises(
            TlsConfigError, load_server_context, missing, str(self.key)
        )
        self.assertIn("--tls-cert", str(error))
        self.assertIn(missing, str(error))

    def test_not_pem(self) -> None:
        """
        A certificate file that is not PEM raises.
        """
        bad = self.directory / "bad.pem"
        bad.write_bytes(b"not a certificate\n")
        error = self.assertRaises(
            TlsConfigError, load_server_context, str(bad), str(self.key)
        )
        self.assertIn("invalid --tls-cert", str(error))

    def test_key_not_pem(self) -> None:
        """
        A key file that is not a PEM key raises.
        """
        error = self.assertRaises(
            TlsConfigError,
            load_server_context,
            str(self.certificate),
            str(self.certificate),
        )
        self.assertIn("invalid --tls-key", str(error))

    def test_mismatched_key(self) -> None:
        """
        A key that does not belong to the certificate raises.
        """
        other = self.directory / "other"
        other.mkdir()
        _, other_key = write_self_signed(other)
        error = self.assertRaises(
            TlsConfigError, load_server_context, str(self.certificate), str(other_key)
        )
        self.assertIn("does not match", str(error))


class TlsConnectionTests(unittest.TestCase):
    """
    TLS connections on the mux: the plaintext is sniffed like plain TCP.
    """

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        directory.mkdir()
        certificate, key = write_self_signed(directory)
        self.clock = Clock()
        self.ice = FakeIce()
        self.turn = FakeTurn()
        self.mux = TcpMux(
            ice=self.ice,
            turn=self.turn,
            tls_context=load_server_context(str(certificate), str(key)),
            reactor=self.clock,
        )

    def connect(
        self,
        alpn: list[bytes] | None = None,
        old_tls: bool = False,
    ) -> tuple[MuxConnection, StringTransport, TLSMemoryBIOProtocol, StringTransport]:
        """
        Connect a TLS client (no certificate check) to the mux.

        @return: the server protocol and transport, the client TLS protocol
            and transport.
        """
        server = self.mux.buildProtocol(IPv4Address("TCP", *CLIENT))
        assert server is not None
        server_transport = StringTransport(
            hostAddress=IPv4Address("TCP", *SERVER),
            peerAddress=IPv4Address("TCP", *CLIENT),
        )
        server.makeConnection(server_transport)

        options: object
        if not old_tls:
            options = CertificateOptions(
                verify=False,
                acceptableProtocols=alpn,
                raiseMinimumTo=TLSVersion.TLSv1_2,
            )
        else:
            options = _OldTlsClient()
        client_factory = TLSMemoryBIOFactory(
            options, True, Factory.forProtocol(_Recorder), clock=self.clock
        )
        client = client_factory.buildProtocol(IPv4Address("TCP", *SERVER))
        client_transport = StringTransport()
        client.makeConnection(client_transport)
        self.pump(server, server_transport, client, client_transport)
        return server, server_transport, client, client_transport

    def pump(
        self,
        server: MuxConnection,
        server_transport: StringTransport,
        client: TLSMemoryBIOProtocol,
        client_transport: StringTransport,
    ) -> None:
        """
        Move bytes both ways until neither side has more to send.
        """
        for _ in range(50):
            self.clock.advance(0)
            to_server = client_transport.value()
            client_transport.clear()
            to_client = server_transport.value()
            server_transport.clear()
            if not to_server and not to_client:
                return
            if to_server and not server_transport.disconnecting:
                server.dataReceived(to_server)
            if to_client:
                client.dataReceived(to_client)

    def test_turn_over_tls(self) -> None:
        """
        An Allocate inside TLS reaches the TURN service on a TLS path.
        """
        server, st, client, ct = self.connect()
        client.write(allocate())
        self.pump(server, st, client, ct)
        self.assertEqual(
            [path for _, _, path in self.turn.stun],
            [Path(Transport.TLS, SERVER, CLIENT)],
        )

    def test_ice_tcp_over_tls(self) -> None:
        """
        An ICE-TCP check inside TLS reaches the ICE service.
        """
        server, st, client, ct = self.connect()
        client.write(frame_rfc4571(binding_check()))
        self.pump(server, st, client, ct)
        self.assertEqual(len(self.ice.stun), 1)

    def test_response_encrypted(self) -> None:
        """
        What the services write to a TLS path reaches the client decrypted.
        """
        server, st, client, ct = self.connect()
        client.write(allocate())
        self.pump(server, st, client, ct)
        self.mux.write_to(b"\x40\x01\x00\x01a", Path(Transport.TLS, SERVER, CLIENT))
        self.pump(server, st, client, ct)
        recorder = client.wrappedProtocol
        assert isinstance(recorder, _Recorder)
        self.assertEqual(recorder.received, b"\x40\x01\x00\x01a\x00\x00\x00")

    def test_plain_binding_over_tls(self) -> None:
        """
        A plain Binding request inside TLS gets its response inside TLS.
        """
        server, st, client, ct = self.connect()
        client.write(StunMessage.request(Method.BINDING).encode())
        self.pump(server, st, client, ct)
        recorder = client.wrappedProtocol
        assert isinstance(recorder, _Recorder)
        response = decode(recorder.received)
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)

    def test_alpn_stun_turn_selected(self) -> None:
        """
        A client offering C{stun.turn} gets it.
        """
        server, st, client, ct = self.connect(alpn=[b"h2", ALPN_STUN_TURN])
        client.write(allocate())
        self.pump(server, st, client, ct)
        self.assertEqual(client.negotiatedProtocol, ALPN_STUN_TURN)
        self.assertEqual(len(self.turn.stun), 1)

    def test_alpn_other_accepted(self) -> None:
        """
        A client offering only other ALPN ids still connects, with none
        selected.
        """
        server, st, client, ct = self.connect(alpn=[b"h2"])
        client.write(allocate())
        self.pump(server, st, client, ct)
        self.assertIsNone(client.negotiatedProtocol)
        self.assertEqual(len(self.turn.stun), 1)

    def test_tls_1_1_rejected(self) -> None:
        """
        A client that speaks at most TLS 1.1 gets an alert and no session:
        the server requires TLS 1.2 or newer.
        """
        server, st, client, ct = self.connect(old_tls=True)
        client.write(allocate())
        self.pump(server, st, client, ct)
        self.assertEqual(self.turn.stun, [])
        self.assertTrue(st.disconnecting)

    def test_tls_in_tls_closed(self) -> None:
        """
        A second ClientHello inside TLS closes the connection.
        """
        server, st, client, ct = self.connect()
        client.write(bytes.fromhex("16030100c8010000c40303"))
        self.pump(server, st, client, ct)
        self.assertTrue(st.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.TLS_IN_TLS], 1)

    def test_http_inside_tls_closed(self) -> None:
        """
        An HTTP request inside TLS closes the connection.
        """
        server, st, client, ct = self.connect()
        client.write(b"GET / HTTP/1.1\r\n\r\n")
        self.pump(server, st, client, ct)
        self.assertTrue(st.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.UNKNOWN_PROTOCOL], 1)

    def test_handshake_only_times_out(self) -> None:
        """
        A TLS connection that sends no frame after the handshake is closed
        by the first-frame timeout.
        """
        _, st, _, _ = self.connect()
        self.clock.advance(10)
        self.assertTrue(st.disconnecting)
        self.assertEqual(self.mux.closes[CloseReason.FIRST_FRAME_TIMEOUT], 1)

    def test_close_releases_tls_path(self) -> None:
        """
        A closed TLS connection releases its TLS path in the TURN service.
        """
        server, st, client, ct = self.connect()
        client.write(allocate())
        self.pump(server, st, client, ct)
        server.connectionLost()
        self.assertEqual(self.turn.closed, [Path(Transport.TLS, SERVER, CLIENT)])
        self.assertEqual(self.mux.connections, {})
        self.assertEqual(self.mux.per_source, {})
