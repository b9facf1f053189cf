"""
Tests for the connectivity check rules of L{twisted_ice.ice.IceAgent}.
"""

from __future__ import annotations

import struct
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.addresses import Path, Transport
from twisted_ice.ice import (
    CheckResult,
    IceAgent,
    IceState,
    Nominated,
    PathValidated,
    Session,
    SessionStateChanged,
    StateChanged,
    Stream,
    candidate_priority,
    host_candidates,
)
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
    fingerprint,
)

REMOTE_UFRAG = "Cl1e"
REMOTE_PWD = "clientpasswordclientpw"
LOCAL = ("0.0.0.0", 9000)
PATH = Path(Transport.UDP, LOCAL, ("127.0.0.1", 50000))
OTHER_PATH = Path(Transport.UDP, LOCAL, ("127.0.0.1", 50002))
RTCP_PATH = Path(Transport.UDP, LOCAL, ("127.0.0.1", 50001))
CANDIDATES = host_candidates(["127.0.0.1"], 9000)


def make_offer(
    rtcp_mux: bool = True, ufrag: str = REMOTE_UFRAG, pwd: str = REMOTE_PWD
) -> str:
    """
    Return a one-m-line audio offer with the given ICE credentials.
    """
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        f"a=ice-ufrag:{ufrag}",
        f"a=ice-pwd:{pwd}",
        "a=setup:actpass",
        "a=mid:0",
        "a=rtpmap:111 opus/48000/2",
    ]
    if rtcp_mux:
        lines.append("a=rtcp-mux")
    return "\r\n".join(lines) + "\r\n"


def priority_for(component: int) -> int:
    """
    Return a host candidate priority for C{component}.
    """
    return candidate_priority(126, 65535, component)


def check_attributes(
    stream: Stream,
    *,
    username: str | None = None,
    priority: int | None = None,
    use_candidate: bool = False,
    extra: tuple[tuple[int, Any], ...] = (),
) -> list[tuple[int, Any]]:
    """
    Return the attributes of a browser's check on C{stream}.
    """
    if username is None:
        username = f"{stream.local_ufrag}:{stream.remote_ufrag}"
    attributes: list[tuple[int, Any]] = [
        (AttributeType.USERNAME, username),
        (AttributeType.ICE_CONTROLLING, 0x1234),
        (AttributeType.PRIORITY, priority if priority is not None else priority_for(1)),
    ]
    if use_candidate:
        attributes.append((AttributeType.USE_CANDIDATE, True))
    attributes.extend(extra)
    return attributes


def build_check(
    stream: Stream,
    *,
    key: bytes | None = None,
    integrity: bool = True,
    with_fingerprint: bool = True,
    **kwargs: Any,
) -> StunMessage:
    """
    Encode a check on C{stream} with the codec and decode it again, as the
    mux hands it over.
    """
    request = StunMessage.request(Method.BINDING, check_attributes(stream, **kwargs))
    if key is None:
        key = stream.local_pwd.encode("ascii")
    data = request.encode(
        integrity_key=key if integrity else None, fingerprint=with_fingerprint
    )
    return decode(data)


def append_fingerprint(data: bytes) -> bytes:
    """
    Append a valid FINGERPRINT to an encoded message, fixing its length.
    """
    length = len(data) - 20 + 8
    data = data[:2] + struct.pack("!H", length) + data[4:]
    return data + struct.pack("!HHI", AttributeType.FINGERPRINT, 4, fingerprint(data))


def snapshot(agent: IceAgent) -> object:
    """
    Return everything a check could change in C{agent}, for comparison.
    """
    sessions = []
    for session in agent.sessions.values():
        streams = [
            (
                stream.state,
                stream.selected,
                stream.selected_rtcp,
                dict(stream.valid_paths),
                stream.last_check,
                stream.credentials,
                stream.previous_credentials,
            )
            for stream in session.streams
        ]
        sessions.append((session.id, session.state, streams))
    return (
        sessions,
        dict(agent._paths),
        dict(agent._ufrags),
        list(agent._deadlines),
    )


