"""
Tests for the sessions, registries, consent and ICE restart of
L{twisted_ice.ice.IceAgent}.
"""

from __future__ import annotations

import re

from twisted.trial.unittest import SynchronousTestCase

from tests.test_ice_checks import (
    CANDIDATES,
    OTHER_PATH,
    PATH,
    REMOTE_PWD,
    REMOTE_UFRAG,
    build_check,
    make_offer,
)
from twisted_ice.addresses import Path, Transport
from twisted_ice.ice import (
    CheckResult,
    ConsentExpired,
    CredentialsRetired,
    IceAgent,
    IceState,
    OfferError,
    PathClosed,
    Session,
    Stream,
)

ICE_CHARS = re.compile(r"[A-Za-z0-9+/]+")

TCP_PATH = Path(Transport.TCP, ("127.0.0.1", 443), ("127.0.0.1", 50010))
OTHER_TCP_PATH = Path(Transport.TLS, ("127.0.0.1", 443), ("127.0.0.1", 50011))

TWO_STREAMS_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=ice-ufrag:Aud1",
        "a=ice-pwd:audiopasswordaudiopass",
        "a=mid:a",
        "a=rtcp-mux",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=ice-ufrag:Vid1",
        "a=ice-pwd:videopasswordvideopass",
        "a=mid:v",
        "a=rtcp-mux",
        "",
    ]
)


def new_session(agent: IceAgent, offer: str | None = None) -> Session:
    """
    Create a session on C{agent} at time 0.
    """
    return agent.create_session(
        offer or make_offer(), candidates=CANDIDATES, fingerprint=None, now=0.0
    )


def check(
    agent: IceAgent,
    stream: Stream,
    now: float,
    path: Path = PATH,
    use_candidate: bool = False,
) -> CheckResult:
    """
    Send C{stream} a valid check at C{now} and return its result.
    """
    message = build_check(stream, use_candidate=use_candidate)
    return agent.handle_check(message, path, now).result


