"""Noticing a consumer that has stopped receiving records it is owed.

A consumer loop that polls nothing while the partitions assigned to it hold records past its
stored offsets is stuck, whatever the cause. With kafka-python 3.0.12 it happens after a broker
restart: the coordinator has expelled the member (its session ran out during the outage), the
client never notices, keeps its assignment and fetches nothing (a similar stall is reported as
dpkp/kafka-python#3131). Nothing in the client recovers; the loop would wait for good.
`StallWatch` decides when to look and what is owed; the loop (`consumers.runtime`) asks the broker
for the offsets and rejoins the group.

Rejoining cannot cure a client whose own join never finishes. kafka-python 3.0.12 awaits a join
in flight on every poll until it ends; when its answer never comes, the consumer fetches nothing
and sends no heartbeats, the coordinator expels it, and nothing in the client notices. That is
the likeliest reading of a CI failure where a catalog consumer, assigned nothing, caught up on
nothing for 120 s without a warning and had its LeaveGroup refused (UnknownMemberIdError) at the
end. `SettleWatch` notices a membership that stays unsettled; the loop then replaces its Kafka
client by a new one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

Partition = TypeVar("Partition")


class _DoublingInterval:
    """An interval that starts at `after_s` and doubles, up to `max_after_s`, each time waiting it
    out did not help (the two watches below differ in what they wait for)."""

    def __init__(self, after_s: float, max_after_s: float, clock: Callable[[], float]) -> None:
        if not 0 < after_s <= max_after_s:
            raise ValueError(f"need 0 < after_s <= max_after_s, got {after_s} and {max_after_s}")
        self.after_s = after_s
        self.max_after_s = max_after_s
        self.interval_s = after_s
        self._clock = clock

    def _lengthen(self) -> None:
        self.interval_s = min(self.interval_s * 2, self.max_after_s)

    def _reset(self) -> None:
        self.interval_s = self.after_s


class StallWatch(_DoublingInterval):
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
        super().__init__(after_s, max_after_s, clock)
        self._since = clock()

    def progressed(self) -> None:
        """Records arrived: nothing is owed for `after_s` from now."""
        self._reset()
        self._since = self._clock()

    def restart(self) -> None:
        """The assignment changed: the quiet spell starts again (the interval stays)."""
        self._since = self._clock()

    def stalled(self) -> None:
        """A check found records owed: the next check waits twice as long (up to `max_after_s`)."""
        self._lengthen()
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


class SettleWatch(_DoublingInterval):
    """How long a consumer's group membership has stayed unsettled (joining, or needing to), and
    when to stop waiting for the client's join and start a new client.

    A join settles within a second or two, but may rightly wait for every member of the group to
    rejoin (each up to its poll interval). So each new client that does not settle either gets
    twice as long as the one before (up to `max_after_s`); a membership that settles starts again
    from `after_s`.

    Parameters
    ----------
    after_s
        How long the membership may stay unsettled before the first new client.
    max_after_s
        The longest wait between new clients.
    clock
        Seconds from a monotonic clock (a parameter for tests).

    Examples
    --------
    >>> now = [0.0]
    >>> watch = SettleWatch(30.0, clock=lambda: now[0])
    >>> watch.observe(settled=False)  # joining: the spell starts now
    False
    >>> now[0] = 31.0
    >>> watch.observe(settled=False)  # still joining 31 s on: start a new client
    True
    >>> now[0] = 80.0
    >>> watch.observe(settled=False)  # the new client gets 60 s
    False
    >>> watch.observe(settled=True)  # it settled: back to 30 s
    False
    >>> watch.interval_s
    30.0
    """

    def __init__(self, after_s: float, max_after_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(after_s, max_after_s, clock)
        self._since: float | None = None

    def observe(self, settled: bool) -> bool:
        """Record the membership's state now; True when it has been unsettled for the interval
        (the answer counts as starting a new client: the next interval is twice as long)."""
        if settled:
            self._reset()
            self._since = None
            return False
        now = self._clock()
        if self._since is None:
            self._since = now
            return False
        if now - self._since < self.interval_s:
            return False
        self._lengthen()
        self._since = now
        return True

    def pause(self) -> None:
        """The broker is out of reach: a join cannot settle, and the spell starts again once it is back."""
        self._since = None
