"""Replay pacing: follow the log's clock at a speed-up, never faster than a rate cap.

Event i is due at t_i = max(start + (time_i - time_0) / speedup, t_(i-1) + 1 / rate): the log's own
rhythm, compressed, with at least 1/rate seconds between two events. Due times come from the schedule,
not from when the previous event actually went out, so the average holds when sending is jittery.

>>> from datetime import timedelta
>>> from events import ProductRemoved, make_event
>>> from producers.importers.values import EPOCH
>>> events = [make_event(ProductRemoved(product_id="p"), EPOCH + timedelta(seconds=s)) for s in (0, 10, 10, 40)]
>>> clock = FakeClock()
>>> _ = list(paced(events, speedup=10, rate=2, clock=clock.now, sleep=clock.sleep))
>>> clock.slept
[1.0, 0.5, 2.5]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from events import Event


def paced(
    events: Iterable[Event],
    speedup: float = 0.0,
    rate: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Yield each event when it is due. `speedup`: seconds of log time per second of wall time (0: do
    not follow the log's clock); `rate`: at most this many events per second on average (0: no cap)."""
    if speedup <= 0 and rate <= 0:
        yield from events
        return
    interval = 1.0 / rate if rate > 0 else 0.0
    start = due = 0.0
    first = None
    for event in events:
        if first is None:
            first = event.event_time
            start = due = clock()
        else:
            due += interval
            if speedup > 0:
                due = max(due, start + (event.event_time - first).total_seconds() / speedup)
        ahead = due - clock()
        if ahead > 0:
            sleep(ahead)
        yield event


class FakeClock:
    """A clock for tests: `sleep` moves it forward and records how long."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.t += seconds
