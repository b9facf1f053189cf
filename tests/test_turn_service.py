"""
Tests for L{twisted_ice.transport.turn}, the TURN service adapter, and the
TURN options of C{twistd mcs-ice}.

The service runs the real sans-I/O core on a L{Clock}, with relay ports on a
fake reactor and writers that record what they send.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.test_relay import FakeUdpReactor
from tests.test_tap import exit_message, parse
from twisted_ice import tap
from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.credentials import ReloadOnSighup, StaticCredentialStore
from twisted_ice.interfaces import IPathWriter, ITurnService
from twisted_ice.stun import (
    AttributeType,
    MessageClass,
    Method,
    StunMessage,
    decode,
    long_term_key,
)
from twisted_ice.transport import turn as turn_module
from twisted_ice.transport.relay import UdpRelayAllocator
from twisted_ice.transport.turn import TurnDropReason, TurnService, build_turn_service
from twisted_ice.transport.udp import UdpMux
from twisted_ice.turn import PeerPolicy, TurnConfig, TurnCore, channeldata

REALM = "example.org"
USER = "alice"
PASSWORD = "wonderland"
KEY = long_term_key(USER, REALM, PASSWORD)
SERVER = ("192.0.2.1", 9000)
CLIENT = ("203.0.113.5", 40000)
UDP_PATH = Path(Transport.UDP, SERVER, CLIENT)
TCP_PATH = Path(Transport.TCP, ("192.0.2.1", 443), ("203.0.113.5", 40001))
PEER = ("198.51.100.7", 5000)
UDP_TRANSPORT = 17


@implementer(IPathWriter)
class RecordingWriter:
    """
    An L{IPathWriter} that records what is written.
    """

    def __init__(self) -> None:
        self.written: list[tuple[bytes, Path]] = []

    def write_to(self, data: bytes, path: Path) -> None:
        """
        Record C{data} for C{path}.
        """
        self.written.append((data, path))

    def messages(self) -> list[StunMessage]:
        """
        Return the STUN messages written, decoded.
        """
        return [decode(data) for data, _ in self.written]


class DeferredStore:
    """
    A credential store whose lookups wait until the test fires them.
    """

    def __init__(self) -> None:
        self.lookups: list[tuple[str, str, Deferred[list[bytes]]]] = []

    def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
        """
        Return a Deferred that the test fires.
        """
        deferred: Deferred[list[bytes]] = Deferred()
        self.lookups.append((username, realm, deferred))
        return deferred


class FailingStore:
    """
    A credential store whose lookups fail.
    """

    def get_keys(self, username: str, realm: str) -> Deferred[list[bytes]]:
        """
        Fail.
        """
        return fail(RuntimeError("database unreachable"))


def error_code(message: StunMessage) -> int | None:
    """
    Return the ERROR-CODE of C{message}, or L{None}.
    """
    error = message.get(AttributeType.ERROR_CODE)
    return None if error is None else int(error.code)  # type: ignore[attr-defined]


class ServiceFixture(SynchronousTestCase):
    """
    Builds a started L{TurnService} with writers for UDP and TCP.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.udp_reactor = FakeUdpReactor()
        self.relays = UdpRelayAllocator(
            ["192.0.2.1"],
            range(50000, 50100),
            reactor=self.udp_reactor,  # type: ignore[arg-type]
            rng=random.Random(3),
            socket_factory=self.udp_reactor.socket,  # type: ignore[arg-type]
        )
        self.core = TurnCore(
            TurnConfig(realm=REALM),
            self.relays,
            PeerPolicy(allow=["198.51.100.0/24"]),
        )
        self.store: Any = StaticCredentialStore({USER: PASSWORD})
        self.udp = RecordingWriter()
        self.tcp = RecordingWriter()
        self.service = self.make_service()

    def make_service(self) -> TurnService:
        """
        Build and start the service on the current store.
        """
        service = TurnService(
            self.core,
            self.store,
            self.relays,
            {Transport.UDP: self.udp, Transport.TCP: self.tcp},
            reactor=self.clock,
        )
        service.startService()
        self.addCleanup(lambda: service.running and service.stopService())
        return service

    def request(self, method: int, path: Path = UDP_PATH, **attributes: Any) -> None:
        """
        Send one unauthenticated request to the service.
        """
        message = StunMessage.request(
            method,
            [(AttributeType[name], value) for name, value in attributes.items()],
        )
        data = message.encode()
        self.service.stun_received(decode(data), data, path)

    def signed(
        self,
        method: int,
        attributes: list[tuple[int, object]],
        path: Path = UDP_PATH,
        password: str = PASSWORD,
        message_class: MessageClass = MessageClass.REQUEST,
    ) -> None:
        """
        Get a nonce, then send a request signed with the long-term key.
        """
        writer = self.tcp if path.transport is Transport.TCP else self.udp
        challenge = StunMessage.request(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
        )
        data = challenge.encode()
        before = len(writer.written)
        self.service.stun_received(decode(data), data, path)
        response = decode(writer.written[before][0])
        del writer.written[before:]
        nonce = response.get(AttributeType.NONCE)

        message = StunMessage(
            method,
            message_class,
            challenge.transaction_id[::-1],
            [
                (AttributeType.USERNAME, USER),
                (AttributeType.REALM, REALM),
                (AttributeType.NONCE, nonce),
                *attributes,
            ],
        )
        key = long_term_key(USER, REALM, password)
        data = message.encode(integrity_key=key)
        self.service.stun_received(decode(data), data, path)

    def allocate(self, path: Path = UDP_PATH) -> Address:
        """
        Create an allocation on C{path} and return its relay address.
        """
        self.signed(
            Method.ALLOCATE,
            [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)],
            path,
        )
        writer = self.tcp if path.transport is Transport.TCP else self.udp
        response = decode(writer.written[-1][0])
        assert response.message_class is MessageClass.SUCCESS_RESPONSE, response
        relay = response.get(AttributeType.XOR_RELAYED_ADDRESS)
        assert isinstance(relay, tuple)
        return relay

    def permit(self, peer: Address = PEER, path: Path = UDP_PATH) -> None:
        """
        Install a permission for C{peer} on the allocation of C{path}.
        """
        self.signed(
            Method.CREATE_PERMISSION, [(AttributeType.XOR_PEER_ADDRESS, peer)], path
        )

    def capture_logs(self) -> list[LogEvent]:
        """
        Return a list that receives every log event until the test ends.
        """
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        return events


