"""
Tests for L{twisted_ice.transport.ice.IceService}: the Twisted adapter of
the lite ICE agent, on a L{Clock} with fake path writers and the real
sans-I/O agent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial import unittest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_ice.addresses import Path, Transport
from twisted_ice.api import SessionLimitError
from twisted_ice.ice import CONSENT_TIMEOUT, OfferError, Stream
from twisted_ice.interfaces import (
    IIceService,
    IMediaStream,
    IPathWriter,
    ISessionManager,
    IStreamHandler,
)
from twisted_ice.media import EchoHandler, ForwardPolicy, MediaSpec
from twisted_ice.stun import AttributeType, MessageClass, Method, StunMessage, decode
from twisted_ice.transport.ice import IceService

SERVER = ("127.0.0.1", 9000)
CLIENT = ("127.0.0.1", 50000)
OTHER_CLIENT = ("127.0.0.1", 50001)
UDP_PATH = Path(Transport.UDP, SERVER, CLIENT)
OTHER_PATH = Path(Transport.UDP, SERVER, OTHER_CLIENT)
TCP_PATH = Path(Transport.TCP, ("127.0.0.1", 443), CLIENT)
OTHER_TCP_PATH = Path(Transport.TCP, ("127.0.0.1", 443), OTHER_CLIENT)

REMOTE_UFRAG = "cLnT"
REMOTE_PWD = "clientpasswordclientpw"
FINGERPRINT = "sha-256 " + ":".join(["AB"] * 32)

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        f"a=ice-ufrag:{REMOTE_UFRAG}",
        f"a=ice-pwd:{REMOTE_PWD}",
        "a=ice-options:trickle",
        f"a=fingerprint:{FINGERPRINT}",
        "a=setup:actpass",
        "a=mid:0",
        "a=sctp-port:5000",
        "",
    ]
)


@implementer(IPathWriter)
class FakeWriter:
    """
    A path writer that records what is written.
    """

    def __init__(self) -> None:
        self.written: list[tuple[bytes, Path]] = []

    def write_to(self, data: bytes, path: Path) -> None:
        self.written.append((data, path))


@implementer(IStreamHandler)
class RecordingHandler:
    """
    A stream handler that records packets and can send through its stream.
    """

    def __init__(self, stream: IMediaStream) -> None:
        self.stream = stream
        self.packets: list[bytes] = []
        self.closed = 0

    def packet_received(self, data: bytes) -> None:
        self.packets.append(data)

    def stream_closed(self) -> None:
        self.closed += 1


@implementer(IStreamHandler)
class FailingHandler(RecordingHandler):
    """
    A stream handler with a bug.
    """

    def packet_received(self, data: bytes) -> None:
        raise RuntimeError("handler bug")


def check(
    stream: Stream,
    use_candidate: bool = False,
    password: str | None = None,
    priority: int = 0x6E7F1EFF,
) -> StunMessage:
    """
    Build a decoded Binding request as a browser sends it to C{stream}.
    """
    attributes: list[tuple[int, Any]] = [
        (AttributeType.USERNAME, f"{stream.local_ufrag}:{REMOTE_UFRAG}"),
        (AttributeType.PRIORITY, priority),
        (AttributeType.ICE_CONTROLLING, 1),
    ]
    if use_candidate:
        attributes.append((AttributeType.USE_CANDIDATE, True))
    request = StunMessage.request(Method.BINDING, attributes)
    key = (password if password is not None else stream.local_pwd).encode("ascii")
    return decode(request.encode(integrity_key=key, fingerprint=True))


class IceServiceTestCase(unittest.TestCase):
    """
    An L{IceService} on a clock with fake UDP and TCP writers.
    """

    handler_class: type[RecordingHandler] | None = RecordingHandler
    idle_timeout: float | None = None

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.udp = FakeWriter()
        self.tcp = FakeWriter()
        self.handlers: list[RecordingHandler] = []
        factory = self.make_handler if self.handler_class is not None else None
        self.service = IceService(
            addresses=["127.0.0.1"],
            udp_port=9000,
            fingerprint=FINGERPRINT,
            handler_factory=factory,
            reactor=self.clock,
            session_idle_timeout=self.idle_timeout,
        )
        self.service.writers[Transport.UDP] = self.udp
        self.service.writers[Transport.TCP] = self.tcp

    def make_handler(self, media: MediaSpec, stream: IMediaStream) -> RecordingHandler:
        """
        Build a recording handler and keep it.
        """
        assert self.handler_class is not None
        handler = self.handler_class(stream)
        self.handlers.append(handler)
        return handler

    def create(self) -> tuple[str, Stream]:
        """
        Create a session and return its id and its core stream.
        """
        info = self.service.create_session(OFFER)
        session = self.service.agent.get_session(info.id)
        assert session is not None
        return info.id, session.streams[0]

    def connect(self, path: Path = UDP_PATH, nominate: bool = True) -> Stream:
        """
        Create a session and pass a check for it on C{path}.
        """
        _, stream = self.create()
        self.service.stun_received(check(stream, use_candidate=nominate), b"", path)
        return stream


class InterfaceTests(IceServiceTestCase):
    """
    The service's interfaces.
    """

    def test_provides_ice_service(self) -> None:
        """
        The service provides L{IIceService}.
        """
        self.assertTrue(verifyObject(IIceService, self.service))

    def test_provides_session_manager(self) -> None:
        """
        The service provides L{ISessionManager}.
        """
        self.assertTrue(verifyObject(ISessionManager, self.service))

    def test_media_stream_provides_interface(self) -> None:
        """
        What handlers get provides L{IMediaStream}, with the ids.
        """
        session_id, _ = self.create()
        stream = self.handlers[0].stream
        self.assertTrue(verifyObject(IMediaStream, stream))
        self.assertEqual(stream.session_id, session_id)
        self.assertEqual(stream.mid, "0")


class CheckTests(IceServiceTestCase):
    """
    Checks routed to the service.
    """

    def test_local_ufrag_known(self) -> None:
        """
        A stream's local ufrag is known; another is not.
        """
        _, stream = self.create()
        self.assertTrue(self.service.is_local_ufrag(stream.local_ufrag))
        self.assertFalse(self.service.is_local_ufrag("unknownufrag"))

    def test_check_answered_on_its_path(self) -> None:
        """
        A valid check gets a success response, written on the path it came
        from, with XOR-MAPPED-ADDRESS of the client.
        """
        _, stream = self.create()
        self.service.stun_received(check(stream), b"", UDP_PATH)
        self.assertEqual(len(self.udp.written), 1)
        data, path = self.udp.written[0]
        self.assertEqual(path, UDP_PATH)
        response = decode(data)
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)
        self.assertEqual(response.get(AttributeType.XOR_MAPPED_ADDRESS), CLIENT)
        self.assertTrue(response.check_integrity(stream.local_pwd.encode()))

    def test_tcp_check_answered_by_tcp_writer(self) -> None:
        """
        A check on a TCP path is answered through the TCP writer only.
        """
        _, stream = self.create()
        self.service.stun_received(check(stream), b"", TCP_PATH)
        self.assertEqual(self.udp.written, [])
        self.assertEqual([path for _, path in self.tcp.written], [TCP_PATH])

    def test_no_writer_for_transport(self) -> None:
        """
        A check on a transport without writer is handled without error and
        nothing is written.
        """
        _, stream = self.create()
        tls_path = Path(Transport.TLS, ("127.0.0.1", 443), CLIENT)
        self.service.stun_received(check(stream), b"", tls_path)
        self.assertEqual(self.udp.written + self.tcp.written, [])
        self.assertIs(self.service.agent.stream_for_path(tls_path), stream)

    def test_wrong_password_gets_401(self) -> None:
        """
        A check with the wrong integrity gets a 401 and accepts no path.
        """
        _, stream = self.create()
        bad = check(stream, password="x" * 22)
        self.service.stun_received(bad, b"", UDP_PATH)
        response = decode(self.udp.written[0][0])
        self.assertEqual(response.message_class, MessageClass.ERROR_RESPONSE)
        self.assertEqual(response.get(AttributeType.ERROR_CODE).code, 401)
        self.assertIsNone(self.service.agent.stream_for_path(UDP_PATH))

    def test_agent_failure_logged(self) -> None:
        """
        An exception from the agent is counted and logged, not raised.
        """
        self.service.stun_received(None, b"", UDP_PATH)  # type: ignore[arg-type]
        self.assertEqual(self.service.checks_failed, 1)
        self.assertEqual(len(self.flushLoggedErrors(AttributeError)), 1)

    def test_created_log_counts_streams(self) -> None:
        """
        The log line of a new session gives its stream count without a
        plural to get wrong.
        """
        with capturedLogs() as events:
            session_id, _ = self.create()
        messages = [formatEvent(event) for event in events]
        self.assertIn(f"Created session {session_id}: media echo, streams: 1", messages)

    def test_failure_log_counts_unlogged(self) -> None:
        """
        A failure within 10 s of a logged one is only counted, and the next
        logged line gives that count without a plural to get wrong.
        """
        with capturedLogs() as events:
            for _ in range(2):
                self.service.stun_received(None, b"", UDP_PATH)  # type: ignore[arg-type]
            self.clock.advance(11)
            self.service.stun_received(None, b"", UDP_PATH)  # type: ignore[arg-type]
        self.flushLoggedErrors(AttributeError)
        messages = [formatEvent(event) for event in events]
        self.assertEqual(len(messages), 2)
        self.assertEqual(
            messages[1],
            "ICE service failed on a packet from ('127.0.0.1', 50000)"
            " (failures since the last log: 1)",
        )

    def test_nomination_selects_path(self) -> None:
        """
        A check with USE-CANDIDATE selects its path and completes the stream.
        """
        session_id, _ = self.create()
        stream = self.service.agent.get_session(session_id).streams[0]  # type: ignore[union-attr]
        self.service.stun_received(check(stream, use_candidate=True), b"", UDP_PATH)
        info = self.service.get_session(session_id)
        assert info is not None
        self.assertEqual(info.streams[0].selected, UDP_PATH)
        self.assertEqual(info.streams[0].state, "completed")
        self.assertEqual(info.state, "completed")


class ConsentTimerTests(IceServiceTestCase):
    """
    The consent timer.
    """

    def test_no_timer_before_check(self) -> None:
        """
        A session without a passed check schedules nothing.
        """
        self.create()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_timer_after_check(self) -> None:
        """
        A passed check schedules one timer at the consent deadline.
        """
        self.connect()
        calls = self.clock.getDelayedCalls()
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0].getTime(), self.clock.seconds() + CONSENT_TIMEOUT)

    def test_one_timer_for_many_checks(self) -> None:
        """
        Later checks keep the one timer.
        """
        stream = self.connect()
        for _ in range(5):
            self.clock.advance(1)
            self.service.stun_received(check(stream), b"", UDP_PATH)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_refreshed_consent_survives_first_deadline(self) -> None:
        """
        A check 20 s after the first keeps consent past the first deadline,
        and the timer is rescheduled for the later deadline.
        """
        stream = self.connect()
        self.clock.advance(20)
        self.service.stun_received(check(stream), b"", UDP_PATH)
        self.clock.advance(CONSENT_TIMEOUT - 20)
        self.assertIs(self.service.agent.stream_for_path(UDP_PATH), stream)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_consent_expires(self) -> None:
        """
        Without checks for 30 s the stream is disconnected and its media is
        no longer accepted.
        """
        stream = self.connect()
        self.clock.advance(CONSENT_TIMEOUT)
        self.assertEqual(str(stream.state), "disconnected")
        self.assertFalse(self.service.media_received(b"\x80rtp", UDP_PATH))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_cancels_timer(self) -> None:
        """
        Stopping the service cancels the timer.
        """
        self.service.startService()
        self.connect()
        self.service.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class MediaTests(IceServiceTestCase):
    """
    Media in and out.
    """

    def test_unchecked_path_rejected(self) -> None:
        """
        Media from a path that passed no check returns False and reaches no
        handler.
        """
        self.create()
        self.assertFalse(self.service.media_received(b"\x80rtp", UDP_PATH))
        self.assertEqual(self.handlers[0].packets, [])

    def test_media_to_handler(self) -> None:
        """
        Media from a checked path reaches the stream's handler.
        """
        self.connect()
        self.assertTrue(self.service.media_received(b"\x80rtp", UDP_PATH))
        self.assertEqual(self.handlers[0].packets, [b"\x80rtp"])

    def test_media_counted(self) -> None:
        """
        Received media is counted in packets and bytes.
        """
        stream = self.connect()
        self.service.media_received(b"\x80rtp", UDP_PATH)
        self.service.media_received(b"\x16dtls!", UDP_PATH)
        self.assertEqual(stream.packets_received, 2)
        self.assertEqual(stream.bytes_received, 10)

    def test_send_on_selected_path(self) -> None:
        """
        The handler's sends leave on the nominated path, even when media
        arrived on another accepted path.
        """
        stream = self.connect(UDP_PATH, nominate=True)
        self.service.stun_received(check(stream), b"", OTHER_PATH)
        self.udp.written.clear()
        self.service.media_received(b"\x80rtp", OTHER_PATH)
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.udp.written, [(b"\x80out", UDP_PATH)])

    def test_send_counted(self) -> None:
        """
        Sent media is counted in packets and bytes.
        """
        stream = self.connect()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(stream.packets_sent, 1)
        self.assertEqual(stream.bytes_sent, 4)

    def test_send_before_nomination_uses_last_path(self) -> None:
        """
        Before any nomination, sends leave on the path media last came from.
        """
        stream = self.connect(UDP_PATH, nominate=False)
        self.service.stun_received(check(stream), b"", OTHER_PATH)
        self.service.media_received(b"\x80rtp", OTHER_PATH)
        self.udp.written.clear()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.udp.written, [(b"\x80out", OTHER_PATH)])

    def test_send_without_path_dropped(self) -> None:
        """
        A send before any nomination or media is dropped and counted.
        """
        session_id, _ = self.create()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.udp.written, [])
        info = self.service.get_session(session_id)
        assert info is not None
        self.assertEqual(info.streams[0].packets_dropped, 1)

    def test_send_after_consent_expired_dropped(self) -> None:
        """
        After consent expires, sends are dropped.
        """
        self.connect()
        self.clock.advance(CONSENT_TIMEOUT)
        self.udp.written.clear()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.udp.written, [])

    def test_send_after_close_dropped(self) -> None:
        """
        After the session closes, sends are dropped.
        """
        session_id, _ = self.create()
        self.service.close_session(session_id)
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.udp.written, [])

    def test_closed_tcp_path_not_used(self) -> None:
        """
        After a TCP path closes, sends no longer fall back to it.
        """
        stream = self.connect(TCP_PATH, nominate=False)
        self.service.media_received(b"\x80rtp", TCP_PATH)
        self.service.path_closed(TCP_PATH)
        self.tcp.written.clear()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.tcp.written, [])
        self.assertIsNone(stream.handler.last_path)

    def test_handler_failure_logged(self) -> None:
        """
        A handler that raises does not break the service; the error is
        logged and the packet still counted.
        """
        self.handler_class = FailingHandler
        stream = self.connect()
        self.assertTrue(self.service.media_received(b"\x80rtp", UDP_PATH))
        self.assertEqual(stream.packets_received, 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class PathClosedTests(IceServiceTestCase):
    """
    L{IceService.path_closed}, which the TCP mux calls when a connection
    closes.
    """

    idle_timeout = 300.0

    def test_unknown_path_ignored(self) -> None:
        """
        Closing a path that passed no check logs nothing and leaves the
        session as it was.
        """
        stream = self.connect(TCP_PATH)
        with capturedLogs() as events:
            self.service.path_closed(OTHER_TCP_PATH)
        self.assertEqual(events, [])
        self.assertEqual(stream.selected, TCP_PATH)

    def test_udp_path_kept(self) -> None:
        """
        A UDP path is never closed: sends still leave on it.
        """
        self.connect(UDP_PATH)
        self.service.path_closed(UDP_PATH)
        self.udp.written.clear()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.udp.written, [(b"\x80out", UDP_PATH)])

    def test_selected_path_cleared(self) -> None:
        """
        Closing the selected TCP path clears the selection, so the next send
        is dropped instead of written to the dead connection.
        """
        stream = self.connect(TCP_PATH)
        self.service.path_closed(TCP_PATH)
        self.tcp.written.clear()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.tcp.written, [])
        self.assertIsNone(stream.selected)
        self.assertEqual(stream.handler.packets_dropped, 1)

    def test_selected_path_closed_logged(self) -> None:
        """
        The closed path is logged with its stream, session and address.
        """
        stream = self.connect(TCP_PATH)
        with capturedLogs() as events:
            self.service.path_closed(TCP_PATH)
        messages = [formatEvent(event) for event in events]
        self.assertIn(
            f"Stream 0 of session {stream.session.id} lost its tcp path to"
            " 127.0.0.1:50000: the connection closed, so no path is selected",
            messages,
        )

    def test_last_path_disconnects(self) -> None:
        """
        A session whose only path closes is disconnected.
        """
        stream = self.connect(TCP_PATH)
        self.service.path_closed(TCP_PATH)
        info = self.service.get_session(stream.session.id)
        assert info is not None
        self.assertEqual(info.state, "disconnected")

    def test_last_path_closed_idle(self) -> None:
        """
        A session disconnected by its closed path is closed the idle timeout
        later, like one whose consent expired.
        """
        stream = self.connect(TCP_PATH)
        self.service.path_closed(TCP_PATH)
        self.clock.advance(299)
        self.assertIsNotNone(self.service.get_session(stream.session.id))
        self.clock.advance(1)
        self.assertIsNone(self.service.get_session(stream.session.id))

    def test_later_check_on_other_path(self) -> None:
        """
        After the selected path closed, a nominating check on another
        connection passes and sends leave on it.
        """
        stream = self.connect(TCP_PATH)
        self.service.path_closed(TCP_PATH)
        self.service.stun_received(
            check(stream, use_candidate=True), b"", OTHER_TCP_PATH
        )
        self.tcp.written.clear()
        self.handlers[0].stream.send(b"\x80out")
        self.assertEqual(self.tcp.written, [(b"\x80out", OTHER_TCP_PATH)])
        self.assertEqual(stream.state, "completed")


class EchoTests(IceServiceTestCase):
    """
    The default handlers.
    """

    handler_class = None

    def test_default_handler_echo(self) -> None:
        """
        Without a handler factory, sessions get the echo handler, and media
        comes back on the selected path.
        """
        stream = self.connect()
        self.assertIsInstance(stream.handler.handler, EchoHandler)
        self.udp.written.clear()
        self.service.media_received(b"\x80rtp", UDP_PATH)
        self.assertEqual(self.udp.written, [(b"\x80rtp", UDP_PATH)])


class SessionApiTests(IceServiceTestCase):
    """
    The Python session API.
    """

    def test_create_returns_answer(self) -> None:
        """
        The answer is ice-lite with the stream's credentials, the host
        candidate and the fingerprint.
        """
        info = self.service.create_session(OFFER)
        session = self.service.agent.get_session(info.id)
        assert session is not None
        stream = session.streams[0]
        self.assertIn("a=ice-lite", info.answer)
        self.assertIn(f"a=ice-ufrag:{stream.local_ufrag}", info.answer)
        self.assertIn("127.0.0.1 9000 typ host", info.answer)
        self.assertIn(f"a=fingerprint:{FINGERPRINT}", info.answer)

    def test_create_new_state(self) -> None:
        """
        A new session and its stream are C{new}.
        """
        info = self.service.create_session(OFFER)
        self.assertEqual(info.state, "new")
        self.assertEqual([s.state for s in info.streams], ["new"])

    def test_bad_offer_raises(self) -> None:
        """
        A bad offer raises L{OfferError} and creates nothing.
        """
        with self.assertRaises(OfferError):
            self.service.create_session("v=0\r\n")
        self.assertEqual(len(self.service.agent.sessions), 0)
        self.assertEqual(self.handlers, [])

    def test_forbidden_target_raises(self) -> None:
        """
        A forward target outside the policy raises and creates nothing.
        """
        media = MediaSpec("forward", ("192.0.2.1", 5004))
        with self.assertRaises(ValueError):
            self.service.create_session(OFFER, media=media)
        self.assertEqual(len(self.service.agent.sessions), 0)

    def test_tcp_without_tcp_port_raises(self) -> None:
        """
        Asking for TCP candidates when there is no TCP port raises.
        """
        with self.assertRaises(ValueError) as caught:
            self.service.create_session(OFFER, transports=frozenset({Transport.TCP}))
        self.assertEqual(
            str(caught.exception), "this server has no candidates for transport tcp"
        )

    def test_transports_limit_candidates(self) -> None:
        """
        C{transports} keeps only the candidates of those transports.
        """
        self.service.tcp_port = 443
        udp_only = self.service.create_session(
            OFFER, transports=frozenset({Transport.UDP})
        )
        both = self.service.create_session(OFFER)
        self.assertNotIn(" tcp ", udp_only.answer)
        self.assertIn(" tcp ", both.answer)
        self.assertIn("tcptype passive", both.answer)

    def test_udp_port_zero_uses_mux_port(self) -> None:
        """
        With UDP port 0, candidates carry the port the UDP writer listens on.
        """
        self.service.udp_port = 0
        self.udp.local = ("127.0.0.1", 40123)  # type: ignore[attr-defined]
        info = self.service.create_session(OFFER)
        self.assertIn("127.0.0.1 40123 typ host", info.answer)

    def test_get_unknown_none(self) -> None:
        """
        An unknown session id gives L{None}.
        """
        self.assertIsNone(self.service.get_session("nope"))

    def test_close_closes_handlers(self) -> None:
        """
        Closing a session closes each handler once and forgets the session.
        """
        session_id, _ = self.create()
        self.assertTrue(self.service.close_session(session_id))
        self.assertEqual(self.handlers[0].closed, 1)
        self.assertIsNone(self.service.get_session(session_id))

    def test_close_unknown_false(self) -> None:
        """
        Closing an unknown session returns False.
        """
        self.assertFalse(self.service.close_session("nope"))

    def test_closed_session_ufrag_unknown(self) -> None:
        """
        After close, the stream's ufrag is no longer local.
        """
        session_id, stream = self.create()
        self.service.close_session(session_id)
        self.assertFalse(self.service.is_local_ufrag(stream.local_ufrag))

    def test_restart_new_credentials(self) -> None:
        """
        A restart with a new remote ufrag gives new local credentials and
        keeps the handler.
        """
        session_id, stream = self.create()
        old_ufrag = stream.local_ufrag
        offer = OFFER.replace(REMOTE_UFRAG, "nEwU").replace(REMOTE_PWD, "n" * 22)
        info = self.service.restart_session(session_id, offer)
        assert info is not None
        self.assertNotIn(old_ufrag, info.answer)
        self.assertIn(f"a=ice-ufrag:{stream.local_ufrag}", info.answer)
        self.assertEqual(len(self.handlers), 1)

    def test_restart_unknown_none(self) -> None:
        """
        Restarting an unknown session gives L{None}.
        """
        self.assertIsNone(self.service.restart_session("nope", OFFER))

    def test_restart_bad_offer_raises(self) -> None:
        """
        A restart with a bad offer raises L{OfferError}.
        """
        session_id, _ = self.create()
        with self.assertRaises(OfferError):
            self.service.restart_session(session_id, "v=0\r\n")

    def test_stop_closes_sessions(self) -> None:
        """
        Stopping the service closes every session's handlers.
        """
        self.service.startService()
        self.create()
        self.create()
        self.service.stopService()
        self.assertEqual([h.closed for h in self.handlers], [1, 1])
        self.assertEqual(len(self.service.agent.sessions), 0)

    def test_forward_policy_configurable(self) -> None:
        """
        A configured policy allows its networks.
        """
        self.service.forward_policy = ForwardPolicy(["192.0.2.0/24"])
        media = MediaSpec("forward", ("192.0.2.1", 5004))
        info = self.service.create_session(OFFER, media=media)
        self.assertEqual(info.state, "new")


class IdleSessionTests(IceServiceTestCase):
    """
    Sessions left C{new} or C{disconnected}, or C{checking} without passed
    checks, are closed after the idle timeout.
    """

    idle_timeout = 300.0

    def test_new_session_closed(self) -> None:
        """
        A session without any passed check is closed after the timeout, and
        its handler with it.
        """
        session_id, _ = self.create()
        self.clock.advance(299)
        self.assertIsNotNone(self.service.get_session(session_id))
        self.clock.advance(1)
        self.assertIsNone(self.service.get_session(session_id))
        self.assertEqual(self.handlers[0].closed, 1)

    def test_connected_session_kept(self) -> None:
        """
        A session whose client keeps passing checks stays open.
        """
        session_id, stream = self.create()
        for _ in range(40):
            self.service.stun_received(check(stream), b"", UDP_PATH)
            self.clock.advance(20)
        self.assertIsNotNone(self.service.get_session(session_id))

    def test_disconnected_session_closed(self) -> None:
        """
        A session is closed the timeout after its consent expired.
        """
        session_id, stream = self.create()
        self.service.stun_received(check(stream), b"", UDP_PATH)
        self.clock.advance(CONSENT_TIMEOUT)
        self.clock.advance(299)
        self.assertIsNotNone(self.service.get_session(session_id))
        self.clock.advance(1)
        self.assertIsNone(self.service.get_session(session_id))

    def test_each_session_own_deadline(self) -> None:
        """
        A later session is closed its own timeout after its creation.
        """
        first, _ = self.create()
        self.clock.advance(100)
        second, _ = self.create()
        self.clock.advance(200)
        self.assertIsNone(self.service.get_session(first))
        self.assertIsNotNone(self.service.get_session(second))
        self.clock.advance(100)
        self.assertIsNone(self.service.get_session(second))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_deleted_session_forgotten(self) -> None:
        """
        A session closed through the API leaves no idle timer behind once
        its deadline has passed.
        """
        session_id, _ = self.create()
        self.service.close_session(session_id)
        self.clock.advance(300)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def restart(self, session_id: str) -> None:
        """
        Restart ICE for a session with new remote credentials.
        """
        offer = OFFER.replace(REMOTE_UFRAG, "nEw1").replace(
            REMOTE_PWD, "newclientpasswordnewcl"
        )
        self.service.restart_session(session_id, offer)

    def test_checking_session_closed(self) -> None:
        """
        A session restarted before any check and never checked again stays
        checking, and is closed the timeout after the restart.
        """
        session_id, _ = self.create()
        self.clock.advance(100)
        self.restart(session_id)
        self.assertEqual(self.service.get_session(session_id).state, "checking")  # type: ignore[union-attr]
        self.clock.advance(299)
        self.assertIsNotNone(self.service.get_session(session_id))
        self.clock.advance(1)
        self.assertIsNone(self.service.get_session(session_id))
        self.assertEqual(self.handlers[0].closed, 1)

    def test_restart_after_disconnect_closed(self) -> None:
        """
        A disconnected session restarted and never checked again is closed
        the timeout after the restart.
        """
        session_id, stream = self.create()
        self.service.stun_received(check(stream), b"", UDP_PATH)
        self.clock.advance(CONSENT_TIMEOUT)
        self.clock.advance(100)
        self.restart(session_id)
        self.clock.advance(299)
        self.assertIsNotNone(self.service.get_session(session_id))
        self.clock.advance(1)
        self.assertIsNone(self.service.get_session(session_id))

    def test_checking_session_with_checks_kept(self) -> None:
        """
        A checking session whose client keeps passing checks with the
        credentials from before the restart stays open, and is closed the
        timeout after its last passed check.
        """
        session_id, stream = self.create()
        old = check(stream)
        self.restart(session_id)
        for _ in range(40):
            self.service.stun_received(old, b"", UDP_PATH)
            self.clock.advance(20)
        info = self.service.get_session(session_id)
        assert info is not None
        self.assertEqual(info.state, "checking")
        self.clock.advance(CONSENT_TIMEOUT)
        self.assertEqual(self.service.get_session(session_id).state, "disconnected")  # type: ignore[union-attr]
        self.clock.advance(300)
        self.assertIsNone(self.service.get_session(session_id))

    def test_no_timeout_keeps_sessions(self) -> None:
        """
        Without an idle timeout, a new session stays open.
        """
        self.service.session_idle_timeout = None
        session_id, _ = self.create()
        self.clock.advance(3600)
        self.assertIsNotNone(self.service.get_session(session_id))


class SessionLimitTests(IceServiceTestCase):
    """
    C{max_sessions}.
    """

    def test_limit_rejects_session(self) -> None:
        """
        At the limit, a new session raises L{SessionLimitError} and nothing
        is created.
        """
        self.service.max_sessions = 2
        self.create()
        self.create()
        with self.assertRaises(SessionLimitError) as caught:
            self.service.create_session(OFFER)
        self.assertIn("maximum of 2 sessions", str(caught.exception))
        self.assertEqual(len(self.service.agent.sessions), 2)
        self.assertEqual(len(self.handlers), 2)

    def test_closed_session_frees_room(self) -> None:
        """
        Closing a session makes room for a new one.
        """
        self.service.max_sessions = 1
        session_id, _ = self.create()
        self.service.close_session(session_id)
        info = self.service.create_session(OFFER)
        self.assertEqual(info.state, "new")
