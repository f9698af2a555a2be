"""Noticing a consumer that has stopped receiving records it is owed.

A consumer loop that polls nothing while the partitions assigned to it hold records past its
stored offsets is stuck, whatever the cause. With kafka-python 3.0.12 it happens after a broker
restart: the coordinator has expelled the member (its session ran out during the outage), the
client never notices, keeps its assignment and fetches nothing (a similar stall is reported as
dpkp/kafka-python#3131). Nothing in the client recovers; the loop would wait for good.
`StallWatch` decides when to look and what is owed; the loop (`consumers.runtime`) asks the broker
for the offsets and rejoins the group."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

Partition = TypeVar("Partition")


class StallWatch:
    """When to check an idle consumer for records waiting on its partitions, and what waits.

    Parameters
    ----------
    after_s
        How long a consumer may receive nothing before its partitions are checked; again at most
        this often while it stays idle.
    max_after_s
        After a stall that rejoining did not cure (nothing arrived since), the next check waits
        twice as long, up to this: a partition that can never deliver what its offsets promise
        must not make the group rebalance every `after_s` for good.
    clock
        Seconds from a monotonic clock (a parameter for tests).

    Examples
    --------
    >>> now = [0.0]
    >>> watch = StallWatch(30.0, clock=lambda: now[0])
    >>> watch.due()
    False
    >>> now[0] = 31.0
    >>> watch.due()
    True
    >>> StallWatch.waiting(["p0", "p1"], stored={"p0": 10}, begin={"p0": 0, "p1": 5}, end={"p0": 12, "p1": 5})
    {'p0': 2}
    >>> watch.stalled()  # the consumer rejoined its group: the next check comes 60 s on
    >>> now[0] = 61.0
    >>> watch.due()
    False
    >>> watch.progressed()  # records arrived: back to 30 s from now
    >>> now[0] = 91.0
    >>> watch.due()
    True
    """

    def __init__(self, after_s: float, max_after_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < after_s <= max_after_s:
            raise ValueError(f"need 0 < after_s <= max_after_s, got {after_s} and {max_after_s}")
        self.after_s = after_s
        self.max_after_s = max_after_s
        self.interval_s = after_s
        self._clock = clock
        self._since = clock()

    def progressed(self) -> None:
        """Records arrived: nothing is owed for `after_s` from now."""
        self.interval_s = self.after_s
        self._since = self._clock()

    def restart(self) -> None:
        """The assignment changed: the quiet spell starts again (the interval stays)."""
        self._since = self._clock()

    def stalled(self) -> None:
        """A check found records owed: the next check waits twice as long (up to `max_after_s`)."""
        self.interval_s = min(self.interval_s * 2, self.max_after_s)
        self._since = self._clock()

    def due(self) -> bool:
        """Whether it is time to check; a True answer counts as the check (the next is an interval on)."""
        now = self._clock()
        if now - self._since < self.interval_s:
            return False
        self._since = now
        return True

    @staticmethod
    def waiting(
        partitions: Iterable[Partition],
        stored: Mapping[Partition, int],
        begin: Mapping[Partition, int],
        end: Mapping[Partition, int],
    ) -> dict[Partition, int]:
        """Records owed on each partition that has any: from the stored offset (or the log's start,
        if nothing is stored or retention has deleted past it) to the log's end."""
        owed = {}
        for tp in partitions:
            if tp not in end:
                continue
            start = max(stored.get(tp, 0), begin.get(tp, 0))
            if end[tp] > start:
                owed[tp] = end[tp] - start
        return owed
