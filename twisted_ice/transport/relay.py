"""
TURN relay ports: one UDP socket per allocation, bound on the relay address
from a configured port range (RFC 8656 section 7.2).

The allocator picks ports in random order without scanning the range: it
keeps the free ports in a shuffled queue, takes from its head and puts
released ports at its tail, so a port is reused as late as possible.

Each relay socket is a plain non-blocking socket that the reactor watches
through C{addReader}, without C{udp.Port} and its protocol: this is the
per-packet path, and the bare reader costs about a tenth less CPU per
relayed packet than C{listenUDP} (measured with C{benchmarks/turn.py}).
"""

from __future__ import annotations

import enum
import errno
import ipaddress
import random
import socket
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Protocol, cast

from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_ice.addresses import Address
from twisted_ice.interfaces import IRelayAllocator
from twisted_ice.stun import AddressFamily
from twisted_ice.transport.batching import SendBatch

DEFAULT_PORTS = range(49152, 65536)
"""
The relay port range when C{--relay-ports} is not given: the dynamic ports
(RFC 6335), as RFC 8656 section 7.2 recommends and coturn uses.
"""

BIND_ATTEMPTS = 64
"""
How many ports one reservation tries before it fails: ports that another
process has bound are skipped, but a reservation never walks the whole range.
"""

MAX_DATAGRAM = 65535
"""The largest datagram read from a relay socket."""

PeerReceiver = Callable[[Address, Address, bytes], None]
"""
Called with C{(relay, peer, data)} for each datagram a relay port receives.
"""


class RelayDropReason(enum.StrEnum):
    """
    Why a relay port dropped a datagram: the keys of L{UdpRelayAllocator.drops}.
    """

    NO_RECEIVER = "no-receiver"
    UNKNOWN_RELAY = "unknown-relay"
    TOO_LARGE = "too-large"
    WRITE_FAILED = "write-failed"
    READ_FAILED = "read-failed"


def address_family(host: str) -> AddressFamily:
    """
    Return the STUN address family of C{host}.

    @raise ValueError: when C{host} is not an IP address.
    """
    if ipaddress.ip_address(host).version == 4:
        return AddressFamily.IPV4
    return AddressFamily.IPV6


class DatagramSocket(Protocol):
    """
    The part of L{socket.socket} a relay port uses; tests pass fakes.
    """

    def bind(self, address: Address, /) -> None:
        """
        Bind to C{address}; raise L{OSError} when it is in use.
        """

    def setblocking(self, flag: bool, /) -> None:
        """
        Make the socket non-blocking.
        """

    def fileno(self) -> int:
        """
        Return the file descriptor.
        """

    def recvfrom(self, size: int, /) -> tuple[bytes, tuple[str, int]]:
        """
        Read one datagram and its source.
        """

    def sendto(self, data: bytes, address: Address, /) -> int:
        """
        Send one datagram.
        """

    def close(self) -> None:
        """
        Close the socket.
        """


SocketFactory = Callable[[int], DatagramSocket]
"""
Makes an unbound UDP socket of an address family (C{socket.AF_INET} or
C{socket.AF_INET6}).
"""


def udp_socket(family: int) -> DatagramSocket:
    """
    Return a new UDP socket of C{family}.
    """
    return socket.socket(family, socket.SOCK_DGRAM)


_READ_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})


