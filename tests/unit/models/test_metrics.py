"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from models.metrics import (
    dcg_at_k,
    hit_rate_at_k,
    mean,
    mrr,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)


def test_ndcg_graded_hand_computed():
    ranked = [3, 1, 2]
    rel = {1: 3, 2: 2, 3: 0}
    dcg = 0 / math.log2(2) + 7 / math.log2(3) + 3 / math.log2(4)
    idcg = 7 / math.log2(2) + 3 / math.log2(3)
    assert dcg_at_k(ranked, rel, 3) == pytest.approx(dcg)
    assert ndcg_at_k(ranked, rel, 3) == pytest.approx(dcg / idcg)
    assert ndcg_at_k([1, 2, 3], rel, 3) == pytest.approx(1.0)
    lin = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))  # linear gain: rel 1 at ranks 2, 3
    assert ndcg_at_k([0, 1, 2], {1: 1, 2: 1}, 3, gain="linear") == pytest.approx(lin)


def test_ndcg_cutoff_and_edges():
    rel = {"a": 1, "b": 1}
    assert ndcg_at_k(["x", "a", "b"], rel, 1) == 0.0
    assert ndcg_at_k(["a", "x", "b"], rel, 1) == 1.0
    assert ndcg_at_k([], rel, 5) == 0.0
    assert ndcg_at_k(["a"], {}, 5) == 0.0
    assert ndcg_at_k(["a", "a", "b"], rel, 3) < 1.0  # repeats earn nothing
    assert 0.0 <= ndcg_at_k(["b", "a"], {"a": 5, "b": 0.5}, 2) <= 1.0
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], rel, 0)
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], rel, 1, gain="cubic")  # type: ignore[arg-type]


def test_hit_rate_recall_rr():
    ranked = [5, 4, 3, 2, 1]
    assert hit_rate_at_k(ranked, {1}, 4) == 0.0
    assert hit_rate_at_k(ranked, {1}, 5) == 1.0
    assert hit_rate_at_k(ranked, set(), 5) == 0.0
    assert recall_at_k(ranked, {5, 1, 9, 8}, 5) == 0.5
    assert recall_at_k(ranked, {5, 1}, 1) == 0.5
    assert recall_at_k(ranked, set(), 3) == 0.0
    assert recall_at_k([1, 1, 1], {1, 2}, 3) == 0.5
    assert reciprocal_rank(ranked, {3, 2}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {3}, k=2) == 0.0
    assert reciprocal_rank([], {3}) == 0.0
    with pytest.raises(ValueError):
        hit_rate_at_k(ranked, {1}, 0)
    with pytest.raises(ValueError):
        recall_at_k(ranked, {1}, -1)


def test_mrr_and_mean():
    assert mrr([[1, 2, 3], [3, 2, 1], [9]], [{1}, {1}, {1}]) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert mrr([[1, 2, 3]], [{3}], k=2) == 0.0
    with pytest.raises(ValueError):
        mrr([[1]], [])
    assert mean(x / 2 for x in range(3)) == 0.5
    assert mean([]) == 0.0


def test_metrics_accept_any_hashable_ids():
    ranked = [("sku", 1), ("sku", 2)]
    assert hit_rate_at_k(ranked, {("sku", 2)}, 2) == 1.0
    assert ndcg_at_k(ranked, {("sku", 2): 1}, 2) == pytest.approx(1 / math.log2(3))
