"""Score fusion of BM25 and vector rankings (weighted sum, RRF) and its explanations."""

from __future__ import annotations

import math

import pytest

from models.search import (
    FusedHit,
    bm25_to_score,
    fuse,
    minmax_normalize,
    reciprocal_rank_fusion,
    weighted_sum_fusion,
    zscore_normalize,
)

BM25 = [(1, 12.0), (2, 8.0), (3, 4.0)]
VEC = [(3, 0.9), (4, 0.8), (1, 0.1)]


def test_normalizers():
    assert minmax_normalize([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert minmax_normalize([7.0]) == [1.0]
    z = zscore_normalize([1.0, 2.0, 3.0, 4.0])
    assert z[0] == 0.0 and z == sorted(z)
    assert zscore_normalize([5.0, 5.0]) == [1.0, 1.0]
    assert zscore_normalize([]) == []


def test_weighted_fusion_scores_and_parts():
    hits = fuse(BM25, VEC, bm25_weight=0.5)
    assert all(isinstance(h, FusedHit) for h in hits)
    by_id = {h.id: h for h in hits}
    assert by_id[1].score == pytest.approx(0.5)
    assert by_id[4].score == pytest.approx(0.5 * 0.875)
    assert by_id[2].score == pytest.approx(0.25)
    doc_id, score, parts = by_id[1]  # unpacks as a tuple
    assert doc_id == 1 and score == pytest.approx(0.5)
    assert parts == {
        "bm25_score": 12.0, "bm25_rank": 1, "bm25_norm": 1.0, "bm25_contrib": 0.5,
        "vector_score": 0.1, "vector_rank": 3, "vector_norm": 0.0, "vector_contrib": 0.0,
    }
    # the parts explain the score exactly
    for h in hits:
        assert h.score == pytest.approx(sum(v for k, v in h.parts.items() if k.endswith("_contrib")))
    # an id missing from one list has no parts for it
    assert not any(k.startswith("vector_") for k in by_id[2].parts)


def test_weights_shift_the_ranking():
    assert fuse(BM25, VEC, bm25_weight=1.0)[0].id == 1
    assert fuse(BM25, VEC, bm25_weight=0.0)[0].id == 3
    assert [h.id for h in fuse(BM25, VEC, bm25_weight=0.0)][:2] == [3, 4]
    with pytest.raises(ValueError):
        fuse(BM25, VEC, bm25_weight=1.5)


def test_ties_are_deterministic():
    # ids 1 and 3 tie at 0.5: best rank in any list, then id
    assert [h.id for h in fuse(BM25, VEC)] == [1, 3, 4, 2]
    assert [h.id for h in fuse(VEC, BM25)] == [1, 3, 4, 2]


def test_zscore_option():
    hits = fuse(BM25, VEC, normalization="zscore")
    assert {h.id for h in hits} == {1, 2, 3, 4}
    assert all("bm25_norm" in h.parts or "vector_norm" in h.parts for h in hits)
    with pytest.raises(ValueError):
        weighted_sum_fusion({"a": BM25}, normalization="nope")  # type: ignore[arg-type]


def test_rrf():
    hits = fuse(BM25, VEC, method="rrf", rrf_k=60)
    by_id = {h.id: h for h in hits}
    assert by_id[1].score == pytest.approx(1 / 61 + 1 / 63)
    assert by_id[4].score == pytest.approx(1 / 62)
    assert by_id[1].parts["bm25_rank"] == 1 and by_id[1].parts["vector_rank"] == 3
    assert by_id[1].parts["bm25_contrib"] == pytest.approx(1 / 61)
    assert [h.id for h in hits] == [1, 3, 2, 4]
    # RRF ignores score scale: multiplying scores changes nothing
    scaled = fuse([(i, s * 1000) for i, s in BM25], VEC, method="rrf")
    assert [(h.id, h.score) for h in scaled] == [(h.id, h.score) for h in hits]
    with pytest.raises(ValueError):
        reciprocal_rank_fusion({"a": BM25}, k=-1)


def test_n_way_fusion_and_weights():
    hits = reciprocal_rank_fusion({"a": [(1, 1.0)], "b": [(2, 1.0)], "c": [(2, 1.0)]},
                                  weights={"a": 3.0, "b": 1.0, "c": 1.0})
    assert [h.id for h in hits] == [1, 2]


def test_edge_cases():
    assert fuse([], []) == []
    assert [h.id for h in fuse([], VEC)] == [3, 4, 1]
    assert [h.id for h in fuse(BM25, [])] == [1, 2, 3]
    assert len(fuse(BM25, VEC, limit=2)) == 2
    assert fuse(BM25, VEC, limit=0) == []
    # duplicates keep their first (best) entry; NaN/inf scores are dropped
    hits = fuse([(1, 5.0), (1, 9.0), (2, math.nan), (3, 1.0)], [(4, -math.inf)])
    assert [h.id for h in hits] == [1, 3]
    assert hits[0].parts["bm25_score"] == 5.0
    # single-element list normalises to 1
    assert fuse([(9, -3.0)], [])[0].parts["bm25_norm"] == 1.0
    with pytest.raises(ValueError):
        fuse(BM25, VEC, method="max")  # type: ignore[arg-type]


def test_bm25_from_fts5_is_negated():
    import sqlite3

    from models.text import analyzed_text, fts5_match

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(body)")
    docs = {1: "red running shoe", 2: "red red red running shoe shoe", 3: "coffee"}
    conn.executemany("INSERT INTO f(rowid, body) VALUES (?, ?)",
                     [(k, analyzed_text(v)) for k, v in docs.items()])
    rows = conn.execute("SELECT rowid, bm25(f) FROM f WHERE f MATCH ? ORDER BY bm25(f)",
                        (fts5_match("red shoes"),)).fetchall()
    bm25 = [(rowid, bm25_to_score(s)) for rowid, s in rows]
    assert bm25[0][1] >= bm25[-1][1] > 0
    hits = fuse(bm25, [(3, 0.9), (rows[-1][0], 0.8)])
    assert {h.id for h in hits} == {1, 2, 3}


def test_max_normalize_and_scaled_fusion():
    from models.search import max_normalize

    assert max_normalize([4.0, 2.0, 1.0]) == [1.0, 0.5, 0.25]
    assert max_normalize([-1.0, -3.0]) == [1.0, 0.0]  # not positive: min-max
    bm25 = [(1, 10.0), (2, 9.0), (3, 1.0)]
    vec = [(3, 0.75), (1, 0.5), (4, 0.25)]
    hits = {h.id: h for h in fuse(bm25, vec, bm25_weight=0.5, normalization="scaled")}
    assert hits[1].parts["bm25_norm"] == 1.0 and hits[3].parts["bm25_norm"] == 0.1
    assert hits[3].parts["vector_norm"] == 0.75  # cosine kept as it is
    # min-max would give id 3 the whole vector weight and id 2 a BM25 norm of 0.89; scaled keeps the gaps
    assert [h.id for h in fuse(bm25, vec, bm25_weight=0.5, normalization="scaled")] == [1, 2, 3, 4]
    assert [h.id for h in fuse(bm25, vec, bm25_weight=0.5)] == [1, 3, 2, 4]


def test_per_list_normalization():
    lists = {"a": [(1, 2.0), (2, 1.0)], "b": [(2, 0.5)]}
    hits = weighted_sum_fusion(lists, normalization={"a": "max", "b": "none"})
    assert [(h.id, h.score) for h in hits] == [(1, 1.0), (2, 1.0)]
    with pytest.raises(ValueError, match="unknown normalization"):
        weighted_sum_fusion(lists, normalization={"a": "bogus"})  # type: ignore[dict-item]
