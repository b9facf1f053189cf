"""
Tests for the timers of the TURN core: permissions 300 s, channel bindings
600 s with a 300 s cooldown, allocation lifetimes (RFC 8656).
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.test_turn_helpers import (
    CLIENT_PATH,
    PEER,
    Client,
    error_code,
    make_core,
    relayed_address,
)
from twisted_ice.addresses import Address
from twisted_ice.stun import AttributeType
from twisted_ice.turn import (
    AllocationDeleted,
    DeletionReason,
    SendToClient,
    SendToPeer,
    TurnCore,
)
from twisted_ice.turn.timers import DeadlineHeap, Timed

OTHER_PEER = ("8.8.4.4", 6000)
CHANNEL_DATA = b"\x40\x00\x00\x01x"


def allocated(lifetime: int | None = None) -> tuple[TurnCore, Client, Address]:
    """
    Return a core, a client with an allocation made at 0 s, and its relayed
    address.
    """
    core, _allocator = make_core()
    client = Client(core)
    attributes = [] if lifetime is None else [(AttributeType.LIFETIME, lifetime)]
    relay = relayed_address(client.allocate(attributes))
    return core, client, relay


class PermissionTimerTests(SynchronousTestCase):
    """
    A permission lasts 300 s (RFC 8656 section 9).
    """

    def test_relays_at_299(self) -> None:
        """
        At 299 s the permission still relays.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        core.expire(299.0)
        self.assertIsInstance(
            core.peer_datagram(relay, PEER, b"x", 299.0), SendToClient
        )

    def test_dropped_at_301(self) -> None:
        """
        At 301 s the permission is gone, whether or not expire() ran.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        self.assertIsNone(core.peer_datagram(relay, PEER, b"x", 301.0))
        core.expire(301.0)
        self.assertIsNone(core.peer_datagram(relay, PEER, b"x", 301.0))
        self.assertIsNone(client.send_indication(PEER, b"x", now=301.0))

    def test_refreshed_by_create_permission(self) -> None:
        """
        A CreatePermission at 200 s extends the permission to 500 s.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        client.permit(PEER, now=200.0)
        core.expire(400.0)
        self.assertIsNotNone(core.peer_datagram(relay, PEER, b"x", 499.0))
        core.expire(500.0)
        self.assertIsNone(core.peer_datagram(relay, PEER, b"x", 500.0))

    def test_refreshed_by_channel_bind(self) -> None:
        """
        A ChannelBind at 200 s refreshes the peer's permission to 500 s.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        client.bind(0x4000, PEER, now=200.0)
        core.expire(400.0)
        self.assertIsNotNone(core.peer_datagram(relay, PEER, b"x", 400.0))

    def test_not_refreshed_by_send(self) -> None:
        """
        Send indications do not refresh the permission.
        """
        core, client, relay = allocated()
        client.permit(PEER)
        for second in range(0, 300, 10):
            client.send_indication(PEER, b"x", now=float(second))
        core.expire(301.0)
        self.assertIsNone(core.peer_datagram(relay, PEER, b"x", 301.0))

    def test_not_refreshed_by_channel_data(self) -> None:
        """
        ChannelData does not refresh the permission: at 301 s a channel
        bound at 0 s relays nothing.
        """
        core, client, _relay = allocated()
        client.bind(0x4000, PEER)
        for second in range(0, 300, 10):
            core.channel_data(CHANNEL_DATA, CLIENT_PATH, float(second))
        core.expire(301.0)
        self.assertIsNone(core.channel_data(CHANNEL_DATA, CLIENT_PATH, 301.0))

    def test_expire_is_silent(self) -> None:
        """
        An expiring permission gives no action.
        """
        core, client, _relay = allocated()
        client.permit(PEER)
        self.assertEqual(core.expire(301.0), [])


class ChannelTimerTests(SynchronousTestCase):
    """
    A channel binding lasts 600 s, and its number and peer stay reserved for
    300 s more (RFC 8656 section 12).
    """

    def test_relays_at_599(self) -> None:
        """
        At 599 s a channel bound at 0 s, with its permission refreshed, still
        relays ChannelData.
        """
        core, client, relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        client.permit(PEER, now=290.0)
        client.permit(PEER, now=580.0)
        core.expire(599.0)
        self.assertEqual(
            core.channel_data(CHANNEL_DATA, CLIENT_PATH, 599.0),
            SendToPeer(relay, PEER, b"x"),
        )

    def test_dropped_at_601(self) -> None:
        """
        At 601 s ChannelData on the expired channel is dropped, and peer
        datagrams come as Data indications.
        """
        core, client, relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        client.permit(PEER, now=500.0)
        core.expire(601.0)
        self.assertIsNone(core.channel_data(CHANNEL_DATA, CLIENT_PATH, 601.0))
        reply = core.peer_datagram(relay, PEER, b"x", 601.0)
        assert reply is not None
        self.assertNotEqual(reply.data[:2], b"\x40\x00")

    def test_rebind_refreshes(self) -> None:
        """
        Rebinding the same pair at 500 s keeps the channel until 1100 s.
        """
        core, client, relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        client.bind(0x4000, PEER, now=500.0)
        client.permit(PEER, now=750.0)
        core.expire(1000.0)
        self.assertEqual(
            core.channel_data(CHANNEL_DATA, CLIENT_PATH, 1000.0),
            SendToPeer(relay, PEER, b"x"),
        )

    def test_cooling_number_not_rebindable_to_other_peer(self) -> None:
        """
        At 700 s, 100 s after expiry, the number cannot go to another peer.
        """
        core, client, _relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        core.expire(700.0)
        self.assertEqual(error_code(client.bind(0x4000, OTHER_PEER, now=700.0)), 400)

    def test_cooling_peer_not_rebindable_to_other_number(self) -> None:
        """
        At 700 s the peer cannot go to another number.
        """
        core, client, _relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        core.expire(700.0)
        self.assertEqual(error_code(client.bind(0x4001, PEER, now=700.0)), 400)

    def test_cooling_same_pair_rebindable(self) -> None:
        """
        At 700 s the same pair can be bound again, and it relays.
        """
        core, client, relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        core.expire(700.0)
        self.assertIsNone(error_code(client.bind(0x4000, PEER, now=700.0)))
        self.assertEqual(
            core.channel_data(CHANNEL_DATA, CLIENT_PATH, 701.0),
            SendToPeer(relay, PEER, b"x"),
        )

    def test_released_after_cooldown(self) -> None:
        """
        At 900 s, 300 s after expiry, the number can go to another peer.
        """
        core, client, _relay = allocated(lifetime=3600)
        client.bind(0x4000, PEER)
        core.expire(900.0)
        self.assertIsNone(error_code(client.bind(0x4000, OTHER_PEER, now=900.0)))


class AllocationTimerTests(SynchronousTestCase):
    """
    An allocation expires at the end of its lifetime.
    """

    def test_alive_before_lifetime(self) -> None:
        """
        At 599 s an allocation of 600 s is alive.
        """
        core, _client, _relay = allocated()
        self.assertEqual(core.expire(599.0), [])
        self.assertEqual(core.allocation_count, 1)

    def test_deleted_at_lifetime(self) -> None:
        """
        At 600 s the allocation is deleted, its relay released, with an
        L{AllocationDeleted}.
        """
        core, client, relay = allocated()
        actions = core.expire(600.0)
        self.assertEqual(
            actions,
            [AllocationDeleted(CLIENT_PATH, (relay,), "alice", DeletionReason.EXPIRED)],
        )
        self.assertEqual(core.allocation_count, 0)

    def test_request_after_expiry_gets_437(self) -> None:
        """
        A Refresh after the allocation expired gets 437.
        """
        core, client, _relay = allocated()
        core.expire(600.0)
        client.fetch_nonce(601.0)
        self.assertEqual(error_code(client.refresh(600, now=601.0)), 437)

    def test_next_deadline_is_earliest(self) -> None:
        """
        The next deadline is the earliest timer: a permission made at 10 s
        expires at 310 s, before the allocation at 600 s.
        """
        core, client, _relay = allocated()
        self.assertEqual(core.next_deadline(), 600.0)
        client.permit(PEER, now=10.0)
        self.assertEqual(core.next_deadline(), 310.0)

    def test_next_deadline_none_without_state(self) -> None:
        """
        A core without allocations has no deadline.
        """
        core, _allocator = make_core()
        self.assertIsNone(core.next_deadline())

    def test_next_deadline_after_delete(self) -> None:
        """
        A deleted allocation leaves no deadline behind.
        """
        core, client, _relay = allocated()
        client.permit(PEER)
        client.refresh(0, now=1.0)
        self.assertIsNone(core.next_deadline())

    def test_shortened_lifetime(self) -> None:
        """
        A Refresh to a shorter lifetime moves the expiry earlier.
        """
        core, client, _relay = allocated(lifetime=3600)
        client.refresh(600, now=10.0)
        self.assertEqual(core.next_deadline(), 610.0)
        core.expire(610.0)
        self.assertEqual(core.allocation_count, 0)


class DeadlineHeapTests(SynchronousTestCase):
    """
    Tests for L{DeadlineHeap}.
    """

    def test_extension_does_not_grow_heap(self) -> None:
        """
        Extending a deadline many times adds no heap entries.
        """
        heap = DeadlineHeap()
        record = Timed(10.0)
        heap.add(record)
        for due in range(11, 1000):
            heap.update(record, float(due))
        self.assertEqual(len(heap), 1)

    def test_extended_record_fires_late(self) -> None:
        """
        An extended record does not fire at its old deadline.
        """
        heap = DeadlineHeap()
        record = Timed(10.0)
        heap.add(record)
        heap.update(record, 20.0)
        self.assertEqual(heap.pop_due(15.0), [])
        self.assertEqual(heap.pop_due(20.0), [record])

    def test_cancelled_never_fires(self) -> None:
        """
        A cancelled record never fires.
        """
        heap = DeadlineHeap()
        record = Timed(10.0)
        heap.add(record)
        heap.cancel(record)
        self.assertEqual(heap.pop_due(100.0), [])
        self.assertIsNone(heap.next_deadline())
