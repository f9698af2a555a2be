"""The learner's log: every event the model learns from, appended exactly once, read back in order.

Replaying the log from any position gives the same model, which is how a restart resumes and how
the API follows the learner between snapshots. Item entries carry the product (as JSON) and its
vector, computed here once; interaction entries come from `convert.interactions`, the one rule.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.resources import files

import numpy as np

from events import Event, Order, ProductRemoved, ProductUpserted, columns
from models.reco import Interaction, Kind
from models.reco.base import ItemSpec
from models.reco.serving import UserItems
from readmodels import orders
from readmodels.learner.convert import interactions, item_spec, item_vectors
from readmodels.upsert import supersedes

SCHEMA = files("readmodels.learner").joinpath("schema.sql")


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
    vector: bytes | None = None

    @property
    def is_interaction(self) -> bool:
        return self.user_id is not None

    # The learner asks an entry for its interaction (or product) several times -- evaluation,
    # training, the baseline, the evaluators' history -- so each is built once per entry.
    def interaction(self) -> Interaction:
        return self._interaction

    def product(self) -> ProductUpserted:
        return self._product

    @cached_property
    def _interaction(self) -> Interaction:
        assert self.user_id is not None, "item entries are not interactions"
        kind: Kind = "order" if self.kind == "order" else "click"
        return Interaction(self.user_id, self.item_id, kind, self.weight, self.ts, self.session_id)

    @cached_property
    def _product(self) -> ProductUpserted:
        assert self.body is not None
        return ProductUpserted.model_validate_json(self.body)

    def item_spec(self) -> ItemSpec:
        """The item with the vector stored when it was logged (no embedding here)."""
        vector = None if self.vector is None else np.frombuffer(self.vector, dtype=np.float32).copy()
        return item_spec(self.product(), vector)


def setup(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA.read_text())


_INSERT = (
    "INSERT OR IGNORE INTO log (event_id, line_no, kind, user_id, item_id, weight, ts, session_id, body, vector, "
    "produced_at, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def append(conn: sqlite3.Connection, event: Event) -> int:
    """Append what `event` teaches the model; returns entries added (0 for a duplicate or stale event).

    Raises `readmodels.errors.Rejected` for an order id reused for another order.
    """
    return append_events(conn, [event])


# Product ids per `IN (...)` look-up: far below SQLite's limit on bound parameters.
_LOOKUP_CHUNK = 500


def append_events(conn: sqlite3.Connection, events: Sequence[Event]) -> int:
    """:func:`append` for each event in turn, with a few statements per batch: one look-up of the
    products' stored times, the product vectors embedded in one call, one multi-row insert.
    Returns the entries added. Raises `readmodels.errors.Rejected` as `append` does."""
    now = time.time()
    products = [e.payload for e in events if isinstance(e.payload, ProductUpserted | ProductRemoved)]
    stored = _item_times(conn, {p.product_id for p in products})
    changed: dict[str, tuple[float, int]] = {}  # product id -> (updated_at, removed), as it ends
    orders_ = [e.payload for e in events if isinstance(e.payload, Order)]
    claimed = iter(orders.claim_many(conn, orders_, "order_ids") if orders_ else [])
    rows: list[list[object]] = []
    vector_rows: list[tuple[list[object], ProductUpserted]] = []
    ids, times, produce_times = columns(events)  # the whole batch's ids and times in three calls
    for event, eid, ts, produced in zip(events, ids, times, produce_times, strict=True):
        payload = event.payload
        if isinstance(payload, ProductUpserted | ProductRemoved):
            if not supersedes(ts, stored.get(payload.product_id)):
                continue  # an older version arriving late changes nothing
            removed = isinstance(payload, ProductRemoved)
            stored[payload.product_id] = ts
            changed[payload.product_id] = (ts, int(removed))
            if isinstance(payload, ProductUpserted):
                row: list[object] = [eid, 0, "item", None, payload.product_id, None, ts, None,
                                     payload.model_dump_json(), None, produced, now]
                vector_rows.append((row, payload))
            else:
                row = [eid, 0, "remove", None, payload.product_id, None, ts, None, None, None, produced, now]
            rows.append(row)
            continue
        if isinstance(payload, Order) and not next(claimed):
            continue  # the same order again
        for i, x in enumerate(interactions(event)):
            rows.append([eid, i, x.kind, x.user_id, x.item_id, x.weight, x.ts, x.session_id, None, None, produced, now])
    if vector_rows:
        vectors = item_vectors([p for _, p in vector_rows])
        for (row, _), vector in zip(vector_rows, vectors, strict=True):
            row[9] = vector.tobytes()
    if changed:
        conn.executemany(
            "INSERT INTO items (product_id, updated_at, removed) VALUES (?, ?, ?) "
            "ON CONFLICT (product_id) DO UPDATE SET updated_at = excluded.updated_at, removed = excluded.removed",
            [(pid, at, removed) for pid, (at, removed) in changed.items()],
        )
    if not rows:
        return 0
    return int(conn.executemany(_INSERT, rows).rowcount)


def _item_times(conn: sqlite3.Connection, product_ids: set[str]) -> dict[str, float]:
    ids = list(product_ids)
    out: dict[str, float] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(f"SELECT product_id, updated_at FROM items WHERE product_id IN ({marks})", chunk))
    return out


def read_log(
    conn: sqlite3.Connection, after_seq: int, batch: int = 5000, limit: int | None = None
) -> Iterator[LogEntry]:
    """Entries after `after_seq` in order (at most `limit`)."""
    seq, left = after_seq, limit
    while left is None or left > 0:
        n = batch if left is None else min(batch, left)
        rows = conn.execute(
            "SELECT seq, kind, user_id, item_id, weight, ts, session_id, body, produced_at, applied_at, vector "
            "FROM log WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, n),
        ).fetchall()
        if not rows:
            return
        for r in rows:
            seq = int(r[0])
            yield LogEntry(seq, r[1], r[2], r[3], float(r[4] or 0.0), float(r[5]), r[6], r[7], r[8], float(r[9]), r[10])
        if left is not None:
            left -= len(rows)


def last_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0])


def user_items(conn: sqlite3.Connection, user_id: str) -> UserItems:
    """What the user already has, from the log: every item, and the ordered ones."""
    out = UserItems()
    for item, kind in conn.execute("SELECT item_id, kind FROM log WHERE user_id = ?", (user_id,)):
        out.seen.add(str(item))
        if kind == "order":
            out.bought.add(str(item))
    return out


def recent_items(conn: sqlite3.Connection, user_id: str, n: int = 20) -> list[str]:
    """The user's most recent distinct items, newest first."""
    rows = conn.execute(
        "SELECT item_id FROM log WHERE user_id = ? ORDER BY seq DESC LIMIT ?", (user_id, 5 * n)
    ).fetchall()
    return list(dict.fromkeys(str(r[0]) for r in rows))[:n]


def history(conn: sqlite3.Connection, up_to_seq: int) -> dict[str, UserItems]:
    """Each user's items as of log entry `up_to_seq` (to restore the prequential evaluator)."""
    out: dict[str, UserItems] = {}
    for user, item, kind in conn.execute(
        "SELECT user_id, item_id, kind FROM log WHERE user_id IS NOT NULL AND seq <= ?", (up_to_seq,)
    ):
        items = out.setdefault(str(user), UserItems())
        items.seen.add(str(item))
        if kind == "order":
            items.bought.add(str(item))
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
