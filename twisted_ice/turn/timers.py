"""
One deadline heap for every allocation, permission, channel binding and port
reservation: O(log n) per timer, and nothing scanned per packet.

Each record keeps its own C{due} time and the C{scheduled} time of its single
live heap entry. Extending C{due} (a refresh) touches nothing: when the entry
comes up early it is pushed again at the new time. Shortening it pushes a new
entry and the old one is skipped as stale.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Timed:
    """
    A record with a deadline.

    @ivar due: When the record's timer fires.
    @ivar scheduled: The time of its live heap entry, C{inf} when it has none.
    """

    due: float
    scheduled: float = field(default=math.inf, init=False)


class DeadlineHeap:
    """
    The pending deadlines of L{Timed} records.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timed]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def _push(self, record: Timed, deadline: float) -> None:
        record.scheduled = deadline
        heapq.heappush(self._heap, (deadline, next(self._counter), record))

    def add(self, record: Timed) -> None:
        """
        Start the timer of C{record} at C{record.due}.
        """
        self._push(record, record.due)

    def update(self, record: Timed, due: float) -> None:
        """
        Move the timer of C{record} to C{due}.
        """
        record.due = due
        if due < record.scheduled:
            self._push(record, due)

    @staticmethod
    def cancel(record: Timed) -> None:
        """
        Stop the timer of C{record}. Its heap entry stays, as a stale one.
        """
        record.scheduled = math.inf

    def next_deadline(self) -> float | None:
        """
        Return the earliest pending deadline, or L{None}.
        """
        heap = self._heap
        while heap:
            deadline, _order, record = heap[0]
            if deadline == record.scheduled:
                return deadline
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> list[Timed]:
        """
        Remove and return the records whose C{due} is at or before C{now}.
        Their timers are stopped, so the caller adds back a record that needs
        another one.
        """
        heap = self._heap
        fired: list[Timed] = []
        while heap and heap[0][0] <= now:
            deadline, _order, record = heapq.heappop(heap)
            if deadline != record.scheduled:
                continue
            if record.due > now:
                self._push(record, record.due)
                continue
            record.scheduled = math.inf
            fired.append(record)
        return fired
