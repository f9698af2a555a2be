"""The lag sampler: every few seconds, one process reads Kafka's offsets, the consumers' heartbeats
and counters, evaluates each group's status and writes a round to the history store.

Only one sampler runs per data folder, whatever the number of API workers: each worker runs a
`SamplerThread` that tries to take an exclusive `flock` on `ops.sampler.lock`; the one that holds
it samples, the others try again every interval (the kernel releases the lock when its holder
dies, so another worker takes over). Requests never wait for Kafka: they read the history store.

What the sampler reads beyond Kafka and the consumers' own bookkeeping (freshness rows, the
learner's prequential figures, snapshot versions) comes in through `Sources`, so that this module
stays plumbing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from infra.config import CONSUMER_GROUPS, Settings
from infra.lag import LagReader, LagRow
from infra.ops.history import (
    GroupRow,
    Histogram,
    HistoryWriter,
    PartitionRow,
    Round,
    history_path,
    quantiles,
)
from infra.ops.status import OffsetSample, Status, Verdict, group_status, partition_status
from infra.sqlite import connect_reader, read_counters, read_status

log = logging.getLogger(__name__)

# (conn, after_seq, limit) -> rows of (seq, produced_at, applied_at), in seq order.
FreshnessQuery = Callable[[sqlite3.Connection, int, int], list[tuple[int, float | None, float]]]


@dataclass
class Sources:
    """What the sampler reads from the read models, given by the layer that knows them."""

    #: per group: the rows that carry a produce and an applied time (produce -> applied freshness)
    freshness: Mapping[str, FreshnessQuery] = field(default_factory=dict)
    #: the learner's prequential figures per model ({"model": {"hr10": ...}, "popularity": ...})
    quality: Callable[[], Mapping[str, Mapping[str, Any]]] = dict
    #: versions in force, by kind ({"model": "7", "index": "3 lsa-256"})
    versions: Callable[[], Mapping[str, str]] = dict
    #: topics whose log-end offsets give events/s in (with their prefix)
    topics: list[str] = field(default_factory=list)


class Election:
    """An exclusive, non-blocking `flock` on a file: whoever holds it is the sampler."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("ab")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lock_path(data_dir: Path) -> Path:
    return data_dir / "ops.sampler.lock"


@dataclass
class _GroupFacts:
    members: int = 0
    last_beat_at: float | None = None
    applied: int = 0
    dead_lettered: int = 0
    dead_by_kind: dict[str, int] = field(default_factory=dict)
    readable: bool = False


