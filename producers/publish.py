"""Publishing a stream of events at a chosen rate, with progress: used by the simulator and importers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tqdm import tqdm

from events import Event
from infra.producer import Sink


def publish(
    sink: Sink,
    events: Iterable[Event],
    rate: float = 0.0,
    duration_s: float = 0.0,
    total: int | None = None,
    progress: bool = True,
    desc: str = "events",
    on_event: Callable[[Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Send events; `rate` events/s (0: as fast as possible), stop after `duration_s` (0: never).

    Returns how many were sent. The caller flushes the sink, which raises if any send failed.
    """
    started = time.monotonic()
    sent = 0
    bar = tqdm(total=total, desc=desc, unit="ev", disable=not progress, smoothing=0.1, mininterval=0.5)
    try:
        for event in events:
            if should_stop is not None and should_stop():
                break
            if duration_s and time.monotonic() - started >= duration_s:
                break
            if rate > 0:
                # Pace against the start time, not per event, so that the average rate holds.
                ahead = started + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            sink.send(event)
            if on_event is not None:
                on_event(event)
            sent += 1
            bar.update(1)
            if sink.failed:
                bar.set_postfix(failed=sink.failed, refresh=False)
    finally:
        bar.close()
    return sent
