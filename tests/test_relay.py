"""
Tests for L{twisted_ice.transport.relay}.
"""

from __future__ import annotations

import errno
import random
from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from twisted_ice.addresses import Address
from twisted_ice.interfaces import IRelayAllocator
from twisted_ice.stun import AddressFamily
from twisted_ice.transport.relay import (
    RelayDropReason,
    UdpRelayAllocator,
)

IPV4 = AddressFamily.IPV4
IPV6 = AddressFamily.IPV6


class FakeArrival:
    """
    Delivers datagrams to a fake relay socket as the network would: queue
    it, then let the reactor's reader read it.
    """

    def __init__(self, sock: FakeRelaySocket) -> None:
        self._socket = sock

    def datagramReceived(self, data: bytes, addr: tuple[object, ...]) -> None:
        """
        Queue C{data} from C{addr} and run the socket's reader.
        """
        self._socket.inbox.append((data, addr))
        reader = self._socket.reactor.readers[self._socket.fileno()]
        reader.doRead()


class FakeRelaySocket:
    """
    A UDP socket that records what is sent and reads from an inbox.

    @ivar port: the bound port, once bound.
    @ivar interface: the bound host.
    @ivar written: the datagrams sent, with their destinations.
    @ivar error: raised by C{sendto} when set.
    @ivar protocol: delivers datagrams to the socket, for tests.
    """

    def __init__(self, reactor: FakeUdpReactor, family: int) -> None:
        self.reactor = reactor
        self.family = family
        self.port = 0
        self.interface = ""
        self.written: list[tuple[bytes, Address]] = []
        self.inbox: list[tuple[bytes, tuple[object, ...]]] = []
        self.error: Exception | None = None
        self.read_error: OSError | None = None
        self.closed = False
        self.blocking = True
        self.protocol = FakeArrival(self)
        self._fileno = reactor.next_fileno()

    @property
    def listening(self) -> bool:
        """
        Whether the socket is open and watched by the reactor.
        """
        return not self.closed and self._fileno in self.reactor.readers

    def bind(self, address: Address) -> None:
        """
        Bind, or raise L{OSError} (EADDRINUSE) when the port is in use.
        """
        host, port = address
        self.reactor.attempts.append(port)
        if port in self.reactor.in_use:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        current = self.reactor.bound.get(port)
        if current is not None and not current.closed:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        self.interface, self.port = host, port
        self.reactor.bound[port] = self

    def setblocking(self, flag: bool) -> None:
        """
        Record the blocking mode.
        """
        self.blocking = flag

    def fileno(self) -> int:
        """
        Return a made-up file descriptor.
        """
        return self._fileno

    def recvfrom(self, size: int) -> tuple[bytes, tuple[object, ...]]:
        """
        Return the oldest queued datagram, or raise EAGAIN.
        """
        if self.read_error is not None:
            raise self.read_error
        if not self.inbox:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return self.inbox.pop(0)

    def sendto(self, data: bytes, addr: Address) -> int:
        """
        Record C{data} for C{addr}, or raise the configured error.
        """
        if self.error is not None:
            raise self.error
        self.written.append((data, addr))
        return len(data)

    def close(self) -> None:
        """
        Mark the socket closed.
        """
        self.closed = True


class FakeUdpReactor:
    """
    The reactor and socket factory of an allocator under test: sockets bind
    fake ports, failing on ports in L{in_use}, and readers are recorded.
    """

    def __init__(self, in_use: set[int] | None = None) -> None:
        self.in_use = in_use or set()
        self.bound: dict[int, FakeRelaySocket] = {}
        self.attempts: list[int] = []
        self.readers: dict[int, Any] = {}
        self._filenos = 100

    def next_fileno(self) -> int:
        """
        Return a new made-up file descriptor.
        """
        self._filenos += 1
        return self._filenos

    def socket(self, family: int) -> FakeRelaySocket:
        """
        Make an unbound fake socket.
        """
        return FakeRelaySocket(self, family)

    def addReader(self, reader: Any) -> None:
        """
        Watch C{reader}.
        """
        self.readers[reader.fileno()] = reader

    def removeReader(self, reader: Any) -> None:
        """
        Stop watching C{reader}.
        """
        self.readers.pop(reader.fileno(), None)


