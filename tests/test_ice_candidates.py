"""
Tests for L{twisted_ice.ice.candidates}: host candidates and candidate lines.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.ice import (
    Candidate,
    candidate_priority,
    host_candidates,
    parse_candidate,
)


class PriorityTests(SynchronousTestCase):
    """
    Candidate priorities by RFC 8445 section 5.1.2.1 and RFC 6544 section
    4.2.
    """

    def test_formula(self) -> None:
        """
        The priority is 2^24 * type + 2^8 * local + (256 - component).
        """
        self.assertEqual(candidate_priority(126, 65535, 1), 2130706431)
        self.assertEqual(candidate_priority(126, 65535, 2), 2130706430)

    def test_udp_host(self) -> None:
        """
        The first UDP host candidate has type preference 126 and local
        preference 65535.
        """
        (candidate,) = host_candidates(["127.0.0.1"], 9000)
        self.assertEqual(candidate.priority, 2130706431)
        self.assertEqual(candidate.type, "host")
        self.assertEqual(candidate.transport, "udp")
        self.assertEqual(candidate.component, 1)
        self.assertIsNone(candidate.tcptype)

    def test_second_address_lower(self) -> None:
        """
        Each further address gets a local preference one lower.
        """
        first, second = host_candidates(["127.0.0.1", "::1"], 9000)
        self.assertEqual(second.priority, candidate_priority(126, 65534, 1))
        self.assertEqual(second.host, "::1")

    def test_tcp_passive(self) -> None:
        """
        A TCP host candidate is passive with local preference 2^13 * 4 +
        8191 (direction preference 4 for passive host candidates).
        """
        udp, tcp = host_candidates(["127.0.0.1"], 9000, 443)
        self.assertEqual(tcp.transport, "tcp")
        self.assertEqual(tcp.tcptype, "passive")
        self.assertEqual(tcp.port, 443)
        self.assertEqual(tcp.priority, candidate_priority(126, 4 * 8192 + 8191, 1))
        self.assertLess(tcp.priority, udp.priority)

    def test_foundations(self) -> None:
        """
        Candidates differing in transport or address have distinct
        foundations; the same ones keep the same foundation.
        """
        udp, udp6, tcp, _ = host_candidates(["127.0.0.1", "::1"], 9000, 443)
        self.assertNotEqual(udp.foundation, tcp.foundation)
        self.assertNotEqual(udp.foundation, udp6.foundation)
        again = host_candidates(["127.0.0.1"], 9000)[0]
        self.assertEqual(again.foundation, udp.foundation)

    def test_for_component(self) -> None:
        """
        The component-2 copy has the priority of component 2.
        """
        candidate = host_candidates(["127.0.0.1"], 9000)[0].for_component(2)
        self.assertEqual(candidate.component, 2)
        self.assertEqual(candidate.priority, 2130706430)

    def test_invalid_address(self) -> None:
        """
        A host name is not an address.
        """
        self.assertRaises(ValueError, host_candidates, ["example.com"], 9000)

    def test_invalid_port(self) -> None:
        """
        Port 0 cannot be advertised.
        """
        self.assertRaises(ValueError, host_candidates, ["127.0.0.1"], 0)


class CandidateLineTests(SynchronousTestCase):
    """
    Candidate lines (RFC 8839 section 5.1).
    """

    def test_udp_to_sdp(self) -> None:
        """
        A UDP host candidate formats as the RFC 8839 grammar.
        """
        candidate = Candidate("1", 1, "udp", 2130706431, "127.0.0.1", 9000)
        self.assertEqual(
            candidate.to_sdp(), "candidate:1 1 udp 2130706431 127.0.0.1 9000 typ host"
        )

    def test_tcp_to_sdp(self) -> None:
        """
        A passive TCP candidate ends with C{tcptype passive}.
        """
        candidate = Candidate(
            "2", 1, "tcp", 2124414975, "127.0.0.1", 443, tcptype="passive"
        )
        self.assertEqual(
            candidate.to_sdp(),
            "candidate:2 1 tcp 2124414975 127.0.0.1 443 typ host tcptype passive",
        )

    def test_parse_round_trip(self) -> None:
        """
        Parsing a formatted candidate gives it back.
        """
        for candidate in host_candidates(["127.0.0.1", "::1"], 9000, 443):
            self.assertEqual(parse_candidate(candidate.to_sdp()), candidate)

    def test_parse_srflx(self) -> None:
        """
        A server-reflexive candidate keeps its related address.
        """
        candidate = parse_candidate(
            "candidate:842163049 1 udp 1677729535 203.0.113.7 61000 typ srflx "
            "raddr 127.0.0.1 rport 51000 generation 0 network-cost 999"
        )
        self.assertEqual(candidate.type, "srflx")
        self.assertEqual(candidate.related_host, "127.0.0.1")
        self.assertEqual(candidate.related_port, 51000)

    def test_parse_uppercase_transport(self) -> None:
        """
        The transport is case-insensitive and stored in lower case.
        """
        candidate = parse_candidate("1 1 UDP 2122260223 127.0.0.1 5000 typ host")
        self.assertEqual(candidate.transport, "udp")

    def test_parse_too_short(self) -> None:
        """
        A line without C{typ} raises ValueError.
        """
        self.assertRaises(ValueError, parse_candidate, "candidate:1 1 udp 5 h 1")

    def test_parse_bad_number(self) -> None:
        """
        A priority that is not a number raises ValueError.
        """
        self.assertRaises(
            ValueError, parse_candidate, "candidate:1 1 udp high 127.0.0.1 5 typ host"
        )

    def test_parse_bad_component(self) -> None:
        """
        Component 0 is out of the range 1-256.
        """
        self.assertRaises(
            ValueError, parse_candidate, "candidate:1 0 udp 5 127.0.0.1 5 typ host"
        )

    def test_parse_bad_port(self) -> None:
        """
        A port above 65535 raises ValueError.
        """
        self.assertRaises(
            ValueError, parse_candidate, "candidate:1 1 udp 5 127.0.0.1 70000 typ host"
        )
