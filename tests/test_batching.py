"""
Tests for L{twisted_ice.transport.batching}, and for the UDP mux and the relay
ports when they send in batches.
"""

from __future__ import annotations

import errno

from twisted.internet.task import Clock
from twisted.logger import LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twisted_ice.addresses import Address, Path, Transport
from twisted_ice.stun import AddressFamily
from twisted_ice.transport.batching import MAX_QUEUED, SendBatch
from twisted_ice.transport.relay import RelayDropReason, UdpRelayAllocator
from twisted_ice.transport.udp import DropReason, UdpMux

PEER = ("198.51.100.7", 5000)
CLIENT = ("203.0.113.5", 40000)
LOCAL = ("192.0.2.1", 9000)


class Recorder:
    """
    A sender that records what it is asked to send.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Address]] = []

    def __call__(self, data: bytes, address: Address) -> None:
        self.sent.append((data, address))


class SendBatchTests(SynchronousTestCase):
    """
    Tests for L{SendBatch}.
    """

    def test_sent_when_iteration_ends(self) -> None:
        """
        Added datagrams wait until the reactor runs its delayed calls, then
        are sent in the order they were added.
        """
        clock = Clock()
        batch = SendBatch(clock)
        send = Recorder()
        batch.add(send, b"one", PEER)
        batch.add(send, b"two", CLIENT)
        self.assertEqual(send.sent, [])
        self.assertEqual(len(batch), 2)
        clock.advance(0)
        self.assertEqual(send.sent, [(b"one", PEER), (b"two", CLIENT)])
        self.assertEqual(len(batch), 0)

    def test_one_call_per_iteration(self) -> None:
        """
        One delayed call sends the whole batch, and the next datagram starts
        a new one.
        """
        clock = Clock()
        batch = SendBatch(clock)
        send = Recorder()
        batch.add(send, b"one", PEER)
        batch.add(send, b"two", PEER)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(0)
        self.assertEqual(clock.getDelayedCalls(), [])
        batch.add(send, b"three", PEER)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(0)
        self.assertEqual([data for data, _ in send.sent], [b"one", b"two", b"three"])

    def test_full_batch_sent_at_once(self) -> None:
        """
        The datagram that brings the batch to L{MAX_QUEUED} sends the whole
        batch at once, so the queue stays bounded.
        """
        clock = Clock()
        batch = SendBatch(clock)
        send = Recorder()
        for number in range(MAX_QUEUED - 1):
            batch.add(send, b"%d" % number, PEER)
        self.assertEqual(send.sent, [])
        batch.add(send, b"last", PEER)
        self.assertEqual(len(send.sent), MAX_QUEUED)
        self.assertEqual(len(batch), 0)
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_flush(self) -> None:
        """
        L{SendBatch.flush} sends at once and cancels the delayed call.
        """
        clock = Clock()
        batch = SendBatch(clock)
        send = Recorder()
        batch.add(send, b"one", PEER)
        batch.flush()
        self.assertEqual(send.sent, [(b"one", PEER)])
        self.assertEqual(clock.getDelayedCalls(), [])
        batch.flush()
        self.assertEqual(len(send.sent), 1)

    def test_failing_sender_logged(self) -> None:
        """
        A sender that raises is logged once, and the datagrams after it are
        still sent.
        """
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        clock = Clock()
        batch = SendBatch(clock)
        send = Recorder()

        def broken(data: bytes, address: Address) -> None:
            raise ZeroDivisionError("broken sender")

        batch.add(broken, b"lost", PEER)
        batch.add(broken, b"lost", PEER)
        batch.add(send, b"kept", PEER)
        clock.advance(0)
        self.assertEqual(send.sent, [(b"kept", PEER)])
        failures = [event for event in events if "log_failure" in event]
        self.assertEqual(len(failures), 1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class FakeSocket:
    """
    A datagram socket that records C{sendto} calls, or fails them with
    C{error}.
    """

    def __init__(self, error: int | None = None) -> None:
        self.sent: list[tuple[bytes, Address]] = []
        self.error = error

    def sendto(self, data: bytes, address: Address) -> int:
        if self.error is not None:
            raise OSError(self.error, "failed")
        self.sent.append((data, address))
        return len(data)


class BatchedMuxTests(SynchronousTestCase):
    """
    Tests for L{UdpMux} with a L{SendBatch}.
    """

    def make_mux(self, error: int | None = None) -> tuple[UdpMux, FakeSocket, Clock]:
        clock = Clock()
        mux = UdpMux(clock=clock, batch=SendBatch(clock))
        sock = FakeSocket(error)
        mux._write = sock.sendto
        return mux, sock, clock

    def test_write_waits_for_iteration(self) -> None:
        """
        C{write_to} sends at the end of the iteration, and counts the
        datagram then.
        """
        mux, sock, clock = self.make_mux()
        mux.write_to(b"media", Path(Transport.UDP, LOCAL, CLIENT))
        self.assertEqual(sock.sent, [])
        self.assertEqual(mux.packets_sent, 0)
        clock.advance(0)
        self.assertEqual(sock.sent, [(b"media", CLIENT)])
        self.assertEqual(mux.packets_sent, 1)
        self.assertEqual(mux.bytes_sent, 5)

    def test_failed_send_counted(self) -> None:
        """
        A batched send that the socket rejects is counted as
        L{DropReason.SEND_FAILED} when the batch is sent.
        """
        mux, sock, clock = self.make_mux(errno.ENOBUFS)
        mux.write_to(b"media", Path(Transport.UDP, LOCAL, CLIENT))
        clock.advance(0)
        self.assertEqual(mux.drops[DropReason.SEND_FAILED], 1)
        self.assertEqual(mux.packets_sent, 0)
        self.flushLoggedErrors(OSError)


class RelaySocket(FakeSocket):
    """
    A fake relay socket that can be bound and closed; sending after
    C{close} fails with EBADF.
    """

    def bind(self, address: Address) -> None:
        pass

    def setblocking(self, flag: bool) -> None:
        pass

    def fileno(self) -> int:
        return 7

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        raise BlockingIOError(errno.EAGAIN, "empty")

    def close(self) -> None:
        self.error = errno.EBADF


class FakeReactor:
    """
    The reader registry of a reactor, which the relay ports use.
    """

    def addReader(self, reader: object) -> None:
        pass

    def removeReader(self, reader: object) -> None:
        pass


class BatchedRelayTests(SynchronousTestCase):
    """
    Tests for L{UdpRelayAllocator} with a L{SendBatch}.
    """

    def make_allocator(
        self, error: int | None = None
    ) -> tuple[UdpRelayAllocator, RelaySocket, Clock]:
        clock = Clock()
        sock = RelaySocket(error)
        allocator = UdpRelayAllocator(
            ["192.0.2.1"],
            range(50000, 50002),
            reactor=FakeReactor(),  # type: ignore[arg-type]
            socket_factory=lambda family: sock,
            batch=SendBatch(clock),
        )
        return allocator, sock, clock

    def test_send_waits_for_iteration(self) -> None:
        """
        A datagram to a peer leaves the relay port at the end of the
        iteration, and is counted then.
        """
        allocator, sock, clock = self.make_allocator()
        relay = allocator.reserve(AddressFamily.IPV4)
        assert relay is not None
        allocator.send(relay, PEER, b"ping")
        self.assertEqual(sock.sent, [])
        self.assertEqual(allocator.packets_sent, 0)
        clock.advance(0)
        self.assertEqual(sock.sent, [(b"ping", PEER)])
        self.assertEqual(allocator.packets_sent, 1)

    def test_failed_send_counted(self) -> None:
        """
        A batched datagram that is too large for the socket is counted as
        L{RelayDropReason.TOO_LARGE} when the batch is sent.
        """
        allocator, sock, clock = self.make_allocator(errno.EMSGSIZE)
        relay = allocator.reserve(AddressFamily.IPV4)
        assert relay is not None
        allocator.send(relay, PEER, b"ping")
        clock.advance(0)
        self.assertEqual(allocator.drops[RelayDropReason.TOO_LARGE], 1)
        self.assertEqual(allocator.packets_sent, 0)

    def test_release_sends_waiting_datagrams(self) -> None:
        """
        Releasing a relay port first sends the datagrams that wait in the
        batch, so what was relayed before the allocation ended still leaves.
        """
        allocator, sock, clock = self.make_allocator()
        relay = allocator.reserve(AddressFamily.IPV4)
        assert relay is not None
        allocator.send(relay, PEER, b"last")
        allocator.release(relay)
        self.assertEqual(sock.sent, [(b"last", PEER)])
        self.assertEqual(allocator.packets_sent, 1)
        clock.advance(0)
        self.assertEqual(allocator.drops[RelayDropReason.WRITE_FAILED], 0)