def allocator(
    reactor: FakeUdpReactor, ports: range = range(50000, 50010), **kwargs: Any
) -> UdpRelayAllocator:
    """
    Return an allocator on 192.0.2.1 over C{ports} with a seeded order.
    """
    return UdpRelayAllocator(
        ["192.0.2.1"],
        ports,
        reactor=reactor,  # type: ignore[arg-type]
        rng=random.Random(1),
        socket_factory=reactor.socket,  # type: ignore[arg-type]
        **kwargs,
    )


class ReserveTests(SynchronousTestCase):
    """
    Tests for L{UdpRelayAllocator.reserve} and L{UdpRelayAllocator.release}.
    """

    def test_provides_interface(self) -> None:
        """
        The allocator provides L{IRelayAllocator}.
        """
        self.assertTrue(verifyObject(IRelayAllocator, allocator(FakeUdpReactor())))

    def test_reserve_binds_port(self) -> None:
        """
        A reservation binds a port in the range on the relay host.
        """
        reactor = FakeUdpReactor()
        relay = allocator(reactor).reserve(IPV4)
        assert relay is not None
        self.assertEqual(relay[0], "192.0.2.1")
        self.assertIn(relay[1], range(50000, 50010))
        self.assertEqual(reactor.bound[relay[1]].interface, "192.0.2.1")

    def test_distinct_ports(self) -> None:
        """
        Each reservation gets its own port until the range is used up, then
        L{None}.
        """
        pool = allocator(FakeUdpReactor())
        relays = [pool.reserve(IPV4) for _ in range(10)]
        self.assertEqual(len({r for r in relays if r is not None}), 10)
        self.assertIsNone(pool.reserve(IPV4))

    def test_random_order(self) -> None:
        """
        Ports are not handed out in ascending order.
        """
        pool = allocator(FakeUdpReactor(), ports=range(50000, 51000))
        ports = []
        for _ in range(20):
            relay = pool.reserve(IPV4)
            assert relay is not None
            ports.append(relay[1])
        self.assertNotEqual(ports, sorted(ports))

    def test_skips_ports_in_use(self) -> None:
        """
        Ports that another process has bound are skipped.
        """
        reactor = FakeUdpReactor(in_use=set(range(50000, 50009)))
        relay = allocator(reactor).reserve(IPV4)
        self.assertEqual(relay, ("192.0.2.1", 50009))

    def test_attempts_bounded(self) -> None:
        """
        A reservation tries at most the configured number of ports.
        """
        reactor = FakeUdpReactor(in_use=set(range(50000, 51000)))
        pool = allocator(reactor, ports=range(50000, 51000), attempts=8)
        self.assertIsNone(pool.reserve(IPV4))
        self.assertEqual(len(reactor.attempts), 8)

    def test_in_use_port_retried_later(self) -> None:
        """
        A port that was in use goes back to the pool and is bound once free.
        """
        reactor = FakeUdpReactor(in_use={50000})
        pool = allocator(reactor, ports=range(50000, 50001))
        self.assertIsNone(pool.reserve(IPV4))
        reactor.in_use.clear()
        self.assertEqual(pool.reserve(IPV4), ("192.0.2.1", 50000))

    def test_even_port(self) -> None:
        """
        With C{even_port}, the port is even.
        """
        pool = allocator(FakeUdpReactor(), ports=range(50000, 51000))
        for _ in range(20):
            relay = pool.reserve(IPV4, even_port=True)
            assert relay is not None
            self.assertEqual(relay[1] % 2, 0)

    def test_reserve_next_holds_next_port(self) -> None:
        """
        With C{reserve_next}, the relay port is even and the next port is
        bound and held.
        """
        reactor = FakeUdpReactor()
        pool = allocator(reactor)
        relay = pool.reserve(IPV4, even_port=True, reserve_next=True)
        assert relay is not None
        self.assertEqual(relay[1] % 2, 0)
        self.assertEqual(pool.held, {("192.0.2.1", relay[1] + 1)})
        self.assertTrue(reactor.bound[relay[1] + 1].listening)

    def test_held_port_not_reserved(self) -> None:
        """
        A held port is not handed out by a later reservation.
        """
        pool = allocator(FakeUdpReactor())
        relay = pool.reserve(IPV4, even_port=True, reserve_next=True)
        assert relay is not None
        others = {pool.reserve(IPV4) for _ in range(8)}
        self.assertNotIn(("192.0.2.1", relay[1] + 1), others)
        self.assertNotIn(None, others)

    def test_reserve_next_skips_taken_next(self) -> None:
        """
        An even port whose next port is in use is not chosen.
        """
        reactor = FakeUdpReactor(in_use={50001, 50003, 50007, 50009})
        pool = allocator(reactor)
        relay = pool.reserve(IPV4, even_port=True, reserve_next=True)
        self.assertEqual(relay, ("192.0.2.1", 50004))

    def test_take_reserved(self) -> None:
        """
        L{UdpRelayAllocator.take_reserved} turns a held port into a relay
        port, once.
        """
        pool = allocator(FakeUdpReactor())
        relay = pool.reserve(IPV4, even_port=True, reserve_next=True)
        assert relay is not None
        held = ("192.0.2.1", relay[1] + 1)
        self.assertTrue(pool.take_reserved(held))
        self.assertFalse(pool.take_reserved(held))
        self.assertIn(held, pool.ports)

    def test_release_held(self) -> None:
        """
        Releasing a held port closes it.
        """
        reactor = FakeUdpReactor()
        pool = allocator(reactor)
        relay = pool.reserve(IPV4, even_port=True, reserve_next=True)
        assert relay is not None
        held = ("192.0.2.1", relay[1] + 1)
        pool.release(held)
        self.assertEqual(pool.held, set())
        self.assertFalse(reactor.bound[held[1]].listening)

    def test_other_family(self) -> None:
        """
        A family without a relay host gets L{None}.
        """
        self.assertIsNone(allocator(FakeUdpReactor()).reserve(IPV6))

    def test_families(self) -> None:
        """
        The families are those of the relay hosts.
        """
        reactor = FakeUdpReactor()
        pool = UdpRelayAllocator(
            ["192.0.2.1", "2001:db8::1"],
            reactor=reactor,  # type: ignore[arg-type]
            socket_factory=reactor.socket,  # type: ignore[arg-type]
        )
        self.assertEqual(pool.families(), frozenset({IPV4, IPV6}))

    def test_two_hosts_same_family(self) -> None:
        """
        Two relay hosts of one IP version are rejected.
        """
        self.assertRaises(
            ValueError,
            UdpRelayAllocator,
            ["192.0.2.1", "192.0.2.2"],
            reactor=FakeUdpReactor(),
        )

    def test_release_closes_port(self) -> None:
        """
        Releasing a relay address closes its socket.
        """
        reactor = FakeUdpReactor()
        pool = allocator(reactor)
        relay = pool.reserve(IPV4)
        assert relay is not None
        pool.release(relay)
        self.assertFalse(reactor.bound[relay[1]].listening)
        self.assertNotIn(relay, pool.ports)

    def test_release_returns_port(self) -> None:
        """
        A released port can be reserved again.
        """
        pool = allocator(FakeUdpReactor(), ports=range(50000, 50001))
        relay = pool.reserve(IPV4)
        assert relay is not None
        pool.release(relay)
        self.assertEqual(pool.reserve(IPV4), relay)

    def test_release_unknown(self) -> None:
        """
        Releasing an address that is not bound does nothing.
        """
        pool = allocator(FakeUdpReactor())
        pool.release(("192.0.2.1", 50000))
        self.assertEqual(pool.ports, {})

    def test_close_releases_all(self) -> None:
        """
        L{UdpRelayAllocator.close} closes every port.
        """
        reactor = FakeUdpReactor()
        pool = allocator(reactor)
        pool.reserve(IPV4)
        pool.reserve(IPV4)
        pool.close()
        self.assertEqual(pool.ports, {})
        self.assertEqual([p.listening for p in reactor.bound.values()], [False, False])


