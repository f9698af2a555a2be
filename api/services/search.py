"""Hybrid product search: BM25 over FTS5 and vector similarity over FAISS, fused into one ranking.

Filters apply to both legs; out-of-stock products go last unless filtered out; a personaliser
(the recommender's user profiles) can add a boost per product; `explain` keeps each score's parts.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from api.services.catalog import CatalogService
from infra.catalog.store import COLUMNS, Candidate, ProductRow, get_candidates, get_products, row_to_product
from models.search import fuse
from models.text import DEFAULT_PRICE_BANDS, fts5_match, query_terms

Mode = Literal["hybrid", "bm25", "vector"]
Fusion = Literal["weighted", "rrf"]

# FTS5 column weights: name, description (+ attributes), brand, category.
BM25_WEIGHTS = (4.0, 1.0, 2.0, 2.0)
PERSONAL_WEIGHT = 0.2


class Personalizer(Protocol):
    """Boosts in [0, 1] per doc id for a user; the recommender's profiles implement this."""

    def boosts(self, user_id: str, products: Sequence[Candidate]) -> dict[int, float]: ...


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    brand: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool = False

    def sql(self, alias: str = "p") -> tuple[str, list[Any]]:
        clauses: list[str] = [f"{alias}.removed = 0"]
        args: list[Any] = []
        if self.category:
            clauses.append(f"({alias}.category = ? COLLATE NOCASE OR {alias}.top_category = ? COLLATE NOCASE)")
            args += [self.category, self.category]
        if self.brand:
            clauses.append(f"{alias}.brand = ? COLLATE NOCASE")
            args.append(self.brand)
        if self.min_price is not None:
            clauses.append(f"{alias}.price_cents >= ?")
            args.append(round(self.min_price * 100))
        if self.max_price is not None:
            clauses.append(f"{alias}.price_cents <= ?")
            args.append(round(self.max_price * 100))
        if self.in_stock:
            clauses.append(f"{alias}.stock > 0")
        return " AND ".join(clauses), args

    def matches(self, p: Candidate) -> bool:
        cat = (self.category or "").casefold()
        return (
            (not cat or cat in (p.category.casefold(), p.top_category.casefold()))
            and (not self.brand or p.brand.casefold() == self.brand.casefold())
            and (self.min_price is None or p.price >= self.min_price - 1e-9)
            and (self.max_price is None or p.price <= self.max_price + 1e-9)
            and (not self.in_stock or p.stock > 0)
        )


@dataclass
class Hit:
    product: ProductRow
    score: float
    parts: dict[str, float | int] = field(default_factory=dict)


@dataclass
class SearchResult:
    hits: list[Hit]
    candidates: int
    facets: dict[str, list[dict[str, Any]]]
    notes: list[str]
    took_ms: float


def _bm25_leg(conn: sqlite3.Connection, match: str, filters: Filters, n: int) -> list[tuple[int, float]]:
    where, args = filters.sql("p")
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    rows = conn.execute(
        f"SELECT p.doc_id, bm25(products_fts, {weights}) AS r FROM products_fts "
        f"JOIN products p ON p.doc_id = products_fts.rowid "
        f"WHERE products_fts MATCH ? AND {where} ORDER BY r LIMIT ?",
        [match, *args, n],
    ).fetchall()
    return [(int(d), -float(r)) for d, r in rows]


def _browse(conn: sqlite3.Connection, filters: Filters, n: int) -> list[tuple[int, float]]:
    where, args = filters.sql("p")
    rows = conn.execute(
        f"SELECT doc_id FROM products p WHERE {where} ORDER BY (stock > 0) DESC, updated_at DESC LIMIT ?",
        [*args, n],
    ).fetchall()
    return [(int(r[0]), 1.0 / (i + 1)) for i, r in enumerate(rows)]


def price_band_label(price: float) -> str:
    lower = 0.0
    for upper in DEFAULT_PRICE_BANDS:
        if price < upper:
            return f"{lower:g}-{upper:g}"
        lower = upper
    return f"{lower:g}+"


