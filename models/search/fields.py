"""The searchable fields of a product and their weights: one set for both keyword engines.

SQLite FTS5's ``bm25()`` (the stored index, for narrow filtered queries) and the in-memory BM25F
index (:class:`~models.search.bm25.BM25Index`) rank with these same weights, so switching engines
changes speed, not relevance.

>>> SEARCH_FIELDS
('name', 'description', 'brand', 'category')
>>> fts5_weights()
'4.0, 1.0, 2.0, 2.0'
"""

from __future__ import annotations

SEARCH_FIELDS: tuple[str, ...] = ("name", "description", "brand", "category")
FIELD_WEIGHTS: dict[str, float] = {"name": 4.0, "description": 1.0, "brand": 2.0, "category": 2.0}


def fts5_weights() -> str:
    """The weights as FTS5's ``bm25(table, w1, w2, ...)`` takes them, in column order."""
    return ", ".join(str(FIELD_WEIGHTS[f]) for f in SEARCH_FIELDS)
