"""
Tests for the ICE and session API options of C{twistd mcs-ice} and the
services L{twisted_ice.tap.build_ice} adds.
"""

from __future__ import annotations

import os
import tempfile

from cryptography.hazmat.primitives.serialization import Encoding
from twisted.application.service import MultiService
from twisted.trial import unittest

from twisted_ice import tap
from twisted_ice.addresses import Transport
from twisted_ice.api import ApiService
from twisted_ice.media import (
    ForwardPolicy,
    certificate_fingerprint,
    generate_certificate,
)
from twisted_ice.transport.ice import IceService, default_public_addresses
from twisted_ice.transport.udp import UdpMuxService


def parse(*argv: str) -> tap.Options:
    """
    Parse C{argv} as C{twistd mcs-ice} options, with the TCP listener off.
    """
    options = tap.Options()
    options.parseOptions(["--tcp-port", "0", *argv])
    return options


def exit_message(*argv: str) -> str:
    """
    Return the message of the L{SystemExit} that parsing C{argv} raises.
    """
    try:
        parse(*argv)
    except SystemExit as exit:
        return str(exit.code)
    raise AssertionError(f"{argv} parsed without error")


def temporary_file(testcase: unittest.TestCase, data: bytes) -> str:
    """
    Write C{data} to a temporary file deleted in cleanup; return its path.
    """
    file = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115
    file.write(data)
    file.close()
    testcase.addCleanup(os.unlink, file.name)
    return file.name


