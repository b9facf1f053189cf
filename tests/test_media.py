"""
Tests for L{twisted_ice.media}: the echo and forward stream handlers, media
specs, forward targets and the DTLS fingerprint.
"""

from __future__ import annotations

import datetime
import re
import tempfile
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from twisted.logger import capturedLogs, formatEvent
from twisted.trial import unittest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_ice.interfaces import IMediaStream, IStreamHandler
from twisted_ice.media import (
    EchoHandler,
    ForwardHandler,
    ForwardPolicy,
    MediaSpec,
    certificate_fingerprint,
    generate_certificate,
    load_certificate,
    parse_target,
)


@implementer(IMediaStream)
class FakeStream:
    """
    A media stream that records what its handler sends.
    """

    session_id = "session-1"
    mid = "0"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(data)


class FakeUdpTransport:
    """
    A connected UDP socket that records writes.
    """

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.connected_to: tuple[str, int] | None = None
        self.written: list[bytes] = []
        self.listening = True
        self.fail_with: OSError | None = None

    def connect(self, host: str, port: int) -> None:
        self.connected_to = (host, port)

    def write(self, data: bytes, addr: Any = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.written.append(data)

    def stopListening(self) -> None:
        self.listening = False


class FakeUdpReactor:
    """
    A reactor whose C{listenUDP} gives the protocol a L{FakeUdpTransport}.
    """

    def __init__(self) -> None:
        self.ports: list[FakeUdpTransport] = []

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> FakeUdpTransport:
        transport = FakeUdpTransport(interface)
        self.ports.append(transport)
        protocol.makeConnection(transport)
        return transport


class EchoHandlerTests(unittest.TestCase):
    """
    L{EchoHandler}.
    """

    def test_provides_interface(self) -> None:
        """
        The handler provides L{IStreamHandler}.
        """
        self.assertTrue(verifyObject(IStreamHandler, EchoHandler(FakeStream())))

    def test_packet_sent_back(self) -> None:
        """
        Each packet goes back unchanged on the stream.
        """
        stream = FakeStream()
        handler = EchoHandler(stream)
        handler.packet_received(b"\x80one")
        handler.packet_received(b"\x16two")
        self.assertEqual(stream.sent, [b"\x80one", b"\x16two"])

    def test_no_echo_after_close(self) -> None:
        """
        After the stream closes, packets are not echoed.
        """
        stream = FakeStream()
        handler = EchoHandler(stream)
        handler.stream_closed()
        handler.packet_received(b"\x80late")
        self.assertEqual(stream.sent, [])


class ForwardHandlerTests(unittest.TestCase):
    """
    L{ForwardHandler} with a fake reactor.
    """

    def start(
        self, target: tuple[str, int] = ("127.0.0.1", 5004)
    ) -> tuple[ForwardHandler, FakeStream, FakeUdpTransport]:
        """
        Start a handler for C{target} and return it, its stream and socket.
        """
        stream = FakeStream()
        reactor = FakeUdpReactor()
        handler = ForwardHandler(stream, target, reactor)  # type: ignore[arg-type]
        handler.start()
        return handler, stream, reactor.ports[0]

    def test_provides_interface(self) -> None:
        """
        The handler provides L{IStreamHandler}.
        """
        handler, _, _ = self.start()
        self.assertTrue(verifyObject(IStreamHandler, handler))

    def test_quiet_start_and_stop(self) -> None:
        """
        Starting and stopping a handler logs only its own forwarding line,
        not Twisted's "Starting protocol" or "Stopping protocol".
        """
        with capturedLogs() as events:
            handler, _, _ = self.start()
            handler.doStop()
        messages = [formatEvent(event) for event in events]
        self.assertEqual(len(messages), 1)
        self.assertTrue(messages[0].startswith("Forwarding stream"))

    def test_socket_connected_to_target(self) -> None:
        """
        The socket is connected to the target.
        """
        _, _, socket = self.start()
        self.assertEqual(socket.connected_to, ("127.0.0.1", 5004))

    def test_loopback_target_binds_loopback(self) -> None:
        """
        A loopback target gets a socket on the loopback address.
        """
        _, _, socket = self.start()
        self.assertEqual(socket.interface, "127.0.0.1")

    def test_ipv6_loopback_target_binds_ipv6_loopback(self) -> None:
        """
        An IPv6 loopback target gets a socket on C{::1}.
        """
        _, _, socket = self.start(("::1", 5004))
        self.assertEqual(socket.interface, "::1")

    def test_other_target_binds_wildcard(self) -> None:
        """
        A target elsewhere gets a socket on the wildcard address.
        """
        _, _, socket = self.start(("10.1.2.3", 5004))
        self.assertEqual(socket.interface, "0.0.0.0")

    def test_client_packet_to_backend(self) -> None:
        """
        A client packet is written to the backend and counted.
        """
        handler, _, socket = self.start()
        handler.packet_received(b"\x80rtp")
        self.assertEqual(socket.written, [b"\x80rtp"])
        self.assertEqual(handler.packets_to_backend, 1)

    def test_backend_reply_to_client(self) -> None:
        """
        A backend packet is sent to the client on the stream.
        """
        handler, stream, _ = self.start()
        handler.datagramReceived(b"\x80reply", ("127.0.0.1", 5004))
        self.assertEqual(stream.sent, [b"\x80reply"])
        self.assertEqual(handler.packets_from_backend, 1)

    def test_write_error_dropped(self) -> None:
        """
        A failed write is counted as a drop and does not raise.
        """
        handler, _, socket = self.start()
        socket.fail_with = OSError(90, "Message too long")
        handler.packet_received(b"\x80big")
        self.assertEqual(handler.packets_dropped, 1)
        self.assertEqual(handler.packets_to_backend, 0)

    def test_connection_refused_ignored(self) -> None:
        """
        An ICMP port unreachable does not close the socket.
        """
        handler, _, socket = self.start()
        handler.connectionRefused()
        handler.connectionRefused()
        self.assertTrue(socket.listening)
        self.assertEqual(handler.refusals, 2)

    def test_close_stops_socket(self) -> None:
        """
        Closing the stream closes the socket.
        """
        handler, _, socket = self.start()
        handler.stream_closed()
        self.assertFalse(socket.listening)

    def test_packet_after_close_dropped(self) -> None:
        """
        After the stream closes, client packets are dropped and counted.
        """
        handler, _, socket = self.start()
        handler.stream_closed()
        handler.packet_received(b"\x80late")
        self.assertEqual(socket.written, [])
        self.assertEqual(handler.packets_dropped, 1)

    def test_close_twice(self) -> None:
        """
        A second close does nothing.
        """
        handler, _, socket = self.start()
        handler.stream_closed()
        handler.stream_closed()
        self.assertFalse(socket.listening)


class ParseTargetTests(unittest.TestCase):
    """
    L{parse_target}.
    """

    def test_ipv4(self) -> None:
        """
        C{host:port} with an IPv4 address.
        """
        self.assertEqual(parse_target("127.0.0.1:5004"), ("127.0.0.1", 5004))

    def test_ipv6_brackets(self) -> None:
        """
        C{[host]:port} with an IPv6 address.
        """
        self.assertEqual(parse_target("[::1]:5004"), ("::1", 5004))

    def test_hostname_rejected(self) -> None:
        """
        A host name is rejected: no name lookups while creating sessions.
        """
        with self.assertRaises(ValueError) as caught:
            parse_target("localhost:5004")
        self.assertEqual(
            str(caught.exception),
            "invalid forward target 'localhost:5004': the host must be an IP address",
        )

    def test_missing_port_rejected(self) -> None:
        """
        An address without a port is rejected.
        """
        with self.assertRaises(ValueError) as caught:
            parse_target("127.0.0.1")
        self.assertIn("expected host:port", str(caught.exception))

    def test_port_zero_rejected(self) -> None:
        """
        Port 0 is rejected.
        """
        with self.assertRaises(ValueError) as caught:
            parse_target("127.0.0.1:0")
        self.assertIn("1 to 65535", str(caught.exception))

    def test_port_too_large_rejected(self) -> None:
        """
        Port 65536 is rejected.
        """
        with self.assertRaises(ValueError):
            parse_target("127.0.0.1:65536")

    def test_port_not_number_rejected(self) -> None:
        """
        A port that is not a number is rejected.
        """
        with self.assertRaises(ValueError):
            parse_target("127.0.0.1:rtp")


class MediaSpecTests(unittest.TestCase):
    """
    L{MediaSpec}.
    """

    def test_default_echo(self) -> None:
        """
        The default is C{echo} without target.
        """
        self.assertEqual(MediaSpec(), MediaSpec("echo", None))

    def test_bad_mode(self) -> None:
        """
        An unknown mode is rejected.
        """
        with self.assertRaises(ValueError) as caught:
            MediaSpec("record")
        self.assertEqual(
            str(caught.exception),
            "invalid media mode 'record': expected echo or forward",
        )

    def test_forward_requires_target(self) -> None:
        """
        C{forward} without target is rejected.
        """
        with self.assertRaises(ValueError):
            MediaSpec("forward")

    def test_echo_takes_no_target(self) -> None:
        """
        C{echo} with a target is rejected.
        """
        with self.assertRaises(ValueError):
            MediaSpec("echo", ("127.0.0.1", 1))

    def test_from_json_forward(self) -> None:
        """
        A JSON C{forward} with a target.
        """
        spec = MediaSpec.from_json({"mode": "forward", "target": "127.0.0.1:9"})
        self.assertEqual(spec, MediaSpec("forward", ("127.0.0.1", 9)))

    def test_from_json_not_object(self) -> None:
        """
        JSON media that is not an object is rejected.
        """
        with self.assertRaises(ValueError) as caught:
            MediaSpec.from_json("echo")
        self.assertEqual(str(caught.exception), "media must be a JSON object")

    def test_from_json_unknown_member(self) -> None:
        """
        An unknown member is rejected by name.
        """
        with self.assertRaises(ValueError) as caught:
            MediaSpec.from_json({"mode": "echo", "port": 1})
        self.assertEqual(str(caught.exception), "unknown media members: port")

    def test_from_json_target_not_string(self) -> None:
        """
        A target that is not a string is rejected.
        """
        with self.assertRaises(ValueError):
            MediaSpec.from_json({"mode": "forward", "target": ["127.0.0.1", 9]})

    def test_from_json_mode_not_string(self) -> None:
        """
        A mode that is not a string is rejected.
        """
        with self.assertRaises(ValueError):
            MediaSpec.from_json({"mode": 1})


class ForwardPolicyTests(unittest.TestCase):
    """
    L{ForwardPolicy}.
    """

    def test_loopback_allowed_by_default(self) -> None:
        """
        Loopback targets are allowed by default.
        """
        policy = ForwardPolicy()
        policy.check(("127.0.0.1", 5004))
        policy.check(("::1", 5004))

    def test_other_network_rejected_by_default(self) -> None:
        """
        A target outside loopback is rejected by default, naming the option
        that allows it.
        """
        with self.assertRaises(ValueError) as caught:
            ForwardPolicy().check(("10.0.0.5", 5004))
        self.assertIn("10.0.0.5:5004", str(caught.exception))
        self.assertIn("--forward-allow", str(caught.exception))

    def test_configured_network_allowed(self) -> None:
        """
        A configured network is allowed.
        """
        ForwardPolicy(["10.0.0.0/8"]).check(("10.0.0.5", 5004))

    def test_unspecified_rejected(self) -> None:
        """
        The unspecified address is rejected even when its network is allowed.
        """
        with self.assertRaises(ValueError) as caught:
            ForwardPolicy(["0.0.0.0/0"]).check(("0.0.0.0", 5004))
        self.assertIn("not a unicast address", str(caught.exception))

    def test_multicast_rejected(self) -> None:
        """
        A multicast address is rejected even when its network is allowed.
        """
        with self.assertRaises(ValueError):
            ForwardPolicy(["0.0.0.0/0"]).check(("239.1.1.1", 5004))

    def test_broadcast_rejected(self) -> None:
        """
        The limited broadcast address is rejected.
        """
        with self.assertRaises(ValueError):
            ForwardPolicy(["0.0.0.0/0"]).check(("255.255.255.255", 5004))

    def test_ipv4_mapped_checked_as_ipv4(self) -> None:
        """
        An IPv4-mapped IPv6 address is checked as the IPv4 address.
        """
        ForwardPolicy(["127.0.0.0/8"]).check(("::ffff:127.0.0.1", 5004))
        with self.assertRaises(ValueError):
            ForwardPolicy(["::/0"]).check(("::ffff:10.0.0.1", 5004))

    def test_bad_network_rejected(self) -> None:
        """
        An invalid prefix is rejected when the policy is built.
        """
        with self.assertRaises(ValueError):
            ForwardPolicy(["not-a-network"])


class CertificateTests(unittest.TestCase):
    """
    The DTLS certificate and its fingerprint.
    """

    def test_fingerprint_format(self) -> None:
        """
        The fingerprint is 32 uppercase hex byte pairs joined by colons.
        """
        fingerprint = certificate_fingerprint(generate_certificate())
        self.assertRegex(fingerprint, re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$"))

    def test_generated_certificates_differ(self) -> None:
        """
        Each generated certificate has its own key, so its own fingerprint.
        """
        first = certificate_fingerprint(generate_certificate())
        second = certificate_fingerprint(generate_certificate())
        self.assertNotEqual(first, second)

    def test_validity(self) -> None:
        """
        A generated certificate is valid from a day before C{now} for 30 days.
        """
        now = datetime.datetime(2030, 1, 2, tzinfo=datetime.UTC)
        certificate = generate_certificate(now)
        self.assertEqual(
            certificate.not_valid_before_utc, now - datetime.timedelta(days=1)
        )
        self.assertEqual(
            certificate.not_valid_after_utc, now + datetime.timedelta(days=30)
        )

    def test_load_same_fingerprint(self) -> None:
        """
        A certificate written as PEM and loaded again has the same fingerprint.
        """
        certificate = generate_certificate()
        with tempfile.NamedTemporaryFile(suffix=".pem") as file:
            file.write(certificate.public_bytes(Encoding.PEM))
            file.flush()
            loaded = load_certificate(file.name)
        self.assertEqual(
            certificate_fingerprint(loaded), certificate_fingerprint(certificate)
        )

    def test_load_not_pem(self) -> None:
        """
        A file without a PEM certificate raises ValueError.
        """
        with tempfile.NamedTemporaryFile(suffix=".pem") as file:
            file.write(b"not a certificate")
            file.flush()
            with self.assertRaises(ValueError):
                load_certificate(file.name)