class CheckTestsMixin:
    """
    An agent with one session, and helpers to send it checks.
    """

    agent: IceAgent
    session: Session
    stream: Stream

    def make_session(self, rtcp_mux: bool = True) -> None:
        """
        Create the agent and its session.
        """
        self.agent = IceAgent()
        self.session = self.agent.create_session(
            make_offer(rtcp_mux), candidates=CANDIDATES, fingerprint=None, now=0.0
        )
        self.stream = self.session.streams[0]


class ValidCheckTests(CheckTestsMixin, SynchronousTestCase):
    """
    A valid check gets a signed success response.
    """

    def setUp(self) -> None:
        self.make_session()
        self.outcome = self.agent.handle_check(build_check(self.stream), PATH, 1.0)
        assert self.outcome.response is not None
        self.response = decode(self.outcome.response)

    def test_result_success(self) -> None:
        """
        The outcome is a success for the session's stream.
        """
        self.assertEqual(self.outcome.result, CheckResult.SUCCESS)
        self.assertIs(self.outcome.stream, self.stream)

    def test_success_response(self) -> None:
        """
        The response is a Binding success response with the request's
        transaction id.
        """
        self.assertEqual(self.response.method, Method.BINDING)
        self.assertEqual(self.response.message_class, MessageClass.SUCCESS_RESPONSE)

    def test_xor_mapped_address(self) -> None:
        """
        XOR-MAPPED-ADDRESS is the client's address on the path.
        """
        self.assertEqual(
            self.response.get(AttributeType.XOR_MAPPED_ADDRESS), ("127.0.0.1", 50000)
        )

    def test_integrity_with_local_pwd(self) -> None:
        """
        MESSAGE-INTEGRITY uses our ice-pwd, the same key as the request.
        """
        self.assertTrue(
            self.response.check_integrity(self.stream.local_pwd.encode("ascii"))
        )

    def test_fingerprint(self) -> None:
        """
        The response ends with a valid FINGERPRINT.
        """
        self.assertTrue(self.response.check_fingerprint())

    def test_path_valid(self) -> None:
        """
        The path passed a check, so its media is accepted.
        """
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)
        self.assertEqual(self.stream.valid_paths.get(PATH), 1)

    def test_other_path_not_valid(self) -> None:
        """
        A path that passed no check belongs to no stream.
        """
        self.assertIsNone(self.agent.stream_for_path(OTHER_PATH))

    def test_connected(self) -> None:
        """
        A passed check without USE-CANDIDATE makes the stream and session
        connected, without a selected path.
        """
        self.assertEqual(self.stream.state, IceState.CONNECTED)
        self.assertEqual(self.session.state, IceState.CONNECTED)
        self.assertIsNone(self.stream.selected)

    def test_events(self) -> None:
        """
        The first check validates the path and changes both states.
        """
        self.assertEqual(
            self.outcome.events,
            (
                PathValidated(self.stream, PATH, 1),
                StateChanged(self.stream, IceState.NEW, IceState.CONNECTED),
                SessionStateChanged(self.session, IceState.NEW, IceState.CONNECTED),
            ),
        )

    def test_repeated_check_no_events(self) -> None:
        """
        The same check again changes nothing, so it returns no events.
        """
        outcome = self.agent.handle_check(build_check(self.stream), PATH, 2.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(outcome.events, ())

    def test_ice_controlled_answered(self) -> None:
        """
        A confused peer that claims to be controlled gets a success, not a
        487: a lite agent never has a role conflict.
        """
        message = build_check(
            self.stream, extra=((AttributeType.ICE_CONTROLLED, 0x99),)
        )
        outcome = self.agent.handle_check(message, PATH, 2.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)

    def test_comprehension_optional_ignored(self) -> None:
        """
        An unknown attribute of 0x8000 or above is ignored.
        """
        message = build_check(self.stream, extra=((0xC0DE, b"\x00\x01"),))
        outcome = self.agent.handle_check(message, PATH, 2.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)


class BadCheckTests(CheckTestsMixin, SynchronousTestCase):
    """
    A check that fails a test gets the RFC's error response or is dropped,
    and changes no state at all.
    """

    def setUp(self) -> None:
        self.make_session()
        # One valid check first, so that there is state to leave alone.
        self.agent.handle_check(build_check(self.stream), OTHER_PATH, 1.0)
        self.before = snapshot(self.agent)

    def assert_unchanged(self) -> None:
        """
        Assert that the agent's state is what it was after setUp.
        """
        self.assertEqual(snapshot(self.agent), self.before)

    def handle(self, message: StunMessage) -> tuple[CheckResult, StunMessage | None]:
        """
        Hand C{message} to the agent on L{PATH} at time 5 and decode the
        response.
        """
        outcome = self.agent.handle_check(message, PATH, 5.0)
        self.assertEqual(outcome.events, ())
        self.assertIsNone(outcome.stream)
        if outcome.response is None:
            return outcome.result, None
        return outcome.result, decode(outcome.response)

    def assert_error(
        self, response: StunMessage | None, code: int, signed: bool
    ) -> StunMessage:
        """
        Assert that C{response} is an error response with C{code}, with a
        FINGERPRINT, and with MESSAGE-INTEGRITY exactly when C{signed}.
        """
        assert response is not None
        self.assertEqual(response.message_class, MessageClass.ERROR_RESPONSE)
        self.assertEqual(response.get(AttributeType.ERROR_CODE).code, code)
        self.assertTrue(response.check_fingerprint())
        self.assertEqual(response.has_integrity, signed)
        if signed:
            key = self.stream.local_pwd.encode("ascii")
            self.assertTrue(response.check_integrity(key))
        return response

    def test_missing_username_gets_400(self) -> None:
        """
        A check without USERNAME gets an unsigned 400 (RFC 8489 section
        9.1.3).
        """
        message = build_check(self.stream)
        message.attributes = [
            item for item in message.attributes if item[0] != AttributeType.USERNAME
        ]
        request = StunMessage(
            Method.BINDING,
            MessageClass.REQUEST,
            message.transaction_id,
            message.attributes,
        )
        key = self.stream.local_pwd.encode("ascii")
        result, response = self.handle(
            decode(request.encode(integrity_key=key, fingerprint=True))
        )
        self.assertEqual(result, CheckResult.MISSING_ATTRIBUTE)
        self.assert_error(response, 400, signed=False)
        self.assert_unchanged()

    def test_missing_integrity_gets_400(self) -> None:
        """
        A check without MESSAGE-INTEGRITY gets an unsigned 400.
        """
        result, response = self.handle(build_check(self.stream, integrity=False))
        self.assertEqual(result, CheckResult.MISSING_ATTRIBUTE)
        self.assert_error(response, 400, signed=False)
        self.assert_unchanged()

    def test_missing_fingerprint_gets_400(self) -> None:
        """
        A check without FINGERPRINT gets an unsigned 400: RFC 8445 section
        7.3 requires it on every check.
        """
        result, response = self.handle(build_check(self.stream, with_fingerprint=False))
        self.assertEqual(result, CheckResult.MISSING_ATTRIBUTE)
        self.assert_error(response, 400, signed=False)
        self.assert_unchanged()

    def test_missing_priority_gets_400(self) -> None:
        """
        An authenticated check without PRIORITY gets a signed 400.
        """
        message = StunMessage.request(
            Method.BINDING,
            [
                (
                    AttributeType.USERNAME,
                    f"{self.stream.local_ufrag}:{REMOTE_UFRAG}",
                ),
                (AttributeType.USE_CANDIDATE, True),
            ],
        )
        key = self.stream.local_pwd.encode("ascii")
        result, response = self.handle(
            decode(message.encode(integrity_key=key, fingerprint=True))
        )
        self.assertEqual(result, CheckResult.MISSING_ATTRIBUTE)
        self.assert_error(response, 400, signed=True)
        self.assert_unchanged()

    def test_wrong_fingerprint_dropped(self) -> None:
        """
        A check whose FINGERPRINT does not match is not STUN (RFC 8489
        section 7.3): it is dropped without a response.
        """
        request = StunMessage.request(
            Method.BINDING, check_attributes(self.stream, use_candidate=True)
        )
        data = bytearray(
            request.encode(
                integrity_key=self.stream.local_pwd.encode("ascii"), fingerprint=True
            )
        )
        data[-1] ^= 0xFF
        result, response = self.handle(decode(bytes(data)))
        self.assertEqual(result, CheckResult.BAD_FINGERPRINT)
        self.assertIsNone(response)
        self.assert_unchanged()

    def test_unknown_ufrag_gets_401(self) -> None:
        """
        A USERNAME whose local part is no ufrag of ours gets an unsigned 401
        (RFC 8489 section 9.1.3).
        """
        message = build_check(
            self.stream, username=f"NoSuchUfrag:{REMOTE_UFRAG}", use_candidate=True
        )
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.UNKNOWN_UFRAG)
        self.assert_error(response, 401, signed=False)
        self.assert_unchanged()

    def test_username_without_colon_gets_401(self) -> None:
        """
        A USERNAME without the C{:} separator names no stream: 401.
        """
        message = build_check(self.stream, username=self.stream.local_ufrag)
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.WRONG_REMOTE_UFRAG)
        self.assert_error(response, 401, signed=False)
        self.assert_unchanged()

    def test_wrong_remote_ufrag_gets_401(self) -> None:
        """
        A USERNAME whose remote part is not the offer's ufrag gets an
        unsigned 401.
        """
        message = build_check(
            self.stream,
            username=f"{self.stream.local_ufrag}:Othr",
            use_candidate=True,
        )
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.WRONG_REMOTE_UFRAG)
        self.assert_error(response, 401, signed=False)
        self.assert_unchanged()

    def test_wrong_password_gets_401(self) -> None:
        """
        MESSAGE-INTEGRITY computed with another password gets an unsigned 401
        (RFC 8489 section 9.1.3).
        """
        message = build_check(
            self.stream, key=b"wrongpasswordwrongpassword", use_candidate=True
        )
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.BAD_INTEGRITY)
        self.assert_error(response, 401, signed=False)
        self.assert_unchanged()

    def test_remote_pwd_gets_401(self) -> None:
        """
        The client's own ice-pwd is not the key of checks sent to us.
        """
        message = build_check(self.stream, key=REMOTE_PWD.encode("ascii"))
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.BAD_INTEGRITY)
        self.assert_error(response, 401, signed=False)
        self.assert_unchanged()

    def test_unknown_comprehension_required_gets_420(self) -> None:
        """
        An authenticated check with an unknown attribute below 0x8000 gets a
        signed 420 listing it in UNKNOWN-ATTRIBUTES (RFC 8489 section 6.3.1).
        """
        message = build_check(
            self.stream, use_candidate=True, extra=((0x7F01, b"\x00\x00\x00\x00"),)
        )
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.UNKNOWN_ATTRIBUTE)
        error = self.assert_error(response, 420, signed=True)
        self.assertEqual(error.get(AttributeType.UNKNOWN_ATTRIBUTES), (0x7F01,))
        self.assert_unchanged()

    def test_unknown_attribute_unauthenticated_gets_401(self) -> None:
        """
        Unknown attributes are looked at only after authentication: with a
        wrong password the check gets 401, not 420.
        """
        message = build_check(
            self.stream,
            key=b"wrongpasswordwrongpassword",
            extra=((0x7F01, b"\x00\x00\x00\x00"),),
        )
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.BAD_INTEGRITY)
        self.assert_error(response, 401, signed=False)
        self.assert_unchanged()

    def test_component_2_with_rtcp_mux_is_component_1(self) -> None:
        """
        A stream with rtcp-mux has only component 1, so a check whose
        PRIORITY ends in 254 (256 - 2) validates its path for component 1.
        """
        message = build_check(self.stream, priority=priority_for(2))
        outcome = self.agent.handle_check(message, PATH, 5.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.valid_paths.get(PATH), 1)

    def test_priority_1_is_component_1(self) -> None:
        """
        PRIORITY 1 is valid (RFC 8445 allows 1 to 2**31 - 1) although its
        low byte names no component: the check is for component 1.
        """
        message = build_check(self.stream, priority=1)
        outcome = self.agent.handle_check(message, PATH, 5.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.valid_paths.get(PATH), 1)

    def test_priority_low_byte_zero_is_component_1(self) -> None:
        """
        A PRIORITY whose low byte is 0 would mean component 256, which no
        stream has, so the check is for component 1.
        """
        message = build_check(self.stream, priority=0x7E000000)
        outcome = self.agent.handle_check(message, PATH, 5.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.valid_paths.get(PATH), 1)

    def test_priority_0_gets_400(self) -> None:
        """
        PRIORITY 0 is outside RFC 8445's range of 1 to 2**31 - 1, so the
        check gets a signed 400.
        """
        message = build_check(self.stream, priority=0)
        result, response = self.handle(message)
        self.assertEqual(result, CheckResult.BAD_PRIORITY)
        self.assert_error(response, 400, signed=True)
        self.assert_unchanged()

    def test_indication_dropped(self) -> None:
        """
        A Binding indication (a keepalive) is not a check: dropped.
        """
        message = StunMessage.indication(Method.BINDING)
        result, response = self.handle(decode(message.encode(fingerprint=True)))
        self.assertEqual(result, CheckResult.NOT_A_REQUEST)
        self.assertIsNone(response)
        self.assert_unchanged()

    def test_success_response_dropped(self) -> None:
        """
        A Binding success response is never answered.
        """
        request = build_check(self.stream)
        message = request.success_response([(AttributeType.XOR_MAPPED_ADDRESS, LOCAL)])
        key = self.stream.local_pwd.encode("ascii")
        result, response = self.handle(
            decode(message.encode(integrity_key=key, fingerprint=True))
        )
        self.assertEqual(result, CheckResult.NOT_A_REQUEST)
        self.assertIsNone(response)
        self.assert_unchanged()

    def test_other_method_dropped(self) -> None:
        """
        A request of another method is not a check: dropped.
        """
        message = StunMessage.request(
            Method.ALLOCATE, check_attributes(self.stream, use_candidate=True)
        )
        key = self.stream.local_pwd.encode("ascii")
        result, response = self.handle(
            decode(message.encode(integrity_key=key, fingerprint=True))
        )
        self.assertEqual(result, CheckResult.NOT_A_REQUEST)
        self.assertIsNone(response)
        self.assert_unchanged()


