"""Ranking metrics for one query (``ranked`` = ids best first) and their means over queries.

Only the first ``k`` positions of ``ranked`` are judged; a repeated id counts at its first
position only (later repeats earn nothing).  ``k`` must be >= 1.

>>> ranked = ["a", "b", "c", "d"]
>>> hit_rate_at_k(ranked, {"c"}, k=2), hit_rate_at_k(ranked, {"c"}, k=3)
(0.0, 1.0)
>>> recall_at_k(ranked, {"a", "d", "z"}, k=4)
0.6666666666666666
>>> reciprocal_rank(ranked, {"c", "d"})
0.3333333333333333
>>> round(ndcg_at_k(ranked, {"a": 3, "c": 1, "z": 2}, k=3), 4)
0.7985
>>> mrr([["a", "b"], ["b", "a"], ["x"]], [{"a"}, {"a"}, {"a"}])
0.5
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Literal, TypeVar

__all__ = [
    "dcg_at_k",
    "hit_rate_at_k",
    "mean",
    "mrr",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
]

T = TypeVar("T", bound=Hashable)
Gain = Literal["exponential", "linear"]


def _check_k(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError("k must be >= 1")


def _top(ranked: Sequence[T], k: int | None) -> list[tuple[int, T]]:
    """``(0-based position, item)`` for the first ``k`` positions, repeats dropped."""
    seen: set[T] = set()
    out: list[tuple[int, T]] = []
    for pos, item in enumerate(ranked if k is None else ranked[:k]):
        if item not in seen:
            seen.add(item)
            out.append((pos, item))
    return out


def _gain(rel: float, gain: Gain) -> float:
    if gain == "exponential":
        return float(2.0**rel - 1.0)
    if gain == "linear":
        return float(rel)
    raise ValueError(f"unknown gain {gain!r}")


def dcg_at_k(ranked: Sequence[T], relevance: Mapping[T, float], k: int,
             *, gain: Gain = "exponential") -> float:
    """Discounted cumulative gain: ``sum(gain(rel_i) / log2(i + 1))`` over the top ``k``.

    >>> round(dcg_at_k(["a", "b"], {"a": 1, "b": 1}, k=2, gain="linear"), 4)
    1.6309
    """
    _check_k(k)
    return sum(_gain(float(relevance.get(item, 0.0)), gain) / math.log2(pos + 2)
               for pos, item in _top(ranked, k))


def ndcg_at_k(ranked: Sequence[T], relevance: Mapping[T, float], k: int,
              *, gain: Gain = "exponential") -> float:
    """Normalised DCG with graded relevance (``relevance[id]``, missing = 0): DCG / ideal DCG.

    ``gain="exponential"`` uses ``2**rel - 1`` (the usual choice for grades), ``"linear"`` uses
    ``rel``.  0.0 when no item has positive relevance.

    >>> ndcg_at_k(["a", "b"], {"a": 2, "b": 1}, k=2), ndcg_at_k(["x"], {}, k=5)
    (1.0, 0.0)
    >>> round(ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, k=2), 4)
    0.7967
    """
    _check_k(k)
    ideal_rels = sorted((float(r) for r in relevance.values() if r > 0), reverse=True)[:k]
    idcg = sum(_gain(r, gain) / math.log2(i + 2) for i, r in enumerate(ideal_rels))
    if idcg <= 0.0:
        return 0.0
    return dcg_at_k(ranked, relevance, k, gain=gain) / idcg


def hit_rate_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """1.0 if any relevant item is in the top ``k``, else 0.0 (average it over queries).

    >>> hit_rate_at_k([1, 2, 3], {3}, k=3), hit_rate_at_k([1, 2, 3], set(), k=3)
    (1.0, 0.0)
    """
    _check_k(k)
    return 1.0 if any(item in relevant for _, item in _top(ranked, k)) else 0.0


def recall_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Fraction of the relevant items found in the top ``k`` (0.0 if nothing is relevant).

    >>> recall_at_k([1, 1, 2], {1, 2}, k=2)
    0.5
    """
    _check_k(k)
    rel = set(relevant)
    if not rel:
        return 0.0
    return sum(1 for _, item in _top(ranked, k) if item in rel) / len(rel)


def reciprocal_rank(ranked: Sequence[T], relevant: Collection[T], k: int | None = None) -> float:
    """``1 / rank`` of the first relevant item (within the top ``k`` if given), else 0.0.

    >>> reciprocal_rank(["x", "y", "a"], {"a"}), reciprocal_rank(["x", "y", "a"], {"a"}, k=2)
    (0.3333333333333333, 0.0)
    """
    _check_k(k)
    for pos, item in _top(ranked, k):
        if item in relevant:
            return 1.0 / (pos + 1)
    return 0.0


def mrr(rankings: Sequence[Sequence[T]], relevant: Sequence[Collection[T]],
        k: int | None = None) -> float:
    """Mean reciprocal rank over queries (``rankings[i]`` is judged by ``relevant[i]``).

    >>> mrr([[1, 2], [3, 4]], [{2}, {3}]), mrr([], [])
    (0.75, 0.0)
    """
    if len(rankings) != len(relevant):
        raise ValueError("rankings and relevant must have the same length")
    return mean(reciprocal_rank(r, rel, k) for r, rel in zip(rankings, relevant, strict=True))


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean of an iterable of floats; 0.0 when empty.

    >>> mean([1.0, 0.0, 0.5]), mean([])
    (0.5, 0.0)
    """
    total = 0.0
    n = 0
    for v in values:
        total += float(v)
        n += 1
    return total / n if n else 0.0
