"""The shop's record (the `store` group's SQLite file): products, inventory, users, clicks, orders.

Every write is idempotent: clicks are keyed by event id, orders by order id (`readmodels.orders`),
products follow last-writer-wins (`readmodels.upsert`), and per-user counters move only when the
row they count was inserted. So an event delivered twice is counted once.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from importlib.resources import files

from events import Click, Event, Order, ProductRemoved, ProductUpserted
from readmodels import orders
from readmodels.upsert import SUPERSEDES_SQL

SCHEMA = files("readmodels.store").joinpath("schema.sql")


def setup(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA.read_text())


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def apply_event(conn: sqlite3.Connection, event: Event) -> str | None:
    """Apply one event; returns the counter it moved (None for a duplicate or a stale change)."""
    payload = event.payload
    at = event.event_time.timestamp()
    eid = str(event.event_id)
    if isinstance(payload, ProductUpserted):
        upsert_product(conn, payload, at, eid)
        return "products_upserted"
    if isinstance(payload, ProductRemoved):
        # A product not known yet gets a tombstone: the listing this removal follows may still
        # arrive, late, and must not bring it back.
        conn.execute(
            "INSERT INTO products (product_id, name, description, category_path, category, brand, price_cents, "
            "attributes, removed, created_at, updated_at, last_event_id) "
            "VALUES (?, '', '', '[]', '', '', 0, '{}', 1, ?, ?, ?) "
            "ON CONFLICT (product_id) DO UPDATE SET removed = 1, updated_at = excluded.updated_at, "
            f"last_event_id = excluded.last_event_id WHERE {SUPERSEDES_SQL.format(col='updated_at', table='products')}",
            (payload.product_id, at, at, eid),
        )
        return "products_removed"
    if isinstance(payload, Click):
        return "clicks" if insert_click(conn, payload, eid, at, _ts(event.produce_time)) else None
    if isinstance(payload, Order):
        return "orders" if insert_order(conn, payload, eid, at, _ts(event.produce_time)) else None
    raise TypeError(f"unexpected payload {type(payload).__name__}")


def upsert_product(conn: sqlite3.Connection, p: ProductUpserted, at: float, event_id: str) -> None:
    leaf = p.category_path[-1] if p.category_path else ""
    newer = SUPERSEDES_SQL.format(col="updated_at", table="products")
    conn.execute(
        f"""INSERT INTO products (product_id, name, description, category_path, category, brand,
               price_cents, attributes, removed, created_at, updated_at, last_event_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
           ON CONFLICT (product_id) DO UPDATE SET
               name = excluded.name, description = excluded.description,
               category_path = excluded.category_path, category = excluded.category,
               brand = excluded.brand, price_cents = excluded.price_cents,
               attributes = excluded.attributes, removed = 0,
               created_at = min(created_at, excluded.created_at),
               updated_at = excluded.updated_at, last_event_id = excluded.last_event_id
           WHERE {newer}""",
        (
            p.product_id, p.name, p.description, json.dumps(p.category_path), leaf, p.brand,
            cents(p.price), json.dumps(p.attributes, sort_keys=True), at, at, event_id,
        ),
    )
    sold_after = conn.execute(
        "SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o USING (order_id) "
        "WHERE l.product_id = ? AND o.event_time > ?",
        (p.product_id, at),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO inventory (product_id, base_stock, base_time, sold_since) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (product_id) DO UPDATE SET base_stock = excluded.base_stock, "
        "base_time = excluded.base_time, sold_since = excluded.sold_since "
        f"WHERE {SUPERSEDES_SQL.format(col='base_time', table='inventory')}",
        (p.product_id, p.stock, at, sold_after),
    )


def _touch_user(conn: sqlite3.Connection, user_id: str, at: float) -> None:
    conn.execute(
        "INSERT INTO users (user_id, first_seen, last_seen) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), "
        "last_seen = max(last_seen, excluded.last_seen)",
        (user_id, at, at),
    )


def insert_click(conn: sqlite3.Connection, c: Click, event_id: str, at: float, produced: float | None) -> bool:
    cur = conn.execute(
        "INSERT OR IGNORE INTO clicks (event_id, user_id, product_id, session_id, source, position, "
        "query, event_time, produce_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event_id, c.user_id, c.product_id, c.session_id, c.source.value, c.position, c.query, at, produced),
    )
    if cur.rowcount == 0:
        return False
    _touch_user(conn, c.user_id, at)
    conn.execute("UPDATE users SET clicks = clicks + 1 WHERE user_id = ?", (c.user_id,))
    return True


def insert_order(conn: sqlite3.Connection, o: Order, event_id: str, at: float, produced: float | None) -> bool:
    if not orders.claim(conn, o, "order_ids"):
        return False
    total = cents(o.total)
    conn.execute(
        "INSERT INTO orders (order_id, event_id, user_id, session_id, total_cents, line_count, "
        "event_time, produce_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (o.order_id, event_id, o.user_id, o.session_id, total, len(o.lines), at, produced),
    )
    conn.executemany(
        "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)",
        [(o.order_id, i, ln.product_id, ln.quantity, cents(ln.unit_price)) for i, ln in enumerate(o.lines)],
    )
    conn.executemany(
        "UPDATE inventory SET sold_since = sold_since + ? WHERE product_id = ? AND base_time < ?",
        [(ln.quantity, ln.product_id, at) for ln in o.lines],
    )
    _touch_user(conn, o.user_id, at)
    conn.execute(
        "UPDATE users SET orders = orders + 1, spent_cents = spent_cents + ? WHERE user_id = ?",
        (total, o.user_id),
    )
    return True