class LagSampler:
    """Samples and evaluates; `sample()` makes one `Round`, `write()` stores it."""

    def __init__(self, settings: Settings, sources: Sources | None = None,
                 groups: tuple[str, ...] = CONSUMER_GROUPS) -> None:
        self.settings = settings
        self.sources = sources or Sources()
        self.groups = groups
        self.reader = LagReader(settings.bootstrap, timeout_ms=int(min(5.0, 2 * settings.lag_sample_interval_s) * 1000))
        self.windows: dict[tuple[str, str, int], deque[OffsetSample]] = {}
        self._last_partitions: list[PartitionRow] = []
        self._writer: HistoryWriter | None = None
        self._histograms: dict[tuple[str, str], Histogram] | None = None
        self._fresh: dict[str, deque[tuple[float, float]]] = {}

    @property
    def writer(self) -> HistoryWriter:
        if self._writer is None:
            self._writer = HistoryWriter(history_path(self.settings.state_dir), self.settings.ops_history_s + 120)
            self._resume(self._writer)
        return self._writer

    def _resume(self, writer: HistoryWriter) -> None:
        """Start the windows and histograms where the previous sampler left them."""
        span = self.settings.lag_window_samples * self.settings.lag_sample_interval_s * 1.5
        for at, row in writer.recent_partitions(time.time() - span):
            self._window(row.group, row.topic, row.partition).append(OffsetSample(at, row.committed, row.lag))
        self._histograms = writer.histograms()

    def close(self) -> None:
        self.reader.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _window(self, group: str, topic: str, partition: int) -> deque[OffsetSample]:
        key = (group, topic, partition)
        if key not in self.windows:
            self.windows[key] = deque(maxlen=self.settings.lag_window_samples)
        return self.windows[key]

    # -- one round -------------------------------------------------------------------------------

    def sample(self) -> Round:
        started = time.monotonic()
        now = time.time()
        _ = self.writer  # resumes the windows on the first round
        facts = {g: self._group_facts(g, now) for g in self.groups}
        error = None
        topics: dict[str, int] = {}
        try:
            rows = self.reader.rows([self.settings.group_id(g) for g in self.groups], with_seconds=True)
            ends = self.reader.log_ends(self.sources.topics) if self.sources.topics else {}
            for (topic, _p), end in ends.items():
                topics[topic] = topics.get(topic, 0) + end
            partitions = self._evaluate(rows, facts, now)
            self._last_partitions = partitions
            kafka_ok = True
        except Exception as exc:  # the broker may be away: keep the last known offsets, say so
            error = f"cannot read offsets from Kafka at {self.settings.bootstrap}: {type(exc).__name__}: {exc}"
            log.info("%s", error)
            partitions = self._last_partitions
            kafka_ok = False
        groups = [self._group_row(g, facts[g], partitions, now, kafka_ok) for g in self.groups]
        quality, versions = self._safely(self.sources.quality, {}), self._safely(self.sources.versions, {})
        return Round(now, kafka_ok, error, time.monotonic() - started, os.getpid(), partitions if kafka_ok else [],
                     groups, topics, quality, versions, dict(self._histograms or {}))

    def write(self, r: Round) -> None:
        self.writer.write(r)

    def _safely(self, call: Callable[[], Mapping[str, Any]], default: dict[str, Any]) -> Mapping[str, Any]:
        try:
            return call()
        except Exception as exc:  # a source that is not there yet (no learner file) is not an error
            log.debug("source %s: %s", getattr(call, "__name__", call), exc)
            return default

    def _evaluate(self, rows: list[LagRow], facts: Mapping[str, _GroupFacts], now: float) -> list[PartitionRow]:
        ours = {self.settings.group_id(g): g for g in self.groups}  # Kafka's group name -> ours
        out = []
        for r in rows:
            group = ours.get(r.group, r.group)
            window = self._window(group, r.topic, r.partition)
            window.append(OffsetSample(now, r.committed, r.lag))
            alive = facts[group].members > 0 if group in facts else None
            verdict = partition_status(list(window), alive=alive)
            out.append(PartitionRow(group, r.topic, r.partition, r.committed, r.log_end, r.lag, r.seconds,
                                    verdict.status.value, verdict.reason))
        return out

    def _group_row(self, group: str, facts: _GroupFacts, partitions: list[PartitionRow], now: float,
                   kafka_ok: bool) -> GroupRow:
        mine = [p for p in partitions if p.group == group]
        verdicts = [Verdict(Status(p.status), f"{p.topic}[{p.partition}]: {p.reason}") for p in mine]
        gone_for = None if facts.last_beat_at is None else now - facts.last_beat_at
        verdict = group_status(verdicts, alive=facts.members > 0, gone_for_s=gone_for)
        reason = verdict.reason if verdict.status is not Status.OK or not mine else _ok_reason(mine)
        if not kafka_ok:
            reason += " (offsets are the last known: Kafka unreachable)"
        lag = sum(p.lag for p in mine) if mine else None
        secs = [p.lag_s for p in mine if p.lag_s is not None]
        p50, p95, n = self._freshness(group, now)
        return GroupRow(group, verdict.status.value, reason, lag, max(secs) if secs else (0.0 if lag == 0 else None),
                        facts.members, facts.last_beat_at, facts.applied, facts.dead_lettered, facts.dead_by_kind,
                        p50, p95, n)

    def _group_facts(self, group: str, now: float) -> _GroupFacts:
        path = self.settings.sqlite_path(group)
        facts = _GroupFacts()
        if not path.exists():
            return facts
        try:
            conn = connect_reader(path)
            try:
                counters = read_counters(conn)
                beats = read_status(conn)
                query = self.sources.freshness.get(group)
                if query is not None:
                    self._follow_freshness(group, conn, query, now)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.debug("%s: %s", path, exc)
            return facts
        facts.readable = True
        facts.applied = counters.get("events_applied", 0)
        facts.dead_lettered = counters.get("dead_lettered", 0)
        facts.dead_by_kind = {k.removeprefix("dead_lettered."): v for k, v in counters.items()
                              if k.startswith("dead_lettered.")}
        stale = now - self.settings.consumer_stale_after_s
        live = [b for b in beats if b["state"] != "stopped" and float(b["beat_at"]) >= stale]  # type: ignore[arg-type]
        facts.members = len(live)
        facts.last_beat_at = max((float(b["beat_at"]) for b in beats), default=None)  # type: ignore[arg-type]
        return facts

    # -- freshness: cumulative histogram + a recent window ------------------------------------------

    def _follow_freshness(self, group: str, conn: sqlite3.Connection, query: FreshnessQuery, now: float,
                          limit: int = 100_000) -> None:
        hists = self._histograms if self._histograms is not None else {}
        self._histograms = hists
        hist = hists.setdefault(("produce_to_applied", group), Histogram())
        rows = query(conn, hist.last_seq, limit)
        if not rows and hist.last_seq > 0 and not query(conn, 0, 1):
            hist.last_seq = 0  # the group's state was wiped and starts again
        window = self._fresh.setdefault(group, deque())
        since = now - self.settings.freshness_window_s
        for seq, produced_at, applied_at in rows:
            hist.last_seq = max(hist.last_seq, int(seq))
            if produced_at is None:
                continue
            delay = max(float(applied_at) - float(produced_at), 0.0)
            hist.observe(delay)
            if applied_at >= since:
                window.append((float(applied_at), delay))

    def _freshness(self, group: str, now: float) -> tuple[float | None, float | None, int]:
        window = self._fresh.get(group)
        if not window:
            return None, None, 0
        since = now - self.settings.freshness_window_s
        while window and window[0][0] < since:
            window.popleft()
        p50, p95 = quantiles(d for _, d in window)
        return p50, p95, len(window)


