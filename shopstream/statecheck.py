"""What the consumer groups' state holds, as figures two runs of the same stream can be compared by.

Used by `shopstream chaos`, the broker-outage and cluster tests: a run that was interrupted (SIGKILLs,
a broker outage, a lost broker) must end with the same state as an uninterrupted run of the same
seed. The figures leave out what legitimately differs between two runs of the same events:

* wall-clock columns (produce time, applied time), and the ids a producer run may mint afresh
  (event ids, order ids, session ids; the simulator's run id goes into them);
* positions that follow the order in which partitions interleave: the catalog's `doc_id` and change
  `seq`, the learner's log `seq`;
* the vectors' values: the LSA embedder is refitted when the catalogue has doubled, at whichever
  batch boundary that happens, so two runs may fit it on a few more or fewer products. What the
  vector index must hold is checked instead: exactly the live products (by product id), each with
  the vector its own embedder gives the product's current text (`stale_vectors` = 0).

Each table is summarised by its row count and a SHA-256 digest of its rows (sorted), so "equal"
means the same rows, not just as many.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from infra.config import CONSUMER_GROUPS, Settings
from infra.sqlite import connect_reader, load_offsets, read_counters

Figures = dict[str, dict[str, Any]]

# Per table: the columns compared (everything else is a wall-clock time, a run-minted id or a
# position that depends on how partitions interleave).
_STORE_TABLES: dict[str, str] = {
    "products": "product_id, name, description, category_path, category, brand, price_cents, attributes, removed, "
                "created_at, updated_at",
    "inventory": "product_id, base_stock, base_time, sold_since, stock",
    "users": "user_id, first_seen, last_seen, clicks, orders, spent_cents",
    "clicks": "user_id, product_id, source, position, query, event_time",
    "orders": "user_id, total_cents, line_count, event_time",
    "order_lines": "line_no, product_id, quantity, unit_price_cents",
}
_CATALOG_TABLES: dict[str, str] = {
    "products": "product_id, name, description, category_path, category, top_category, brand, price_cents, "
                "attributes, stock, removed, updated_at",
}
_LEARNER_TABLES: dict[str, str] = {
    "log": "line_no, kind, user_id, item_id, weight, ts, body, vector",
    "items": "product_id, updated_at, removed",
}


def _digest(rows: Iterable[Sequence[Any]]) -> str:
    h = hashlib.sha256()
    for row in sorted(repr(tuple(r)) for r in rows):
        h.update(row.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _tables(conn: sqlite3.Connection, tables: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table, cols in tables.items():
        rows = conn.execute(f"SELECT {cols} FROM {table}").fetchall()
        out[f"{table}.rows"] = len(rows)
        out[f"{table}.digest"] = _digest(rows)
    return out


def _open(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    return connect_reader(path)


def counters(settings: Settings, group: str) -> dict[str, int]:
    """The group's counters (`events_applied`, ...); empty while its file or tables do not exist."""
    try:
        conn = _open(settings.sqlite_path(group))
        if conn is None:
            return {}
        try:
            return read_counters(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def store_figures(settings: Settings) -> dict[str, Any]:
    conn = _open(settings.sqlite_path("store"))
    if conn is None:
        return {"missing": True}
    def one(sql: str) -> Any:
        return conn.execute(sql).fetchone()[0]

    try:
        return {
            "events_applied": read_counters(conn).get("events_applied", 0),
            "products_alive": one("SELECT count(*) FROM products WHERE removed = 0"),
            "units_in_stock": one("SELECT coalesce(sum(stock), 0) FROM inventory"),
            "clicks": one("SELECT count(*) FROM clicks"),
            "orders": one("SELECT count(*) FROM orders"),
            "units_sold": one("SELECT coalesce(sum(quantity), 0) FROM order_lines"),
            "revenue_cents": one("SELECT coalesce(sum(total_cents), 0) FROM orders"),
            **_tables(conn, _STORE_TABLES),
        }
    finally:
        conn.close()


def catalog_figures(settings: Settings) -> dict[str, Any]:
    from readmodels.catalog.live_index import LiveIndex  # FAISS and the embedders: only when asked
    from readmodels.catalog.store import changes_since

    conn = _open(settings.sqlite_path("catalog"))
    if conn is None:
        return {"missing": True}
    try:
        out: dict[str, Any] = {
            "events_applied": read_counters(conn).get("events_applied", 0),
            "products_alive": conn.execute("SELECT count(*) FROM products WHERE removed = 0").fetchone()[0],
            "fts_rows": conn.execute("SELECT count(*) FROM products_fts").fetchone()[0],
            **_tables(conn, _CATALOG_TABLES),
        }
        # The vector index as a reader sees it: the newest snapshot, caught up from SQLite.
        live = LiveIndex.load_latest(settings.snapshot_dir("catalog"))
        if live is None:
            out["vector_index"] = "no snapshot"
            return out
        live.catch_up(conn)
        rows = {r.doc_id: r for r in changes_since(conn, 0)}
        indexed = [int(i) for i in live.index.ids().tolist()]
        alive = {doc for doc, r in rows.items() if not r.removed}
        out["vectors"] = len(indexed)
        out["vectors.product_ids"] = _digest((rows[d].product_id,) for d in indexed if d in rows)
        out["vectors_missing"] = len(alive - set(indexed))
        out["vectors_not_live"] = len(set(indexed) - alive)
        out["stale_vectors"] = _stale_vectors(live, [rows[d] for d in indexed if d in alive])
        return out
    finally:
        conn.close()


def _stale_vectors(live: Any, rows: list[Any], chunk: int = 512) -> int:
    """Indexed vectors that are not what the index's own embedder gives the product's current text."""
    stale = 0
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        want = live.embedder.transform([r.embed_text() for r in part])
        stale += int((~live.index.holds([r.doc_id for r in part], want)).sum())
    return stale


def learner_figures(settings: Settings) -> dict[str, Any]:
    from readmodels.learner.model import snapshot_infos

    conn = _open(settings.sqlite_path("learner"))
    if conn is None:
        return {"missing": True}
    try:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM log GROUP BY kind").fetchall())
        last_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM log").fetchone()[0]
        out: dict[str, Any] = {
            "events_applied": read_counters(conn).get("events_applied", 0),
            **{f"log.{k}": kinds.get(k, 0) for k in ("item", "remove", "click", "order")},
            **_tables(conn, _LEARNER_TABLES),
        }
    finally:
        conn.close()
    infos = snapshot_infos(settings.snapshot_dir("learner"))
    if not infos:
        out["events_trained"] = "no snapshot"
        return out
    newest = infos[-1]
    out["events_trained"] = int(newest["events_trained"])
    # The count only means "every entry" if the snapshot includes the whole log.
    out["snapshot_behind_log"] = int(last_seq) - int(newest["seq"])
    return out


def groups_at_log_end(settings: Settings) -> bool:
    """Whether every group's offsets stored in SQLite reach the end of each partition of its topics
    (the truth, unlike Kafka's committed offsets, which may trail after a failed commit)."""
    from kafka import KafkaConsumer, TopicPartition

    from consumers.groups import GROUPS

    try:
        consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
                                 request_timeout_ms=10_000)
    except Exception:  # no broker answers right now: not yet
        return False
    try:
        for group in CONSUMER_GROUPS:
            topics = [settings.topic_prefix + t for t in GROUPS[group](settings).topics]
            parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
            if not parts:
                return False
            ends = consumer.end_offsets(parts)
            conn = _open(settings.sqlite_path(group))
            if conn is None:
                return False
            try:
                stored = load_offsets(conn)
            finally:
                conn.close()
            if any(stored.get((tp.topic, tp.partition), 0) < end for tp, end in ends.items()):
                return False
        return True
    except Exception:  # the broker is (re)starting or a file is busy: not yet
        return False
    finally:
        consumer.close()


