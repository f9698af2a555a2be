"""The learner store: append events to the log idempotently; read it back in order."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files

from events import Click, Event, Order, ProductRemoved, ProductUpserted
from infra.learner.convert import CLICK_WEIGHT, ORDER_WEIGHT_PER_UNIT
from models.reco import Interaction, Kind

SCHEMA = files("infra.learner").joinpath("schema.sql")


@dataclass(frozen=True)
class LogEntry:
    seq: int
    kind: str  # item | remove | click | order
    user_id: str | None
    item_id: str
    weight: float
    ts: float
    session_id: str | None
    body: str | None
    produced_at: float | None
    applied_at: float

    def interaction(self) -> Interaction:
        assert self.user_id is not None, "item entries are not interactions"
        kind: Kind = "order" if self.kind == "order" else "click"
        return Interaction(self.user_id, self.item_id, kind, self.weight, self.ts, self.session_id)

    def product(self) -> ProductUpserted:
        assert self.body is not None
        return ProductUpserted.model_validate_json(self.body)


def setup(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA.read_text())


def append(conn: sqlite3.Connection, event: Event) -> int:
    """Append what `event` teaches the model; returns entries added (0 for a duplicate or stale event)."""
    payload = event.payload
    eid = str(event.event_id)
    ts = event.event_time.timestamp()
    produced = event.produce_time.timestamp() if event.produce_time else None
    now = time.time()
    rows: list[tuple[object, ...]] = []
    if isinstance(payload, ProductUpserted | ProductRemoved):
        old = conn.execute("SELECT updated_at FROM items WHERE product_id = ?", (payload.product_id,)).fetchone()
        if old is not None and old[0] > ts:
            return 0  # an older version arriving late changes nothing
        removed = isinstance(payload, ProductRemoved)
        conn.execute(
            "INSERT INTO items (product_id, updated_at, removed) VALUES (?, ?, ?) "
            "ON CONFLICT (product_id) DO UPDATE SET updated_at = excluded.updated_at, removed = excluded.removed",
            (payload.product_id, ts, int(removed)),
        )
        body = None if removed else payload.model_dump_json()
        rows.append((eid, 0, "remove" if removed else "item", None, payload.product_id, None, ts, None, body))
    elif isinstance(payload, Click):
        rows.append((eid, 0, "click", payload.user_id, payload.product_id, CLICK_WEIGHT, ts, payload.session_id, None))
    elif isinstance(payload, Order):
        for i, line in enumerate(payload.lines):
            rows.append((
                eid, i, "order", payload.user_id, line.product_id, ORDER_WEIGHT_PER_UNIT * line.quantity, ts,
                payload.session_id, None,
            ))
    added = 0
    for row in rows:
        cur = conn.execute(
            "INSERT OR IGNORE INTO log (event_id, line_no, kind, user_id, item_id, weight, ts, session_id, body, "
            "produced_at, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, produced, now),
        )
        added += cur.rowcount
    return added


def read_log(conn: sqlite3.Connection, after_seq: int, batch: int = 5000) -> Iterator[LogEntry]:
    seq = after_seq
    while True:
        rows = conn.execute(
            "SELECT seq, kind, user_id, item_id, weight, ts, session_id, body, produced_at, applied_at "
            "FROM log WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, batch),
        ).fetchall()
        if not rows:
            return
        for r in rows:
            seq = int(r[0])
            yield LogEntry(seq, r[1], r[2], r[3], float(r[4] or 0.0), float(r[5]), r[6], r[7], r[8], float(r[9]))


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0])


def user_items(conn: sqlite3.Connection, user_id: str, kinds: tuple[str, ...] = ("click", "order")) -> list[str]:
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(
        f"SELECT item_id FROM log WHERE user_id = ? AND kind IN ({marks}) ORDER BY seq", (user_id, *kinds)
    ).fetchall()
    return list(dict.fromkeys(str(r[0]) for r in rows))


def user_history(conn: sqlite3.Connection, up_to_seq: int) -> dict[str, set[str]]:
    """Each user's items as of log entry `up_to_seq` (to restore the prequential evaluator)."""
    out: dict[str, set[str]] = {}
    for user, item in conn.execute(
        "SELECT user_id, item_id FROM log WHERE user_id IS NOT NULL AND seq <= ?", (up_to_seq,)
    ):
        out.setdefault(str(user), set()).add(str(item))
    return out


def save_prequential(
    conn: sqlite3.Connection, model: str, seq: int, evaluated: int, hits: int, ndcg_sum: float,
    window_hit_rate: float | None, window_ndcg: float | None,
) -> None:
    conn.execute(
        "INSERT INTO prequential (model, seq, evaluated, hits, ndcg_sum, window_hit_rate, window_ndcg, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET seq = excluded.seq, "
        "evaluated = excluded.evaluated, hits = excluded.hits, ndcg_sum = excluded.ndcg_sum, "
        "window_hit_rate = excluded.window_hit_rate, window_ndcg = excluded.window_ndcg, "
        "updated_at = excluded.updated_at",
        (model, seq, evaluated, hits, ndcg_sum, window_hit_rate, window_ndcg, time.time()),
    )


def load_prequential(conn: sqlite3.Connection) -> dict[str, dict[str, float]]:
    out = {}
    for row in conn.execute(
        "SELECT model, seq, evaluated, hits, ndcg_sum, window_hit_rate, window_ndcg, updated_at FROM prequential"
    ):
        evaluated = int(row[2])
        out[str(row[0])] = {
            "seq": int(row[1]),
            "evaluated": evaluated,
            "hits": int(row[3]),
            "ndcg_sum": float(row[4]),
            "hr10": row[3] / evaluated if evaluated else 0.0,
            "ndcg10": row[4] / evaluated if evaluated else 0.0,
            "window_hr10": row[5],
            "window_ndcg10": row[6],
            "updated_at": row[7],
        }
    return out
