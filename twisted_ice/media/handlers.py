"""
The stream handlers that ship with twisted-ice: C{echo} and C{forward}.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IListeningPort, IReactorUDP
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from zope.interface import implementer

from twisted_ice.addresses import Address
from twisted_ice.interfaces import IMediaStream, IStreamHandler

MEDIA_MODES = ("echo", "forward")

DEFAULT_FORWARD_NETWORKS = ("127.0.0.0/8", "::1/128")
"""
The networks a C{forward} target may be in unless configured otherwise: the
backend normally runs on the same machine.
"""


def parse_target(text: str) -> Address:
    """
    Parse a backend UDP address written C{host:port} or C{[host]:port}.

    The host must be an IP address literal, so that no name lookup happens
    while a session is created.

    @raise ValueError: C{text} is not such an address. The message names it.
    """
    host, separator, port_text = text.rpartition(":")
    if not separator or not host:
        raise ValueError(f"invalid forward target {text!r}: expected host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"invalid forward target {text!r}: the host must be an IP address"
        ) from None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(
            f"invalid forward target {text!r}: the port must be 1 to 65535"
        )
    return (str(address), int(port_text))


@dataclass(frozen=True, slots=True)
class MediaSpec:
    """
    The media mode of a session, which sets what its stream handlers do with
    packets.

    @ivar mode: C{"echo"} or C{"forward"}.
    @ivar target: The backend UDP address of C{forward}, or L{None} for
        C{echo}.
    """

    mode: str = "echo"
    target: Address | None = None

    def __post_init__(self) -> None:
        if self.mode not in MEDIA_MODES:
            raise ValueError(
                f"invalid media mode {self.mode!r}: expected echo or forward"
            )
        if self.mode == "forward" and self.target is None:
            raise ValueError("media mode forward requires a target")
        if self.mode == "echo" and self.target is not None:
            raise ValueError("media mode echo takes no target")

    @classmethod
    def from_json(cls, value: Any) -> MediaSpec:
        """
        Build a spec from the C{media} member of a JSON request:
        C{{"mode": "echo" | "forward", "target"?: "host:port"}}.

        @raise ValueError: C{value} has another shape. The message names the
            invalid member.
        """
        if not isinstance(value, dict):
            raise ValueError("media must be a JSON object")
        unknown = set(value) - {"mode", "target"}
        if unknown:
            raise ValueError(f"unknown media members: {', '.join(sorted(unknown))}")
        mode = value.get("mode", "echo")
        if not isinstance(mode, str):
            raise ValueError("media mode must be a string")
        target_text = value.get("target")
        if target_text is None:
            return cls(mode)
        if not isinstance(target_text, str):
            raise ValueError("media target must be a string host:port")
        return cls(mode, parse_target(target_text))


class ForwardPolicy:
    """
    The networks that C{forward} targets may be in.

    Unspecified, multicast and broadcast addresses are always rejected.
    IPv4-mapped IPv6 addresses are checked as the IPv4 address they map.
    """

    def __init__(self, networks: Iterable[str] = DEFAULT_FORWARD_NETWORKS) -> None:
        """
        @param networks: CIDR prefixes such as C{127.0.0.0/8}.
        @raise ValueError: A prefix is invalid.
        """
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def check(self, target: Address) -> None:
        """
        Check that C{target} is an allowed forward target.

        @raise ValueError: C{target} is not allowed. The message gives the
            reason.
        """
        address = ipaddress.ip_address(target[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        shown = f"{target[0]}:{target[1]}"
        if address.is_unspecified or address.is_multicast:
            raise ValueError(f"forward target {shown} is not a unicast address")
        if address == ipaddress.IPv4Address("255.255.255.255"):
            raise ValueError(f"forward target {shown} is not a unicast address")
        if not any(address in network for network in self.networks):
            raise ValueError(
                f"forward target {shown} is not in an allowed network. "
                "The server's --forward-allow option sets them"
            )


@implementer(IStreamHandler)
class EchoHandler:
    """
    Send each packet back to the client on the stream's selected path.
    """

    def __init__(self, stream: IMediaStream) -> None:
        self.stream = stream
        self.closed = False

    def packet_received(self, data: bytes) -> None:
        """
        Send C{data} back unchanged.
        """
        if not self.closed:
            self.stream.send(data)

    def stream_closed(self) -> None:
        """
        Stop echoing.
        """
        self.closed = True


@implementer(IStreamHandler)
class ForwardHandler(DatagramProtocol):
    """
    Relay a stream's packets to a backend UDP address through a socket of its
    own, and the backend's replies back to the client.

    The socket is connected to the backend, so the kernel drops datagrams
    from any other source. It is bound to the loopback address of the
    target's family for a loopback target, otherwise to the wildcard address.

    @ivar packets_to_backend: Packets written to the backend.
    @ivar packets_from_backend: Packets the backend sent, all given to the
        stream.
    @ivar packets_dropped: Packets not written to the backend: after the
        stream closed, or because the write failed.
    @ivar refusals: ICMP port unreachable errors from the backend.
    """

    log = Logger()
    # The handler logs its start itself, with the session and stream, so
    # Twisted's "Starting protocol" and "Stopping protocol" lines go.
    noisy = False

    def __init__(
        self, stream: IMediaStream, target: Address, reactor: IReactorUDP
    ) -> None:
        self.stream = stream
        self.target = target
        self.reactor = reactor
        self.port: IListeningPort | None = None
        self.packets_to_backend = 0
        self.packets_from_backend = 0
        self.packets_dropped = 0
        self.refusals = 0

    def start(self) -> None:
        """
        Open the socket and connect it to the target.

        @raise twisted.internet.error.CannotListenError: No socket could be
            bound.
        """
        address = ipaddress.ip_address(self.target[0])
        if address.version == 6:
            interface = "::1" if address.is_loopback else "::"
        else:
            interface = "127.0.0.1" if address.is_loopback else "0.0.0.0"  # noqa: S104
        self.port = self.reactor.listenUDP(
            0, self, interface=interface, maxPacketSize=65535
        )
        assert self.transport is not None
        self.transport.connect(self.target[0], self.target[1])
        self.log.info(
            "Forwarding stream {mid} of session {session_id} to {host}:{port}",
            mid=self.stream.mid,
            session_id=self.stream.session_id,
            host=self.target[0],
            port=self.target[1],
        )

    def packet_received(self, data: bytes) -> None:
        """
        Write C{data} to the backend.
        """
        if self.port is None or self.transport is None:
            self.packets_dropped += 1
            return
        try:
            self.transport.write(data, None)
        except OSError as error:
            self.packets_dropped += 1
            if self.packets_dropped == 1:
                self.log.info(
                    "Write to backend {host}:{port} failed: {error}. Later"
                    " failures of this stream are only counted",
                    host=self.target[0],
                    port=self.target[1],
                    error=error,
                )
            return
        self.packets_to_backend += 1

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        """
        Send the backend's reply to the client.
        """
        self.packets_from_backend += 1
        self.stream.send(data)

    def connectionRefused(self) -> None:
        """
        Count an ICMP port unreachable from the backend, which may start
        later. Only the first is logged.
        """
        self.refusals += 1
        if self.refusals == 1:
            self.log.info(
                "Backend {host}:{port} rejected a packet with ICMP port"
                " unreachable; later rejections of this stream are only counted",
                host=self.target[0],
                port=self.target[1],
            )

    def stream_closed(self) -> None:
        """
        Close the socket.
        """
        port, self.port = self.port, None
        if port is not None:
            port.stopListening()