class RoutingTests(ServiceFixture):
    """
    Tests for how L{TurnService} routes requests and their responses.
    """

    def test_provides_interface(self) -> None:
        """
        The service provides L{ITurnService}.
        """
        self.assertTrue(verifyObject(ITurnService, self.service))

    def test_challenge_401(self) -> None:
        """
        An Allocate without MESSAGE-INTEGRITY gets 401 with REALM and NONCE
        on the path it came from.
        """
        self.request(Method.ALLOCATE, REQUESTED_TRANSPORT=UDP_TRANSPORT)
        [(data, path)] = self.udp.written
        response = decode(data)
        self.assertEqual(path, UDP_PATH)
        self.assertEqual(error_code(response), 401)
        self.assertEqual(response.get(AttributeType.REALM), REALM)
        self.assertIsNotNone(response.get(AttributeType.NONCE))

    def test_challenge_creates_nothing(self) -> None:
        """
        An unauthenticated Allocate binds no relay port.
        """
        self.request(Method.ALLOCATE, REQUESTED_TRANSPORT=UDP_TRANSPORT)
        self.assertEqual(self.udp_reactor.bound, {})
        self.assertEqual(self.core.allocation_count, 0)

    def test_allocate_success(self) -> None:
        """
        An authenticated Allocate binds a relay port and gets a success
        signed with the user's key.
        """
        relay = self.allocate()
        response = decode(self.udp.written[-1][0])
        self.assertEqual(relay[0], "192.0.2.1")
        self.assertIn(relay[1], self.udp_reactor.bound)
        self.assertTrue(response.check_integrity(KEY))
        self.assertEqual(self.core.allocation_count, 1)

    def test_wrong_password_401(self) -> None:
        """
        A request signed with a wrong password gets 401 and binds nothing.
        """
        self.signed(
            Method.ALLOCATE,
            [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)],
            password="guess",
        )
        response = decode(self.udp.written[-1][0])
        self.assertEqual(error_code(response), 401)
        self.assertEqual(self.udp_reactor.bound, {})

    def test_tcp_path_uses_tcp_writer(self) -> None:
        """
        Responses for a TCP path go through the TCP writer, with that path.
        """
        self.allocate(TCP_PATH)
        self.assertEqual(self.udp.written, [])
        self.assertEqual({path for _, path in self.tcp.written}, {TCP_PATH})

    def test_no_writer_counted(self) -> None:
        """
        A path whose transport has no writer is dropped and counted.
        """
        path = Path(Transport.TLS, ("192.0.2.1", 443), CLIENT)
        self.request(Method.ALLOCATE, path, REQUESTED_TRANSPORT=UDP_TRANSPORT)
        self.assertEqual(self.service.drops[TurnDropReason.NO_WRITER], 1)

    def test_register_writer(self) -> None:
        """
        A writer registered later serves its transport.
        """
        tls = RecordingWriter()
        path = Path(Transport.TLS, ("192.0.2.1", 443), CLIENT)
        self.service.register_writer(Transport.TLS, tls)
        self.request(Method.ALLOCATE, path, REQUESTED_TRANSPORT=UDP_TRANSPORT)
        self.assertEqual(len(tls.written), 1)

    def test_request_without_allocation_437(self) -> None:
        """
        A Refresh on a path without allocation gets 437.
        """
        self.signed(Method.REFRESH, [])
        self.assertEqual(error_code(decode(self.udp.written[-1][0])), 437)

    def test_exception_counted_not_raised(self) -> None:
        """
        An exception in the core is counted and logged, never raised.
        """

        def broken(*args: object) -> None:
            raise ZeroDivisionError()

        self.patch(self.core, "receive_request", broken)
        self.request(Method.ALLOCATE, REQUESTED_TRANSPORT=UDP_TRANSPORT)
        self.assertEqual(self.service.drops[TurnDropReason.EXCEPTION], 1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_exception_log_rate_limited(self) -> None:
        """
        Repeated exceptions are logged once per interval.
        """

        def broken(*args: object) -> None:
            raise ZeroDivisionError()

        self.patch(self.core, "receive_request", broken)
        for _ in range(5):
            self.request(Method.ALLOCATE, REQUESTED_TRANSPORT=UDP_TRANSPORT)
        self.assertEqual(self.service.drops[TurnDropReason.EXCEPTION], 5)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class CredentialLookupTests(ServiceFixture):
    """
    Tests for the asynchronous credential lookup.
    """

    def test_waits_for_keys(self) -> None:
        """
        Nothing is sent until the store's Deferred fires; then the request
        succeeds.
        """
        store = DeferredStore()
        self.store = store
        self.service = self.make_service()
        self.signed(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
        )
        self.assertEqual(self.udp.written, [])
        [(username, realm, deferred)] = store.lookups
        self.assertEqual((username, realm), (USER, REALM))
        deferred.callback([KEY])
        response = decode(self.udp.written[-1][0])
        self.assertEqual(response.message_class, MessageClass.SUCCESS_RESPONSE)

    def test_keys_after_stop_dropped(self) -> None:
        """
        Keys that arrive after the service stopped are dropped.
        """
        store = DeferredStore()
        self.store = store
        self.service = self.make_service()
        self.signed(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
        )
        self.service.stopService()
        store.lookups[0][2].callback([KEY])
        self.assertEqual(self.udp.written, [])
        self.assertEqual(self.service.drops[TurnDropReason.STOPPED], 1)

    def test_store_failure_500(self) -> None:
        """
        A failing store is logged, and the request gets a 500 response,
        unsigned.
        """
        self.store = FailingStore()
        self.service = self.make_service()
        self.signed(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
        )
        response = decode(self.udp.written[-1][0])
        self.assertEqual(error_code(response), 500)
        self.assertFalse(response.has_integrity)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_pending_lookups_bounded(self) -> None:
        """
        Beyond the maximum of pending lookups, requests are dropped and
        counted.
        """
        self.patch(turn_module, "MAX_PENDING_LOOKUPS", 2)
        store = DeferredStore()
        self.store = store
        self.service = self.make_service()
        for _ in range(3):
            self.signed(
                Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
            )
        self.assertEqual(len(store.lookups), 2)
        self.assertEqual(self.service.drops[TurnDropReason.TOO_MANY_LOOKUPS], 1)

    def test_pending_count_released(self) -> None:
        """
        A finished lookup frees its place.
        """
        self.patch(turn_module, "MAX_PENDING_LOOKUPS", 1)
        store = DeferredStore()
        self.store = store
        self.service = self.make_service()
        self.signed(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
        )
        store.lookups[0][2].callback([])
        self.signed(
            Method.ALLOCATE, [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)]
        )
        self.assertEqual(len(store.lookups), 2)

    def test_auth_failure_logged(self) -> None:
        """
        A rejected password is logged with the user name, never with the
        password or key.
        """
        events = self.capture_logs()
        self.signed(
            Method.ALLOCATE,
            [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)],
            password="hunter2",
        )
        warnings = [e for e in events if e.get("log_level").name == "warn"]
        self.assertEqual(len(warnings), 1)
        text = formatEvent(warnings[0])
        self.assertIn(USER, text)
        self.assertNotIn("hunter2", repr(warnings[0]))

    def test_auth_failures_rate_limited(self) -> None:
        """
        Repeated authentication failures are logged once per interval, and
        the next line counts those left out.
        """
        events = self.capture_logs()
        for _ in range(4):
            self.signed(
                Method.ALLOCATE,
                [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)],
                password="guess",
            )
        self.clock.advance(turn_module.LOG_INTERVAL)
        self.signed(
            Method.ALLOCATE,
            [(AttributeType.REQUESTED_TRANSPORT, UDP_TRANSPORT)],
            password="guess",
        )
        warnings = [e for e in events if e.get("log_level").name == "warn"]
        self.assertEqual(len(warnings), 2)
        self.assertEqual(warnings[1]["suppressed"], 3)