class NominationTests(CheckTestsMixin, SynchronousTestCase):
    """
    USE-CANDIDATE nominates the path the check arrived on.
    """

    def setUp(self) -> None:
        self.make_session()

    def test_use_candidate_nominates(self) -> None:
        """
        A check with USE-CANDIDATE selects its path and completes the stream
        and the session.
        """
        message = build_check(self.stream, use_candidate=True)
        outcome = self.agent.handle_check(message, PATH, 1.0)
        self.assertEqual(self.stream.selected, PATH)
        self.assertEqual(self.stream.send_path, PATH)
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertEqual(self.session.state, IceState.COMPLETED)
        self.assertIn(Nominated(self.stream, PATH, 1, None), outcome.events)

    def test_renomination_moves_selected(self) -> None:
        """
        A later nomination on another path replaces the earlier one.
        """
        self.agent.handle_check(build_check(self.stream, use_candidate=True), PATH, 1.0)
        outcome = self.agent.handle_check(
            build_check(self.stream, use_candidate=True), OTHER_PATH, 2.0
        )
        self.assertEqual(self.stream.selected, OTHER_PATH)
        self.assertIn(Nominated(self.stream, OTHER_PATH, 1, PATH), outcome.events)
        self.assertEqual(self.stream.state, IceState.COMPLETED)

    def test_media_from_every_valid_path(self) -> None:
        """
        After renomination, media is still accepted from the earlier path
        while it is sent on the new one.
        """
        self.agent.handle_check(build_check(self.stream, use_candidate=True), PATH, 1.0)
        self.agent.handle_check(
            build_check(self.stream, use_candidate=True), OTHER_PATH, 2.0
        )
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)
        self.assertIs(self.agent.stream_for_path(OTHER_PATH), self.stream)
        self.assertEqual(self.stream.send_path, OTHER_PATH)

    def test_check_without_use_candidate_keeps_selected(self) -> None:
        """
        A check without USE-CANDIDATE on another path does not undo the
        nomination.
        """
        self.agent.handle_check(build_check(self.stream, use_candidate=True), PATH, 1.0)
        outcome = self.agent.handle_check(build_check(self.stream), OTHER_PATH, 2.0)
        self.assertEqual(self.stream.selected, PATH)
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertEqual(outcome.events, (PathValidated(self.stream, OTHER_PATH, 1),))

    def test_renomination_same_path_no_event(self) -> None:
        """
        USE-CANDIDATE again on the selected path is no new nomination.
        """
        self.agent.handle_check(build_check(self.stream, use_candidate=True), PATH, 1.0)
        outcome = self.agent.handle_check(
            build_check(self.stream, use_candidate=True), PATH, 2.0
        )
        self.assertEqual(outcome.events, ())

    def test_use_candidate_after_integrity_ignored(self) -> None:
        """
        USE-CANDIDATE placed after MESSAGE-INTEGRITY is not protected, so it
        nominates nothing; the check itself passes.
        """
        request = StunMessage.request(Method.BINDING, check_attributes(self.stream))
        data = request.encode(integrity_key=self.stream.local_pwd.encode("ascii"))
        data = data + struct.pack("!HH", AttributeType.USE_CANDIDATE, 0)
        message = decode(append_fingerprint(data))
        self.assertEqual(
            [item[0] for item in message.ignored_attributes],
            [AttributeType.USE_CANDIDATE],
        )
        outcome = self.agent.handle_check(message, PATH, 1.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertIsNone(self.stream.selected)
        self.assertEqual(self.stream.state, IceState.CONNECTED)


class RtcpComponentTests(CheckTestsMixin, SynchronousTestCase):
    """
    Without rtcp-mux, PRIORITY's low byte distinguishes RTCP checks from RTP ones.
    """

    def setUp(self) -> None:
        self.make_session(rtcp_mux=False)

    def test_rtcp_check_component_2(self) -> None:
        """
        A check whose PRIORITY ends in 254 (256 - 2) validates its path for
        component 2.
        """
        message = build_check(self.stream, priority=priority_for(2))
        outcome = self.agent.handle_check(message, RTCP_PATH, 1.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.valid_paths, {RTCP_PATH: 2})
        self.assertIs(self.agent.stream_for_path(RTCP_PATH), self.stream)

    def test_rtcp_nomination(self) -> None:
        """
        USE-CANDIDATE on an RTCP check selects the RTCP path and leaves the
        RTP selection alone.
        """
        self.agent.handle_check(build_check(self.stream, use_candidate=True), PATH, 1.0)
        message = build_check(self.stream, priority=priority_for(2), use_candidate=True)
        outcome = self.agent.handle_check(message, RTCP_PATH, 2.0)
        self.assertEqual(self.stream.selected_rtcp, RTCP_PATH)
        self.assertEqual(self.stream.selected, PATH)
        self.assertIn(Nominated(self.stream, RTCP_PATH, 2, None), outcome.events)

    def test_priority_1_without_rtcp_mux(self) -> None:
        """
        PRIORITY 1's low byte names no component, so even without rtcp-mux
        the check is for component 1.
        """
        message = build_check(self.stream, priority=1)
        outcome = self.agent.handle_check(message, RTCP_PATH, 1.0)
        self.assertEqual(outcome.result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.valid_paths, {RTCP_PATH: 1})

    def test_rtp_check_component_1(self) -> None:
        """
        A check whose PRIORITY ends in 255 is for component 1.
        """
        self.agent.handle_check(build_check(self.stream), PATH, 1.0)
        self.assertEqual(self.stream.valid_paths.get(PATH), 1)
