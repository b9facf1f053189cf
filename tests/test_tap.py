"""
Tests for L{twisted_ice.tap} and the C{mcs-ice} plugin: options, the service
tree and the one-line errors.
"""

from __future__ import annotations

import io
import socket
import sys

from twisted.application.service import IServiceMaker, MultiService
from twisted.logger import LogEvent, LogLevel, formatEvent, globalLogPublisher
from twisted.plugin import getPlugins
from twisted.trial import unittest

import twisted
import twisted_ice
from twisted_ice import tap
from twisted_ice.interfaces import IIceService
from twisted_ice.transport import udp
from twisted_ice.transport.udp import UdpMuxService


def parse(*argv: str) -> tap.Options:
    """
    Parse C{argv} as C{twistd mcs-ice} options.
    """
    options = tap.Options()
    options.parseOptions(list(argv))
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


class OptionsTests(unittest.TestCase):
    """
    Tests for L{tap.Options}.
    """

    def test_defaults(self) -> None:
        """
        By default the server listens on all addresses, on UDP port 9000,
        and sends no SOFTWARE.
        """
        options = parse()
        self.assertEqual(options["interface"], "")
        self.assertEqual(options["udp-port"], 9000)
        self.assertIsNone(options["software"])

    def test_values(self) -> None:
        """
        Given values are kept, the port as an L{int}.
        """
        options = parse(
            "--interface", "::1", "--udp-port", "3478", "--software", "x 1.0"
        )
        self.assertEqual(options["interface"], "::1")
        self.assertEqual(options["udp-port"], 3478)
        self.assertEqual(options["software"], "x 1.0")

    def test_port_not_a_number(self) -> None:
        """
        A port that is not a number ends the process with one line naming
        the option and the value.
        """
        message = exit_message("--udp-port", "abc")
        self.assertIn("--udp-port 'abc'", message)
        self.assertNotIn("\n", message)

    def test_port_out_of_range(self) -> None:
        """
        A port above 65535 is rejected.
        """
        message = exit_message("--udp-port", "65536")
        self.assertIn("not in 0-65535", message)

    def test_interface_not_an_address(self) -> None:
        """
        An interface that is not an IP address is rejected.
        """
        message = exit_message("--interface", "example.org")
        self.assertIn("--interface 'example.org': not an IP address", message)

    def test_software_too_long(self) -> None:
        """
        SOFTWARE longer than 763 bytes (RFC 8489 section 14.14) is rejected.
        """
        message = exit_message("--software", "x" * 764)
        self.assertIn("--software", message)

    def test_unknown_option(self) -> None:
        """
        An unknown option ends the process with one line.
        """
        message = exit_message("--no-such-option")
        self.assertIn("no-such-option", message)
        self.assertNotIn("\n", message)


class HelpTests(unittest.TestCase):
    """
    Tests for the C{--help} and C{--version} output of L{tap.Options}.
    """

    def test_no_double_spaces(self) -> None:
        """
        No option's help text contains two consecutive spaces, as a
        docstring's line breaks and indentation would give.
        """
        for name, doc in tap.Options().docs.items():
            with self.subTest(option=name):
                self.assertNotIn("  ", doc or "")

    def test_no_empty_default(self) -> None:
        """
        The usage text shows no empty C{[default: ]}.
        """
        self.assertNotIn("[default: ]", tap.Options().getUsage())

    def test_version_names_both(self) -> None:
        """
        C{--version} prints the versions of twisted-ice and Twisted and
        exits with status 0.
        """
        output = io.StringIO()
        self.patch(sys, "stdout", output)
        with self.assertRaises(SystemExit) as raised:
            tap.Options().parseOptions(["--version"])
        self.assertEqual(raised.exception.code, 0)
        self.assertEqual(
            output.getvalue(),
            f"twisted-ice {twisted_ice.__version__}, Twisted {twisted.__version__}\n",
        )


