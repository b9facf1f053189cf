"""
ICE candidates: the host candidates this server advertises, and the candidate
lines of an offer.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import zlib
from collections.abc import Iterable

HOST_TYPE_PREFERENCE = 126
"""
The type preference of host candidates (RFC 8445 section 5.1.2.2).
"""

PASSIVE_DIRECTION_PREFERENCE = 4
"""
The RFC 6544 section 4.2 direction preference of a passive host candidate.
"""

MAX_LOCAL_PREFERENCE = 65535
MAX_TCP_OTHER_PREFERENCE = 8191


def candidate_priority(
    type_preference: int, local_preference: int, component: int
) -> int:
    """
    Compute a candidate priority by RFC 8445 section 5.1.2.1:
    C{2^24 * type preference + 2^8 * local preference + (256 - component)}.
    """
    return (type_preference << 24) + (local_preference << 8) + (256 - component)


def tcp_local_preference(direction_preference: int, other_preference: int) -> int:
    """
    Compute the local preference of a TCP candidate by RFC 6544 section 4.2:
    C{2^13 * direction preference + other preference}.
    """
    return (direction_preference << 13) + other_preference


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """
    One ICE candidate, as an C{a=candidate} line carries it (RFC 8839 section
    5.1).

    @ivar transport: C{"udp"} or C{"tcp"} in lower case; other transports from
        an offer are kept as they are written, lowered.
    @ivar tcptype: C{"active"}, C{"passive"} or C{"so"} for TCP candidates,
        else L{None}.
    """

    foundation: str
    component: int
    transport: str
    priority: int
    host: str
    port: int
    type: str = "host"
    tcptype: str | None = None
    related_host: str | None = None
    related_port: int | None = None

    def to_sdp(self) -> str:
        """
        Format this candidate as the value of an C{a=candidate} attribute,
        starting with C{candidate:} and without the C{a=}.
        """
        line = (
            f"candidate:{self.foundation} {self.component} {self.transport} "
            f"{self.priority} {self.host} {self.port} typ {self.type}"
        )
        if self.related_host is not None and self.related_port is not None:
            line += f" raddr {self.related_host} rport {self.related_port}"
        if self.tcptype is not None:
            line += f" tcptype {self.tcptype}"
        return line

    def for_component(self, component: int) -> Candidate:
        """
        Return this candidate for another component: same address, the
        priority recomputed for C{component} (RFC 8445 section 5.1.2.1).
        """
        priority = self.priority - (256 - self.component) + (256 - component)
        return dataclasses.replace(self, component=component, priority=priority)


def _foundation(transport: str, host: str) -> str:
    # RFC 8445 section 5.1.1.3: the same type, base address and transport share
    # a foundation, so a stable hash of them is one.
    return str(zlib.crc32(f"host {transport} {host}".encode()))


def host_candidates(
    addresses: Iterable[str], udp_port: int, tcp_port: int | None = None
) -> tuple[Candidate, ...]:
    """
    Build the component-1 host candidates for C{addresses}: one UDP candidate
    per address on C{udp_port}, and one passive TCP candidate per address on
    C{tcp_port} when it is given.

    Earlier addresses get higher local preferences, and every UDP candidate
    ranks above every TCP candidate.

    @raise ValueError: An address is not an IP address, or a port is not in
        1-65535.
    """
    hosts = [str(ipaddress.ip_address(address)) for address in addresses]
    for port in (udp_port, tcp_port):
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"port {port} is not in the range 1-65535")

    candidates = []
    for index, host in enumerate(hosts):
        priority = candidate_priority(
            HOST_TYPE_PREFERENCE, MAX_LOCAL_PREFERENCE - index, 1
        )
        candidates.append(
            Candidate(_foundation("udp", host), 1, "udp", priority, host, udp_port)
        )
    if tcp_port is not None:
        for index, host in enumerate(hosts):
            local_preference = tcp_local_preference(
                PASSIVE_DIRECTION_PREFERENCE, MAX_TCP_OTHER_PREFERENCE - index
            )
            priority = candidate_priority(HOST_TYPE_PREFERENCE, local_preference, 1)
            candidates.append(
                Candidate(
                    _foundation("tcp", host),
                    1,
                    "tcp",
                    priority,
                    host,
                    tcp_port,
                    tcptype="passive",
                )
            )
    return tuple(candidates)


def parse_candidate(value: str) -> Candidate:
    """
    Parse the value of an C{a=candidate} attribute (RFC 8839 section 5.1),
    with or without the leading C{candidate:}.

    Extension attributes other than C{raddr}, C{rport} and C{tcptype} are
    skipped.

    @raise ValueError: The value has fewer than the eight mandatory fields, or
        a component, priority or port that is not a number in range.
    """
    if value.startswith("candidate:"):
        value = value[len("candidate:") :]
    fields = value.split()
    if len(fields) < 8 or fields[6] != "typ":
        raise ValueError(
            f"candidate {value!r} does not have the form "
            "'foundation component transport priority address port typ type'"
        )
    foundation, component, transport, priority, host, port, _, kind = fields[:8]
    if not (component.isdigit() and priority.isdigit() and port.isdigit()):
        raise ValueError(
            f"candidate {value!r} has a component, priority or port that is not "
            "a number"
        )
    component_id = int(component)
    if not 1 <= component_id <= 256:
        raise ValueError(f"candidate {value!r} has component {component_id}, not 1-256")
    if int(priority) >= 2**31 or int(port) > 65535:
        raise ValueError(f"candidate {value!r} has a priority or port out of range")

    extensions = fields[8:]
    named = dict(zip(extensions[0::2], extensions[1::2], strict=False))
    related_port = named.get("rport")
    return Candidate(
        foundation=foundation,
        component=component_id,
        transport=transport.lower(),
        priority=int(priority),
        host=host,
        port=int(port),
        type=kind,
        tcptype=named.get("tcptype"),
        related_host=named.get("raddr"),
        related_port=(
            int(related_port)
            if related_port is not None and related_port.isdigit()
            else None
        ),
    )
