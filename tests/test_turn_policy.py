"""
Tests for the TURN peer address policy.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.turn import PeerPolicy

OWN_ICE = ("127.0.0.1", 9000)


class DefaultPolicyTests(SynchronousTestCase):
    """
    The special-purpose ranges denied by default.
    """

    def test_denied_table(self) -> None:
        """
        Loopback, unspecified, link-local, private, shared, benchmarking,
        documentation, multicast, reserved and NAT64 peers are denied.
        """
        policy = PeerPolicy()
        for host in (
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "169.254.1.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.0.1",
            "100.64.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "::127.0.0.1",
        ):
            self.assertFalse(policy.is_allowed((host, 5000)), host)

    def test_mapped_loopback_denied(self) -> None:
        """
        ::ffff:127.0.0.1 is denied as the IPv4 loopback it maps to.
        """
        self.assertFalse(PeerPolicy().is_allowed(("::ffff:127.0.0.1", 5000)))

    def test_mapped_private_denied(self) -> None:
        """
        ::ffff:10.0.0.1 is denied.
        """
        self.assertFalse(PeerPolicy().is_allowed(("::ffff:10.0.0.1", 5000)))

    def test_public_allowed(self) -> None:
        """
        Public IPv4 and IPv6 peers are allowed.
        """
        policy = PeerPolicy()
        self.assertTrue(policy.is_allowed(("8.8.8.8", 5000)))
        self.assertTrue(policy.is_allowed(("2001:4860:4860::8888", 5000)))
        self.assertTrue(policy.is_allowed(("::ffff:8.8.8.8", 5000)))

    def test_invalid_host_denied(self) -> None:
        """
        A host that is not an IP address is denied.
        """
        self.assertFalse(PeerPolicy().is_allowed(("example.org", 5000)))


class AdjustedPolicyTests(SynchronousTestCase):
    """
    Own ICE addresses and the allow and deny lists.
    """

    def test_own_ice_address_allowed(self) -> None:
        """
        This server's own ICE address is allowed although it is loopback.
        """
        policy = PeerPolicy(own_addresses=[OWN_ICE])
        self.assertTrue(policy.is_allowed(OWN_ICE))

    def test_own_ice_ip_other_port_denied(self) -> None:
        """
        Another port of the own ICE address's IP stays denied.
        """
        policy = PeerPolicy(own_addresses=[OWN_ICE])
        self.assertFalse(policy.is_allowed(("127.0.0.1", 22)))

    def test_own_ice_address_mapped(self) -> None:
        """
        The own ICE address written as IPv4-mapped IPv6 is allowed too.
        """
        policy = PeerPolicy(own_addresses=[OWN_ICE])
        self.assertTrue(policy.is_allowed(("::ffff:127.0.0.1", 9000)))

    def test_allow_wins_over_deny(self) -> None:
        """
        A peer in both an allow and a deny network is allowed.
        """
        policy = PeerPolicy(allow=["127.0.0.0/8"], deny=["127.0.0.1/32"])
        self.assertTrue(policy.is_allowed(("127.0.0.1", 5000)))

    def test_allow_opens_default_denied(self) -> None:
        """
        An allow network opens a range denied by default, every port.
        """
        policy = PeerPolicy(allow=["10.0.0.0/8"])
        self.assertTrue(policy.is_allowed(("10.1.1.1", 1)))

    def test_deny_closes_public(self) -> None:
        """
        A deny network closes a public range.
        """
        policy = PeerPolicy(deny=["8.8.8.0/24"])
        self.assertFalse(policy.is_allowed(("8.8.8.8", 53)))
        self.assertTrue(policy.is_allowed(("8.8.4.4", 53)))

    def test_mapped_allow_network(self) -> None:
        """
        An allow network written as IPv4-mapped IPv6 applies to IPv4 peers.
        """
        policy = PeerPolicy(allow=["::ffff:127.0.0.0/104"])
        self.assertTrue(policy.is_allowed(("127.0.0.1", 5000)))

    def test_invalid_network_raises(self) -> None:
        """
        An invalid CIDR raises L{ValueError}.
        """
        self.assertRaises(ValueError, PeerPolicy, allow=["not a network"])
