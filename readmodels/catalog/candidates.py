"""The columns that ranking, filters and facets read for every candidate of a query, in memory.

A query gathers a few hundred candidates from its two legs; reading their rows from SQLite took
about 1.5 ms of a 6 ms search at 100k products (an `IN (...)` of ~200 ids, a Python object per row).
This table keeps those few columns as numpy arrays indexed by doc id and follows the catalog by
change `seq`, as the vector index does, so a query's candidate rows cost a few array look-ups.
About 30 bytes a product (30 MB at a million).

>>> import sqlite3
>>> from readmodels.catalog import store
>>> conn = sqlite3.connect(":memory:", isolation_level=None); store.setup(conn)
>>> from decimal import Decimal
>>> _ = store.upsert_product(conn, product_id="p1", name="Red mug", description="", category_path=["Home", "Mugs"],
...     brand="Acme", price=Decimal("9.50"), attributes={}, stock=3, event_time=1.0, produced_at=None)
>>> table = CandidateTable(); table.catch_up(conn)
1
>>> table.get([1, 2])
{1: Candidate(doc_id=1, category='Mugs', top_category='Home', brand='Acme', price=9.5, stock=3)}
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from readmodels.catalog.store import Candidate

_BATCH = 50_000


class CandidateTable:
    def __init__(self) -> None:
        self.seq = 0
        self._lock = threading.Lock()
        self._seen: NDArray[np.bool_] = np.zeros(0, np.bool_)  # written at least once (maybe removed since)
        self._live: NDArray[np.bool_] = np.zeros(0, np.bool_)
        self._price_cents: NDArray[np.int64] = np.zeros(0, np.int64)
        self._stock: NDArray[np.int64] = np.zeros(0, np.int64)
        self._category: NDArray[np.int32] = np.zeros(0, np.int32)
        self._top: NDArray[np.int32] = np.zeros(0, np.int32)
        self._brand: NDArray[np.int32] = np.zeros(0, np.int32)
        self._strings: list[str] = []  # category, top category and brand values, interned
        self._codes: dict[str, int] = {}

    def __len__(self) -> int:
        return int(self._live.sum())

    def _code(self, value: str) -> int:
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self._strings)
            self._strings.append(value)
        return code

    def _grow(self, size: int) -> None:
        if size <= len(self._seen):
            return
        size = max(size, 2 * len(self._seen), 1024)

        def grown(a: Any) -> Any:
            out = np.zeros(size, a.dtype)
            out[: len(a)] = a
            return out

        self._seen = grown(self._seen)
        self._live = grown(self._live)
        self._price_cents = grown(self._price_cents)
        self._stock = grown(self._stock)
        self._category = grown(self._category)
        self._top = grown(self._top)
        self._brand = grown(self._brand)

    def catch_up(self, conn: sqlite3.Connection) -> int:
        """Apply every product change after `seq`; returns how many."""
        n = 0
        with self._lock:
            while True:
                rows = conn.execute(
                    "SELECT doc_id, category, top_category, brand, price_cents, stock, removed, seq FROM products "
                    "WHERE seq > ? ORDER BY seq LIMIT ?", (self.seq, _BATCH),
                ).fetchall()
                if not rows:
                    return n
                self._grow(max(int(r[0]) for r in rows) + 1)
                for doc, category, top, brand, cents, stock, removed, _seq in rows:
                    self._seen[doc] = True
                    self._live[doc] = not removed
                    self._price_cents[doc] = cents
                    self._stock[doc] = stock
                    self._category[doc] = self._code(category)
                    self._top[doc] = self._code(top)
                    self._brand[doc] = self._code(brand)
                self.seq = int(rows[-1][7])
                n += len(rows)

    def get(self, doc_ids: Sequence[int]) -> dict[int, Candidate]:
        """The live products among `doc_ids` (unknown and removed ones are left out)."""
        if not doc_ids:
            return {}
        with self._lock:
            ids = np.fromiter(doc_ids, np.int64, len(doc_ids))
            ids = ids[(ids >= 0) & (ids < len(self._live))]
            ids = ids[self._live[ids]]
            s = self._strings
            return {
                d: Candidate(d, s[c], s[t], s[b], p / 100.0, k)
                for d, c, t, b, p, k in zip(
                    ids.tolist(), self._category[ids].tolist(), self._top[ids].tolist(), self._brand[ids].tolist(),
                    self._price_cents[ids].tolist(), self._stock[ids].tolist(), strict=True,
                )
            }

    def unseen(self, doc_ids: Sequence[int]) -> list[int]:
        """Those of `doc_ids` this table has not caught up with yet (read them from SQLite)."""
        with self._lock:
            size = len(self._seen)
            return [d for d in doc_ids if d >= size or not self._seen[d]]
