"""Fusing ranked lists (BM25 from SQLite FTS5, cosine from FAISS) into one ranking.

Inputs are ranked lists of ``(id, score)``, best first, **higher score = better**.  SQLite's
``bm25()`` is lower-is-better (negative), so negate it first (:func:`bm25_to_score`).

Two methods:

* :func:`weighted_sum_fusion` — per list, normalise the scores (``"minmax"`` to [0, 1],
  ``"zscore"`` shifted so the list's minimum is 0, ``"max"`` divided by the best score, or
  ``"none"`` as they are), then sum ``weight * normalised``.  An id missing from a list gets 0 for
  it.  When all scores of a list are equal, minmax and zscore normalise them to 1.
  :func:`fuse` with ``normalization="scaled"`` divides BM25 by its best score and keeps cosine
  similarities as they are: a weak keyword match stays weak, and near-equal cosines stay near-equal
  instead of being stretched over [0, 1] as min-max does.
* :func:`reciprocal_rank_fusion` — ``sum(weight / (k + rank))`` with 1-based ranks; ignores the
  score values, so it needs no normalisation.

Each result is a :class:`FusedHit` ``(id, score, parts)``; ``parts`` explains the score (raw
score, rank, normalised value and contribution per list) for ``explain=true``.

>>> bm25 = [(1, 12.0), (2, 8.0), (3, 4.0)]
>>> vec = [(3, 0.9), (4, 0.8), (1, 0.1)]
>>> [(h.id, round(h.score, 3)) for h in fuse(bm25, vec, method="weighted")]
[(1, 0.5), (3, 0.5), (4, 0.438), (2, 0.25)]
>>> fuse(bm25, vec, method="weighted")[2].parts
{'vector_score': 0.8, 'vector_rank': 2, 'vector_norm': 0.875, 'vector_contrib': 0.4375}
>>> [h.id for h in fuse(bm25, vec, method="rrf")]
[1, 3, 2, 4]
>>> [(h.id, round(h.score, 3)) for h in fuse(bm25, vec, normalization="scaled")]
[(3, 0.617), (1, 0.55), (4, 0.4), (2, 0.333)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

__all__ = [
    "FuseNormalization",
    "FusedHit",
    "Normalization",
    "bm25_to_score",
    "fuse",
    "max_normalize",
    "minmax_normalize",
    "reciprocal_rank_fusion",
    "weighted_sum_fusion",
    "zscore_normalize",
]

Normalization = Literal["minmax", "zscore", "max", "none"]
#: ``fuse``'s choices: one normalisation for both lists, or "scaled" (BM25 "max", vector "none").
FuseNormalization = Literal["minmax", "zscore", "max", "none", "scaled"]
Ranked = Sequence[tuple[int, float]]
PartValue = float | int


class FusedHit(NamedTuple):
    """One fused result; unpacks as ``(id, score, parts)``."""

    id: int
    score: float
    parts: dict[str, PartValue]


def bm25_to_score(bm25: float) -> float:
    """SQLite FTS5 ``bm25()`` (lower = better, usually negative) → higher-is-better score.

    >>> bm25_to_score(-7.5)
    7.5
    """
    return -bm25


def minmax_normalize(scores: Sequence[float]) -> list[float]:
    """Scale to [0, 1]; if all scores are equal every one becomes 1.0.

    >>> minmax_normalize([10.0, 5.0, 0.0]), minmax_normalize([3.0, 3.0]), minmax_normalize([])
    ([1.0, 0.5, 0.0], [1.0, 1.0], [])
    """
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi - lo <= 0.0:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def zscore_normalize(scores: Sequence[float]) -> list[float]:
    """Standardise (population std), shifted so the minimum is 0; all equal → all 1.0.

    >>> [round(x, 3) for x in zscore_normalize([1.0, 2.0, 3.0])]
    [0.0, 1.225, 2.449]
    """
    if not scores:
        return []
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    if std <= 0.0:
        return [1.0] * len(scores)
    lo = min(scores)
    return [(s - lo) / std for s in scores]


def max_normalize(scores: Sequence[float]) -> list[float]:
    """Divide by the largest score, so the best is 1.0 and ratios are kept (for non-negative scores
    such as BM25); min-max when the largest score is not positive.

    >>> max_normalize([8.0, 4.0, 2.0]), max_normalize([0.0, -1.0]), max_normalize([])
    ([1.0, 0.5, 0.25], [1.0, 0.0], [])
    """
    if not scores:
        return []
    hi = max(scores)
    if hi <= 0.0:
        return minmax_normalize(scores)
    return [s / hi for s in scores]


def _identity(scores: Sequence[float]) -> list[float]:
    return [float(s) for s in scores]


_NORMALIZERS = {"minmax": minmax_normalize, "zscore": zscore_normalize, "max": max_normalize, "none": _identity}


def _dedupe(ranked: Ranked) -> list[tuple[int, float]]:
    """Keep the first (best) occurrence of each id and drop non-finite scores."""
    seen: set[int] = set()
    out = []
    for doc_id, score in ranked:
        s = float(score)
        if doc_id in seen or not math.isfinite(s):
            continue
        seen.add(doc_id)
        out.append((int(doc_id), s))
    return out


def _finish(scores: dict[int, float], parts: dict[int, dict[str, PartValue]],
            best_rank: dict[int, int], limit: int | None) -> list[FusedHit]:
    order = sorted(scores, key=lambda i: (-scores[i], best_rank[i], i))
    if limit is not None:
        order = order[: max(limit, 0)]
    return [FusedHit(i, scores[i], parts[i]) for i in order]


def weighted_sum_fusion(
    ranked: Mapping[str, Ranked],
    weights: Mapping[str, float] | None = None,
    *,
    normalization: Normalization | Mapping[str, Normalization] = "minmax",
    limit: int | None = None,
) -> list[FusedHit]:
    """Weighted sum of per-list normalised scores; ``weights`` default to 1 per list.

    ``normalization`` is one method for every list, or one per list name (default ``"minmax"``).

    ``parts`` has, per list ``name`` the id appears in: ``<name>_score`` (raw),
    ``<name>_rank`` (1-based), ``<name>_norm`` and ``<name>_contrib`` (= weight x norm).
    """
    methods = {name: normalization if isinstance(normalization, str) else normalization.get(name, "minmax")
               for name in ranked}
    for method in methods.values():
        if method not in _NORMALIZERS:
            raise ValueError(f"unknown normalization {method!r}")
    scores: dict[int, float] = {}
    parts: dict[int, dict[str, PartValue]] = {}
    best_rank: dict[int, int] = {}
    for name, lst in ranked.items():
        weight = 1.0 if weights is None else float(weights.get(name, 0.0))
        items = _dedupe(lst)
        normed = _NORMALIZERS[methods[name]]([s for _, s in items])
        k_score, k_rank, k_norm, k_contrib = f"{name}_score", f"{name}_rank", f"{name}_norm", f"{name}_contrib"
        for rank, ((doc_id, raw), nv) in enumerate(zip(items, normed, strict=True), start=1):
            contrib = weight * nv
            scores[doc_id] = scores.get(doc_id, 0.0) + contrib
            p = parts.get(doc_id)
            if p is None:
                p = parts[doc_id] = {}
            p[k_score] = raw
            p[k_rank] = rank
            p[k_norm] = nv
            p[k_contrib] = contrib
            if rank < best_rank.get(doc_id, rank + 1):
                best_rank[doc_id] = rank
    return _finish(scores, parts, best_rank, limit)


def reciprocal_rank_fusion(
    ranked: Mapping[str, Ranked],
    weights: Mapping[str, float] | None = None,
    *,
    k: int = 60,
    limit: int | None = None,
) -> list[FusedHit]:
    """Reciprocal rank fusion: ``sum(weight / (k + rank))`` over the lists an id appears in.

    ``parts`` has ``<name>_score`` (raw), ``<name>_rank`` and ``<name>_contrib`` per list.

    >>> [(h.id, round(h.score, 4)) for h in reciprocal_rank_fusion({"a": [(1, 9.0), (2, 1.0)],
    ...                                                               "b": [(2, 0.5)]})]
    [(2, 0.0325), (1, 0.0164)]
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    scores: dict[int, float] = {}
    parts: dict[int, dict[str, PartValue]] = {}
    best_rank: dict[int, int] = {}
    for name, lst in ranked.items():
        weight = 1.0 if weights is None else float(weights.get(name, 0.0))
        for rank, (doc_id, raw) in enumerate(_dedupe(lst), start=1):
            contrib = weight / (k + rank)
            scores[doc_id] = scores.get(doc_id, 0.0) + contrib
            p = parts.setdefault(doc_id, {})
            p[f"{name}_score"] = raw
            p[f"{name}_rank"] = rank
            p[f"{name}_contrib"] = contrib
            best_rank[doc_id] = min(best_rank.get(doc_id, rank), rank)
    return _finish(scores, parts, best_rank, limit)


