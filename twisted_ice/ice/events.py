"""
The events the lite agent returns.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from twisted_ice.addresses import Path
from twisted_ice.ice.states import IceState

if TYPE_CHECKING:
    from twisted_ice.ice.session import Session, Stream


@dataclasses.dataclass(frozen=True, slots=True)
class PathValidated:
    """
    A path passed its first check on C{stream}: media from it is accepted.
    """

    stream: Stream
    path: Path
    component: int


@dataclasses.dataclass(frozen=True, slots=True)
class Nominated:
    """
    A check with USE-CANDIDATE selected C{path} for C{component};
    C{previous} is the path it replaces, or L{None}.
    """

    stream: Stream
    path: Path
    component: int
    previous: Path | None


@dataclasses.dataclass(frozen=True, slots=True)
class StateChanged:
    """
    C{stream} moved from C{old} to C{new}.
    """

    stream: Stream
    old: IceState
    new: IceState


@dataclasses.dataclass(frozen=True, slots=True)
class SessionStateChanged:
    """
    C{session} moved from C{old} to C{new}.
    """

    session: Session
    old: IceState
    new: IceState


@dataclasses.dataclass(frozen=True, slots=True)
class ConsentExpired:
    """
    No check passed on C{stream} for the consent timeout (RFC 7675): media
    from C{paths} is no longer accepted and nothing may be sent.
    """

    stream: Stream
    paths: tuple[Path, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class PathClosed:
    """
    The TCP or TLS connection of C{path} closed, so C{stream} no longer
    accepts media from it; C{selected} is whether it was one of the stream's
    nominated paths, a nomination that is now cleared.
    """

    stream: Stream
    path: Path
    component: int
    selected: bool


@dataclasses.dataclass(frozen=True, slots=True)
class CredentialsRetired:
    """
    The first check with the new credentials after an ICE restart passed, so
    the previous local ufrag C{ufrag} is no longer accepted.
    """

    stream: Stream
    ufrag: str


Event = (
    PathValidated
    | Nominated
    | StateChanged
    | SessionStateChanged
    | ConsentExpired
    | PathClosed
    | CredentialsRetired
)
"""
Any event of the agent.
"""
