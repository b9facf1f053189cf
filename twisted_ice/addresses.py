"""
Transport addresses and the 5-tuples that key streams and allocations.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

Address = tuple[str, int]
"""
A transport address as Twisted gives it: C{(host, port)}, IPv6 hosts without
brackets.
"""


class Transport(enum.StrEnum):
    """
    The transport a client reached this server over.
    """

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class Path(NamedTuple):
    """
    A 5-tuple: the transport, this server's address and the client's address.

    On a socket bound to a wildcard address the local host is that wildcard,
    because a datagram socket does not report the destination address of what
    it receives.
    """

    transport: Transport
    local: Address
    remote: Address


def host_of_version(hosts: Iterable[str], version: int) -> str | None:
    """
    Return the first of the IP addresses C{hosts} of IP version C{version}
    (4 or 6), or L{None}.
    """
    for host in hosts:
        if ipaddress.ip_address(host).version == version:
            return host
    return None
