"""
Datagrams sent at the end of a reactor iteration, after everything that the
iteration read.

Without a batch, the server sends each datagram as soon as it has read the
datagram it relays or responds to. A peer then receives a burst of datagrams
one at a time and wakes up for each one. Its replies come back one at a
time, so this server also wakes up once per datagram.

With a batch, the UDP mux and the relay ports read everything that the
reactor reported ready, then send it all. The replies come back together and
one wake-up reads several of them. The delay this adds to a datagram is the
time the server takes to read the rest of the iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from twisted_ice.addresses import Address
from twisted_ice.transport.ports import FAILURE_LOG_INTERVAL, RateLimit

__all__ = ["FAILURE_LOG_INTERVAL", "MAX_QUEUED", "SendBatch", "Sender"]

MAX_QUEUED = 256
"""
The maximum number of datagrams that wait in a batch. The datagram that
reaches it sends the whole batch at once, so a long iteration cannot queue
without bound.
"""

Sender = Callable[[bytes, Address], None]
"""
Sends one datagram now and counts its own failures, as the send methods of
the UDP mux and of the relay sockets do.
"""


class SendBatch:
    """
    Datagrams to send when the current reactor iteration ends, in the order
    they were added.

    The batch is sent by a C{callLater(0)} call, which the reactor runs at
    the start of its next iteration, before it waits for events again.
    """

    log = Logger()

    def __init__(self, reactor: IReactorTime | None = None) -> None:
        """
        @param reactor: the reactor whose iterations end the batches; the
            global reactor when L{None}.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = cast(IReactorTime, global_reactor)
        self._reactor = reactor
        self._queue: list[tuple[Sender, bytes, Address]] = []
        self._call: IDelayedCall | None = None
        self._failure_limit = RateLimit(reactor)

    def __len__(self) -> int:
        """
        Return the number of datagrams waiting.
        """
        return len(self._queue)

    def add(self, send: Sender, data: bytes, address: Address) -> None:
        """
        Have C{send(data, address)} called when the iteration ends, or now
        when L{MAX_QUEUED} datagrams are already waiting.
        """
        queue = self._queue
        queue.append((send, data, address))
        if len(queue) >= MAX_QUEUED:
            self.flush()
        elif self._call is None:
            self._call = self._reactor.callLater(0, self._flush_later)

    def flush(self) -> None:
        """
        Send every waiting datagram now, in order. A sender that raises is
        logged, at most once every L{FAILURE_LOG_INTERVAL} seconds, and the
        rest are still sent.
        """
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
        self._send_all()

    def _flush_later(self) -> None:
        self._call = None
        self._send_all()

    def _send_all(self) -> None:
        queue, self._queue = self._queue, []
        for send, data, address in queue:
            try:
                send(data, address)
            except Exception:
                unlogged = self._failure_limit.allow()
                if unlogged is not None:
                    self.log.failure(
                        "Failed to send a datagram to {address}"
                        " (failures since the last log: {unlogged})",
                        address=address,
                        unlogged=unlogged,
                    )