def summarize(settings: Settings) -> Figures:
    """The figures of every consumer group's state under `settings.data_dir`."""
    return {
        "store": store_figures(settings),
        "catalog": catalog_figures(settings),
        "learner": learner_figures(settings),
    }


def differences(got: Figures, want: Figures) -> list[str]:
    """`group.figure: got != want` for every figure that differs (empty: the same state)."""
    out = []
    for group in sorted(set(got) | set(want)):
        a, b = got.get(group, {}), want.get(group, {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                out.append(f"{group}.{name}: {a.get(name)!r} != {b.get(name)!r}")
    return out


def side_by_side(left: Figures, right: Figures, titles: tuple[str, str]) -> str:
    """A table of every figure of both runs, marking the ones that differ."""
    width = max((len(f"{g}.{n}") for g in left | right for n in (left.get(g, {}) | right.get(g, {}))), default=10)
    lines = [f"{'':<{width}}  {titles[0]:>18}  {titles[1]:>18}"]
    for group in sorted(set(left) | set(right)):
        a, b = left.get(group, {}), right.get(group, {})
        for name in sorted(set(a) | set(b)):
            mark = "" if a.get(name) == b.get(name) else "   <-- differs"
            lines.append(f"{group + '.' + name:<{width}}  {_cell(a.get(name)):>18}  {_cell(b.get(name)):>18}{mark}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value) if not isinstance(value, dict | list) else json.dumps(value)
