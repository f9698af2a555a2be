"""SQLite connections and the Kafka offsets that each consumer group stores beside its state.

Writers open in WAL mode and serialise through SQLite's lock (`BEGIN IMMEDIATE`); readers (the
API) open the file read-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

_OFFSETS_DDL = """
CREATE TABLE IF NOT EXISTS kafka_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
-- One row per consumer process of the group: its heartbeat, for the health check.
CREATE TABLE IF NOT EXISTS consumer_status (
    member        TEXT PRIMARY KEY,       -- host:pid:loop
    grp           TEXT NOT NULL,
    state         TEXT NOT NULL,          -- starting | running | retrying | stopped
    beat_at       REAL NOT NULL,
    last_batch_at REAL,
    applied       INTEGER NOT NULL DEFAULT 0,
    dead_lettered INTEGER NOT NULL DEFAULT 0,
    error         TEXT
) WITHOUT ROWID;
"""


def connect_writer(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so that a batch is one transaction.
    conn = sqlite3.connect(path, isolation_level=None, timeout=60.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(_OFFSETS_DDL)
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """Read-only; raises `sqlite3.OperationalError` if the file does not exist yet."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; taken with IMMEDIATE so concurrent writers queue rather than fail."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def load_offsets(conn: sqlite3.Connection) -> dict[tuple[str, int], int]:
    rows = conn.execute("SELECT topic, partition, next_offset FROM kafka_offsets").fetchall()
    return {(str(t), int(p)): int(o) for t, p, o in rows}


def save_offsets(conn: sqlite3.Connection, offsets: Mapping[tuple[str, int], int]) -> None:
    conn.executemany(
        "INSERT INTO kafka_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
        "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
        [(t, p, o) for (t, p), o in offsets.items()],
    )


def bump_counters(conn: sqlite3.Connection, deltas: Mapping[str, int]) -> None:
    conn.executemany(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        [(k, v) for k, v in deltas.items() if v],
    )


def read_counters(conn: sqlite3.Connection) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.execute("SELECT name, value FROM counters")}


def write_status(
    conn: sqlite3.Connection, member: str, group: str, state: str, now: float, *, applied: int = 0,
    dead_lettered: int = 0, last_batch_at: float | None = None, error: str | None = None,
) -> None:
    """Record a consumer process's heartbeat (rows of processes gone for a day are dropped)."""
    conn.execute(
        "INSERT INTO consumer_status (member, grp, state, beat_at, last_batch_at, applied, dead_lettered, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (member) DO UPDATE SET state = excluded.state, "
        "beat_at = excluded.beat_at, last_batch_at = coalesce(excluded.last_batch_at, last_batch_at), "
        "applied = excluded.applied, dead_lettered = excluded.dead_lettered, error = excluded.error",
        (member, group, state, now, last_batch_at, applied, dead_lettered, error),
    )
    conn.execute("DELETE FROM consumer_status WHERE beat_at < ?", (now - 86_400,))


def read_status(conn: sqlite3.Connection) -> list[dict[str, object]]:
    """The heartbeat rows, newest first."""
    cols = ("member", "grp", "state", "beat_at", "last_batch_at", "applied", "dead_lettered", "error")
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM consumer_status ORDER BY beat_at DESC").fetchall()
    return [dict(zip(cols, tuple(r), strict=True)) for r in rows]