class SessionTests(SynchronousTestCase):
    """
    Creating, finding and closing sessions.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        self.session = new_session(self.agent)
        self.stream = self.session.streams[0]

    def test_session_id_url_safe(self) -> None:
        """
        The session id is at least 22 URL-safe characters (128 bits).
        """
        self.assertGreaterEqual(len(self.session.id), 22)
        self.assertRegex(self.session.id, r"^[A-Za-z0-9_-]+$")

    def test_local_ufrag(self) -> None:
        """
        The local ufrag is 16 ice-chars (96 random bits), more than the 24
        random bits RFC 8445 requires.
        """
        self.assertEqual(len(self.stream.local_ufrag), 16)
        self.assertRegex(self.stream.local_ufrag, ICE_CHARS)

    def test_local_pwd(self) -> None:
        """
        The local password is 32 ice-chars (192 random bits, at least 128).
        """
        self.assertEqual(len(self.stream.local_pwd), 32)
        self.assertRegex(self.stream.local_pwd, ICE_CHARS)

    def test_credentials_differ(self) -> None:
        """
        Each session gets its own credentials.
        """
        other = new_session(self.agent).streams[0]
        self.assertNotEqual(other.local_ufrag, self.stream.local_ufrag)
        self.assertNotEqual(other.local_pwd, self.stream.local_pwd)

    def test_remote_credentials(self) -> None:
        """
        The stream stores the offer's ufrag and password.
        """
        self.assertEqual(self.stream.remote_ufrag, REMOTE_UFRAG)
        self.assertEqual(self.stream.remote_pwd, REMOTE_PWD)

    def test_new_state(self) -> None:
        """
        A new session and its stream are in state new.
        """
        self.assertEqual(self.session.state, IceState.NEW)
        self.assertEqual(self.stream.state, IceState.NEW)

    def test_answer_has_credentials(self) -> None:
        """
        The answer carries the stream's local ufrag and password.
        """
        self.assertIn(f"a=ice-ufrag:{self.stream.local_ufrag}\r\n", self.session.answer)
        self.assertIn(f"a=ice-pwd:{self.stream.local_pwd}\r\n", self.session.answer)

    def test_registered(self) -> None:
        """
        The session and its ufrag are registered.
        """
        self.assertIs(self.agent.get_session(self.session.id), self.session)
        self.assertIn(self.session.id, self.agent.sessions)
        self.assertTrue(self.agent.is_local_ufrag(self.stream.local_ufrag))

    def test_unknown_session(self) -> None:
        """
        An unknown id finds no session.
        """
        self.assertIsNone(self.agent.get_session("nope"))
        self.assertFalse(self.agent.is_local_ufrag("nope"))

    def test_bad_offer_registers_nothing(self) -> None:
        """
        An invalid offer raises L{OfferError} and adds no session.
        """
        self.assertRaises(
            OfferError,
            self.agent.create_session,
            "v=0\r\n",
            candidates=CANDIDATES,
            fingerprint=None,
            now=0.0,
        )
        self.assertEqual(list(self.agent.sessions), [self.session.id])

    def test_lite_offer_rejected(self) -> None:
        """
        An offer from another lite agent raises L{OfferError}: neither side
        would send checks.
        """
        offer = make_offer().replace("t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n")
        error = self.assertRaises(
            OfferError,
            self.agent.create_session,
            offer,
            candidates=CANDIDATES,
            fingerprint=None,
            now=0.0,
        )
        self.assertIn("a=ice-lite", str(error))

    def test_one_stream_per_unbundled_m_line(self) -> None:
        """
        Two m-lines without BUNDLE make two streams with their own ufrags.
        """
        session = new_session(self.agent, TWO_STREAMS_OFFER)
        self.assertEqual([stream.mids for stream in session.streams], [("a",), ("v",)])
        first, second = session.streams
        self.assertNotEqual(first.local_ufrag, second.local_ufrag)
        self.assertEqual(second.remote_ufrag, "Vid1")

    def test_answer_bundle_decides_streams(self) -> None:
        """
        With a caller's answer that does not bundle, a bundled offer gets
        one stream per m-line, each with the credentials its m-line of the
        answer carries.
        """
        offer = TWO_STREAMS_OFFER.replace("s=-\r\n", "s=-\r\na=group:BUNDLE a v\r\n")
        supplied = "\r\n".join(
            [
                "v=0",
                "o=- 5 1 IN IP4 127.0.0.1",
                "s=-",
                "t=0 0",
                "m=audio 9 UDP/TLS/RTP/SAVPF 111",
                "a=mid:a",
                "m=video 9 UDP/TLS/RTP/SAVPF 96",
                "a=mid:v",
                "",
            ]
        )
        session = self.agent.create_session(
            offer, candidates=CANDIDATES, fingerprint=None, answer=supplied, now=0.0
        )
        self.assertEqual([stream.mids for stream in session.streams], [("a",), ("v",)])
        answer_ufrags = re.findall(r"a=ice-ufrag:(\S+)", session.answer)
        self.assertEqual(
            answer_ufrags, [stream.local_ufrag for stream in session.streams]
        )

    def test_slots(self) -> None:
        """
        Sessions and streams have no per-instance dict, to stay small.
        """
        self.assertFalse(hasattr(self.session, "__dict__"))
        self.assertFalse(hasattr(self.stream, "__dict__"))


class CloseTests(SynchronousTestCase):
    """
    Closing a session removes every registry entry it has.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        self.session = new_session(self.agent)
        self.stream = self.session.streams[0]
        check(self.agent, self.stream, 1.0, use_candidate=True)
        self.closed = self.agent.close_session(self.session.id)

    def test_returns_session(self) -> None:
        """
        close_session returns the closed session.
        """
        self.assertIs(self.closed, self.session)

    def test_states_closed(self) -> None:
        """
        The session and its streams are closed.
        """
        self.assertEqual(self.session.state, IceState.CLOSED)
        self.assertEqual(self.stream.state, IceState.CLOSED)

    def test_unregistered(self) -> None:
        """
        The session, its ufrag and its path are gone from the registries.
        """
        self.assertIsNone(self.agent.get_session(self.session.id))
        self.assertFalse(self.agent.is_local_ufrag(self.stream.local_ufrag))
        self.assertIsNone(self.agent.stream_for_path(PATH))

    def test_check_after_close_gets_401(self) -> None:
        """
        A check for a closed session's ufrag gets 401 as an unknown ufrag.
        """
        result = check(self.agent, self.stream, 2.0)
        self.assertEqual(result, CheckResult.UNKNOWN_UFRAG)

    def test_no_deadline(self) -> None:
        """
        A closed session leaves no consent deadline behind.
        """
        self.assertIsNone(self.agent.next_deadline())
        self.assertEqual(self.agent.expire(100.0), [])

    def test_close_unknown(self) -> None:
        """
        Closing an unknown or already closed session returns None.
        """
        self.assertIsNone(self.agent.close_session(self.session.id))
        self.assertIsNone(self.agent.close_session("nope"))


