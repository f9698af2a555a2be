"""The operator's history: one SQLite file (`ops.sqlite3` in the data folder) written by the one
lag sampler every few seconds and read by every API worker and the CLI.

Each sampling round stores, at its time `at`: per group / topic / partition the committed and
log-end offsets, the lag in records and seconds and the Burrow status; per group its status, live
processes, events applied and dead-lettered and the freshness over a recent window; per topic the
log-end offset (so events/s in); the prequential figures; version changes of the model and of the
index. Rows older than the history length are dropped. The cumulative freshness histograms
(produce -> applied) live here too, so that they survive a restart of the API.

Readers never wait on Kafka: they read the last round, and say how old it is.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.sqlite import connect_reader, transaction

# Produce -> applied / searchable, seconds: from a fast local path to a consumer that was down.
FRESHNESS_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_DDL = """
CREATE TABLE IF NOT EXISTS rounds (
    at      REAL PRIMARY KEY,
    kafka_ok INTEGER NOT NULL,            -- 0: offsets below are the last known ones
    error   TEXT,
    took_s  REAL NOT NULL,
    pid     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partitions (
    at REAL NOT NULL, grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    committed INTEGER NOT NULL, log_end INTEGER NOT NULL, lag INTEGER NOT NULL, lag_s REAL,
    status TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (at, grp, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups (
    at REAL NOT NULL, grp TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    lag INTEGER, lag_s REAL, members INTEGER NOT NULL, last_beat_at REAL,
    applied INTEGER NOT NULL, dead_lettered INTEGER NOT NULL, dead_by_kind TEXT NOT NULL,
    fresh_p50 REAL, fresh_p95 REAL, fresh_n INTEGER NOT NULL,
    PRIMARY KEY (at, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics (
    at REAL NOT NULL, topic TEXT NOT NULL, log_end INTEGER NOT NULL,
    PRIMARY KEY (at, topic)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quality (
    at REAL NOT NULL, model TEXT NOT NULL, evaluated INTEGER NOT NULL,
    hr10 REAL, ndcg10 REAL, window_hr10 REAL, window_ndcg10 REAL,
    PRIMARY KEY (at, model)
) WITHOUT ROWID;
-- A row when a version changes (the model's, the index's), for the dashboard's markers.
CREATE TABLE IF NOT EXISTS versions (
    at REAL NOT NULL, kind TEXT NOT NULL, version TEXT NOT NULL,
    PRIMARY KEY (kind, at)
) WITHOUT ROWID;
-- Cumulative histograms (Prometheus semantics: counts per upper bound `le`, never reset).
CREATE TABLE IF NOT EXISTS histograms (
    name TEXT NOT NULL, grp TEXT NOT NULL, counts TEXT NOT NULL, total REAL NOT NULL,
    n INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    PRIMARY KEY (name, grp)
) WITHOUT ROWID;
"""

_TABLES = ("rounds", "partitions", "groups", "topics", "quality")


@dataclass(frozen=True)
class PartitionRow:
    group: str  #: the logical group (store, catalog, learner), not the Kafka group id
    topic: str  #: the Kafka topic, with its prefix
    partition: int
    committed: int
    log_end: int
    lag: int
    lag_s: float | None
    status: str
    reason: str


@dataclass(frozen=True)
class GroupRow:
    group: str
    status: str
    reason: str
    lag: int | None
    lag_s: float | None
    members: int  #: processes with a recent heartbeat
    last_beat_at: float | None
    applied: int
    dead_lettered: int
    dead_by_kind: dict[str, int] = field(default_factory=dict)
    fresh_p50: float | None = None
    fresh_p95: float | None = None
    fresh_n: int = 0


@dataclass
class Histogram:
    """A cumulative histogram: `counts[i]` events <= `FRESHNESS_BUCKETS[i]`, the last one +Inf."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(FRESHNESS_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0
    last_seq: int = 0  #: the source row up to which observations are counted

    def observe(self, value: float) -> None:
        """
        >>> h = Histogram(); h.observe(0.02); h.observe(7.0); h.counts[:2], h.counts[-1], h.n
        ([0, 1], 2, 2)
        """
        for i, bound in enumerate(FRESHNESS_BUCKETS):
            if value <= bound:
                self.counts[i] += 1
        self.counts[-1] += 1
        self.total += value
        self.n += 1


@dataclass(frozen=True)
class Round:
    """One sampling round, as the sampler writes it."""

    at: float
    kafka_ok: bool
    error: str | None
    took_s: float
    pid: int
    partitions: Sequence[PartitionRow]
    groups: Sequence[GroupRow]
    topics: Mapping[str, int]
    quality: Mapping[str, Mapping[str, Any]]
    versions: Mapping[str, str]
    histograms: Mapping[tuple[str, str], Histogram]


@dataclass(frozen=True)
class Latest:
    """What readers serve: the newest round, and the newest offsets (maybe older, if Kafka was away)."""

    at: float
    kafka_ok: bool
    error: str | None
    offsets_at: float | None
    partitions: list[PartitionRow]
    groups: list[GroupRow]
    quality: dict[str, dict[str, Any]]
    versions: dict[str, str]
    histograms: dict[tuple[str, str], Histogram]


def history_path(data_dir: Path) -> Path:
    return data_dir / "ops.sqlite3"


class HistoryWriter:
    """The sampler's side. Only the elected sampler writes; SQLite serialises it anyway."""

    def __init__(self, path: Path, keep_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_DDL)
        self.keep_s = keep_s

    def close(self) -> None:
        self.conn.close()

    def write(self, r: Round) -> None:
        c = self.conn
        with transaction(c):
            c.execute("INSERT OR REPLACE INTO rounds VALUES (?, ?, ?, ?, ?)",
                      (r.at, int(r.kafka_ok), r.error, r.took_s, r.pid))
            c.executemany("INSERT OR REPLACE INTO partitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [(r.at, p.group, p.topic, p.partition, p.committed, p.log_end, p.lag, p.lag_s, p.status,
                            p.reason) for p in r.partitions])
            c.executemany("INSERT OR REPLACE INTO groups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [(r.at, g.group, g.status, g.reason, g.lag, g.lag_s, g.members, g.last_beat_at, g.applied,
                            g.dead_lettered, json.dumps(g.dead_by_kind, sort_keys=True), g.fresh_p50, g.fresh_p95,
                            g.fresh_n) for g in r.groups])
            c.executemany("INSERT OR REPLACE INTO topics VALUES (?, ?, ?)",
                          [(r.at, t, end) for t, end in r.topics.items()])
            c.executemany("INSERT OR REPLACE INTO quality VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [(r.at, m, int(q.get("evaluated") or 0), q.get("hr10"), q.get("ndcg10"),
                            q.get("window_hr10"), q.get("window_ndcg10")) for m, q in r.quality.items()])
            known = _versions(c)
            c.executemany("INSERT OR REPLACE INTO versions VALUES (?, ?, ?)",
                          [(r.at, k, v) for k, v in r.versions.items() if known.get(k) != v])
            c.executemany("INSERT OR REPLACE INTO histograms VALUES (?, ?, ?, ?, ?, ?)",
                          [(name, grp, json.dumps(h.counts), h.total, h.n, h.last_seq)
                           for (name, grp), h in r.histograms.items()])
            cutoff = r.at - self.keep_s
            for table in _TABLES:
                c.execute(f"DELETE FROM {table} WHERE at < ?", (cutoff,))
            # Keep the version in force at the cutoff: the oldest marker of each kind stays.
            c.execute("DELETE FROM versions WHERE at < ? AND at NOT IN (SELECT max(at) FROM versions WHERE at < ? "
                      "GROUP BY kind)", (cutoff, cutoff))

    def histograms(self) -> dict[tuple[str, str], Histogram]:
        return _histograms(self.conn)

    def recent_partitions(self, since: float) -> list[tuple[float, PartitionRow]]:
        """Partition rows since `since`, oldest first: a new sampler's window starts from them."""
        rows = self.conn.execute(
            "SELECT at, grp, topic, partition, committed, log_end, lag, lag_s, status, reason FROM partitions "
            "WHERE at >= ? ORDER BY at", (since,)).fetchall()
        return [(float(r[0]), PartitionRow(*r[1:])) for r in rows]