def fuse(
    bm25: Ranked,
    vector: Ranked,
    *,
    method: Literal["weighted", "rrf"] = "weighted",
    bm25_weight: float = 0.5,
    normalization: FuseNormalization = "minmax",
    rrf_k: int = 60,
    limit: int | None = None,
) -> list[FusedHit]:
    """Fuse a BM25 list and a vector list (both higher-is-better, best first).

    ``bm25_weight`` in [0, 1] weighs BM25 against the vector list (``1 - bm25_weight``).  With
    ``method="rrf"`` the same weights scale each list's reciprocal-rank terms (x 2, so equal
    weights give plain RRF).  ``parts`` keys are prefixed ``bm25_`` and ``vector_``.
    ``normalization="scaled"`` divides BM25 by its best score and keeps the vector scores (cosine
    similarities) as they are; the others apply one method to both lists.
    """
    if not 0.0 <= bm25_weight <= 1.0:
        raise ValueError("bm25_weight must be in [0, 1]")
    lists = {"bm25": bm25, "vector": vector}
    if method == "weighted":
        weights = {"bm25": bm25_weight, "vector": 1.0 - bm25_weight}
        norm: Normalization | dict[str, Normalization] = (
            {"bm25": "max", "vector": "none"} if normalization == "scaled" else normalization)
        return weighted_sum_fusion(lists, weights, normalization=norm, limit=limit)
    if method == "rrf":
        weights = {"bm25": 2 * bm25_weight, "vector": 2 * (1.0 - bm25_weight)}
        return reciprocal_rank_fusion(lists, weights, k=rrf_k, limit=limit)
    raise ValueError(f"unknown method {method!r}")
