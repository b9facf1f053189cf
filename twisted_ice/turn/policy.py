"""
The peer address policy: the peers a TURN client may reach through a relay.

By default the special-purpose address ranges of the IANA IPv4 and IPv6
Special-Purpose Address Registries (RFC 6890 and its updates) are denied, so
that a relay cannot be used to reach this host's loopback services or the
operator's private network. This server's own ICE addresses are the exception,
so a client can reach the lite ICE agent through its relay on this server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from twisted_ice.addresses import Address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SPECIAL_PURPOSE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        # IPv4
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private (RFC 1918)
        "100.64.0.0/10",  # shared address space (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "172.16.0.0/12",  # private (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private (RFC 1918)
        "192.175.48.0/24",  # direct delegation AS112
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast address
        # IPv6
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::/96",  # deprecated IPv4-compatible addresses
        "::ffff:0:0/96",  # IPv4-mapped, reached only if mapping failed
        "64:ff9b::/96",  # NAT64 (RFC 6052): would reach any IPv4 address
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, Teredo included
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4: embeds any IPv4 address
        "3fff::/20",  # documentation, the newer prefix
        "5f00::/16",  # segment routing SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
"""
The ranges denied by default, in addition to every address that
C{ipaddress} does not call C{is_global} or calls C{is_multicast}.
"""


def parse_host(host: str) -> IPAddress:
    """
    Parse an IP address string, mapping IPv4-mapped IPv6 (C{::ffff:a.b.c.d})
    to IPv4.

    @raise ValueError: C{host} is not an IP address.
    """
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
    return address


def is_special_purpose(address: IPAddress) -> bool:
    """
    Return whether C{address} is in a range that a relay denies by default.
    """
    if not address.is_global or address.is_multicast:
        return True
    return any(
        address.version == network.version and address in network
        for network in SPECIAL_PURPOSE_NETWORKS
    )


@dataclass(frozen=True, slots=True)
class PeerRule:
    """
    The ports of one peer IP address a client may reach.

    @ivar any_port: Every port is allowed.
    @ivar ports: When not C{any_port}, the only ports allowed: those of this
        server's own ICE addresses on that IP. Empty when the IP is denied.
    """

    any_port: bool
    ports: frozenset[int] = frozenset()

    @property
    def denied(self) -> bool:
        """
        Whether no port of the IP address is allowed.
        """
        return not self.any_port and not self.ports

    def permits(self, port: int) -> bool:
        """
        Return whether C{port} is allowed.
        """
        return self.any_port or port in self.ports


ANY_PORT = PeerRule(any_port=True)
DENIED = PeerRule(any_port=False)


class PeerPolicy:
    """
    The peer address policy of a TURN server.

    The checks, in order, on the address after mapping IPv4-mapped IPv6 to
    IPv4: an C{allow} network allows every port; one of C{own_addresses}
    allows its own port; a C{deny} network denies; a special-purpose range
    (L{SPECIAL_PURPOSE_NETWORKS}, or not C{is_global}, or multicast) denies;
    anything else is allowed.
    """

    def __init__(
        self,
        own_addresses: Iterable[Address] = (),
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
    ) -> None:
        """
        @param own_addresses: This server's ICE addresses, C{(host, port)}.
        @param allow: CIDR networks to allow, winning over everything else.
        @param deny: CIDR networks to deny.
        @raise ValueError: A host or network is invalid.
        """
        self._allow = tuple(_parse_network(cidr) for cidr in allow)
        self._deny = tuple(_parse_network(cidr) for cidr in deny)
        own: dict[IPAddress, set[int]] = {}
        for host, port in own_addresses:
            own.setdefault(parse_host(host), set()).add(port)
        self._own = {address: frozenset(ports) for address, ports in own.items()}

    def rule_for(self, host: str) -> PeerRule:
        """
        Return the ports of C{host} that a client may reach. An invalid host
        is denied.
        """
        try:
            address = parse_host(host)
        except ValueError:
            return DENIED
        if _contains(self._allow, address):
            return ANY_PORT
        own_ports = self._own.get(address)
        if _contains(self._deny, address) or is_special_purpose(address):
            if own_ports is None:
                return DENIED
            return PeerRule(any_port=False, ports=own_ports)
        return ANY_PORT

    def is_allowed(self, address: Address) -> bool:
        """
        Return whether a client may reach the peer C{address}.
        """
        host, port = address
        return self.rule_for(host).permits(port)


def _parse_network(cidr: str) -> IPNetwork:
    """
    Parse a CIDR network, mapping an IPv4-mapped IPv6 network to IPv4.

    @raise ValueError: C{cidr} is not a network.
    """
    network = ipaddress.ip_network(cidr, strict=False)
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _contains(networks: tuple[IPNetwork, ...], address: IPAddress) -> bool:
    return any(
        address.version == network.version and address in network
        for network in networks
    )