class RelayTests(ServiceFixture):
    """
    Tests for data between clients and peers.
    """

    def test_peer_datagram_data_indication(self) -> None:
        """
        A datagram from a permitted peer reaches the client as a Data
        indication with the peer's address.
        """
        relay = self.allocate()
        self.permit()
        protocol = self.udp_reactor.bound[relay[1]].protocol
        protocol.datagramReceived(b"hello", PEER)
        message, path = self.udp.messages()[-1], self.udp.written[-1][1]
        self.assertEqual(path, UDP_PATH)
        self.assertEqual(message.method, Method.DATA)
        self.assertEqual(message.message_class, MessageClass.INDICATION)
        self.assertEqual(message.get(AttributeType.DATA), b"hello")
        self.assertEqual(message.get(AttributeType.XOR_PEER_ADDRESS), PEER)

    def test_peer_without_permission_dropped(self) -> None:
        """
        A datagram from a peer without permission is dropped.
        """
        relay = self.allocate()
        written = len(self.udp.written)
        protocol = self.udp_reactor.bound[relay[1]].protocol
        protocol.datagramReceived(b"hello", PEER)
        self.assertEqual(len(self.udp.written), written)

    def test_send_indication_to_peer(self) -> None:
        """
        A Send indication to a permitted peer is written from the relay port.
        """
        relay = self.allocate()
        self.permit()
        message = StunMessage(
            Method.SEND,
            MessageClass.INDICATION,
            b"\x01" * 12,
            [(AttributeType.XOR_PEER_ADDRESS, PEER), (AttributeType.DATA, b"ping")],
        )
        data = message.encode()
        self.service.stun_received(decode(data), data, UDP_PATH)
        self.assertEqual(self.udp_reactor.bound[relay[1]].written, [(b"ping", PEER)])

    def test_undecoded_send_indication_to_peer(self) -> None:
        """
        A Send indication of the common form, given undecoded, is taken and
        written from the relay port, with or without FINGERPRINT.
        """
        relay = self.allocate()
        self.permit()
        for fingerprint in (False, True):
            message = StunMessage(
                Method.SEND,
                MessageClass.INDICATION,
                b"\x03" * 12,
                [(AttributeType.XOR_PEER_ADDRESS, PEER), (AttributeType.DATA, b"ping")],
            )
            data = message.encode(fingerprint=fingerprint)
            self.assertTrue(self.service.send_indication_received(data, UDP_PATH))
        self.assertEqual(
            self.udp_reactor.bound[relay[1]].written, [(b"ping", PEER)] * 2
        )

    def test_undecoded_send_indication_without_permission(self) -> None:
        """
        An undecoded Send indication to a peer without permission is taken
        and dropped, and counted by the core.
        """
        relay = self.allocate()
        message = StunMessage(
            Method.SEND,
            MessageClass.INDICATION,
            b"\x04" * 12,
            [(AttributeType.XOR_PEER_ADDRESS, PEER), (AttributeType.DATA, b"ping")],
        )
        self.assertTrue(
            self.service.send_indication_received(message.encode(), UDP_PATH)
        )
        self.assertEqual(self.udp_reactor.bound[relay[1]].written, [])
        self.assertEqual(self.service.core.drops["no_permission"], 1)

    def test_undecoded_send_indication_other_form(self) -> None:
        """
        A Send indication of another form (here with DONT-FRAGMENT) is not
        taken undecoded, and nothing is sent.
        """
        relay = self.allocate()
        self.permit()
        message = StunMessage(
            Method.SEND,
            MessageClass.INDICATION,
            b"\x05" * 12,
            [
                (AttributeType.XOR_PEER_ADDRESS, PEER),
                (AttributeType.DATA, b"ping"),
                (AttributeType.DONT_FRAGMENT, True),
            ],
        )
        self.assertFalse(
            self.service.send_indication_received(message.encode(), UDP_PATH)
        )
        self.assertEqual(self.udp_reactor.bound[relay[1]].written, [])

    def test_channel_data_both_ways(self) -> None:
        """
        After ChannelBind, ChannelData goes to the peer and the peer's
        datagrams come back as ChannelData.
        """
        relay = self.allocate()
        self.signed(
            Method.CHANNEL_BIND,
            [
                (AttributeType.CHANNEL_NUMBER, 0x4000),
                (AttributeType.XOR_PEER_ADDRESS, PEER),
            ],
        )
        self.assertEqual(
            decode(self.udp.written[-1][0]).message_class,
            MessageClass.SUCCESS_RESPONSE,
        )
        port = self.udp_reactor.bound[relay[1]]
        self.service.channel_data_received(channeldata.encode(0x4000, b"out"), UDP_PATH)
        self.assertEqual(port.written, [(b"out", PEER)])
        port.protocol.datagramReceived(b"back", PEER)
        self.assertEqual(channeldata.decode(self.udp.written[-1][0]), (0x4000, b"back"))

    def test_truncated_channel_data_dropped(self) -> None:
        """
        ChannelData whose length field runs past the datagram is dropped
        silently, without an error counted.
        """
        relay = self.allocate()
        self.signed(
            Method.CHANNEL_BIND,
            [
                (AttributeType.CHANNEL_NUMBER, 0x4000),
                (AttributeType.XOR_PEER_ADDRESS, PEER),
            ],
        )
        self.service.channel_data_received(b"\x40\x00\x00\x10abc", UDP_PATH)
        self.assertEqual(self.udp_reactor.bound[relay[1]].written, [])
        self.assertEqual(self.service.drops[TurnDropReason.EXCEPTION], 0)

    def test_send_to_unpermitted_peer_dropped(self) -> None:
        """
        A Send indication to a peer without permission is dropped silently.
        """
        relay = self.allocate()
        message = StunMessage(
            Method.SEND,
            MessageClass.INDICATION,
            b"\x02" * 12,
            [(AttributeType.XOR_PEER_ADDRESS, PEER), (AttributeType.DATA, b"ping")],
        )
        data = message.encode()
        written = len(self.udp.written)
        self.service.stun_received(decode(data), data, UDP_PATH)
        self.assertEqual(self.udp_reactor.bound[relay[1]].written, [])
        self.assertEqual(len(self.udp.written), written)

    def test_channel_data_without_allocation_dropped(self) -> None:
        """
        ChannelData on a path without allocation is dropped silently.
        """
        self.service.channel_data_received(channeldata.encode(0x4000, b"x"), UDP_PATH)
        self.assertEqual(self.udp.written, [])
        self.assertEqual(self.service.drops[TurnDropReason.EXCEPTION], 0)