class OptionsTests(unittest.TestCase):
    """
    The ICE and session API options.
    """

    def test_api_default(self) -> None:
        """
        The API listens on 127.0.0.1 port 8090 by default, without token.
        """
        options = parse()
        self.assertEqual(options["api"], "tcp:8090:interface=127.0.0.1")
        self.assertIsNone(options["api-token"])

    def test_public_ip_defaults_to_interface(self) -> None:
        """
        With an interface, candidates carry that address.
        """
        options = parse("--interface", "127.0.0.1")
        self.assertEqual(options["public-ip"], ["127.0.0.1"])

    def test_public_ip_defaults_on_all(self) -> None:
        """
        Listening on all addresses, candidates carry the machine's own
        addresses, none loopback.
        """
        options = parse()
        self.assertEqual(options["public-ip"], default_public_addresses(""))
        self.assertNotIn("127.0.0.1", options["public-ip"])

    def test_public_ip_repeats(self) -> None:
        """
        C{--public-ip} repeats, in order, and IPv6 is normalized.
        """
        options = parse(
            "--interface", "127.0.0.1", "--public-ip", "198.51.100.1",
            "--public-ip", "2001:DB8::1",
        )  # fmt: skip
        self.assertEqual(options["public-ip"], ["198.51.100.1", "2001:db8::1"])

    def test_public_ip_invalid(self) -> None:
        """
        A C{--public-ip} that is not an address ends parsing with its name.
        """
        message = exit_message("--public-ip", "media.example")
        self.assertIn("invalid --public-ip 'media.example'", message)

    def test_public_ip_unspecified(self) -> None:
        """
        The unspecified address is no candidate address.
        """
        message = exit_message("--public-ip", "0.0.0.0")
        self.assertIn("not a unicast address", message)

    def test_forward_allow_default(self) -> None:
        """
        By default, forward targets must be on loopback.
        """
        policy = parse("--interface", "127.0.0.1")["forward-allow"]
        self.assertIsInstance(policy, ForwardPolicy)
        self.assertEqual(
            [str(network) for network in policy.networks], ["127.0.0.0/8", "::1/128"]
        )

    def test_forward_allow_repeats(self) -> None:
        """
        C{--forward-allow} replaces the default networks.
        """
        policy = parse(
            "--interface", "127.0.0.1", "--forward-allow", "10.0.0.0/8",
            "--forward-allow", "192.0.2.0/24",
        )["forward-allow"]  # fmt: skip
        self.assertEqual(
            [str(network) for network in policy.networks],
            ["10.0.0.0/8", "192.0.2.0/24"],
        )

    def test_forward_allow_invalid(self) -> None:
        """
        An invalid network ends parsing.
        """
        message = exit_message("--interface", "127.0.0.1", "--forward-allow", "10/x")
        self.assertIn("invalid --forward-allow", message)

    def test_token_file(self) -> None:
        """
        C{--api-token-file} sets the token from its first line.
        """
        path = temporary_file(self, b"from-file\nsecond line\n")
        options = parse("--interface", "127.0.0.1", "--api-token-file", path)
        self.assertEqual(options["api-token"], "from-file")

    def test_token_file_empty(self) -> None:
        """
        An empty token file ends parsing.
        """
        path = temporary_file(self, b"")
        message = exit_message("--interface", "127.0.0.1", "--api-token-file", path)
        self.assertIn(f"invalid --api-token-file {path}: empty", message)

    def test_token_file_first_line_blank(self) -> None:
        """
        A token file whose first line is blank ends parsing with that
        reason, not as an empty file.
        """
        path = temporary_file(self, b"  \ntoken-on-line-two\n")
        message = exit_message("--interface", "127.0.0.1", "--api-token-file", path)
        self.assertIn("the first line, which must be the token, is blank", message)

    def test_token_empty_rejected(self) -> None:
        """
        An empty C{--api-token} ends parsing instead of turning
        authentication off.
        """
        message = exit_message("--interface", "127.0.0.1", "--api-token=")
        self.assertIn("invalid --api-token: empty", message)

    def test_token_blank_rejected(self) -> None:
        """
        A C{--api-token} of only whitespace ends parsing.
        """
        message = exit_message("--interface", "127.0.0.1", "--api-token", "  \t")
        self.assertIn("invalid --api-token: empty", message)

    def test_token_empty_one_line(self) -> None:
        """
        The empty token error is one line.
        """
        message = exit_message("--interface", "127.0.0.1", "--api-token=")
        self.assertNotIn("\n", message)

    def test_token_file_missing(self) -> None:
        """
        A token file that cannot be read ends parsing.
        """
        message = exit_message(
            "--interface", "127.0.0.1", "--api-token-file", "/nonexistent/token"
        )
        self.assertIn("cannot read --api-token-file /nonexistent/token", message)

    def test_generated_fingerprint(self) -> None:
        """
        Without C{--dtls-cert}, a generated certificate gives the
        fingerprint.
        """
        options = parse("--interface", "127.0.0.1")
        self.assertRegex(options["dtls-fingerprint"], r"^sha-256 ([0-9A-F]{2}:){31}")

    def test_dtls_cert_fingerprint(self) -> None:
        """
        C{--dtls-cert} gives that certificate's fingerprint.
        """
        certificate = generate_certificate()
        path = temporary_file(self, certificate.public_bytes(Encoding.PEM))
        options = parse("--interface", "127.0.0.1", "--dtls-cert", path)
        self.assertEqual(
            options["dtls-fingerprint"],
            "sha-256 " + certificate_fingerprint(certificate),
        )

    def test_dtls_cert_invalid(self) -> None:
        """
        A file without a certificate ends parsing.
        """
        path = temporary_file(self, b"not PEM")
        message = exit_message("--interface", "127.0.0.1", "--dtls-cert", path)
        self.assertIn(f"invalid --dtls-cert {path}", message)