class ConsentTests(SynchronousTestCase):
    """
    Consent freshness (RFC 7675): 30 s without a passed check disconnects a
    stream.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        self.session = new_session(self.agent)
        self.stream = self.session.streams[0]

    def test_no_deadline_before_check(self) -> None:
        """
        A stream that has not been checked has no consent deadline.
        """
        self.assertIsNone(self.agent.next_deadline())

    def test_deadline_after_check(self) -> None:
        """
        A check at 1 s sets the consent deadline to 31 s.
        """
        check(self.agent, self.stream, 1.0, use_candidate=True)
        self.assertEqual(self.agent.next_deadline(), 31.0)

    def test_live_at_29_9(self) -> None:
        """
        At 29.9 s after the last check, consent is still live.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        self.assertEqual(self.agent.expire(29.9), [])
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)

    def test_expired_at_30_1(self) -> None:
        """
        At 30.1 s after the last check, the stream is disconnected and its
        paths are no longer accepted.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        events = self.agent.expire(30.1)
        self.assertIn(ConsentExpired(self.stream, (PATH,)), events)
        self.assertEqual(self.stream.state, IceState.DISCONNECTED)
        self.assertEqual(self.session.state, IceState.DISCONNECTED)
        self.assertIsNone(self.agent.stream_for_path(PATH))
        self.assertIsNone(self.stream.send_path)

    def test_later_check_extends(self) -> None:
        """
        A check at 20 s moves the expiry to 50 s.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        check(self.agent, self.stream, 20.0)
        self.assertEqual(self.agent.expire(30.1), [])
        self.assertEqual(self.agent.next_deadline(), 50.0)
        self.assertEqual(self.agent.expire(49.9), [])
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertNotEqual(self.agent.expire(50.1), [])
        self.assertEqual(self.stream.state, IceState.DISCONNECTED)

    def test_failed_check_does_not_extend(self) -> None:
        """
        A check with a wrong password at 20 s does not refresh consent.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        message = build_check(self.stream, key=b"wrongpasswordwrongpassword")
        self.agent.handle_check(message, PATH, 20.0)
        self.assertNotEqual(self.agent.expire(30.1), [])
        self.assertEqual(self.stream.state, IceState.DISCONNECTED)

    def test_revived_on_selected_path(self) -> None:
        """
        A check on the selected path after expiry completes the stream again
        and accepts the path.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        self.agent.expire(30.1)
        self.assertEqual(check(self.agent, self.stream, 40.0), CheckResult.SUCCESS)
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)
        self.assertEqual(self.stream.send_path, PATH)
        self.assertEqual(self.agent.next_deadline(), 70.0)

    def test_revived_on_other_path(self) -> None:
        """
        A check without USE-CANDIDATE on another path after expiry makes the
        stream connected; the old path stays unaccepted until it is checked.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        self.agent.expire(30.1)
        check(self.agent, self.stream, 40.0, path=OTHER_PATH)
        self.assertEqual(self.stream.state, IceState.CONNECTED)
        self.assertIs(self.agent.stream_for_path(OTHER_PATH), self.stream)
        self.assertIsNone(self.agent.stream_for_path(PATH))

    def test_restart_after_expiry_sends_nothing(self) -> None:
        """
        An ICE restart of a disconnected stream does not restore sending on
        the old selected path before a check passes on it.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        self.agent.expire(30.1)
        self.agent.restart_session(
            self.session.id,
            make_offer(ufrag="New1", pwd="newclientpasswordnewcl"),
            now=31.0,
        )
        self.assertEqual(self.stream.state, IceState.CHECKING)
        self.assertIsNone(self.stream.send_path)
        self.assertIsNone(self.agent.stream_for_path(PATH))

    def test_expiry_once(self) -> None:
        """
        A disconnected stream does not expire again.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        self.agent.expire(30.1)
        self.assertIsNone(self.agent.next_deadline())
        self.assertEqual(self.agent.expire(100.0), [])


class RestartTests(SynchronousTestCase):
    """
    ICE restart: new credentials, the old ones accepted until the first
    success with the new ones.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        self.session = new_session(self.agent)
        self.stream = self.session.streams[0]
        check(self.agent, self.stream, 1.0, use_candidate=True)
        self.old = self.stream.credentials
        self.agent.restart_session(
            self.session.id,
            make_offer(ufrag="New1", pwd="newclientpasswordnewcl"),
            now=2.0,
        )

    def old_check(self, now: float) -> CheckResult:
        """
        Send a check with the credentials from before the restart.
        """
        message = build_check(
            self.stream,
            username=f"{self.old.local_ufrag}:{self.old.remote_ufrag}",
            key=self.old.local_key,
        )
        return self.agent.handle_check(message, PATH, now).result

    def test_new_credentials(self) -> None:
        """
        The stream has new local credentials and the offer's new remote ones.
        """
        self.assertNotEqual(self.stream.local_ufrag, self.old.local_ufrag)
        self.assertNotEqual(self.stream.local_pwd, self.old.local_pwd)
        self.assertEqual(self.stream.remote_ufrag, "New1")

    def test_answer_has_new_credentials(self) -> None:
        """
        The new answer carries the new ufrag, not the old one.
        """
        self.assertIn(f"a=ice-ufrag:{self.stream.local_ufrag}", self.session.answer)
        self.assertNotIn(self.old.local_ufrag, self.session.answer)

    def test_answer_version_incremented(self) -> None:
        """
        The new answer keeps the origin id and increments the version.
        """
        self.assertIn(f"o=- {self.session.origin_id} 2 IN IP4", self.session.answer)

    def test_checking(self) -> None:
        """
        The restarted stream is checking; media keeps flowing on the selected
        path.
        """
        self.assertEqual(self.stream.state, IceState.CHECKING)
        self.assertEqual(self.session.state, IceState.CHECKING)
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)
        self.assertEqual(self.stream.send_path, PATH)

    def test_old_credentials_accepted(self) -> None:
        """
        A check with the old credentials still passes and leaves the stream
        checking.
        """
        self.assertEqual(self.old_check(3.0), CheckResult.SUCCESS)
        self.assertEqual(self.stream.state, IceState.CHECKING)
        self.assertTrue(self.agent.is_local_ufrag(self.old.local_ufrag))

    def test_new_local_old_remote_gets_401(self) -> None:
        """
        The new local ufrag with the old remote ufrag is a wrong pair.
        """
        message = build_check(
            self.stream, username=f"{self.stream.local_ufrag}:{REMOTE_UFRAG}"
        )
        result = self.agent.handle_check(message, PATH, 3.0).result
        self.assertEqual(result, CheckResult.WRONG_REMOTE_UFRAG)

    def test_first_new_success_retires_old(self) -> None:
        """
        The first success with the new credentials retires the old ones.
        """
        message = build_check(self.stream, use_candidate=True)
        outcome = self.agent.handle_check(message, PATH, 3.0)
        self.assertIn(
            CredentialsRetired(self.stream, self.old.local_ufrag), outcome.events
        )
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertFalse(self.agent.is_local_ufrag(self.old.local_ufrag))
        self.assertEqual(self.old_check(4.0), CheckResult.UNKNOWN_UFRAG)

    def test_failed_new_check_keeps_old(self) -> None:
        """
        A failed check with the new ufrag does not retire the old
        credentials.
        """
        message = build_check(self.stream, key=b"wrongpasswordwrongpassword")
        self.agent.handle_check(message, PATH, 3.0)
        self.assertEqual(self.old_check(4.0), CheckResult.SUCCESS)

    def test_second_restart_drops_oldest(self) -> None:
        """
        A second restart before the first completed keeps only the latest
        previous credentials.
        """
        middle = self.stream.credentials
        self.agent.restart_session(
            self.session.id,
            make_offer(ufrag="New2", pwd="thirdclientpasswordthi"),
            now=3.0,
        )
        self.assertFalse(self.agent.is_local_ufrag(self.old.local_ufrag))
        self.assertTrue(self.agent.is_local_ufrag(middle.local_ufrag))
        self.assertTrue(self.agent.is_local_ufrag(self.stream.local_ufrag))

    def test_unchanged_offer_keeps_credentials(self) -> None:
        """
        A new offer with the same remote credentials is no restart.
        """
        current = self.stream.credentials
        self.agent.restart_session(
            self.session.id,
            make_offer(ufrag="New1", pwd="newclientpasswordnewcl"),
            now=3.0,
        )
        self.assertIs(self.stream.credentials, current)
        self.assertEqual(self.stream.state, IceState.CHECKING)

    def test_unknown_session_raises(self) -> None:
        """
        Restarting an unknown session raises KeyError.
        """
        self.assertRaises(
            KeyError, self.agent.restart_session, "nope", make_offer(), now=3.0
        )

    def test_bad_offer_changes_nothing(self) -> None:
        """
        An invalid new offer raises L{OfferError} and leaves the session as
        it was.
        """
        answer = self.session.answer
        current = self.stream.credentials
        self.assertRaises(
            OfferError,
            self.agent.restart_session,
            self.session.id,
            "v=0\r\n",
            now=3.0,
        )
        self.assertEqual(self.session.answer, answer)
        self.assertIs(self.stream.credentials, current)

    def test_removed_stream_closed(self) -> None:
        """
        A stream whose mids are gone from the new offer is closed and its
        ufrag unregistered.
        """
        session = new_session(self.agent, TWO_STREAMS_OFFER)
        audio, video = session.streams
        offer = TWO_STREAMS_OFFER.split("m=video")[0]
        self.agent.restart_session(session.id, offer, now=3.0)
        self.assertEqual(session.streams, (audio,))
        self.assertEqual(video.state, IceState.CLOSED)
        self.assertFalse(self.agent.is_local_ufrag(video.local_ufrag))