class LifetimeTests(ServiceFixture):
    """
    Tests for the expiry timer and closed paths.
    """

    def test_expiry_releases_relay(self) -> None:
        """
        An allocation not refreshed for its 600 s lifetime is deleted and its
        relay port closed.
        """
        relay = self.allocate()
        self.clock.advance(599)
        self.assertTrue(self.udp_reactor.bound[relay[1]].listening)
        self.clock.advance(2)
        self.assertFalse(self.udp_reactor.bound[relay[1]].listening)
        self.assertEqual(self.core.allocation_count, 0)

    def test_refresh_moves_expiry(self) -> None:
        """
        A Refresh at 500 s keeps the allocation past its first expiry.
        """
        relay = self.allocate()
        self.clock.advance(500)
        self.signed(Method.REFRESH, [(AttributeType.LIFETIME, 600)])
        self.clock.advance(200)
        self.assertTrue(self.udp_reactor.bound[relay[1]].listening)
        self.clock.advance(401)
        self.assertFalse(self.udp_reactor.bound[relay[1]].listening)

    def test_refresh_zero_deletes(self) -> None:
        """
        A Refresh with LIFETIME 0 deletes the allocation at once.
        """
        relay = self.allocate()
        self.signed(Method.REFRESH, [(AttributeType.LIFETIME, 0)])
        self.assertFalse(self.udp_reactor.bound[relay[1]].listening)

    def test_no_timer_without_state(self) -> None:
        """
        Without allocations, no timer is pending.
        """
        relay = self.allocate()
        self.signed(Method.REFRESH, [(AttributeType.LIFETIME, 0)])
        self.assertFalse(self.udp_reactor.bound[relay[1]].listening)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_one_timer(self) -> None:
        """
        Several allocations share one pending timer.
        """
        self.allocate()
        self.allocate(TCP_PATH)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_path_closed_deletes(self) -> None:
        """
        Closing the TCP connection of an allocation deletes it and closes its
        relay port.
        """
        relay = self.allocate(TCP_PATH)
        self.service.path_closed(TCP_PATH)
        self.assertFalse(self.udp_reactor.bound[relay[1]].listening)
        self.assertEqual(self.core.allocation_count, 0)

    def test_path_closed_unknown(self) -> None:
        """
        Closing a path without allocation changes nothing.
        """
        relay = self.allocate()
        self.service.path_closed(TCP_PATH)
        self.assertTrue(self.udp_reactor.bound[relay[1]].listening)

    def test_lifecycle_logged(self) -> None:
        """
        Creating and deleting an allocation are logged with the user name.
        """
        events = self.capture_logs()
        self.allocate()
        self.signed(Method.REFRESH, [(AttributeType.LIFETIME, 0)])
        texts = [formatEvent(e) for e in events]
        self.assertTrue(any("allocation created for alice" in t for t in texts))
        self.assertTrue(any("allocation deleted for alice" in t for t in texts))

    def test_stop_closes_relays(self) -> None:
        """
        Stopping the service closes every relay port and cancels the timer.
        """
        relay = self.allocate()
        self.service.stopService()
        self.assertFalse(self.udp_reactor.bound[relay[1]].listening)
        self.assertEqual(self.clock.getDelayedCalls(), [])


