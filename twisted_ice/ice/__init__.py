"""
A sans-I/O lite ICE agent (RFC 8445 section 2.5) and the SDP offer/answer
code it needs.

L{IceAgent} creates sessions from SDP offers and answers their connectivity
checks; time comes in as C{now} and nothing here does I/O.
"""

from twisted_ice.ice.agent import CONSENT_TIMEOUT, IceAgent
from twisted_ice.ice.answer import AnswerError, build_answer, negotiate_bundle
from twisted_ice.ice.candidates import (
    HOST_TYPE_PREFERENCE,
    Candidate,
    candidate_priority,
    host_candidates,
    parse_candidate,
)
from twisted_ice.ice.checks import CheckOutcome, CheckResult
from twisted_ice.ice.credentials import Credentials, is_valid_pwd, is_valid_ufrag
from twisted_ice.ice.events import (
    ConsentExpired,
    CredentialsRetired,
    Event,
    Nominated,
    PathClosed,
    PathValidated,
    SessionStateChanged,
    StateChanged,
)
from twisted_ice.ice.sdp import (
    Group,
    MediaDescription,
    Offer,
    OfferError,
    StreamOffer,
    parse_offer,
)
from twisted_ice.ice.session import Session, Stream
from twisted_ice.ice.states import (
    STREAM_TRANSITIONS,
    IceState,
    InvalidTransitionError,
    StreamInput,
)

__all__ = [
    "CONSENT_TIMEOUT",
    "HOST_TYPE_PREFERENCE",
    "STREAM_TRANSITIONS",
    "AnswerError",
    "Candidate",
    "CheckOutcome",
    "CheckResult",
    "ConsentExpired",
    "Credentials",
    "CredentialsRetired",
    "Event",
    "Group",
    "IceAgent",
    "IceState",
    "InvalidTransitionError",
    "MediaDescription",
    "Nominated",
    "Offer",
    "OfferError",
    "PathClosed",
    "PathValidated",
    "Session",
    "SessionStateChanged",
    "StateChanged",
    "Stream",
    "StreamInput",
    "StreamOffer",
    "build_answer",
    "candidate_priority",
    "host_candidates",
    "is_valid_pwd",
    "is_valid_ufrag",
    "negotiate_bundle",
    "parse_candidate",
    "parse_offer",
]