class MakeServiceTests(unittest.TestCase):
    """
    Tests for L{tap.makeService}.
    """

    def make_service(self, *argv: str) -> MultiService:
        """
        Build the service tree for C{argv}, and close its sockets in cleanup.
        The TCP listener is off unless C{argv} sets C{--tcp-port}, because its
        default port is 443.
        """
        service = tap.makeService(parse("--tcp-port", "0", *argv))
        assert isinstance(service, MultiService)
        for child in service:
            if isinstance(child, UdpMuxService):
                self.addCleanup(child.stopService)
        return service

    def udp_services(self, service: MultiService) -> list[UdpMuxService]:
        """
        Return the UDP mux services in C{service}.
        """
        return [child for child in service if isinstance(child, UdpMuxService)]

    def test_one_udp_mux(self) -> None:
        """
        The tree contains one UDP mux service.
        """
        service = self.make_service("--interface", "127.0.0.1", "--udp-port", "0")
        self.assertEqual(len(self.udp_services(service)), 1)

    def test_services_on_mux(self) -> None:
        """
        The mux routes to the lite ICE agent, and to no TURN server when no
        TURN user or secret is configured.
        """
        service = self.make_service("--interface", "127.0.0.1", "--udp-port", "0")
        mux = self.udp_services(service)[0].mux
        self.assertTrue(IIceService.providedBy(mux.ice))
        self.assertIsNone(mux.turn)

    def test_software_reaches_responder(self) -> None:
        """
        C{--software} configures the Binding responder.
        """
        service = self.make_service(
            "--interface", "127.0.0.1", "--udp-port", "0", "--software", "srv"
        )
        mux = self.udp_services(service)[0].mux
        self.assertEqual(mux.responder.software, "srv")

    def test_port_in_use(self) -> None:
        """
        A UDP port in use ends the process with one line naming the address.
        """
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        options = parse("--interface", "127.0.0.1", "--udp-port", str(port))
        with self.assertRaises(SystemExit) as raised:
            tap.makeService(options)
        message = str(raised.exception.code)
        self.assertIn(f"cannot listen on UDP 127.0.0.1 port {port}", message)
        self.assertNotIn("\n", message)


class PluginTests(unittest.TestCase):
    """
    The C{mcs-ice} twistd plugin.
    """

    def test_plugin_found(self) -> None:
        """
        twistd finds a service maker named C{mcs-ice} that uses L{tap}.
        """
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        self.assertIn("mcs-ice", makers)
        self.assertIs(makers["mcs-ice"].options, tap.Options)


class ReceiveBufferTests(unittest.TestCase):
    """
    Tests for C{--udp-receive-buffer} and L{udp.set_receive_buffer}.
    """

    def test_default(self) -> None:
        """
        By default the mux socket requests a receive buffer of 4 MiB.
        """
        self.assertEqual(parse()["udp-receive-buffer"], 4 * 1024 * 1024)

    def test_invalid(self) -> None:
        """
        A size that is not a positive integer is rejected, naming the value.
        """
        for value in ["0", "-5", "big", "1.5"]:
            message = exit_message("--udp-receive-buffer", value)
            self.assertIn(f"invalid --udp-receive-buffer {value!r}", message)

    def test_granted_size(self) -> None:
        """
        L{udp.set_receive_buffer} returns the size the kernel granted, which
        for a size below the kernel's limit is the size asked for.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        self.assertEqual(udp.set_receive_buffer(sock, 65536), 65536)

    def test_without_force(self) -> None:
        """
        When C{SO_RCVBUFFORCE} is not permitted, C{SO_RCVBUF} is set instead.
        """
        calls: list[tuple[int, int]] = []

        class Socket:
            def setsockopt(self, level: int, option: int, value: int) -> None:
                calls.append((option, value))
                if option == getattr(socket, "SO_RCVBUFFORCE", None):
                    raise PermissionError(1, "not permitted")

            def getsockopt(self, level: int, option: int) -> int:
                return 425984

        granted = udp.set_receive_buffer(Socket(), 4194304)  # type: ignore[arg-type]
        self.assertEqual(calls[-1], (socket.SO_RCVBUF, 4194304))
        self.assertEqual(granted, 425984 // 2 if sys.platform == "linux" else 425984)

    def test_capped_size_warned(self) -> None:
        """
        When the kernel grants less than C{--udp-receive-buffer}, start-up
        logs a warning with both sizes.
        """
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.patch(tap, "set_receive_buffer", lambda sock, size: 212992)
        service = tap.makeService(
            parse("--interface", "127.0.0.1", "--udp-port", "0", "--tcp-port", "0")
        )
        assert isinstance(service, MultiService)
        for child in service:
            if isinstance(child, UdpMuxService):
                self.addCleanup(child.stopService)
        warnings = [
            formatEvent(event)
            for event in events
            if event.get("log_level") is LogLevel.warn
        ]
        self.assertEqual(len(warnings), 1)
        self.assertIn("212992 bytes, not the 4194304", warnings[0])
