"""An order id names one order: the rule every read model that counts orders applies.

The same order delivered again -- the same event, or a new envelope around the same content (a
producer that retried with a fresh event id) -- is counted once. An order id reused for different
content is not an order we can count: it is rejected (and so dead-lettered by the consumer),
never silently dropped, and every group decides the same way.

>>> from events import Order, OrderLine
>>> line = OrderLine(product_id="p", quantity=1, unit_price="2.50")
>>> a = Order(order_id="o1", user_id="u1", lines=[line], total="2.50")
>>> b = a.model_copy(update={"user_id": "u2"})
>>> fingerprint(a) == fingerprint(a.model_copy()), fingerprint(a) == fingerprint(b)
(True, False)
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence

from events import Order
from readmodels.errors import Rejected

_LOOKUP_CHUNK = 500  # ids per `IN (...)` look-up


def fingerprint(order: Order) -> str:
    """A digest of the order's content (not of its envelope)."""
    return hashlib.sha256(order.model_dump_json().encode()).hexdigest()[:32]


def claim_many(conn: sqlite3.Connection, batch: Sequence[Order], table: str) -> list[bool]:
    """:func:`claim` for each order of `batch` in turn (a later one sees the earlier ones), with
    one look-up for the whole batch."""
    digests = [fingerprint(o) for o in batch]
    known: dict[str, str] = {}
    ids = list({o.order_id for o in batch})
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        known.update(conn.execute(f"SELECT order_id, fingerprint FROM {table} WHERE order_id IN ({marks})", chunk))
    out: list[bool] = []
    new: list[tuple[str, str]] = []
    for order, digest in zip(batch, digests, strict=True):
        stored = known.get(order.order_id)
        if stored is None:
            known[order.order_id] = digest
            new.append((order.order_id, digest))
            out.append(True)
        elif stored != digest:
            raise _reused(order)
        else:
            out.append(False)
    conn.executemany(f"INSERT INTO {table} (order_id, fingerprint) VALUES (?, ?)", new)
    return out


def _reused(order: Order) -> Rejected:
    return Rejected("duplicate-order-id", f"order id {order.order_id!r} was already used for a different order")


def claim(conn: sqlite3.Connection, order: Order, table: str) -> bool:
    """Record ``order``'s id in ``table`` (order_id PRIMARY KEY, fingerprint); True if it is new,
    False if the same order was already counted. Raises :class:`Rejected` for a reused id."""
    digest = fingerprint(order)
    row = conn.execute(f"SELECT fingerprint FROM {table} WHERE order_id = ?", (order.order_id,)).fetchone()
    if row is None:
        conn.execute(f"INSERT INTO {table} (order_id, fingerprint) VALUES (?, ?)", (order.order_id, digest))
        return True
    if row[0] != digest:
        raise _reused(order)
    return False