TURN_ON = ("--interface", "127.0.0.1", "--user", "alice:one")


class TurnOptionsTests(SynchronousTestCase):
    """
    Tests for the TURN options of L{tap.Options}.
    """

    def test_disabled_by_default(self) -> None:
        """
        Without a user, a users file or a secret, TURN is off.
        """
        self.assertFalse(parse()["turn"])

    def test_enabled_by_user(self) -> None:
        """
        A C{--user} enables TURN.
        """
        self.assertTrue(parse(*TURN_ON)["turn"])

    def test_enabled_by_secret(self) -> None:
        """
        A C{--auth-secret} enables TURN.
        """
        self.assertTrue(parse("--relay-ip", "127.0.0.1", "--auth-secret", "s")["turn"])

    def test_defaults(self) -> None:
        """
        The defaults: realm twisted-ice, relay ports 49152-65535, lifetime at
        most 3600 s, nonces valid 600 s, no quotas.
        """
        options = parse(*TURN_ON)
        self.assertEqual(options["realm"], "twisted-ice")
        self.assertEqual(options["relay-ports"], range(49152, 65536))
        self.assertEqual(options["max-lifetime"], 3600.0)
        self.assertEqual(options["nonce-lifetime"], 600.0)
        self.assertIsNone(options["max-allocations"])
        self.assertIsNone(options["user-quota"])

    def test_user_repeatable(self) -> None:
        """
        C{--user} may be repeated.
        """
        options = parse(*TURN_ON, "--user", "bob:two")
        self.assertEqual(options["user"], ["alice:one", "bob:two"])

    def test_user_invalid(self) -> None:
        """
        A C{--user} without a colon is rejected, naming the option.
        """
        self.assertIn("invalid --user", exit_message("--user", "alice"))

    def test_user_error_hides_password(self) -> None:
        """
        The message for an invalid C{--user} does not show the password.
        """
        self.assertNotIn("hunter2", exit_message("--user", ":hunter2"))

    def test_secret_repeatable(self) -> None:
        """
        C{--auth-secret} may be repeated, for rotation.
        """
        options = parse(*TURN_ON, "--auth-secret", "a", "--auth-secret", "b")
        self.assertEqual(options["auth-secret"], ["a", "b"])

    def test_secret_empty(self) -> None:
        """
        An empty C{--auth-secret} is rejected.
        """
        self.assertIn("invalid --auth-secret", exit_message("--auth-secret", ""))

    def test_users_file(self) -> None:
        """
        A readable C{--users} file enables TURN.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("alice:one\n")
        self.assertTrue(parse("--relay-ip", "127.0.0.1", "--users", path)["turn"])

    def test_users_file_missing(self) -> None:
        """
        A C{--users} file that cannot be read is rejected, naming the file.
        """
        path = self.mktemp()
        message = exit_message("--users", path)
        self.assertIn("invalid --users", message)
        self.assertIn(path, message)

    def test_users_file_malformed(self) -> None:
        """
        A malformed C{--users} file is rejected with its line number.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("alice:one\nbob\n")
        self.assertIn("line 2", exit_message("--users", path))

    def test_realm_empty(self) -> None:
        """
        An empty C{--realm} is rejected.
        """
        self.assertIn("invalid --realm", exit_message(*TURN_ON, "--realm", ""))

    def test_relay_ports(self) -> None:
        """
        C{--relay-ports MIN-MAX} is the inclusive range.
        """
        options = parse(*TURN_ON, "--relay-ports", "40000-40009")
        self.assertEqual(options["relay-ports"], range(40000, 40010))

    def test_relay_ports_invalid(self) -> None:
        """
        Malformed, reversed, zero or too large port ranges are rejected,
        naming the option and the value.
        """
        for value in ["40000", "a-b", "40010-40000", "0-10", "1-65536", ""]:
            message = exit_message(*TURN_ON, "--relay-ports", value)
            self.assertIn("invalid --relay-ports", message)

    def test_relay_ip_defaults_to_interface(self) -> None:
        """
        Without C{--relay-ip}, relay ports are on the C{--interface} address.
        """
        self.assertEqual(parse(*TURN_ON)["relay-ip"], ["127.0.0.1"])

    def test_relay_ip_given(self) -> None:
        """
        C{--relay-ip} sets the relay address.
        """
        options = parse(*TURN_ON, "--relay-ip", "127.0.0.2")
        self.assertEqual(options["relay-ip"], ["127.0.0.2"])

    def test_relay_ip_both_versions(self) -> None:
        """
        C{--relay-ip} given once for each IP version sets an IPv4 and an IPv6
        relay address, normalized.
        """
        options = parse(*TURN_ON, "--relay-ip", "127.0.0.2", "--relay-ip", "::0:1")
        self.assertEqual(options["relay-ip"], ["127.0.0.2", "::1"])

    def test_relay_ip_two_of_one_version(self) -> None:
        """
        Two C{--relay-ip} addresses of one IP version are rejected.
        """
        message = exit_message(
            *TURN_ON, "--relay-ip", "127.0.0.2", "--relay-ip", "127.0.0.3"
        )
        self.assertIn("invalid --relay-ip '127.0.0.3': a second IPv4 address", message)

    def test_relay_ip_machine_address(self) -> None:
        """
        Without C{--relay-ip} and C{--interface}, relay ports are on the
        machine's first non-loopback address.
        """
        self.patch(tap, "default_public_addresses", lambda interface: ["192.0.2.9"])
        self.assertEqual(parse("--user", "alice:one")["relay-ip"], ["192.0.2.9"])

    def test_relay_ip_needed(self) -> None:
        """
        With TURN on, no C{--interface} and no address on the machine,
        C{--relay-ip} is required.
        """
        self.patch(tap, "default_public_addresses", lambda interface: [])
        message = exit_message("--public-ip", "192.0.2.9", "--user", "alice:one")
        self.assertIn("missing --relay-ip", message)

    def test_relay_ip_invalid(self) -> None:
        """
        A C{--relay-ip} that is not an IP address is rejected.
        """
        message = exit_message(*TURN_ON, "--relay-ip", "turn.example")
        self.assertIn("invalid --relay-ip 'turn.example'", message)

    def test_relay_ip_wildcard(self) -> None:
        """
        A wildcard C{--relay-ip} is rejected: clients cannot reach it.
        """
        message = exit_message("--user", "a:b", "--relay-ip", "0.0.0.0")
        self.assertIn("invalid --relay-ip", message)

    def test_relay_public_ip_default(self) -> None:
        """
        Without C{--relay-public-ip}, there is no NAT.
        """
        self.assertIsNone(parse(*TURN_ON)["relay-public-ip"])

    def test_relay_public_ip_given(self) -> None:
        """
        C{--relay-public-ip} is normalized.
        """
        options = parse(
            "--user", "a:b", "--relay-ip", "fd00::5", "--relay-public-ip", "2001:DB8::7"
        )
        self.assertEqual(options["relay-public-ip"], "2001:db8::7")

    def test_relay_public_ip_of_second_relay(self) -> None:
        """
        With an IPv4 and an IPv6 relay address, C{--relay-public-ip} may be of
        either version.
        """
        options = parse(
            *TURN_ON,
            "--relay-ip",
            "10.0.0.5",
            "--relay-ip",
            "fd00::5",
            "--relay-public-ip",
            "2001:db8::7",
        )
        self.assertEqual(options["relay-public-ip"], "2001:db8::7")

    def test_relay_public_ip_invalid(self) -> None:
        """
        A C{--relay-public-ip} that is not a unicast IP address of the relay
        address's IP version is rejected, naming the value.
        """
        for value in ["turn.example", "0.0.0.0", "224.0.0.1", "2001:db8::7"]:
            message = exit_message(*TURN_ON, "--relay-public-ip", value)
            self.assertIn(f"invalid --relay-public-ip {value!r}", message)

    def test_max_lifetime(self) -> None:
        """
        C{--max-lifetime} is a number of seconds.
        """
        self.assertEqual(
            parse(*TURN_ON, "--max-lifetime", "7200")["max-lifetime"], 7200.0
        )

    def test_max_lifetime_invalid(self) -> None:
        """
        A C{--max-lifetime} that is not a number, not positive, or below the
        600 s default lifetime is rejected.
        """
        for value in ["abc", "-5", "0", "599", "nan", "inf"]:
            message = exit_message(*TURN_ON, "--max-lifetime", value)
            self.assertIn("invalid --max-lifetime", message)

    def test_nonce_lifetime_invalid(self) -> None:
        """
        A C{--nonce-lifetime} that is not a positive number is rejected.
        """
        for value in ["abc", "0", "-1"]:
            message = exit_message(*TURN_ON, "--nonce-lifetime", value)
            self.assertIn(f"invalid --nonce-lifetime {value!r}", message)

    def test_quotas(self) -> None:
        """
        C{--max-allocations} and C{--user-quota} are integers.
        """
        options = parse(*TURN_ON, "--max-allocations", "100", "--user-quota", "5")
        self.assertEqual(options["max-allocations"], 100)
        self.assertEqual(options["user-quota"], 5)

    def test_quotas_invalid(self) -> None:
        """
        Quotas that are not positive integers are rejected.
        """
        for option in ["--max-allocations", "--user-quota"]:
            for value in ["x", "0", "-1", "1.5"]:
                message = exit_message(*TURN_ON, option, value)
                self.assertIn(f"invalid {option} {value!r}", message)

    def test_peer_networks(self) -> None:
        """
        C{--allow-peer} and C{--deny-peer} repeat and are normalized.
        """
        options = parse(
            *TURN_ON,
            "--allow-peer",
            "127.0.0.1/32",
            "--allow-peer",
            "10.1.2.3/8",
            "--deny-peer",
            "2001:db8::1",
        )
        self.assertEqual(options["allow-peer"], ["127.0.0.1/32", "10.0.0.0/8"])
        self.assertEqual(options["deny-peer"], ["2001:db8::1/128"])

    def test_peer_network_invalid(self) -> None:
        """
        A peer network that is not CIDR is rejected, naming the option.
        """
        for option in ["--allow-peer", "--deny-peer"]:
            message = exit_message(*TURN_ON, option, "10.0.0.0/33")
            self.assertIn(f"invalid {option} '10.0.0.0/33'", message)

    def test_rfc5766_channels_off(self) -> None:
        """
        By default the service accepts channels up to 0x4FFF (RFC 8656).
        """
        service = build_turn_service(parse(*TURN_ON), MultiService(), RecordingWriter())
        assert service is not None
        self.assertEqual(service.max_channel, 0x4FFF)

    def test_rfc5766_channels_on(self) -> None:
        """
        C{--rfc5766-channels} accepts channels up to 0x7FFF (RFC 5766).
        """
        options = parse(*TURN_ON, "--rfc5766-channels")
        service = build_turn_service(options, MultiService(), RecordingWriter())
        assert service is not None
        self.assertEqual(service.max_channel, 0x7FFF)

    def test_separator_invalid(self) -> None:
        """
        A C{--rest-api-separator} of more than one character is rejected.
        """
        message = exit_message(*TURN_ON, "--rest-api-separator", "::")
        self.assertIn("invalid --rest-api-separator", message)


