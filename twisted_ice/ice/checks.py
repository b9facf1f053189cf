"""
Validation of incoming connectivity checks (RFC 8445 section 7.3, RFC 8489
section 9.1.3), apart from what a passed check changes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence

from twisted_ice.ice.credentials import Credentials
from twisted_ice.ice.events import Event
from twisted_ice.ice.session import Stream
from twisted_ice.stun import AttributeType, MessageClass, Method, StunMessage

BAD_REQUEST = 400
UNAUTHORIZED = 401
UNKNOWN_ATTRIBUTE = 420


class CheckResult(enum.StrEnum):
    """
    The kind of outcome of a connectivity check, for the adapter's counters.
    """

    SUCCESS = "success"
    NOT_A_REQUEST = "not-a-request"
    BAD_FINGERPRINT = "bad-fingerprint"
    MISSING_ATTRIBUTE = "missing-attribute"
    UNKNOWN_UFRAG = "unknown-ufrag"
    BAD_INTEGRITY = "bad-integrity"
    WRONG_REMOTE_UFRAG = "wrong-remote-ufrag"
    UNKNOWN_ATTRIBUTE = "unknown-attribute"
    BAD_PRIORITY = "bad-priority"


@dataclasses.dataclass(frozen=True, slots=True)
class CheckOutcome:
    """
    The result of one connectivity check.

    @ivar response: The encoded response to write back on the check's path,
        or L{None} to drop the request.
    @ivar stream: The stream the check authenticated for, or L{None}.
    """

    result: CheckResult
    response: bytes | None
    events: tuple[Event, ...] = ()
    stream: Stream | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AcceptedCheck:
    """
    A check that passed every test: what the agent applies.

    @ivar previous: Whether it used the credentials from before an ICE
        restart.
    """

    stream: Stream
    credentials: Credentials
    previous: bool
    component: int
    use_candidate: bool


def _unsigned_error(
    message: StunMessage, code: int, result: CheckResult
) -> CheckOutcome:
    response = message.error_response(code).encode(fingerprint=True)
    return CheckOutcome(result, response)


def _signed_error(
    message: StunMessage,
    code: int,
    result: CheckResult,
    credentials: Credentials,
    attributes: Sequence[tuple[int, object]] = (),
) -> CheckOutcome:
    response = message.error_response(code, attributes=attributes).encode(
        integrity_key=credentials.local_key, fingerprint=True
    )
    return CheckOutcome(result, response)


def check_component(priority: int, components: int) -> int:
    """
    Return the component a check with this PRIORITY is for.

    The low byte of a priority computed by the RFC 8445 section 5.1.2.1
    formula is 256 - component, which distinguishes RTCP checks from RTP
    ones on one ufrag. Any other value from 1 to 2**31 - 1 is valid too (RFC 8445
    section 7.1.1), so a low byte that names no component of the stream
    means component 1.

    @param components: The number of components of the stream: 1 with
        rtcp-mux, 2 without.
    """
    component = 256 - (priority & 0xFF)
    if 1 <= component <= components:
        return component
    return 1


def validate_check(
    message: StunMessage, find_stream: Callable[[str], Stream | None]
) -> CheckOutcome | AcceptedCheck:
    """
    Run the tests of a connectivity check in order, and return the error
    outcome of the first that fails, or the L{AcceptedCheck}.

    A missing FINGERPRINT, USERNAME or MESSAGE-INTEGRITY gets an unsigned 400
    (RFC 8489 section 9.1.3; RFC 8445 section 7.3 requires FINGERPRINT on
    checks). A wrong FINGERPRINT means the message is not STUN and is dropped
    (RFC 8489 section 7.3). An unknown local ufrag, wrong integrity or a
    wrong remote ufrag gets an unsigned 401. After authentication, an unknown
    comprehension-required attribute gets a signed 420, a missing PRIORITY or
    a PRIORITY of 0 a signed 400. ICE-CONTROLLED and
    ICE-CONTROLLING are not looked at: a lite agent is always controlled, so
    a confused peer gets a normal response instead of a 487.

    @param find_stream: Returns the live stream with this local ufrag, or
        L{None}.
    """
    if (
        message.method != Method.BINDING
        or message.message_class != MessageClass.REQUEST
    ):
        return CheckOutcome(CheckResult.NOT_A_REQUEST, None)

    if message.has_fingerprint and not message.check_fingerprint():
        return CheckOutcome(CheckResult.BAD_FINGERPRINT, None)
    username = message.get(AttributeType.USERNAME)
    if not message.has_fingerprint or not message.has_integrity or username is None:
        return _unsigned_error(message, BAD_REQUEST, CheckResult.MISSING_ATTRIBUTE)

    local_ufrag, _, remote_ufrag = str(username).partition(":")
    stream = find_stream(local_ufrag)
    if stream is None:
        return _unsigned_error(message, UNAUTHORIZED, CheckResult.UNKNOWN_UFRAG)
    credentials = stream.credentials
    previous = credentials.local_ufrag != local_ufrag
    if previous:
        if stream.previous_credentials is None:
            return _unsigned_error(message, UNAUTHORIZED, CheckResult.UNKNOWN_UFRAG)
        credentials = stream.previous_credentials

    if not message.check_integrity(credentials.local_key):
        return _unsigned_error(message, UNAUTHORIZED, CheckResult.BAD_INTEGRITY)
    if remote_ufrag != credentials.remote_ufrag:
        return _unsigned_error(message, UNAUTHORIZED, CheckResult.WRONG_REMOTE_UFRAG)

    unknown = message.unknown_comprehension_required()
    if unknown:
        return _signed_error(
            message,
            UNKNOWN_ATTRIBUTE,
            CheckResult.UNKNOWN_ATTRIBUTE,
            credentials,
            [(AttributeType.UNKNOWN_ATTRIBUTES, tuple(unknown))],
        )
    priority = message.get(AttributeType.PRIORITY)
    if priority is None:
        return _signed_error(
            message, BAD_REQUEST, CheckResult.MISSING_ATTRIBUTE, credentials
        )
    if priority == 0:
        return _signed_error(
            message, BAD_REQUEST, CheckResult.BAD_PRIORITY, credentials
        )

    return AcceptedCheck(
        stream=stream,
        credentials=credentials,
        previous=previous,
        component=check_component(int(priority), stream.components),
        use_candidate=message.has(AttributeType.USE_CANDIDATE),
    )
