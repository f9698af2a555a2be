"""The shop's record (the `store` group's SQLite file): products, inventory, users, clicks, orders.

Every write is idempotent: clicks are keyed by event id, orders by order id (`readmodels.orders`),
products follow last-writer-wins (`readmodels.upsert`), and per-user counters move only when the
row they count was inserted. So an event delivered twice is counted once.

A batch is applied with few statements (:func:`apply_events`): clicks, nine in ten events, go in
with one multi-row insert (a look-up of the ids already stored only if some were) and one upsert
per distinct user.
That is allowed because every rule here is order-free: clicks touch nothing that products or
orders read, and the user counters only add (first and last seen are a min and a max).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any, TypeVar

from events import Click, Event, Order, ProductRemoved, ProductUpserted, columns
from readmodels import orders
from readmodels.upsert import SUPERSEDES_SQL

SCHEMA = files("readmodels.store").joinpath("schema.sql")


def setup(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA.read_text())


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


# Ids per `IN (...)` look-up: far below SQLite's limit on bound parameters.
_LOOKUP_CHUNK = 500


def apply_events(conn: sqlite3.Connection, events: Sequence[Event]) -> Counter[str]:
    """Apply a batch; returns how many rows each counter moved (duplicates and stale changes move
    none). The same rows as :func:`apply_event` on each event in turn. Raises
    `readmodels.errors.Rejected` if an order id in the batch was used for a different order."""
    moved: Counter[str] = Counter()
    clicks: list[Event] = []
    orders_: list[Event] = []
    for event in events:
        payload = event.payload
        if isinstance(payload, Click):
            clicks.append(event)
        elif isinstance(payload, Order):
            orders_.append(event)
        elif (name := apply_event(conn, event)) is not None:
            moved[name] += 1
    users = _UserTally()
    if orders_:
        moved["orders"] += _insert_orders(conn, _rows(orders_), users)
    if clicks:
        moved["clicks"] += _insert_clicks(conn, _rows(clicks), users)
    users.write(conn)
    return moved


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


_P = TypeVar("_P", Click, Order)
# (event id, payload, event time, produce time): what the rows of a click or an order are made of.
_Row = tuple[str, _P, float, float | None]


def _rows(events: Sequence[Event]) -> list[_Row[Any]]:
    # `columns` stringifies the ids and converts the times of the whole batch in pydantic-core:
    # 0.7 us an event against 2.6 us for str(event_id) and two timestamp() calls each.
    ids, at, produced = columns(events)
    return list(zip(ids, [e.payload for e in events], at, produced, strict=True))


class _UserTally:
    """What a batch adds to each user's row: written with one upsert per user."""

    SQL = (
        "INSERT INTO users (user_id, first_seen, last_seen, clicks, orders, spent_cents) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), "
        "last_seen = max(last_seen, excluded.last_seen), clicks = clicks + excluded.clicks, "
        "orders = orders + excluded.orders, spent_cents = spent_cents + excluded.spent_cents"
    )

    def __init__(self) -> None:
        self.users: dict[str, list[Any]] = {}  # user -> [first seen, last seen, clicks, orders, spent cents]

    def add(self, user_id: str, at: float, clicks: int = 0, orders: int = 0, spent_cents: int = 0) -> None:
        row = self.users.get(user_id)
        if row is None:
            self.users[user_id] = [at, at, clicks, orders, spent_cents]
            return
        if at < row[0]:
            row[0] = at
        if at > row[1]:
            row[1] = at
        row[2] += clicks
        row[3] += orders
        row[4] += spent_cents

    def write(self, conn: sqlite3.Connection) -> None:
        if self.users:
            conn.executemany(self.SQL, [(u, *row) for u, row in self.users.items()])
            self.users = {}


def _first_by_id(rows: Sequence[_Row[Click]]) -> dict[str, _Row[Click]]:
    """The first row of each event id in `rows`, by id."""
    first: dict[str, _Row[Click]] = {}
    for row in rows:
        first.setdefault(row[0], row)
    return first


