"""The ranking policy of `/search`, as pure code: which candidates qualify (filters), how the keyword
and vector legs become one score (fusion), how a user's tastes move it (personalisation), and that
products out of stock go last.

The legs are ranked lists ``(doc_id, score)``, best first; ``candidates`` holds the few columns a
filter and the stock order need, for every doc id of either leg (the store reads them).

>>> from dataclasses import dataclass
>>> @dataclass
... class C:
...     category: str = "shoes"; top_category: str = "apparel"; brand: str = "acme"
...     price: float = 10.0; stock: int = 1
>>> cands = {1: C(), 2: C(stock=0), 3: C(brand="zeta")}
>>> hits = rank([(1, 5.0), (2, 9.0)], [(3, 0.9), (1, 0.5)], cands, n=10, bm25_weight=0.6)
>>> [(h.doc_id, round(h.score, 2)) for h in hits]
[(1, 0.53), (3, 0.36), (2, 0.6)]
>>> [h.doc_id for h in rank([(1, 5.0), (3, 4.0)], [], cands, n=10, filters=Filters(brand="zeta"))]
[3]
>>> boost = affinity_boosts({"shoes": 0.5}, {"zeta": 1.0}, cands)
>>> boost
{1: 0.5, 2: 0.5, 3: 1.0}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from models.search.fusion import FuseNormalization, PartValue, fuse

Mode = Literal["hybrid", "bm25", "vector"]
Fusion = Literal["weighted", "rrf"]
Ranked = Sequence[tuple[int, float]]

#: How much a full category/brand affinity adds to a fused score (fused scores lie in [0, 1]).
PERSONAL_WEIGHT = 0.2
#: A brand counts half as much as a category in a user's affinity boost.
BRAND_AFFINITY_SHARE = 0.5


class Candidate(Protocol):
    """What the policy reads of a product."""

    @property
    def category(self) -> str: ...
    @property
    def top_category(self) -> str: ...
    @property
    def brand(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def stock(self) -> int: ...


@dataclass(frozen=True)
class Filters:
    """What a result must be. Prices are in the shop's currency, inclusive."""

    category: str | None = None
    brand: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock: bool = False

    @property
    def empty(self) -> bool:
        return self == Filters()

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
class RankedHit:
    doc_id: int
    score: float
    parts: dict[str, PartValue] = field(default_factory=dict)


def qualified(leg: Ranked, candidates: Mapping[int, Candidate], filters: Filters, n: int) -> list[tuple[int, float]]:
    """The first ``n`` entries of a leg whose product exists and passes the filters."""
    if filters.empty:  # most searches: only existence to check
        return [(d, s) for d, s in leg if d in candidates][:n]
    return [(d, s) for d, s in leg if d in candidates and filters.matches(candidates[d])][:n]


def rank(
    bm25: Ranked,
    vector: Ranked,
    candidates: Mapping[int, Candidate],
    *,
    n: int,
    filters: Filters | None = None,
    fusion: Fusion = "weighted",
    bm25_weight: float = 0.6,
    normalization: FuseNormalization = "scaled",
    boosts_for: Callable[[Sequence[int]], Mapping[int, float]] | None = None,
    boost_depth: int = 40,
) -> list[RankedHit]:
    """Fuse the legs into one ranking (all of it; the caller takes its top ``k``).

    The weighted fusion divides BM25 by its best score and keeps cosines as they are
    (``normalization="scaled"``): measured better than min-max on real text and on the simulator
    (README, Search). ``boosts_for(doc_ids)`` gives a personal boost in [0, 1] for some of the first ``boost_depth``
    fused hits; out-of-stock products go after every product in stock, each group by score.
    """
    filters = filters or Filters()
    bm25 = qualified(bm25, candidates, filters, n)
    vector = qualified(vector, candidates, filters, n)
    if bm25 and vector:
        fused = fuse(bm25, vector, method=fusion, bm25_weight=bm25_weight, normalization=normalization)
        hits = [RankedHit(h.id, h.score, h.parts) for h in fused]  # each hit's parts are its own
    else:
        label = "bm25" if bm25 else "vector"
        only = bm25 or vector
        hits = [RankedHit(d, s, {f"{label}_score": s, f"{label}_rank": i + 1}) for i, (d, s) in enumerate(only)]
    if boosts_for is not None and hits:
        boosts = boosts_for([h.doc_id for h in hits[:boost_depth]])
        for h in hits:
            b = boosts.get(h.doc_id)
            if b:
                h.parts["personal_boost"] = b
                h.score += PERSONAL_WEIGHT * b
    hits.sort(key=lambda h: (candidates[h.doc_id].stock <= 0, -h.score))
    return hits


def affinity_boosts(
    categories: Mapping[str, float], brands: Mapping[str, float], candidates: Mapping[int, Candidate]
) -> dict[int, float]:
    """A user's boost per product in [0, 1]: their share of interest in its (leaf) category plus
    half their share in its brand. Names compare case-insensitively."""
    cats = {c.casefold(): s for c, s in categories.items()}
    brs = {b.casefold(): s for b, s in brands.items()}
    out = {}
    for doc, p in candidates.items():
        boost = cats.get(p.category.casefold(), 0.0) + BRAND_AFFINITY_SHARE * brs.get(p.brand.casefold(), 0.0)
        if boost > 0:
            out[doc] = min(boost, 1.0)
    return out
