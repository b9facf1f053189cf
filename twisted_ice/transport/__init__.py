"""
Twisted adapters: the muxes that own the sockets and hand what arrives to the
sans-I/O services.
"""

from twisted_ice.transport.udp import (
    DropReason,
    UdpMux,
    UdpMuxService,
    bind_udp_socket,
    default_interface,
)

__all__ = [
    "DropReason",
    "UdpMux",
    "UdpMuxService",
    "bind_udp_socket",
    "default_interface",
]