def _new_by_id(conn: sqlite3.Connection, rows: Sequence[_Row[Click]]) -> list[_Row[Click]]:
    """The rows whose event id is neither stored nor earlier in `rows`."""
    fresh = _first_by_id(rows)
    ids = list(fresh)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        for (stored,) in conn.execute(f"SELECT event_id FROM clicks WHERE event_id IN ({marks})", chunk):
            del fresh[stored]
    return list(fresh.values())


def insert_click(conn: sqlite3.Connection, c: Click, event_id: str, at: float, produced: float | None) -> bool:
    """One click; False if its event id was stored already."""
    users = _UserTally()
    new = _insert_clicks(conn, [(event_id, c, at, produced)], users)
    users.write(conn)
    return new == 1


_INSERT_CLICK = (
    "INSERT INTO clicks (event_id, user_id, product_id, session_id, source, position, query, event_time, "
    "produce_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)


def _click_params(rows: Sequence[_Row[Click]]) -> list[tuple[Any, ...]]:
    return [(eid, c.user_id, c.product_id, c.session_id, str(c.source), c.position, c.query, at, produced)
            for eid, c, at, produced in rows]


def _insert_clicks(conn: sqlite3.Connection, rows: Sequence[_Row[Click]], users: _UserTally) -> int:
    # Optimistically, none of the ids is stored yet (a stored one is a redelivery, which the stored
    # offsets mostly skip already): insert the lot, and if every row went in, that is the answer,
    # with no look-up (1.3 us a click). Otherwise undo it and insert what `_new_by_id` finds new.
    fresh: Sequence[_Row[Click]] = list(_first_by_id(rows).values())
    conn.execute("SAVEPOINT clicks")
    try:
        before = conn.total_changes
        conn.executemany(_INSERT_CLICK, _click_params(fresh))
        if conn.total_changes - before != len(fresh):
            conn.execute("ROLLBACK TO clicks")
            fresh = _new_by_id(conn, fresh)
            conn.executemany(_INSERT_CLICK, _click_params(fresh))
    except BaseException:
        conn.execute("ROLLBACK TO clicks")
        raise
    finally:
        conn.execute("RELEASE clicks")
    for _, c, at, _ in fresh:
        users.add(c.user_id, at, clicks=1)
    return len(fresh)


def insert_order(conn: sqlite3.Connection, o: Order, event_id: str, at: float, produced: float | None) -> bool:
    """One order; False if it was counted already. Raises `Rejected` for an order id reused for
    another order (`readmodels.orders`)."""
    users = _UserTally()
    new = _insert_orders(conn, [(event_id, o, at, produced)], users)
    users.write(conn)
    return new == 1


def _insert_orders(conn: sqlite3.Connection, rows: Sequence[_Row[Order]], users: _UserTally) -> int:
    claimed = orders.claim_many(conn, [o for _, o, _, _ in rows], "order_ids")
    fresh = [row for row, new in zip(rows, claimed, strict=True) if new]
    header, lines, sold = [], [], []
    for eid, o, at, produced in fresh:
        total = cents(o.total)
        header.append((o.order_id, eid, o.user_id, o.session_id, total, len(o.lines), at, produced))
        for i, ln in enumerate(o.lines):
            lines.append((o.order_id, i, ln.product_id, ln.quantity, cents(ln.unit_price)))
            sold.append((ln.quantity, ln.product_id, at))
        users.add(o.user_id, at, orders=1, spent_cents=total)
    conn.executemany(
        "INSERT INTO orders (order_id, event_id, user_id, session_id, total_cents, line_count, "
        "event_time, produce_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        header,
    )
    conn.executemany(
        "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)",
        lines,
    )
    conn.executemany("UPDATE inventory SET sold_since = sold_since + ? WHERE product_id = ? AND base_time < ?", sold)
    return len(fresh)
