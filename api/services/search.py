"""Hybrid product search, as the API runs it: gather the legs, let the ranking policy decide.

The keyword leg (BM25F in memory, or FTS5's `bm25()` in SQLite for a narrow filter) and the vector
leg (the query embedded, searched in FAISS) are read here; what they become -- filters, fusion,
personalisation, stock order -- is `models.search.rank`; every query to SQLite is in
`readmodels.catalog.store`.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from api.services.catalog import CatalogService
from models.search import Filters, Fusion, Mode, RankedHit, corrections, rank
from models.search.fusion import PartValue
from models.search.ranking import Candidate
from models.text import DEFAULT_PRICE_BANDS, fts5_match_terms, query_terms
from readmodels.catalog import store
from readmodels.catalog.store import ProductRow


class Personalizer(Protocol):
    """Boosts in [0, 1] per doc id for a user; the recommender's profiles implement this."""

    def boosts(self, user_id: str, candidates: Mapping[int, Candidate]) -> dict[int, float]: ...


@dataclass
class Hit:
    product: ProductRow
    score: float
    parts: dict[str, PartValue]


@dataclass
class SearchResult:
    hits: list[Hit]
    candidates: int
    facets: dict[str, list[dict[str, Any]]]
    notes: list[str]
    took_ms: float


def _corrected(q: str, terms: list[str], document_frequency: Callable[[str], int], notes: list[str]) -> list[str]:
    """`terms` with the words no product has replaced by their nearest spelling that products have
    (`models.search.spelling`); says so in `notes`."""
    fixes = corrections(q, document_frequency)
    if not fixes:
        return terms
    words = ", ".join(f'"{c.word}"' for c in fixes)
    notes.append(f"no product has {words}: searched for {'a word' if len(fixes) == 1 else 'words'} "
                 f"spelled like {'it' if len(fixes) == 1 else 'them'}")
    replacement = {c.term: c.replacement for c in fixes}
    return list(dict.fromkeys(replacement.get(t, t) for t in terms))


_BAND_LABELS = [f"{lo:g}-{hi:g}" for lo, hi in zip((0.0, *DEFAULT_PRICE_BANDS), DEFAULT_PRICE_BANDS, strict=False)]
_BAND_LABELS.append(f"{DEFAULT_PRICE_BANDS[-1]:g}+" if DEFAULT_PRICE_BANDS else "0+")


def price_band_label(price: float) -> str:
    """
    >>> price_band_label(0.5), price_band_label(DEFAULT_PRICE_BANDS[0]), price_band_label(1e9)[-1]
    ('0-10', '10-25', '+')
    """
    return _BAND_LABELS[bisect_right(DEFAULT_PRICE_BANDS, price)]


def _facets(products: Sequence[store.Candidate], top: int = 15) -> dict[str, list[dict[str, Any]]]:
    def counted(values: list[str]) -> list[dict[str, Any]]:
        return [{"value": v, "count": c} for v, c in Counter(v for v in values if v).most_common(top)]

    bands = Counter(price_band_label(p.price) for p in products)
    order = {price_band_label(b - 0.01): i for i, b in enumerate(DEFAULT_PRICE_BANDS)}
    return {
        "category": counted([p.category for p in products]),
        "brand": counted([p.brand for p in products]),
        "price": [
            {"value": band, "count": c} for band, c in sorted(bands.items(), key=lambda kv: order.get(kv[0], 99))
        ],
    }


def search(
    catalog: CatalogService,
    q: str,
    k: int = 10,
    filters: Filters | None = None,
    user_id: str | None = None,
    personalizer: Personalizer | None = None,
    mode: Mode = "hybrid",
    fusion: Fusion = "weighted",
    bm25_weight: float | None = None,
    candidates: int | None = None,
) -> SearchResult:
    started = time.perf_counter()
    filters = filters or Filters()
    settings = catalog.settings
    n = max(candidates or settings.search_candidates, k)
    conn = catalog.conn()
    notes: list[str] = []
    terms = query_terms(q)
    live = catalog.ensure_current() if terms else None
    if live is not None and live.keywords is not None:
        terms = _corrected(q, terms, live.keywords.document_frequency, notes)
    match = fts5_match_terms(terms)
    bm25: list[tuple[int, float]] = []
    vector: list[tuple[int, float]] = []
    if not match:
        if q.strip():
            notes.append("the query has no searchable words; showing products that match the filters")
        bm25 = store.browse(conn, filters, n)
    else:
        # The in-memory indexes know nothing of the filters: over-fetch when filtering.
        fetch = n if filters.empty else n * 4
        if mode in ("hybrid", "bm25"):
            if live is not None and live.keywords is not None and settings.keyword_engine == "memory":
                bm25 = live.keywords.search(terms, fetch)
            else:
                bm25 = store.keyword_search_fts5(conn, match, filters, n)
        if mode in ("hybrid", "vector"):
            if live is None:
                notes.append("the vector index is not ready yet: keyword results only")
            else:
                vector = live.search(q, fetch)
    docs = list({d for d, _ in bm25} | {d for d, _ in vector})
    rows = catalog.candidates.get(docs)  # in memory; SQLite only for what it has not caught up with
    rows.update(store.get_candidates(conn, catalog.candidates.unseen(docs)))
    if match and mode != "vector" and not filters.empty and sum(
            1 for d, _ in bm25 if d in rows and filters.matches(rows[d])) < k:
        # A narrow filter: let SQLite apply it inside the keyword query instead.
        bm25 = store.keyword_search_fts5(conn, match, filters, n)
        rows.update(store.get_candidates(conn, [d for d, _ in bm25 if d not in rows]))
    boosts_for = None
    if user_id and personalizer is not None:
        uid, p = user_id, personalizer

        def boosts_for(docs: Sequence[int]) -> Mapping[int, float]:
            return p.boosts(uid, {d: rows[d] for d in docs})

    hits: list[RankedHit] = rank(
        bm25, vector, rows, n=n, filters=filters, fusion=fusion,
        bm25_weight=settings.bm25_weight if bm25_weight is None else bm25_weight,
        normalization=settings.fusion_normalization,
        boosts_for=boosts_for, boost_depth=4 * k,
    )
    full = store.get_products(conn, [h.doc_id for h in hits[:k]])
    out = [Hit(full[h.doc_id], h.score, h.parts) for h in hits[:k] if h.doc_id in full]
    # Facets count what the words matched; the vector leg always returns its quota, near or not.
    qualified = [d for d, _ in bm25 if d in rows and filters.matches(rows[d])][:n] if bm25 else [h.doc_id for h in hits]
    facets = _facets([rows[d] for d in qualified])
    return SearchResult(out, len(hits), facets, notes, (time.perf_counter() - started) * 1000)


def similar(catalog: CatalogService, product_id: str, k: int = 10) -> list[Hit] | None:
    """Products nearest to `product_id` in the embedding space; None if the product is unknown."""
    conn = catalog.conn()
    product = store.get_product(conn, product_id)
    if product is None:
        return None
    live = catalog.ensure_current()
    if live is None:
        return []
    found = live.neighbours(product.doc_id, k + 1)
    rows = store.get_products(conn, [d for d, _ in found if d != product.doc_id])
    hits = [Hit(rows[d], s, {"vector_score": s}) for d, s in found if d in rows]
    hits.sort(key=lambda h: (h.product.stock <= 0, -h.score))
    return hits[:k]