@implementer(IReadDescriptor)
class _RelaySocket:
    """
    One bound relay port, watched by the reactor: each readable event reads
    one datagram and hands it to the allocator.
    """

    def __init__(
        self, sock: DatagramSocket, relay: Address, allocator: UdpRelayAllocator
    ) -> None:
        self.socket = sock
        self.relay = relay
        self._fileno = sock.fileno()
        self._allocator = allocator

    def fileno(self) -> int:
        """
        Return the socket's file descriptor.
        """
        return self._fileno

    def logPrefix(self) -> str:
        """
        Return the log prefix of the reactor's events for this socket.
        """
        return "TURN relay"

    def doRead(self) -> None:
        """
        Read one datagram, count it, and pass it to the allocator's
        C{receiver} with this port's relay address. A level-triggered
        reactor calls again while more are queued.
        """
        allocator = self._allocator
        try:
            data, source = self.socket.recvfrom(MAX_DATAGRAM)
        except OSError as error:
            if error.errno not in _READ_AGAIN:
                allocator.drops[RelayDropReason.READ_FAILED] += 1
            return
        if len(source) != 2:
            # IPv6 sockets report (host, port, flowinfo, scope_id).
            source = (source[0], source[1])
        allocator.packets_received += 1
        allocator.bytes_received += len(data)
        receiver = allocator.receiver
        if receiver is None:
            allocator.drops[RelayDropReason.NO_RECEIVER] += 1
            return
        receiver(self.relay, source, data)

    def send(self, data: bytes, peer: Address) -> None:
        """
        Send C{data} to C{peer} now. A datagram that the socket rejects is
        dropped and counted.
        """
        allocator = self._allocator
        # The socket's own sendto: this is the per-packet path, and
        # Port.write would check the address again on every call.
        try:
            self.socket.sendto(data, peer)
        except OSError as error:
            if error.errno == errno.EMSGSIZE:
                allocator.drops[RelayDropReason.TOO_LARGE] += 1
            else:
                allocator.drops[RelayDropReason.WRITE_FAILED] += 1
        else:
            allocator.packets_sent += 1
            allocator.bytes_sent += len(data)

    def connectionLost(self, reason: Failure) -> None:
        """
        Release the port: the reactor stopped watching it after an error.
        """
        self._allocator.release(self.relay)


class _PortPool:
    """
    The free ports of one relay host, in random order.
    """

    def __init__(self, ports: range, rng: random.Random) -> None:
        order = list(ports)
        rng.shuffle(order)
        self.queue: deque[int] = deque(order)
        self.free: set[int] = set(order)

    def take(self, even: bool, attempts: int) -> Iterable[int]:
        """
        Yield up to C{attempts} free ports, removing each from the pool;
        the caller gives back those it cannot bind.
        """
        looked = 0
        while self.queue and looked < attempts:
            port = self.queue.popleft()
            if port not in self.free:
                # Taken out of order by a reservation of a given port.
                continue
            looked += 1
            if even and port % 2:
                self.queue.append(port)
                continue
            self.free.discard(port)
            yield port

    def take_given(self, port: int) -> bool:
        """
        Remove C{port} from the pool; return whether it was free.
        """
        if port not in self.free:
            return False
        self.free.discard(port)
        return True

    def give_back(self, port: int) -> None:
        """
        Put C{port} at the tail of the queue.
        """
        if port in self.free:
            return
        self.free.add(port)
        self.queue.append(port)


