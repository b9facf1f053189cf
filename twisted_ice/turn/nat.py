"""
The 1:1 NAT in front of the relay addresses, as on a cloud host whose public
address is mapped to a private one (coturn's C{--external-ip}).

Relay sockets are bound on the private address, and the client is given the
public one with the same port in XOR-RELAYED-ADDRESS. The relay sends to this
server's own ICE addresses on the public IP through the private IP instead.
So a client that reaches the lite ICE agent through the relay here does not
depend on the NAT sending a datagram back to the host it came from
(hairpinning).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from twisted_ice.addresses import Address


def _canonical(host: str) -> str:
    """
    Return an IP address in the form C{socket.inet_ntop} gives.

    @raise ValueError: C{host} is not an IP address.
    """
    return ipaddress.ip_address(host).compressed


class RelayNat:
    """
    The public address of each relay host, and the own ICE addresses that
    the relay reaches on the private side.

    @ivar public_hosts: The public IP of each private relay IP.
    @ivar outbound: The private address to send to, for each own ICE address
        on a public relay IP.
    @ivar inbound: The reverse of C{outbound}: the public address that a
        datagram from a private own ICE address is reported from.
    """

    def __init__(
        self,
        public_hosts: Mapping[str, str] | None = None,
        own_addresses: Iterable[Address] = (),
    ) -> None:
        """
        @param public_hosts: The public IP that the NAT maps to each private
            relay IP; empty when there is no NAT.
        @param own_addresses: This server's ICE addresses, C{(host, port)}.
            Those on a public relay IP are reached on its private IP.
        @raise ValueError: A host is not an IP address, or a private and a
            public IP have different versions.
        """
        self.public_hosts: dict[str, str] = {}
        for private, public in (public_hosts or {}).items():
            private_ip = ipaddress.ip_address(private)
            public_ip = ipaddress.ip_address(public)
            if private_ip.version != public_ip.version:
                raise ValueError(
                    f"invalid public relay address {public}: its IP version"
                    f" differs from that of {private}"
                )
            self.public_hosts[private_ip.compressed] = public_ip.compressed
        private_of = {public: private for private, public in self.public_hosts.items()}
        self.outbound: dict[Address, Address] = {}
        for host, port in own_addresses:
            own = _canonical(host)
            own_private = private_of.get(own)
            if own_private is not None:
                self.outbound[(own, port)] = (own_private, port)
        self.inbound: dict[Address, Address] = {
            private: public for public, private in self.outbound.items()
        }

    def public(self, relay: Address) -> Address:
        """
        Return the address a client is given for the relay socket C{relay}:
        its public IP with the same port, or C{relay} itself without NAT.
        """
        host = self.public_hosts.get(relay[0])
        if host is None:
            return relay
        return (host, relay[1])