def _versions(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT kind, version FROM versions v WHERE at = (SELECT max(at) FROM versions w "
                        "WHERE w.kind = v.kind)").fetchall()
    return {str(k): str(v) for k, v in rows}


def _histograms(conn: sqlite3.Connection) -> dict[tuple[str, str], Histogram]:
    out = {}
    for name, grp, counts, total, n, last_seq in conn.execute(
            "SELECT name, grp, counts, total, n, last_seq FROM histograms"):
        out[(str(name), str(grp))] = Histogram(json.loads(counts), float(total), int(n), int(last_seq))
    return out


def _group_row(r: Sequence[Any]) -> GroupRow:
    return GroupRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10], r[11], r[12])


_GROUP_COLS = ("grp, status, reason, lag, lag_s, members, last_beat_at, applied, dead_lettered, dead_by_kind, "
               "fresh_p50, fresh_p95, fresh_n")


class HistoryReader:
    """The readers' side (API workers, the CLI): read-only, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        try:
            conn = connect_reader(self.path)
            conn.row_factory = None
            return conn
        except sqlite3.Error:
            return None

    def latest(self) -> Latest | None:
        conn = self._connect()
        if conn is None:
            return None
        try:
            last = conn.execute("SELECT at, kafka_ok, error FROM rounds ORDER BY at DESC LIMIT 1").fetchone()
            if last is None:
                return None
            offsets_at = conn.execute("SELECT max(at) FROM rounds WHERE kafka_ok = 1").fetchone()[0]
            parts = [] if offsets_at is None else [PartitionRow(*r) for r in conn.execute(
                "SELECT grp, topic, partition, committed, log_end, lag, lag_s, status, reason FROM partitions "
                "WHERE at = ? ORDER BY grp, topic, partition", (offsets_at,))]
            groups = [_group_row(r) for r in conn.execute(
                f"SELECT {_GROUP_COLS} FROM groups WHERE at = ? ORDER BY grp", (last[0],))]
            quality_at = conn.execute("SELECT max(at) FROM quality").fetchone()[0]
            quality = {str(r[0]): {"evaluated": r[1], "hr10": r[2], "ndcg10": r[3], "window_hr10": r[4],
                                   "window_ndcg10": r[5]}
                       for r in conn.execute("SELECT model, evaluated, hr10, ndcg10, window_hr10, window_ndcg10 "
                                             "FROM quality WHERE at = ?", (quality_at,))}
            return Latest(float(last[0]), bool(last[1]), last[2], offsets_at, parts, groups, quality,
                          _versions(conn), _histograms(conn))
        except sqlite3.Error:
            return None  # a half-created file, or a schema from elsewhere: nothing known
        finally:
            conn.close()

    def series(self, since: float, what: tuple[str, ...] = ("rounds", "groups", "topics", "quality", "versions"),
               ) -> dict[str, Any]:
        """Everything since `since` (of the tables in `what`), as columns per group / topic / model:
        what the dashboard draws."""
        conn = self._connect()
        out: dict[str, Any] = {"groups": {}, "topics": {}, "quality": {}, "versions": [], "rounds": []}
        if conn is None:
            return out
        try:
            if "rounds" in what:
                out["rounds"] = [{"at": r[0], "kafka_ok": bool(r[1]), "error": r[2]} for r in conn.execute(
                    "SELECT at, kafka_ok, error FROM rounds WHERE at >= ? ORDER BY at", (since,))]
            groups: dict[str, dict[str, list[Any]]] = out["groups"]
            for r in conn.execute(f"SELECT at, {_GROUP_COLS} FROM groups WHERE at >= ? ORDER BY at",
                                  (since,) if "groups" in what else (math.inf,)):
                g = _group_row(r[1:])
                cols = groups.setdefault(g.group, {k: [] for k in ("at", "status", "lag", "lag_s", "applied",
                                                                   "dead_lettered", "fresh_p50", "fresh_p95")})
                for key, value in (("at", r[0]), ("status", g.status), ("lag", g.lag), ("lag_s", g.lag_s),
                                   ("applied", g.applied), ("dead_lettered", g.dead_lettered),
                                   ("fresh_p50", g.fresh_p50), ("fresh_p95", g.fresh_p95)):
                    cols[key].append(value)
            topics: dict[str, dict[str, list[Any]]] = out["topics"]
            for at, topic, end in conn.execute("SELECT at, topic, log_end FROM topics WHERE at >= ? ORDER BY at",
                                               (since,) if "topics" in what else (math.inf,)):
                cols = topics.setdefault(str(topic), {"at": [], "log_end": []})
                cols["at"].append(at)
                cols["log_end"].append(end)
            quality: dict[str, dict[str, list[Any]]] = out["quality"]
            for at, model, hr10, ndcg10, whr in conn.execute(
                    "SELECT at, model, hr10, ndcg10, window_hr10 FROM quality WHERE at >= ? ORDER BY at",
                    (since,) if "quality" in what else (math.inf,)):
                cols = quality.setdefault(str(model), {"at": [], "hr10": [], "ndcg10": [], "window_hr10": []})
                for key, value in (("at", at), ("hr10", hr10), ("ndcg10", ndcg10), ("window_hr10", whr)):
                    cols[key].append(value)
            if "versions" in what:
                out["versions"] = [{"at": at, "kind": kind, "version": version} for at, kind, version in conn.execute(
                    "SELECT at, kind, version FROM versions ORDER BY at")]
        except sqlite3.Error:
            pass
        finally:
            conn.close()
        return out


def quantiles(values: Iterable[float]) -> tuple[float | None, float | None]:
    """p50 and p95 (nearest rank), None when there is no value.

    >>> quantiles([0.1, 0.2, 0.3, 0.4]), quantiles([])
    ((0.2, 0.4), (None, None))
    """
    ordered = sorted(values)
    if not ordered:
        return None, None

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return rank(0.5), rank(0.95)


def as_dict(row: PartitionRow | GroupRow) -> dict[str, Any]:
    return asdict(row)
