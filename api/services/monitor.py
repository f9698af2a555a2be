"""What the operator's view reads from the read models: the rows that carry produce and applied
times, the learner's prequential figures, the versions of the model and of the index, the groups'
counters. Shared by the API's metrics, the lag sampler it hosts and `shopstream lag`."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events import ALL_TOPICS
from infra.config import CONSUMER_GROUPS, Settings
from infra.ops.sampler import Sources
from infra.snapshots import SnapshotStore
from infra.sqlite import connect_reader, read_counters
from readmodels.catalog.live_index import SNAPSHOT_NAME as INDEX_SNAPSHOT
from readmodels.learner import log as learner_log
from readmodels.learner.model import SNAPSHOT_NAME as MODEL_SNAPSHOT


def _catalog_rows(conn: sqlite3.Connection, after: int, limit: int) -> list[tuple[int, float | None, float]]:
    # A product's row holds its latest change only: two changes between samples count once.
    return [(int(s), p, float(a)) for s, p, a in conn.execute(
        "SELECT seq, produced_at, applied_at FROM products WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))]


def _learner_rows(conn: sqlite3.Connection, after: int, limit: int) -> list[tuple[int, float | None, float]]:
    return [(int(s), p, float(a)) for s, p, a in conn.execute(
        "SELECT seq, produced_at, applied_at FROM log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))]


FRESHNESS_ROWS = {"catalog": _catalog_rows, "learner": _learner_rows}


def prequential(settings: Settings) -> dict[str, dict[str, float]]:
    """The learner's prequential figures per model (`model`, `popularity`); {} before it has any."""
    path = settings.sqlite_path("learner")
    if not path.exists():
        return {}
    try:
        conn = connect_reader(path)
        try:
            return learner_log.load_prequential(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def versions(settings: Settings) -> dict[str, str]:
    """The newest complete snapshot of the model and of the index (with its embedder)."""
    out: dict[str, str] = {}
    model = SnapshotStore(settings.snapshot_dir("learner"), MODEL_SNAPSHOT).versions()
    if model:
        out["model"] = str(model[-1])
    index = SnapshotStore(settings.snapshot_dir("catalog"), INDEX_SNAPSHOT).complete()
    if index:
        embedder = index[-1].meta.get("embedder", {}).get("version")
        out["index"] = f"{index[-1].version}" + (f" ({embedder})" if embedder else "")
    return out


def sources(settings: Settings) -> Sources:
    return Sources(
        freshness=FRESHNESS_ROWS,
        quality=lambda: prequential(settings),
        versions=lambda: versions(settings),
        topics=[settings.topic_prefix + t for t in ALL_TOPICS],
    )


@dataclass
class GroupCounters:
    """A group's counters as its consumers committed them, read now from its SQLite file."""

    exists: bool = False
    readable: bool = False
    error: str | None = None
    applied: int = 0
    dead_lettered: int = 0
    dead_by_kind: dict[str, int] = field(default_factory=dict)


def group_counters(settings: Settings, groups: tuple[str, ...] = CONSUMER_GROUPS) -> dict[str, GroupCounters]:
    out = {}
    for group in groups:
        path = settings.sqlite_path(group)
        c = GroupCounters(exists=path.exists())
        if c.exists:
            try:
                conn = connect_reader(path)
                try:
                    counters = read_counters(conn)
                finally:
                    conn.close()
                c.readable = True
                c.applied = counters.get("events_applied", 0)
                c.dead_lettered = counters.get("dead_lettered", 0)
                c.dead_by_kind = {k.removeprefix("dead_lettered."): v for k, v in counters.items()
                                  if k.startswith("dead_lettered.")}
            except sqlite3.Error as exc:
                c.error = f"{path}: {exc}"
        out[group] = c
    return out


def pick(figures: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: figures[k] for k in keys if k in figures}
