"""Consumer status the way Burrow evaluates it: no thresholds, a sliding window of samples.

Burrow (LinkedIn's Kafka lag monitor) looks at the last few committed offsets of each partition,
each with the lag at that moment, and says, in this order:

1. if the lag was zero at any point of the window (or is zero now): OK;
2. if the committed offset ever went back: ERR (a rewind);
3. if the consumer has stopped committing: STOP;
4. if the committed offset did not move at all across the window while there was lag: STALL;
5. if the offset moves but the lag never went down between two samples: WARN (falling behind);
6. otherwise OK.

Burrow infers "stopped" from the age of the last commit. shopstream knows more: every consumer
process writes a heartbeat row (`consumer_status`), so STOP here means that no process of the
group has beaten recently (`alive=False`); with no heartbeat information (`alive=None`) the window
alone decides, as in Burrow. A group's status is its worst partition's; a group with no live
process is STOP even when caught up, since nothing would apply the next event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


class Status(StrEnum):
    """Worst last: a group takes its worst partition's status."""

    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"
    ERR = "ERR"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def healthy(self) -> bool:
        """OK and WARN keep up or catch up; STALL, STOP and ERR need an operator."""
        return self in (Status.OK, Status.WARN)


_SEVERITY = {s: i for i, s in enumerate(Status)}


@dataclass(frozen=True)
class OffsetSample:
    """One observation of a partition: when, the group's committed offset, and the lag then."""

    at: float
    committed: int
    lag: int


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str


def partition_status(samples: Sequence[OffsetSample], alive: bool | None, min_window: int = 3) -> Verdict:
    """The status of one partition from its samples (oldest first; the last one is now).

    `min_window`: fewer samples than this cannot show a stall or a lag that keeps growing.

    >>> s = [OffsetSample(t, 100, 5 + t) for t in range(4)]     # stuck at 100, lag growing
    >>> partition_status(s, alive=True).status.value, partition_status(s, alive=False).status.value
    ('STALL', 'STOP')
    >>> partition_status([OffsetSample(0, 10, 3), OffsetSample(1, 12, 0)], alive=True).status.value
    'OK'
    """
    if not samples:
        return Verdict(Status.OK, "no sample yet")
    now = samples[-1]
    if any(s.lag == 0 for s in samples):
        return Verdict(Status.OK, "caught up" if now.lag == 0 else "caught up within the window")
    for before, after in pairwise(samples):
        if after.committed < before.committed:
            return Verdict(Status.ERR, f"committed offset went back from {before.committed} to {after.committed}")
    if alive is False:
        return Verdict(Status.STOP, f"no live consumer while {now.lag} records wait")
    span = now.at - samples[0].at
    if len(samples) < min_window:
        return Verdict(Status.OK, f"lag {now.lag}; window still filling")
    if all(after.committed == before.committed for before, after in pairwise(samples)):
        return Verdict(Status.STALL, f"committed offset stuck at {now.committed} for {span:.0f} s with lag {now.lag}")
    if all(after.lag >= before.lag for before, after in pairwise(samples)):
        return Verdict(Status.WARN, f"lag grew from {samples[0].lag} to {now.lag} over {span:.0f} s")
    return Verdict(Status.OK, f"lag {now.lag}, going down")


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    """The most severe verdict (the first of equals); OK when there is none.

    >>> worst([Verdict(Status.OK, "a"), Verdict(Status.STALL, "b"), Verdict(Status.WARN, "c")]).reason
    'b'
    """
    if not verdicts:
        return Verdict(Status.OK, "no partition yet")
    return max(verdicts, key=lambda v: v.status.severity)  # max keeps the first of equals


def group_status(partitions: Sequence[Verdict], alive: bool | None, gone_for_s: float | None = None) -> Verdict:
    """A group's status: its worst partition's, and STOP when no process of the group is alive.

    >>> group_status([Verdict(Status.OK, "caught up")], alive=False, gone_for_s=31).reason
    'no live consumer (last heartbeat 31 s ago)'
    """
    if alive is False:
        since = "never seen" if gone_for_s is None else f"last heartbeat {gone_for_s:.0f} s ago"
        stop = Verdict(Status.STOP, f"no live consumer ({since})")
        w = worst(partitions)
        return w if w.status is Status.ERR else stop
    return worst(partitions)
