"""The building blocks: catalog, decayed counts, co-occurrence table, brute-force content, k-NN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from models.reco import (
    BruteForceContent,
    ContentCandidates,
    DecayedCounts,
    Interaction,
    ItemCatalog,
    ItemKNN,
    top_k_indices,
)
from models.reco.base import top_k_among
from models.reco.cooc import CoocTable, SparseScores


def test_interaction_validation() -> None:
    with pytest.raises(ValueError):
        Interaction("u", "i", "click", -1.0, 0.0)
    with pytest.raises(ValueError):
        Interaction("u", "i", "click", 1.0, math.nan)
    with pytest.raises(ValueError):
        Interaction("", "i", "click", 1.0, 0.0)
    x = Interaction("u", "i", "rating", 4.5, 1.0)
    with pytest.raises(AttributeError):
        x.weight = 2.0  # type: ignore[misc]


def test_top_k_is_deterministic_under_ties() -> None:
    scores = np.array([1.0, 3.0, 3.0, 3.0, -np.inf, 2.0])
    assert top_k_indices(scores, 2).tolist() == [1, 2]
    assert top_k_indices(scores, 10).tolist() == [1, 2, 3, 5, 0]
    assert top_k_indices(np.array([-np.inf]), 3).tolist() == []


def test_catalog_upsert_keeps_index_and_vector() -> None:
    cat = ItemCatalog()
    a = cat.upsert("a", "x", "b1", 10.0, [1.0, 1.0])
    for i in range(3000):  # grow past the initial capacity
        cat.ensure(f"i{i}")
    assert cat.upsert("a", "y", None, None, None) == a
    assert cat.category_name(a) == "y" and cat.brand_name(a) is None and np.isnan(cat.log_price[a])
    assert cat.has_vector[a] and cat.vectors[a] == pytest.approx([2**-0.5, 2**-0.5])
    with pytest.raises(ValueError, match="dim"):
        cat.upsert("b", None, None, None, [1.0, 0.0, 0.0])
    cat.set_in_stock("a", False)
    cat.upsert("i5", None, None, None, None)
    cat.upsert("i6", None, None, None, None)
    cat.remove("i5")
    avail = cat.available
    assert not avail[a] and not avail[cat.index["i5"]] and avail[cat.index["i6"]]
    assert not avail[cat.index["i7"]]  # only seen in interactions: not listed
    meta, arrays = cat.state()
    back = ItemCatalog.from_state(meta, arrays)
    assert back.ids == cat.ids and (back.available == cat.available).all()
    assert np.array_equal(back.vectors, cat.vectors)


def test_decayed_counts_survive_long_streams() -> None:
    c = DecayedCounts(half_life=1.0)
    for t in range(0, 5_000, 7):  # thousands of half-lives: must rescale, never overflow
        c.add(t % 3, 1.0, float(t))
    values = c.values_at(4_998.0, 3)
    assert np.isfinite(values).all() and values.max() <= 1.0 + 1 / (1 - 2**-7)
    assert c.max_at(4_998.0) == pytest.approx(values.max())
    # out-of-order events count with their own timestamp
    d = DecayedCounts(half_life=10.0)
    d.add(0, 1.0, 100.0)
    d.add(1, 1.0, 90.0)
    assert d.values_at(100.0, 2).tolist() == pytest.approx([1.0, 0.5])
    meta, values = d.state(2)
    assert DecayedCounts.from_state(meta, values).values_at(120.0, 2).tolist() == d.values_at(120.0, 2).tolist()


def test_cooc_table_prunes_and_round_trips() -> None:
    t = CoocTable(max_neighbors=3)
    for b in range(7):
        t.bump(0, b + 1, float(b + 1))
    keys, _vals = t.row(0)
    assert len(keys) <= 6 and t.get(0, 7) == 7.0
    t.bump(0, 7, 1.0)
    back = CoocTable.from_state(3, t.state())
    assert back.row(0)[0].tolist() == t.row(0)[0].tolist()
    assert back.row(0)[1].tolist() == t.row(0)[1].tolist()
    back.bump(0, 7, 1.0)
    assert back.get(0, 7) == 9.0 and back.get(5, 5) == 0.0


def test_brute_force_content_is_a_content_candidates() -> None:
    index = BruteForceContent(dim=2, capacity=1)
    assert isinstance(index, ContentCandidates)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 2)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i, v in enumerate(vecs):
        index.add(f"i{i}", v)
    q = vecs[3]
    got = index.search(q, 5)
    expected = sorted(((f"i{i}", float(vecs[i] @ q)) for i in range(50)), key=lambda p: (-p[1], p[0]))[:5]
    assert [g[0] for g in got] == [e[0] for e in expected]
    index.remove("i3")
    index.remove("unknown")
    assert "i3" not in [g[0] for g in index.search(q, 50)] and len(index) == 49
    index.add("again", q)  # reuses the freed row
    assert index.search(q, 1)[0][0] == "again"
    with pytest.raises(ValueError):
        index.add("bad", np.ones(3, dtype=np.float32))


def test_brute_force_ties_do_not_depend_on_insertion_order() -> None:
    a, b = BruteForceContent(dim=2), BruteForceContent(dim=2)
    same = np.array([1.0, 0.0], dtype=np.float32)
    for name in ("x", "y", "z"):
        a.add(name, same)
    for name in ("z", "y", "x"):
        b.add(name, same)
    assert a.search(same, 2) == b.search(same, 2) == [("x", 1.0), ("y", 1.0)]


def test_itemknn_scores_equal_cosine_sums() -> None:
    rng = np.random.default_rng(1)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 30, 400), rng.integers(0, 40, 400), strict=True)}
    model = ItemKNN(retrain_every=10_000)
    for t, (u, i) in enumerate(sorted(pairs)):
        model.learn_one(Interaction(f"u{u}", f"i{i}", "click", 1.0, float(t)))
    model.retrain()
    # reference: dense cosine similarity between item columns of the binary matrix
    ids = model.catalog.ids
    x = np.zeros((30, len(ids)))
    for u, i in pairs:
        x[u, ids.index(f"i{i}")] = 1.0
    norms = np.linalg.norm(x, axis=0)
    sim = (x.T @ x) / np.outer(norms, norms)
    user = "u3"
    own = [ids.index(f"i{i}") for u, i in pairs if u == 3]
    expected = sim[:, own].sum(axis=1)
    assert model.scores(user) == pytest.approx(expected)
    assert isinstance(model._xn, sp.csr_matrix)


def test_itemknn_is_stale_between_retrainings() -> None:
    model = ItemKNN(retrain_every=4)
    for item in ("1", "2", "3"):
        model.add_item(item)
    for t, (u, i) in enumerate([("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")]):
        model.learn_one(Interaction(u, i, "click", 1.0, float(t)))
    assert model.retrained == 1
    model.learn_one(Interaction("c", "1", "click", 1.0, 5.0))
    model.learn_one(Interaction("c", "3", "click", 1.0, 6.0))  # item 3 is unknown to the last retraining
    assert model.scores("a")[model.catalog.index["3"]] == 0.0
    assert [r.item_id for r in model.recommend("a", 1, exclude={"1", "2"})] == ["3"]  # popularity fill-in
    assert model.recommend("a", 1, exclude={"1", "2"})[0].reason == "popular now"


def test_cooc_rows_read_out_never_pin_the_table() -> None:
    """What `row` and `gather` hand out are copies: holding them does not stop later bumps (a view
    of a row's buffer would make the next insert raise BufferError)."""
    t = CoocTable(max_neighbors=2)
    for b in (5, 3, 9):
        t.bump(0, b, 1.0)
    keys, vals = t.row(0)
    gathered = t.gather([0])
    for b in range(10, 20):  # inserts, and a prune past 2 * max_neighbors
        t.bump(0, b, 0.5)
    t.bump(0, 3, 2.0)
    assert keys.tolist() == [3, 5, 9] and vals.tolist() == [1.0, 1.0, 1.0]
    assert gathered[0].tolist() == [3, 5, 9]
    # Each prune kept the two heaviest (3 and 5 beat 9, their equal, on id); rows stay in id order.
    assert t.row(0)[0].tolist() == [3, 5, 18, 19]
    assert t.get(0, 3) == 3.0 and t.get(0, 19) == 0.5 and t.get(0, 9) == 0.0


def test_top_k_among_a_sparse_set_equals_top_k_of_the_dense_scores() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        dense = np.round(rng.random(40), 1)  # rounded: plenty of ties
        dense[rng.random(40) < 0.4] = -np.inf
        finite = np.flatnonzero(np.isfinite(dense))
        for k in (0, 1, 5, 50):
            assert top_k_among(finite, dense[finite], k).tolist() == top_k_indices(dense, k).tolist()


def test_cooc_bump_pairs_equals_the_bumps_one_by_one() -> None:
    rng = np.random.default_rng(4)
    one, many = CoocTable(max_neighbors=3), CoocTable(max_neighbors=3)  # small: rows get pruned
    for _ in range(300):
        a = int(rng.integers(0, 12))
        bs = [int(b) for b in rng.choice([b for b in range(12) if b != a], size=int(rng.integers(0, 6)), replace=False)]
        ws = [float(w) for w in rng.choice([0.5, 1.0], size=len(bs))]
        for b, w in zip(bs, ws, strict=True):
            one.bump(a, b, w)
            one.bump(b, a, w)
        many.bump_pairs(a, bs, ws)
    assert list(one.rows) == list(many.rows)  # rows created in the same order (snapshot layout)
    for name, arr in one.state().items():
        assert np.array_equal(arr, many.state()[name]), name


def test_cooc_look_ups_tell_a_held_zero_from_an_absent_pair() -> None:
    t = CoocTable()
    t.bump(1, 2, 0.0)
    assert t.get_or_none(1, 2) == 0.0 and t.get_or_none(1, 3) is None and t.get_or_none(9, 2) is None
    assert t.holds_any([5, 1], 2) and not t.holds_any([5, 2], 1) and not t.holds_any([], 2)
    keys, vals, weights = t.gather_weighted([7, 1], np.array([0.5, 2.0]))
    assert keys.tolist() == [2] and vals.tolist() == [0.0] and weights.tolist() == [2.0]


@pytest.mark.parametrize("n", [50, 5_000, 1_000_000])
def test_sparse_scores_are_the_dense_sums_bit_for_bit(n: int) -> None:
    """Summed over the distinct keys or over the whole catalogue, each item's sum is the same float
    (the learner's model must not depend on the catalogue's size), and a look-up reads 0 where the
    dense array holds 0."""
    rng = np.random.default_rng(n)
    keys = rng.integers(0, n, 900)
    contrib = rng.random(900) * 10.0 ** rng.integers(-8, 8, 900)  # sums whose order matters
    dense = np.bincount(keys, weights=contrib, minlength=n)
    scores = SparseScores.sum_by_key(keys, contrib, n)
    nz = np.flatnonzero(dense)
    assert scores.keys.tolist() == nz.tolist()
    assert scores.vals.tobytes() == dense[nz].tobytes()
    probe = np.concatenate([nz[:50], rng.integers(0, n, 200)])
    assert scores.at(probe).tobytes() == dense[probe].tobytes()
    assert [scores.of(int(i)) for i in probe[:20]] == dense[probe[:20]].tolist()


def test_sparse_scores_of_nothing_read_zero() -> None:
    empty = SparseScores.sum_by_key(np.empty(0, dtype=np.int64), np.empty(0), 10)
    assert empty.at(np.array([0, 9])).tolist() == [0.0, 0.0]
    assert empty.of(3) == 0.0


def test_added_since_is_the_scan_of_added_times() -> None:
    """`ItemCatalog.added_since(t)` reads only the newest additions; it must name exactly the items
    whose added time is at or after `t`, whatever order the times came in, and after a reload."""
    rng = np.random.default_rng(3)
    cat = ItemCatalog()
    for i in range(3000):  # past the first capacity; times mostly rising, some late, some unknown
        late = rng.random() < 0.1
        ts = None if rng.random() < 0.05 else float(i - (rng.integers(0, 2000) if late else 0))
        cat.ensure(f"i{i}", ts)
    for i in range(0, 3000, 7):  # an item first seen without a time gets one when listed
        cat.upsert(f"i{i}", None, None, None, None, ts=5000.0 + i)

    def scan(c: ItemCatalog, t: float) -> list[int]:
        return np.flatnonzero(c.added_ts >= t).tolist()

    back = ItemCatalog.from_state(*cat.state())
    for t in (-1e9, 0.0, 1500.0, 2990.0, 2999.0, 5000.0, 7990.0, 1e9):
        assert cat.added_since(t).tolist() == scan(cat, t)
        assert back.added_since(t).tolist() == scan(back, t)
    assert cat.added_since(2990.0).dtype == np.int64


def test_touched_holds_every_counted_index() -> None:
    c = DecayedCounts(half_life=5.0)
    for i, idx in enumerate([900, 3, 3, 2500, 17, 900]):  # 2500: past the first capacity
        c.add(idx, 1.0, float(i))
    c.add(40, 0.0, 6.0)  # added to, yet zero: a touched index may hold a zero
    assert c.touched().tolist() == [3, 17, 40, 900, 2500]
    nonzero = set(np.flatnonzero(c.raw(3000)).tolist())
    assert nonzero <= set(c.touched().tolist())
    meta, values = c.state(3000)
    assert DecayedCounts.from_state(meta, values).touched().tolist() == sorted(nonzero)


def test_candidate_filter_is_the_dense_mask() -> None:
    from models.reco.base import CandidateFilter

    rng = np.random.default_rng(4)
    model = ItemKNN()
    for i in range(500):
        model.add_item(f"p{i}")
    for i in rng.choice(500, 60, replace=False).tolist():
        model.remove_item(f"p{i}")
    for i in rng.choice(500, 60, replace=False).tolist():
        model.set_in_stock(f"p{i}", False)
    model.catalog.ensure("seen-only")  # known from an interaction, never listed
    items = rng.integers(0, len(model.catalog), 400)
    for exclude in (None, set(), {"p1", "p2", "nope", "seen-only"}):
        mask = model._candidate_mask(exclude)
        for dense_below in (0, 10**9):  # from the flags and the excluded items; from a dense mask
            assert model._candidate_filter(exclude, dense_below)[items].tolist() == mask[items].tolist()
    assert isinstance(model._candidate_filter(None), CandidateFilter)


def test_trending_popularity_answers_what_a_scan_of_every_item_answers() -> None:
    """The baseline reads only the items ever interacted with: its lists must be those of scoring
    every item of the catalogue, scores included."""
    from models.reco import TrendingPopularity

    rng = np.random.default_rng(6)
    m = TrendingPopularity(half_life=50.0)
    for i in range(3000):
        m.add_item(f"p{i}")
    for t, i in enumerate(rng.zipf(1.5, 4000) % 3000):
        m.learn_one(Interaction(f"u{t % 40}", f"p{i}", "click", 1.0, float(t)))
    for i in range(0, 3000, 5):
        m.remove_item(f"p{i}")
    m.set_in_stock("p1", False)
    for exclude in (None, {"p2", "p3", "p4", "unknown"}):
        scores = m.scores()
        scores[~m._candidate_mask(exclude) | (scores <= 0)] = -np.inf
        expected = [(m.catalog.ids[i], float(scores[i])) for i in top_k_indices(scores, 25)]
        assert len(expected) == 25
        assert [(r.item_id, r.score) for r in m.recommend("u1", 25, exclude)] == expected
    assert m.recommend("u1", 0) == [] and TrendingPopularity().recommend("u1", 5) == []
