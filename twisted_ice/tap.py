"""
The C{twistd mcs-ice} options and the service tree they build.

L{makeService} calls one small builder per area (UDP mux, ICE, TURN), each
adding its services to the parent; extend the builder of your area.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from twisted.application.service import IService, MultiService
from twisted.python import usage

from twisted_ice.interfaces import IIceService, IPathWriter, ITurnService
from twisted_ice.stun.binding import BindingResponder
from twisted_ice.transport.udp import (
    UdpMux,
    UdpMuxService,
    bind_udp_socket,
    default_interface,
)

PROGRAM = "twistd mcs-ice"


class Options(usage.Options):
    """
    Command-line options of C{twistd mcs-ice}.

    An invalid option ends the process with one line on standard error and
    exit status 1 (L{SystemExit}), in place of twistd's full usage text.
    """

    optParameters = [
        # --- UDP mux and STUN ---------------------------------------------
        [
            "interface",
            None,
            "",
            "IP address to listen on. Default: all addresses, IPv6 and IPv4"
            " (:: dual-stack) when the host has IPv6, else 0.0.0.0.",
        ],
        ["udp-port", None, "9000", "UDP port for ICE, STUN and TURN (0-65535)."],
        [
            "software",
            None,
            None,
            "SOFTWARE attribute text sent in every STUN response. Default: none.",
        ],
        # --- ICE and the session API --------------------------------------
        # --- TURN ----------------------------------------------------------
    ]

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse C{options}; exit with one line naming the invalid option.

        @raise SystemExit: with a one-line message when an option is invalid.
        """
        try:
            super().parseOptions(options)  # type: ignore[no-untyped-call]
        except usage.UsageError as error:
            raise SystemExit(f"{PROGRAM}: {error} (see '{PROGRAM} --help')") from None

    def postOptions(self) -> None:
        """
        Check and convert the option values.

        @raise usage.UsageError: when a value is invalid.
        """
        # --- UDP mux and STUN ---------------------------------------------
        self["udp-port"] = parse_port("--udp-port", self["udp-port"])
        if self["interface"]:
            try:
                ipaddress.ip_address(self["interface"])
            except ValueError:
                raise usage.UsageError(
                    f"invalid --interface {self['interface']!r}: not an IP address"
                ) from None
        software = self["software"]
        if software is not None and len(software.encode("utf-8")) > 763:
            raise usage.UsageError("invalid --software: longer than 763 bytes")
        # --- ICE and the session API --------------------------------------
        # --- TURN ----------------------------------------------------------


def parse_port(option: str, value: object) -> int:
    """
    Convert a port option to an L{int} in 0-65535.

    @raise usage.UsageError: naming C{option} when C{value} is not a port.
    """
    try:
        port = int(str(value))
    except ValueError:
        raise usage.UsageError(
            f"invalid {option} {value!r}: not a port number"
        ) from None
    if not 0 <= port <= 65535:
        raise usage.UsageError(f"invalid {option} {port}: not in 0-65535")
    return port


def makeService(options: Options) -> IService:
    """
    Build the service tree for C{options}.

    The UDP socket is bound here, before twistd starts the reactor, so a port
    in use ends the process with one line and exit status 1.

    @raise SystemExit: when a socket cannot be bound.
    """
    parent = MultiService()
    udp_mux = build_udp_mux(options, parent)
    udp_mux.ice = build_ice(options, parent, udp_mux)
    udp_mux.turn = build_turn(options, parent, udp_mux)
    return parent


# --- UDP mux and STUN --------------------------------------------------------


def build_udp_mux(options: Options, parent: MultiService) -> UdpMux:
    """
    Bind the UDP port and add the service that runs the mux on it.

    @raise SystemExit: when the port cannot be bound.
    """
    interface = options["interface"] or default_interface()
    port = options["udp-port"]
    try:
        sock = bind_udp_socket(interface, port)
    except OSError as error:
        raise SystemExit(
            f"{PROGRAM}: cannot listen on UDP {interface} port {port}:"
            f" {error.strerror or error}"
        ) from None
    mux = UdpMux(responder=BindingResponder(software=options["software"]))
    UdpMuxService(sock, mux).setServiceParent(parent)  # type: ignore[no-untyped-call]
    return mux


# --- ICE and the session API ---------------------------------------------------


def build_ice(
    options: Options, parent: MultiService, writer: IPathWriter
) -> IIceService | None:
    """
    Build the lite ICE agent that sends through C{writer}, or return L{None}
    while there is none.
    """
    return None


# --- TURN ----------------------------------------------------------------------


def build_turn(
    options: Options, parent: MultiService, writer: IPathWriter
) -> ITurnService | None:
    """
    Build the TURN server that sends through C{writer}, or return L{None}
    while there is none.
    """
    return None