class DatagramTests(SynchronousTestCase):
    """
    Tests for the datagrams carried by relay ports.
    """

    def setUp(self) -> None:
        self.reactor = FakeUdpReactor()
        self.pool = allocator(self.reactor)
        relay = self.pool.reserve(IPV4)
        assert relay is not None
        self.relay = relay
        self.received: list[tuple[Address, Address, bytes]] = []

    def test_peer_datagram_to_receiver(self) -> None:
        """
        A datagram received on a relay port goes to the receiver with the
        relay address and the peer address.
        """
        self.pool.receiver = lambda *args: self.received.append(args)
        protocol = self.reactor.bound[self.relay[1]].protocol
        protocol.datagramReceived(b"hello", ("198.51.100.7", 4000))
        self.assertEqual(
            self.received, [(self.relay, ("198.51.100.7", 4000), b"hello")]
        )

    def test_ipv6_peer_address(self) -> None:
        """
        The flow info and scope id of an IPv6 source are cut off.
        """
        self.pool.receiver = lambda *args: self.received.append(args)
        protocol = self.reactor.bound[self.relay[1]].protocol
        protocol.datagramReceived(b"x", ("2001:db8::7", 4000, 0, 0))  # type: ignore[arg-type]
        self.assertEqual(self.received[0][1], ("2001:db8::7", 4000))

    def test_no_receiver_counted(self) -> None:
        """
        Without a receiver, datagrams are dropped and counted.
        """
        protocol = self.reactor.bound[self.relay[1]].protocol
        protocol.datagramReceived(b"x", ("198.51.100.7", 4000))
        self.assertEqual(self.pool.drops[RelayDropReason.NO_RECEIVER], 1)

    def test_send_writes_to_peer(self) -> None:
        """
        L{UdpRelayAllocator.send} writes from the relay port to the peer.
        """
        self.pool.send(self.relay, ("198.51.100.7", 4000), b"data")
        written = self.reactor.bound[self.relay[1]].written
        self.assertEqual(written, [(b"data", ("198.51.100.7", 4000))])

    def test_send_unknown_relay_counted(self) -> None:
        """
        Sending from a relay address that is not bound drops and counts.
        """
        self.pool.send(("192.0.2.1", 1), ("198.51.100.7", 4000), b"data")
        self.assertEqual(self.pool.drops[RelayDropReason.UNKNOWN_RELAY], 1)

    def test_send_too_large_counted(self) -> None:
        """
        A datagram the socket rejects as too large is dropped and counted.
        """
        self.reactor.bound[self.relay[1]].error = OSError(errno.EMSGSIZE, "too long")
        self.pool.send(self.relay, ("198.51.100.7", 4000), b"data")
        self.assertEqual(self.pool.drops[RelayDropReason.TOO_LARGE], 1)

    def test_socket_non_blocking(self) -> None:
        """
        Relay sockets are non-blocking, so a read never stalls the reactor.
        """
        self.assertFalse(self.reactor.bound[self.relay[1]].blocking)

    def test_read_again_not_counted(self) -> None:
        """
        A read that finds no datagram (EAGAIN) is no drop.
        """
        reader = self.reactor.readers[self.reactor.bound[self.relay[1]].fileno()]
        reader.doRead()
        self.assertEqual(sum(self.pool.drops.values()), 0)

    def test_read_error_counted(self) -> None:
        """
        A read that fails otherwise is counted, and the port stays open.
        """
        port = self.reactor.bound[self.relay[1]]
        port.read_error = OSError(errno.ENOMEM, "out of memory")
        self.reactor.readers[port.fileno()].doRead()
        self.assertEqual(self.pool.drops[RelayDropReason.READ_FAILED], 1)
        self.assertTrue(port.listening)

    def test_connection_lost_releases(self) -> None:
        """
        When the reactor gives up on a relay socket, its port is released.
        """
        port = self.reactor.bound[self.relay[1]]
        reader = self.reactor.readers[port.fileno()]
        self.reactor.removeReader(reader)
        reader.connectionLost(Failure(ConnectionDone()))
        self.assertNotIn(self.relay, self.pool.ports)
        self.assertTrue(port.closed)

    def test_send_error_counted(self) -> None:
        """
        A datagram whose write fails is dropped and counted.
        """
        self.reactor.bound[self.relay[1]].error = OSError(1, "not permitted")
        self.pool.send(self.relay, ("198.51.100.7", 4000), b"data")
        self.assertEqual(self.pool.drops[RelayDropReason.WRITE_FAILED], 1)