class PathRegistryTests(SynchronousTestCase):
    """
    The path registry maps each checked 5-tuple to one stream.
    """

    def test_path_moves_between_streams(self) -> None:
        """
        A path checked on one stream and then another belongs to the second.
        """
        agent = IceAgent()
        session = new_session(agent, TWO_STREAMS_OFFER)
        audio, video = session.streams
        check(agent, audio, 1.0)
        check(agent, video, 2.0)
        self.assertIs(agent.stream_for_path(PATH), video)
        self.assertNotIn(PATH, audio.valid_paths)

    def test_moved_path_not_selected(self) -> None:
        """
        A nominated path that moves to another stream stops being the first
        stream's selected path.
        """
        agent = IceAgent()
        session = new_session(agent, TWO_STREAMS_OFFER)
        audio, video = session.streams
        check(agent, audio, 1.0, use_candidate=True)
        check(agent, video, 2.0)
        self.assertIsNone(audio.selected)
        self.assertIsNone(audio.send_path)


class PathClosedTests(SynchronousTestCase):
    """
    L{IceAgent.path_closed}: a closed TCP or TLS connection takes its path
    out of the registry, the valid paths and the selection.
    """

    def setUp(self) -> None:
        self.agent = IceAgent()
        self.session = new_session(self.agent)
        self.stream = self.session.streams[0]

    def test_unknown_path_ignored(self) -> None:
        """
        Closing a path that passed no check returns no event and changes
        nothing.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH, use_candidate=True)
        self.assertEqual(self.agent.path_closed(OTHER_TCP_PATH, 1.0), [])
        self.assertEqual(self.stream.selected, TCP_PATH)
        self.assertEqual(self.stream.state, IceState.COMPLETED)

    def test_udp_path_never_closed(self) -> None:
        """
        A UDP path stays valid and selected: UDP has no connection to close.
        """
        check(self.agent, self.stream, 0.0, use_candidate=True)
        self.assertEqual(self.agent.path_closed(PATH, 1.0), [])
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)
        self.assertEqual(self.stream.send_path, PATH)

    def test_unregistered(self) -> None:
        """
        A closed path is no longer accepted nor valid for its stream.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH)
        self.agent.path_closed(TCP_PATH, 1.0)
        self.assertIsNone(self.agent.stream_for_path(TCP_PATH))
        self.assertNotIn(TCP_PATH, self.stream.valid_paths)

    def test_selected_cleared(self) -> None:
        """
        Closing the selected path clears the selection, so nothing is sent
        on it, and the event says it was selected.
        """
        check(self.agent, self.stream, 0.0, path=PATH)
        check(self.agent, self.stream, 0.0, path=TCP_PATH, use_candidate=True)
        events = self.agent.path_closed(TCP_PATH, 1.0)
        self.assertIn(PathClosed(self.stream, TCP_PATH, 1, True), events)
        self.assertIsNone(self.stream.selected)
        self.assertIsNone(self.stream.send_path)

    def test_selected_closed_connected(self) -> None:
        """
        A completed stream whose selected path closes while another path is
        valid goes connected.
        """
        check(self.agent, self.stream, 0.0, path=PATH)
        check(self.agent, self.stream, 0.0, path=TCP_PATH, use_candidate=True)
        self.agent.path_closed(TCP_PATH, 1.0)
        self.assertEqual(self.stream.state, IceState.CONNECTED)
        self.assertEqual(self.session.state, IceState.CONNECTED)
        self.assertIs(self.agent.stream_for_path(PATH), self.stream)

    def test_unselected_closed_keeps_state(self) -> None:
        """
        Closing a valid path that is not selected leaves the selection and
        the state alone.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH)
        check(self.agent, self.stream, 0.0, path=PATH, use_candidate=True)
        events = self.agent.path_closed(TCP_PATH, 1.0)
        self.assertEqual(events, [PathClosed(self.stream, TCP_PATH, 1, False)])
        self.assertEqual(self.stream.selected, PATH)
        self.assertEqual(self.stream.state, IceState.COMPLETED)

    def test_last_path_disconnects(self) -> None:
        """
        A stream whose only valid path closes is disconnected, and so is its
        session.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH, use_candidate=True)
        self.agent.path_closed(TCP_PATH, 1.0)
        self.assertEqual(self.stream.state, IceState.DISCONNECTED)
        self.assertEqual(self.session.state, IceState.DISCONNECTED)

    def test_last_path_events(self) -> None:
        """
        Closing the last path returns the path event, then the stream and
        session state changes.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH, use_candidate=True)
        events = self.agent.path_closed(TCP_PATH, 1.0)
        self.assertEqual(
            [type(event).__name__ for event in events],
            ["PathClosed", "StateChanged", "SessionStateChanged"],
        )

    def test_closed_twice_once(self) -> None:
        """
        Closing the same path again returns no event.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH)
        self.agent.path_closed(TCP_PATH, 1.0)
        self.assertEqual(self.agent.path_closed(TCP_PATH, 2.0), [])

    def test_no_consent_expiry_after_last_path(self) -> None:
        """
        A stream disconnected by its last closed path does not also expire
        its consent.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH)
        self.agent.path_closed(TCP_PATH, 1.0)
        self.assertEqual(self.agent.expire(30.1), [])
        self.assertIsNone(self.agent.next_deadline())

    def test_later_check_on_other_path(self) -> None:
        """
        After the selected path closed, a nominating check on another path
        passes, selects it and completes the stream again.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH, use_candidate=True)
        self.agent.path_closed(TCP_PATH, 1.0)
        result = check(
            self.agent, self.stream, 2.0, path=OTHER_TCP_PATH, use_candidate=True
        )
        self.assertEqual(result, CheckResult.SUCCESS)
        self.assertEqual(self.stream.state, IceState.COMPLETED)
        self.assertEqual(self.stream.send_path, OTHER_TCP_PATH)
        self.assertIs(self.agent.stream_for_path(OTHER_TCP_PATH), self.stream)

    def test_later_check_keeps_consent(self) -> None:
        """
        A check after the last path closed schedules consent again: the
        stream expires 30 s after it.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH)
        self.agent.path_closed(TCP_PATH, 1.0)
        check(self.agent, self.stream, 10.0, path=OTHER_TCP_PATH)
        self.assertEqual(self.agent.expire(30.1), [])
        self.assertEqual(self.stream.state, IceState.CONNECTED)
        self.assertNotEqual(self.agent.expire(40.1), [])
        self.assertEqual(self.stream.state, IceState.DISCONNECTED)

    def test_checking_stream_disconnects(self) -> None:
        """
        A stream checking after an ICE restart whose last path closes is
        disconnected, as on consent expiry.
        """
        check(self.agent, self.stream, 0.0, path=TCP_PATH)
        self.agent.restart_session(
            self.session.id,
            make_offer(ufrag="New1", pwd="newclientpasswordnewcl"),
            now=1.0,
        )
        self.agent.path_closed(TCP_PATH, 2.0)
        self.assertEqual(self.stream.state, IceState.DISCONNECTED)


class JsonTests(SynchronousTestCase):
    """
    The session API's view of sessions and streams.
    """

    def test_stream_json(self) -> None:
        """
        A completed stream reports its state, selected path and counters.
        """
        agent = IceAgent()
        session = new_session(agent)
        stream = session.streams[0]
        check(agent, stream, 1.0, use_candidate=True)
        stream.packets_received += 2
        stream.bytes_received += 300
        self.assertEqual(
            stream.to_json(),
            {
                "mid": "0",
                "mids": ["0"],
                "state": "completed",
                "selected": {"transport": "udp", "address": "127.0.0.1", "port": 50000},
                "packets_received": 2,
                "packets_sent": 0,
                "bytes_received": 300,
                "bytes_sent": 0,
            },
        )

    def test_session_json(self) -> None:
        """
        A new session reports its id, state and streams, with no selected
        path.
        """
        agent = IceAgent()
        session = new_session(agent)
        body = session.to_json()
        self.assertEqual(body["id"], session.id)
        self.assertEqual(body["state"], "new")
        self.assertIsNone(body["streams"][0]["selected"])
