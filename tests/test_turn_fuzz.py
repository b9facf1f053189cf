"""
Property tests for the TURN core: arbitrary input never raises, and random
sequences of requests and timers keep the allocation table consistent.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from twisted.trial.unittest import SynchronousTestCase

from tests.test_turn_helpers import (
    CLIENT_PATH,
    KEY,
    OTHER_PATH,
    PEER,
    RELAY_HOST,
    Client,
    make_core,
)
from twisted_ice.stun import StunDecodeError, StunMessage, decode
from twisted_ice.turn import NeedKeys, SendToClient, SendToPeer

PEERS = [PEER, ("8.8.4.4", 6000), ("127.0.0.1", 5000), ("8.8.8.8", 5001)]
CHANNELS = [0x4000, 0x4001, 0x4FFF, 0x5000]


def decoded(data: bytes) -> StunMessage | None:
    """
    Return C{data} decoded, or L{None} when it is not STUN.
    """
    try:
        return decode(data)
    except StunDecodeError:
        return None


class ArbitraryInputTests(SynchronousTestCase):
    """
    Arbitrary bytes give a defined result, never an exception.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200), st.floats(min_value=0, max_value=1e6))
    def test_channel_data_never_raises(self, data: bytes, now: float) -> None:
        """
        Any bytes as ChannelData, with an allocation and a channel, give a
        L{SendToPeer} or L{None}.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        client.bind(0x4000, PEER)
        result = core.channel_data(data, CLIENT_PATH, now)
        self.assertIn(type(result), (SendToPeer, type(None)))

    @settings(max_examples=300, deadline=None)
    @given(st.binary(min_size=20, max_size=200))
    def test_stun_never_raises(self, tail: bytes) -> None:
        """
        Random attribute bytes after a valid header, as a request and as an
        indication, and with keys, give a defined result.
        """
        core, _allocator = make_core()
        Client(core).allocate()
        for message_type in (b"\x00\x03", b"\x00\x08", b"\x00\x16", b"\x00\x09"):
            body = tail[: len(tail) - len(tail) % 4]
            data = (
                message_type
                + len(body).to_bytes(2, "big")
                + b"\x21\x12\xa4\x42"
                + b"t" * 12
                + body
            )
            message = decoded(data)
            if message is None:
                continue
            result = core.receive_request(message, CLIENT_PATH, 1.0)
            self.assertIn(type(result), (SendToClient, NeedKeys, type(None)))
            if isinstance(result, NeedKeys):
                actions = core.authenticated_request(message, CLIENT_PATH, [KEY], 1)
                self.assertIsInstance(actions, list)
            indication = core.send_indication(message, CLIENT_PATH, 1.0)
            self.assertIn(type(indication), (SendToPeer, type(None)))

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(["8.8.8.8", "::1", "10.0.0.1", "1.1.1.1"]),
        st.integers(min_value=0, max_value=65535),
        st.binary(max_size=100),
    )
    def test_peer_datagram_never_raises(
        self, host: str, port: int, data: bytes
    ) -> None:
        """
        Datagrams from any peer give a L{SendToClient} or L{None}.
        """
        core, _allocator = make_core()
        client = Client(core)
        client.allocate()
        client.permit(PEER)
        result = core.peer_datagram((RELAY_HOST, 50000), (host, port), data, 1.0)
        self.assertIn(type(result), (SendToClient, type(None)))


class TurnStateMachine(RuleBasedStateMachine):
    """
    Random requests, relayed data and timers on two clients, checked
    against the allocator's view after every step.
    """

    def __init__(self) -> None:
        super().__init__()
        self.core, self.allocator = make_core(user_quota=2)
        self.clients = [Client(self.core), Client(self.core, path=OTHER_PATH)]
        self.now = 0.0

    @rule(seconds=st.sampled_from([1.0, 59.0, 299.0, 301.0, 601.0]))
    def advance(self, seconds: float) -> None:
        """
        Let time pass and fire the timers.
        """
        self.now += seconds
        self.core.expire(self.now)

    @rule(index=st.integers(0, 1), lifetime=st.sampled_from([None, 0, 600, 5000]))
    def allocate(self, index: int, lifetime: int | None) -> None:
        """
        Allocate, possibly again on the same path.
        """
        attributes = [] if lifetime is None else [(0x000D, lifetime)]
        self.clients[index].allocate(attributes, now=self.now)

    @rule(index=st.integers(0, 1), lifetime=st.sampled_from([None, 0, 1, 600]))
    def refresh(self, index: int, lifetime: int | None) -> None:
        """
        Refresh or delete.
        """
        self.clients[index].refresh(lifetime, now=self.now)

    @rule(index=st.integers(0, 1), peer=st.sampled_from(PEERS))
    def permit(self, index: int, peer: tuple[str, int]) -> None:
        """
        Create a permission.
        """
        self.clients[index].permit(peer, now=self.now)

    @rule(
        index=st.integers(0, 1),
        number=st.sampled_from(CHANNELS),
        peer=st.sampled_from(PEERS),
    )
    def bind(self, index: int, number: int, peer: tuple[str, int]) -> None:
        """
        Bind a channel.
        """
        self.clients[index].bind(number, peer, now=self.now)

    @rule(index=st.integers(0, 1), number=st.sampled_from(CHANNELS))
    def channel_data(self, index: int, number: int) -> None:
        """
        Send ChannelData.
        """
        data = number.to_bytes(2, "big") + b"\x00\x01x"
        self.core.channel_data(data, self.clients[index].path, self.now)

    @rule(index=st.integers(0, 1), peer=st.sampled_from(PEERS))
    def send(self, index: int, peer: tuple[str, int]) -> None:
        """
        Send a Send indication.
        """
        self.clients[index].send_indication(peer, b"x", now=self.now)

    @precondition(lambda self: bool(self.allocator.bound))
    @rule(peer=st.sampled_from(PEERS), data=st.data())
    def peer_datagram(self, peer: tuple[str, int], data: st.DataObject) -> None:
        """
        Receive a datagram on a bound relayed address.
        """
        relay = data.draw(st.sampled_from(sorted(self.allocator.bound)))
        self.core.peer_datagram(relay, peer, b"x", self.now)

    @invariant()
    def relays_match_allocations(self) -> None:
        """
        The allocator has bound exactly the relayed addresses of the live
        allocations.
        """
        relays = set()
        for client in self.clients:
            allocation = self.core.allocation(client.path)
            if allocation is not None:
                relays.update(allocation.relays.values())
        assert relays == self.allocator.bound, (relays, self.allocator.bound)

    @invariant()
    def deadline_not_in_past(self) -> None:
        """
        After expire(), no deadline is left at or before the current time.
        """
        self.core.expire(self.now)
        deadline = self.core.next_deadline()
        assert deadline is None or deadline > self.now, (deadline, self.now)

    @invariant()
    def heap_bounded(self) -> None:
        """
        The timer heap contains a few entries per record, not one per refresh.
        """
        records = 0
        for client in self.clients:
            allocation = self.core.allocation(client.path)
            if allocation is not None:
                records += 1 + len(allocation.permissions) + len(allocation.channels)
        assert len(self.core._table.timers) <= 2 * records + 8


class TurnStateMachineTests(SynchronousTestCase):
    """
    Runs L{TurnStateMachine}.
    """

    def test_state_machine(self) -> None:
        """
        Random sequences keep the invariants of L{TurnStateMachine}.
        """
        run_state_machine_as_test(
            TurnStateMachine,
            settings=settings(max_examples=60, stateful_step_count=40, deadline=None),
        )