@implementer(IRelayAllocator)
class UdpRelayAllocator:
    """
    Binds one UDP port per TURN allocation on the relay address of its
    family, and carries datagrams between those ports and the TURN core.

    Datagrams that peers send to a relay port go to L{receiver}; the TURN
    service sets it to its handler before any port is bound.

    @ivar drops: datagrams dropped here, counted by L{RelayDropReason}.
    @ivar ports: the bound relay ports by relay address, held ports
        included.
    @ivar held: the ports bound for a RESERVATION-TOKEN, not yet taken.
    @ivar batch: the L{SendBatch} that sends to peers at the end of each
        reactor iteration, or L{None} when each datagram is sent at once.
    @ivar packets_received: datagrams received from peers.
    @ivar bytes_received: the bytes of those datagrams.
    @ivar packets_sent: datagrams sent to peers.
    @ivar bytes_sent: the bytes of those datagrams.
    """

    log = Logger()

    def __init__(
        self,
        relay_hosts: Iterable[str],
        ports: range = DEFAULT_PORTS,
        reactor: IReactorFDSet | None = None,
        rng: random.Random | None = None,
        attempts: int = BIND_ATTEMPTS,
        socket_factory: SocketFactory = udp_socket,
        batch: SendBatch | None = None,
    ) -> None:
        """
        @param relay_hosts: the addresses to bind relay ports on, at most one
            per IP version.
        @param ports: the port range.
        @param reactor: watches the sockets; the global reactor when L{None}.
        @param rng: orders the ports; a L{random.SystemRandom} when L{None},
            so peers cannot predict the next relay port.
        @param attempts: how many ports one reservation tries.
        @param socket_factory: makes the relay sockets; tests pass fakes.
        @param batch: the batch that holds datagrams to peers until the end
            of the reactor iteration, or L{None} to send each one at once.

        @raise ValueError: when a host is not an IP address, or two hosts
            have the same IP version.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(IReactorFDSet, global_reactor)
        rng = rng or random.SystemRandom()
        self._reactor = reactor
        self._attempts = attempts
        self._socket_factory = socket_factory
        self.hosts: dict[int, str] = {}
        self._pools: dict[str, _PortPool] = {}
        for host in relay_hosts:
            family = address_family(host)
            if family in self.hosts:
                raise ValueError(f"two relay addresses of one IP version: {host}")
            self.hosts[family] = host
            self._pools[host] = _PortPool(ports, rng)
        self.ports: dict[Address, _RelaySocket] = {}
        self.held: set[Address] = set()
        self.receiver: PeerReceiver | None = None
        self.batch = batch
        self.drops: Counter[RelayDropReason] = Counter()
        self.packets_received = 0
        self.bytes_received = 0
        self.packets_sent = 0
        self.bytes_sent = 0

    def families(self) -> frozenset[int]:
        """
        Return the address families (L{AddressFamily} values) of the relay
        hosts.
        """
        return frozenset(self.hosts)

    def reserve(
        self, family: int, even_port: bool = False, reserve_next: bool = False
    ) -> Address | None:
        """
        Bind a relay port of C{family} and return its address.

        @param even_port: whether the port must be even (EVEN-PORT, RFC 8656
            section 14.6).
        @param reserve_next: whether to also bind and hold the next port for
            a later L{take_reserved}; the port is then even.
        @return: the relay address, or L{None} when there is no relay host of
            this family or no port could be bound within the attempts.
        """
        host = self.hosts.get(family)
        if host is None:
            return None
        pool = self._pools[host]
        failed: list[int] = []
        try:
            for port in pool.take(even_port or reserve_next, self._attempts):
                if not reserve_next:
                    relay = self._bind(host, port)
                    if relay is not None:
                        return relay
                    failed.append(port)
                    continue
                relay = self._bind_pair(host, pool, port)
                if relay is not None:
                    return relay
                failed.append(port)
        finally:
            for port in failed:
                pool.give_back(port)
        return None

    def take_reserved(self, address: Address) -> bool:
        """
        Turn the held port at C{address} into a relay port.

        @return: whether the port was still held.
        """
        if address not in self.held:
            return False
        self.held.discard(address)
        return True

    def release(self, address: Address) -> None:
        """
        Close the relay port or held port at C{address} and return it to the
        pool. An address that is not bound is ignored.
        """
        relay_socket = self.ports.pop(address, None)
        if relay_socket is None:
            return
        self.held.discard(address)
        self._close(relay_socket)
        self._pools[address[0]].give_back(address[1])

    def send(self, relay: Address, peer: Address, data: bytes) -> None:
        """
        Send C{data} from the relay port C{relay} to C{peer}, at the end of
        the reactor iteration when the allocator has a L{batch}. Datagrams
        for an unknown relay or that the socket rejects are dropped and
        counted.
        """
        relay_socket = self.ports.get(relay)
        if relay_socket is None:
            self.drops[RelayDropReason.UNKNOWN_RELAY] += 1
            return
        batch = self.batch
        if batch is None:
            relay_socket.send(data, peer)
        else:
            batch.add(relay_socket.send, data, peer)

    def close(self) -> None:
        """
        Close every relay port.
        """
        for relay in list(self.ports):
            self.release(relay)

    def _bind_pair(self, host: str, pool: _PortPool, port: int) -> Address | None:
        """
        Bind C{port} as a relay port and C{port + 1} as a held port, or
        neither.
        """
        if not pool.take_given(port + 1):
            return None
        relay = self._bind(host, port)
        if relay is None:
            pool.give_back(port + 1)
            return None
        held = self._bind(host, port + 1)
        if held is None:
            self._close(self.ports.pop(relay))
            pool.give_back(port + 1)
            return None
        self.held.add(held)
        return relay

    def _bind(self, host: str, port: int) -> Address | None:
        relay = (host, port)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = self._socket_factory(family)
        try:
            sock.bind(relay)
            sock.setblocking(False)
        except OSError:
            # In use by another process, most likely: try another port.
            sock.close()
            return None
        relay_socket = _RelaySocket(sock, relay, self)
        self._reactor.addReader(relay_socket)
        self.ports[relay] = relay_socket
        return relay

    def _close(self, relay_socket: _RelaySocket) -> None:
        if self.batch is not None:
            # Datagrams relayed before the allocation ended still leave
            # from this socket.
            self.batch.flush()
        self._reactor.removeReader(relay_socket)
        relay_socket.socket.close()