class IdleTimeoutOptionTests(unittest.TestCase):
    """
    C{--session-idle-timeout}.
    """

    def test_default(self) -> None:
        """
        Idle sessions are closed after 300 s by default.
        """
        options = parse("--interface", "127.0.0.1")
        self.assertEqual(options["session-idle-timeout"], 300.0)

    def test_zero_never(self) -> None:
        """
        0 turns the idle timeout off in the service.
        """
        options = parse(
            "--interface", "127.0.0.1", "--udp-port", "0",
            "--session-idle-timeout", "0",
        )  # fmt: skip
        service = tap.makeService(options)
        assert isinstance(service, MultiService)
        for child in service:
            if isinstance(child, UdpMuxService):
                self.addCleanup(child.stopService)
        ice = [c for c in service if isinstance(c, IceService)][0]
        self.assertIsNone(ice.session_idle_timeout)

    def test_negative_rejected(self) -> None:
        """
        A negative timeout ends parsing.
        """
        message = exit_message(
            "--interface", "127.0.0.1", "--session-idle-timeout", "-1"
        )
        self.assertIn("invalid --session-idle-timeout '-1'", message)

    def test_not_number_rejected(self) -> None:
        """
        A timeout that is not a number ends parsing.
        """
        message = exit_message(
            "--interface", "127.0.0.1", "--session-idle-timeout", "soon"
        )
        self.assertIn("invalid --session-idle-timeout 'soon'", message)

    def test_nan_rejected(self) -> None:
        """
        NaN is not a timeout.
        """
        message = exit_message(
            "--interface", "127.0.0.1", "--session-idle-timeout", "nan"
        )
        self.assertIn("invalid --session-idle-timeout 'nan'", message)


class MaxSessionsOptionTests(unittest.TestCase):
    """
    C{--max-sessions}.
    """

    def test_default(self) -> None:
        """
        At most 100,000 sessions by default.
        """
        options = parse("--interface", "127.0.0.1")
        self.assertEqual(options["max-sessions"], 100000)

    def test_reaches_service(self) -> None:
        """
        The limit reaches the ICE service, and 0 means none.
        """
        for value, expected in (("5", 5), ("0", None)):
            options = parse(
                "--interface", "127.0.0.1", "--udp-port", "0", "--max-sessions", value
            )  # fmt: skip
            service = tap.makeService(options)
            assert isinstance(service, MultiService)
            for child in service:
                if isinstance(child, UdpMuxService):
                    self.addCleanup(child.stopService)
            ice = [c for c in service if isinstance(c, IceService)][0]
            self.assertEqual(ice.max_sessions, expected)

    def test_invalid_rejected(self) -> None:
        """
        A negative or fractional limit ends parsing.
        """
        for value in ("-1", "2.5", "many"):
            message = exit_message("--interface", "127.0.0.1", "--max-sessions", value)
            self.assertIn(f"invalid --max-sessions {value!r}", message)


class BuildTests(unittest.TestCase):
    """
    The services L{tap.makeService} adds for ICE.
    """

    def make_service(self, *argv: str) -> MultiService:
        """
        Build the service tree on loopback and close its UDP socket in
        cleanup.
        """
        options = parse("--interface", "127.0.0.1", "--udp-port", "0", *argv)
        service = tap.makeService(options)
        assert isinstance(service, MultiService)
        for child in service:
            if isinstance(child, UdpMuxService):
                self.addCleanup(child.stopService)
        return service

    def test_ice_service_on_mux(self) -> None:
        """
        The UDP mux routes to the ICE service, which writes through the mux.
        """
        service = self.make_service()
        mux = [c for c in service if isinstance(c, UdpMuxService)][0].mux
        self.assertIsInstance(mux.ice, IceService)
        assert isinstance(mux.ice, IceService)
        self.assertIs(mux.ice.writers[Transport.UDP], mux)
        self.assertEqual(mux.ice.addresses, ("127.0.0.1",))

    def test_api_service(self) -> None:
        """
        The tree holds the API service for C{--api}.
        """
        service = self.make_service("--api", "tcp:0:interface=127.0.0.1")
        apis = [c for c in service if isinstance(c, ApiService)]
        self.assertEqual(
            [api.description for api in apis], ["tcp:0:interface=127.0.0.1"]
        )

    def test_api_invalid(self) -> None:
        """
        An invalid C{--api} endpoint ends with one line naming it.
        """
        with self.assertRaises(SystemExit) as caught:
            self.make_service("--api", "carrier-pigeon:8090")
        self.assertIn("invalid --api 'carrier-pigeon:8090'", str(caught.exception))
