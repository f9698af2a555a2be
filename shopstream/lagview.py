"""`shopstream lag [--watch N] [--json]`: the lag of every consumer group with its Burrow-style status.

The figures come from the lag sampler's history store, the same ones `/metrics` and `/ops` serve.
When no API is sampling (nobody holds the sampler's lock), this command samples itself and writes
the round there, so that repeated calls and `--watch` build the window that status needs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from api.services.monitor import sources
from infra.config import CONSUMER_GROUPS, Settings
from infra.lag import LagRow, format_lag, measure_lag
from infra.ops.history import HistoryReader, Latest, history_path
from infra.ops.sampler import Election, LagSampler, lock_path


class LagView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.election = Election(lock_path(settings.state_dir))
        self.sampler: LagSampler | None = None
        self.reader = HistoryReader(history_path(settings.state_dir))

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()
        self.election.release()

    def latest(self) -> Latest | None:
        """Sample now if no one else does; then the newest round."""
        if self.election.try_acquire():
            if self.sampler is None:
                self.sampler = LagSampler(self.settings, sources(self.settings))
            self.sampler.write(self.sampler.sample())
        return self.reader.latest()


def rows_of(latest: Latest, name: Callable[[str], str]) -> list[LagRow]:
    """The sampled partitions under their Kafka group names (`name`: ours -> Kafka's)."""
    return [LagRow(name(p.group), p.topic, p.partition, p.committed, p.log_end, p.lag, p.lag_s, p.status)
            for p in latest.partitions]


def render(latest: Latest | None, name: Callable[[str], str], now: float, only: set[str] | None = None) -> str:
    if latest is None:
        return "no lag sample yet"
    lines = [f"{'GROUP':<24}{'STATUS':<8}{'LAG':>10}{'LAG-S':>9}{'ALIVE':>7}  REASON"]
    for g in latest.groups:
        if only and name(g.group) not in only:
            continue
        lag = "-" if g.lag is None else str(g.lag)
        secs = "-" if g.lag_s is None else f"{g.lag_s:.1f}"
        lines.append(f"{name(g.group):<24}{g.status:<8}{lag:>10}{secs:>9}{g.members:>7}  {g.reason}")
    rows = [r for r in rows_of(latest, name) if not only or r.group in only]
    lines += ["", format_lag(rows)]
    age = now - latest.at
    stamp = time.strftime("%H:%M:%S", time.localtime(latest.at))
    lines.append(f"as of {stamp} ({age:.1f} s ago)" + ("" if latest.kafka_ok else f"; {latest.error}"))
    return "\n".join(lines)


def show_lag(settings: Settings, groups: list[str] | None, watch: float, as_json: bool,
             echo: Callable[[str], None]) -> None:
    name = settings.group_id  # this node's Kafka group name of each of our groups
    ours = {name(g): name(g) for g in CONSUMER_GROUPS} | {g: name(g) for g in CONSUMER_GROUPS}
    others = [g for g in groups or [] if g not in ours]  # any other Kafka group: offsets only
    only = {ours[g] for g in groups if g in ours} if groups else None  # as Kafka names
    view = LagView(settings)
    tty = sys.stdout.isatty()
    try:
        while True:
            now = time.time()
            latest = view.latest() if (only is None or only) else None
            extra = measure_lag(settings.bootstrap, others, with_seconds=True) if others else []
            if as_json:
                rows = rows_of(latest, name) if latest else []
                rows = [r for r in rows if not only or r.group in only]
                echo(json.dumps([r.to_dict() for r in rows + extra]))
            else:
                text = render(latest, name, now, only) if only is None or only else ""
                if extra:
                    text += ("\n\n" if text else "") + format_lag(extra)
                echo(("\033[H\033[J" if tty and watch > 0 else "") + text)
            if watch <= 0:
                return
            time.sleep(watch)
            if not tty:
                echo("")
    finally:
        view.close()
