"""The `store` group: product, click and order events into the shop's record (`readmodels.store`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from consumers.processor import Processor, Record
from events import CLICKS, ORDERS, PRODUCTS
from readmodels.store import store


class StoreProcessor(Processor):
    group = "store"
    topics = (PRODUCTS, CLICKS, ORDERS)

    def setup(self, conn: sqlite3.Connection) -> None:
        store.setup(conn)

    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        moved = store.apply_events(conn, [r.event for r in records])
        return {"products_upserted": 0, "products_removed": 0, "clicks": 0, "orders": 0, **moved}
