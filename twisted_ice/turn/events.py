"""
The results of the TURN core: data to send and allocation lifecycle events.

L{SendToClient} and L{SendToPeer} are built for every relayed packet, so they
are C{NamedTuple}s, which are cheaper to build than frozen dataclasses. The
per-packet code builds them with L{send_to_client} and L{send_to_peer}, which
skip the Python-level C{__new__} of a NamedTuple.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, cast

from twisted_ice.addresses import Address, Path


class SendToClient(NamedTuple):
    """
    Send one STUN or ChannelData message to the client of C{path}.
    """

    path: Path
    data: bytes


class SendToPeer(NamedTuple):
    """
    Send one UDP datagram from the relayed address C{relay} to C{peer}.
    """

    relay: Address
    peer: Address
    data: bytes


send_to_client = cast(
    Callable[[tuple[Path, bytes]], SendToClient],
    functools.partial(tuple.__new__, SendToClient),
)
"""
Build a L{SendToClient} from a C{(path, data)} tuple, in C.
"""

send_to_peer = cast(
    Callable[[tuple[Address, Address, bytes]], SendToPeer],
    functools.partial(tuple.__new__, SendToPeer),
)
"""
Build a L{SendToPeer} from a C{(relay, peer, data)} tuple, in C.
"""


@dataclass(frozen=True, slots=True)
class NeedKeys:
    """
    The request needs the long-term keys of C{username} in C{realm} before the
    core can authenticate it.
    """

    username: str
    realm: str


class DeletionReason(enum.Enum):
    """
    The cause of an allocation's deletion.
    """

    REFRESH = "refresh"
    """
    A Refresh request with LIFETIME 0.
    """

    EXPIRED = "expired"
    """
    Its lifetime ran out.
    """

    PATH_CLOSED = "path closed"
    """
    Its TCP or TLS connection closed.
    """


@dataclass(frozen=True, slots=True)
class AllocationCreated:
    """
    An allocation was created on C{path} for C{username}.

    @ivar relays: The relayed transport addresses, one per address family.
    @ivar lifetime: The granted lifetime in seconds.
    """

    path: Path
    relays: tuple[Address, ...]
    username: str
    lifetime: float

    def __post_init__(self) -> None:
        if not self.relays:
            raise ValueError("an allocation has at least one relayed address")
        if self.lifetime <= 0:
            raise ValueError(f"allocation lifetime {self.lifetime} is not positive")


@dataclass(frozen=True, slots=True)
class AllocationDeleted:
    """
    The allocation on C{path} was deleted, and its relayed addresses
    released through the allocator.
    """

    path: Path
    relays: tuple[Address, ...]
    username: str
    reason: DeletionReason


TurnAction = SendToClient | SendToPeer | AllocationCreated | AllocationDeleted
"""
Anything L{twisted_ice.turn.TurnCore} asks its adapter to do or to know.
"""