class BuildTurnServiceTests(SynchronousTestCase):
    """
    Tests for L{build_turn_service}.
    """

    def test_disabled(self) -> None:
        """
        Without credentials, no service is built.
        """
        parent = MultiService()
        self.assertIsNone(build_turn_service(parse(), parent, RecordingWriter()))
        self.assertEqual(list(parent), [])

    def test_builds_service(self) -> None:
        """
        With a user, a L{TurnService} writing UDP through the writer is added
        to the parent.
        """
        parent = MultiService()
        writer = RecordingWriter()
        service = build_turn_service(parse(*TURN_ON), parent, writer)
        assert service is not None
        self.assertIn(service, list(parent))
        self.assertIs(service.writers[Transport.UDP], writer)

    def test_users_file_reloads(self) -> None:
        """
        With C{--users}, a L{ReloadOnSighup} service is added too.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("alice:one\n")
        parent = MultiService()
        build_turn_service(
            parse("--relay-ip", "127.0.0.1", "--users", path), parent, RecordingWriter()
        )
        self.assertEqual([type(s) for s in parent], [TurnService, ReloadOnSighup])

    def test_own_addresses(self) -> None:
        """
        The peer policy's own addresses are the UDP port on the relay
        address, the interface and every ICE candidate address.
        """
        options = parse(*TURN_ON, "--public-ip", "192.0.2.7", "--relay-ip", "127.0.0.2")
        port = options["udp-port"]
        self.assertEqual(
            turn_module.own_addresses(options),
            [("127.0.0.1", port), ("127.0.0.2", port), ("192.0.2.7", port)],
        )

    def test_own_addresses_relay_public_ip(self) -> None:
        """
        The relay's public address is one of the own addresses too.
        """
        options = parse(*TURN_ON, "--relay-public-ip", "192.0.2.8")
        self.assertIn(
            ("192.0.2.8", options["udp-port"]), turn_module.own_addresses(options)
        )

    def test_relay_public_ip_nat(self) -> None:
        """
        With C{--relay-public-ip}, the core gives clients the public address
        of relay sockets on C{--relay-ip}, and reaches the own ICE port on
        the public address through the relay address.
        """
        options = parse(*TURN_ON, "--relay-public-ip", "192.0.2.8")
        service = build_turn_service(options, MultiService(), RecordingWriter())
        assert service is not None
        nat = service.core.nat
        port = options["udp-port"]
        self.assertEqual(nat.public(("127.0.0.1", 50000)), ("192.0.2.8", 50000))
        self.assertEqual(nat.outbound, {("192.0.2.8", port): ("127.0.0.1", port)})

    def test_no_nat_by_default(self) -> None:
        """
        Without C{--relay-public-ip}, relay addresses are given as bound.
        """
        service = build_turn_service(parse(*TURN_ON), MultiService(), RecordingWriter())
        assert service is not None
        self.assertEqual(service.core.nat.public(("127.0.0.1", 1)), ("127.0.0.1", 1))

    def test_credentials_from_options(self) -> None:
        """
        The service's store returns keys for the C{--user} users and the REST
        secrets.
        """
        options = parse(*TURN_ON, "--auth-secret", "s")
        store, users_file = turn_module.build_credential_store(options)
        keys: list[list[bytes]] = []
        store.get_keys("alice", "twisted-ice").addCallback(keys.append)
        self.assertEqual(keys, [[long_term_key("alice", "twisted-ice", "one")]])
        self.assertIsNone(users_file)


class RelayNatWarningTests(SynchronousTestCase):
    """
    Tests for the start-up warning of L{tap.build_turn} about a missing
    C{--relay-public-ip} behind a 1:1 NAT.
    """

    def build(self, *argv: str) -> list[str]:
        """
        Build the TURN service of C{argv}; return the warnings logged.
        """
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        tap.build_turn(parse(*argv), MultiService(), UdpMux(clock=Clock()))
        return [
            formatEvent(event)
            for event in events
            if event.get("log_level") is LogLevel.warn
        ]

    def test_nat_without_relay_public_ip(self) -> None:
        """
        A public address other than the relay address, without
        C{--relay-public-ip}, logs one warning that says what to set.
        """
        warnings = self.build(
            "--interface", "10.0.0.5", "--public-ip", "203.0.113.10", "--user", "a:b"
        )
        self.assertEqual(len(warnings), 1)
        self.assertIn("10.0.0.5", warnings[0])
        self.assertIn("203.0.113.10", warnings[0])
        self.assertIn("Set --relay-public-ip", warnings[0])

    def test_relay_public_ip_given(self) -> None:
        """
        With C{--relay-public-ip}, nothing is logged.
        """
        warnings = self.build(
            "--interface",
            "10.0.0.5",
            "--public-ip",
            "203.0.113.10",
            "--relay-public-ip",
            "203.0.113.10",
            "--user",
            "a:b",
        )
        self.assertEqual(warnings, [])

    def test_relay_address_public(self) -> None:
        """
        A relay address among the C{--public-ip} addresses logs nothing.
        """
        warnings = self.build(
            "--interface", "127.0.0.1", "--public-ip", "127.0.0.1", "--user", "a:b"
        )
        self.assertEqual(warnings, [])

    def test_default_public_ip(self) -> None:
        """
        Without C{--public-ip}, nothing is logged, even for a relay address
        that the default candidates lack.
        """
        warnings = self.build(
            "--interface", "127.0.0.1", "--relay-ip", "127.0.0.2", "--user", "a:b"
        )
        self.assertEqual(warnings, [])

    def test_turn_off(self) -> None:
        """
        Without TURN, nothing is logged.
        """
        warnings = self.build("--interface", "10.0.0.5", "--public-ip", "203.0.113.10")
        self.assertEqual(warnings, [])
