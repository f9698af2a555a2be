"""The in-memory candidate table follows the catalog's SQLite rows as `get_candidates` reads them."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from readmodels.catalog import store
from readmodels.catalog.candidates import CandidateTable


def _upsert(conn: sqlite3.Connection, pid: str, t: float, stock: int = 5, price: str = "10.00",
            brand: str = "Acme") -> None:
    store.upsert_product(conn, product_id=pid, name=f"Mug {pid}", description="", category_path=["Home", "Mugs"],
                         brand=brand, price=Decimal(price), attributes={}, stock=stock, event_time=t,
                         produced_at=None)


def test_it_reads_what_sqlite_reads_through_updates_and_removals() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    store.setup(conn)
    table = CandidateTable()
    for i in range(50):
        _upsert(conn, f"p{i}", 1.0)
    assert table.catch_up(conn) == 50
    _upsert(conn, "p3", 2.0, stock=0, price="12.34", brand="Other")
    store.remove_product(conn, "p7", 2.0, None)
    _upsert(conn, "p60", 2.0)
    docs = list(range(1, 70))
    assert table.unseen(docs) == [d for d in docs if d > 50]  # behind SQLite until it catches up
    assert table.catch_up(conn) == 3
    assert table.unseen(docs) == [d for d in docs if d > 51]
    assert table.get(docs) == store.get_candidates(conn, docs)
    assert len(table) == 50
    assert table.catch_up(conn) == 0