def _facets(products: Sequence[Candidate], top: int = 15) -> dict[str, list[dict[str, Any]]]:
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
    match = fts5_match(q)
    bm25: list[tuple[int, float]] = []
    vector: list[tuple[int, float]] = []
    if not match:
        if q.strip():
            notes.append("the query has no searchable words; showing products that match the filters")
        bm25 = _browse(conn, filters, n)
    else:
        live = catalog.ensure_current()
        # The in-memory indexes know nothing of the filters: over-fetch when filtering.
        fetch = n * 4 if filters != Filters() else n
        if mode in ("hybrid", "bm25"):
            if live is not None and live.keywords is not None and settings.keyword_engine == "memory":
                bm25 = live.keywords.search(query_terms(q), fetch)
            else:
                bm25 = _bm25_leg(conn, match, filters, n)
        if mode in ("hybrid", "vector"):
            if live is None:
                notes.append("the vector index is not ready yet: keyword results only")
            else:
                vector = live.search(q, fetch)
    rows = get_candidates(conn, list({d for d, _ in bm25} | {d for d, _ in vector}))
    vector = [(d, s) for d, s in vector if d in rows and filters.matches(rows[d])][:n]
    bm25 = [(d, s) for d, s in bm25 if d in rows and filters.matches(rows[d])][:n]
    if match and mode != "vector" and len(bm25) < k and filters != Filters():
        # A narrow filter: let SQLite apply it inside the keyword query instead.
        bm25 = _bm25_leg(conn, match, filters, n)
        rows.update(get_candidates(conn, [d for d, _ in bm25 if d not in rows]))
    weight = settings.bm25_weight if bm25_weight is None else bm25_weight
    if bm25 and vector:
        fused = [(h.id, h.score, dict(h.parts)) for h in fuse(bm25, vector, method=fusion, bm25_weight=weight)]
    else:
        only = bm25 or vector
        label = "bm25" if bm25 else "vector"
        fused = [(d, s, {f"{label}_score": s, f"{label}_rank": i + 1}) for i, (d, s) in enumerate(only)]
    if user_id and personalizer is not None and fused:
        boosts = personalizer.boosts(user_id, [rows[d] for d, _, _ in fused][: 4 * k])
        for i, (d, s, parts) in enumerate(fused):
            if d in boosts:
                parts["personal_boost"] = boosts[d]
                fused[i] = (d, s + PERSONAL_WEIGHT * boosts[d], parts)
    # Out of stock goes last, unless the filter already removed it; ties keep the score order.
    fused.sort(key=lambda h: (rows[h[0]].stock <= 0, -h[1]))
    full = get_products(conn, [d for d, _, _ in fused[:k]])
    hits = [Hit(full[d], s, parts) for d, s, parts in fused[:k] if d in full]
    # Facets count what the words matched; the vector leg always returns its quota, near or not.
    pool = [rows[d] for d, _ in bm25] if bm25 else [rows[d] for d, _, _ in fused]
    return SearchResult(hits, len(fused), _facets(pool), notes, (time.perf_counter() - started) * 1000)


def similar(catalog: CatalogService, product_id: str, k: int = 10) -> list[Hit] | None:
    """Products nearest to `product_id` in the embedding space; None if the product is unknown."""
    conn = catalog.conn()
    row = conn.execute(f"SELECT {COLUMNS} FROM products WHERE product_id = ? AND removed = 0", (product_id,)).fetchone()
    if row is None:
        return None
    product = row_to_product(row)
    live = catalog.ensure_current()
    if live is None:
        return []
    found = live.search(product.embed_text(), k + 1)
    rows = get_products(conn, [d for d, _ in found if d != product.doc_id])
    hits = [Hit(rows[d], s, {"vector_score": s}) for d, s in found if d in rows]
    hits.sort(key=lambda h: (h.product.stock <= 0, -h.score))
    return hits[:k]