def _ok_reason(partitions: list[PartitionRow]) -> str:
    lag = sum(p.lag for p in partitions)
    return "caught up" if lag == 0 else f"lag {lag} records, consuming"


class SamplerThread:
    """Runs in every API worker (and in `shopstream lag --watch`); samples only while elected."""

    def __init__(self, settings: Settings, sources: Sources | None = None,
                 on_round: Callable[[Round], None] | None = None) -> None:
        self.settings = settings
        self.sources = sources
        self.on_round = on_round
        self.election = Election(lock_path(settings.state_dir))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sampler: LagSampler | None = None

    @property
    def leading(self) -> bool:
        return self.election.held

    def start(self) -> SamplerThread:
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.sampler is not None:
            self.sampler.close()
        self.election.release()

    def _run(self) -> None:
        interval = self.settings.lag_sample_interval_s
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if self.election.try_acquire():
                    if self.sampler is None:
                        log.info("lag sampler elected in process %d", os.getpid())
                        self.sampler = LagSampler(self.settings, self.sources)
                    r = self.sampler.sample()
                    self.sampler.write(r)
                    if self.on_round is not None:
                        self.on_round(r)
            except Exception:  # sampling is best effort: log and try again next interval
                log.exception("lag sampling failed")
            self._stop.wait(max(interval - (time.monotonic() - started), 0.05))
