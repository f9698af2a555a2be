"""The real-text relevance suites (built from small MovieLens-format files) and their evaluation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from shopstream.bench.realtext import (
    Product,
    Query,
    Suite,
    _tag_key,
    build_known_item_suites,
    build_realtext_suites,
    evaluate,
    evaluate_ranker,
    fuse_legs,
    keyword_leg,
    paired_difference,
)

MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children|Comedy|Fantasy"),
    (2, "Jumanji (1995)", "Adventure|Children|Fantasy"),
    (3, "Heat (1995)", "Action|Crime|Thriller"),
    (4, "Seven (a.k.a. Se7en) (1995)", "Mystery|Thriller"),
    (5, "Usual Suspects, The (1995)", "Crime|Mystery|Thriller"),
    (6, "Casino (1995)", "Crime|Drama"),
    (7, "Nameless (2000)", "(no genres listed)"),
]
# (user, movie, tag)
TAGS = [
    (1, 1, "pixar"), (2, 1, "Pixar"), (1, 2, "pixar"), (3, 7, "pixar"), (1, 1, "funny"),
    (2, 4, "twist ending"), (3, 4, "Twist Ending"), (2, 5, "twist-ending"), (4, 6, "twist ending"),
    (4, 4, "serial killer"), (4, 5, "heist"), (5, 3, "heist"), (5, 6, "heist"), (5, 4, "mystery"),
    (6, 3, "In Netflix queue"), (6, 4, "in netflix queue"), (6, 5, "In Netflix Queue"),
    (1, 3, "thriller"), (2, 5, "thriller"), (3, 6, "Thriller"),
    (2, 3, "bank robbery"), (4, 3, "great shootout"), (5, 5, "kevin spacey"),
]


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    with (tmp_path / "movies.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["movieId", "title", "genres"])
        w.writerows(MOVIES)
    with (tmp_path / "tags.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["userId", "movieId", "tag", "timestamp"])
        w.writerows((u, m, t, 1000 + i) for i, (u, m, t) in enumerate(TAGS))
    return tmp_path


def test_tag_suites_hold_out_the_query_tags(data_dir):
    suites = build_realtext_suites(data_dir, folds=2, seed=3)
    assert [len(s.products) for s in suites] == [7, 7]
    queries = [q for s in suites for q in s.queries]
    # pixar, twist ending and heist have >= 3 movies; netflix queue is excluded, thriller is a genre
    assert sorted(q.text for q in queries) == ["heist", "pixar", "twist ending"]
    for s in suites:
        for q in s.queries:
            key = _tag_key(q.text)
            for p in s.products:
                tags = [t for t in p.description.split(", ") if t]
                assert all(_tag_key(t) != key for t in tags), (q.text, p)
    # tags of the other fold's queries stay visible
    all_descriptions = " | ".join(p.description for s in suites for p in s.products)
    assert "pixar" in all_descriptions.lower() and "heist" in all_descriptions.lower()


def test_tag_suite_grades_and_products(data_dir):
    queries = {q.text: q for s in build_realtext_suites(data_dir, folds=2) for q in s.queries}
    # pixar: movie 1 by users 1 and 2 (case-insensitive variants), movies 2 and 7 by one user each
    assert dict(queries["pixar"].judged) == {"ml-1": 4, "ml-2": 3, "ml-7": 3}
    # "twist-ending" is the same tag as "twist ending"; movie 4 tagged by users 2 and 3
    assert dict(queries["twist ending"].judged) == {"ml-4": 4, "ml-5": 3, "ml-6": 3}
    products = {p.product_id: p for p in build_realtext_suites(data_dir)[0].products}
    toy = products["ml-1"]
    assert toy.name == "Toy Story (1995)" and toy.category_path == ("Adventure",)
    assert toy.attributes == {"categories": "Adventure, Animation, Children, Comedy, Fantasy"}
    assert products["ml-7"].category_path == () and products["ml-7"].attributes == {}
    assert "Toy Story" in toy.embed_text()


def test_tag_suites_are_deterministic_and_seeded(data_dir):
    a = build_realtext_suites(data_dir, seed=1)
    assert a == build_realtext_suites(data_dir, seed=1)
    folds = {seed: [sorted(q.text for q in s.queries) for s in build_realtext_suites(data_dir, seed=seed)]
             for seed in range(8)}
    assert len({str(v) for v in folds.values()}) > 1  # the seed deals the tags differently


def test_visible_fraction_keeps_some_query_tags(data_dir):
    for s in build_realtext_suites(data_dir, visible_fraction=0.5, seed=2):
        for q in s.queries:
            key = _tag_key(q.text)
            shown = [p.product_id for p in s.products if any(_tag_key(t) == key for t in p.description.split(", "))]
            assert set(shown) <= set(q.judged) and len(shown) == int(0.5 * len(q.judged))
    with pytest.raises(ValueError):
        build_realtext_suites(data_dir, visible_fraction=1.0)
    with pytest.raises(ValueError):
        build_realtext_suites(data_dir, folds=1)


def test_known_item_suites(data_dir):
    suites = build_known_item_suites(data_dir, folds=2, min_tags=1)
    by_user: dict[tuple[str, int], list[str]] = {}
    for u, m, t in TAGS:
        by_user.setdefault((f"ml-{m}", u), []).append(t)
    n_queries = 0
    for s in suites:
        products = {p.product_id: p for p in s.products}
        for q in s.queries:
            (target,) = q.judged
            assert q.judged[target] == 4
            users = [u for (m, u), tags in by_user.items() if m == target
                     and " ".join(t for t in tags if "netflix" not in t.lower()).lower() == q.text]
            assert users, q.text
            described = {t.casefold() for t in products[target].description.split(", ") if t}

            def others(held: int, target: str = target) -> set[str]:
                return {t.casefold() for (m, u), tags in by_user.items() if m == target and u != held for t in tags}

            # the description has every other user's tags, none of the held-out user's own
            assert any(described == others(u) for u in users), q.text
            n_queries += 1
    assert n_queries >= 2
    assert build_known_item_suites(data_dir, min_tags=1) == suites
    assert all(len(q.text.split()) >= 2 for s in build_known_item_suites(data_dir) for q in s.queries)


def test_evaluate_gain_and_metrics():
    products = tuple(Product(f"p{i}", f"product {i}") for i in range(4))
    suite = Suite("t", products, (Query("a", {"p0": 4, "p1": 2, "p2": 1}), Query("b", {"p3": 3})))
    perfect = evaluate(suite, [[0, 1, 2, 3], [3, 0]])
    assert perfect.ndcg == 1.0 and perfect.recall == 1.0 and perfect.mrr == 1.0
    # grade 1 has no gain: ranking it first costs nothing against grade 2 second
    assert evaluate(suite, [[2, 0, 1], [3]]).ndcg < 1.0
    assert evaluate(suite, [[0, 1], [3]]).ndcg == 1.0
    worst = evaluate(suite, [[3], [0, 1, 2]])
    assert worst.ndcg == 0.0 and worst.per_query == (0.0, 0.0)
    assert evaluate_ranker(suite, lambda q: ["p0", "p1"] if q == "a" else ["p3"]).ndcg == 1.0
    with pytest.raises(ValueError):
        evaluate(suite, [[0]])


def test_keyword_leg_and_fusion_on_a_toy_suite():
    suite = Suite("toy", (Product("a", "Red running shoe"), Product("b", "Coffee grinder"),
                          Product("c", "Blue running jacket")), (Query("running shoes", {"a": 4, "c": 2}),))
    bm25 = keyword_leg(suite)
    assert bm25[0][0][0] == 0
    vector = [[(2, 0.9), (0, 0.8)]]
    assert fuse_legs(bm25, [[]], 0.6) == [[d for d, _ in bm25[0]]]
    fused = fuse_legs(bm25, vector, 0.6)
    assert set(fused[0]) == {0, 2}
    assert fuse_legs([[]], vector, 0.6) == [[2, 0]]


def test_paired_difference():
    mean, se = paired_difference([1.0, 0.5, 0.0], [0.5, 0.5, 0.0])
    assert mean == pytest.approx(1 / 6) and se > 0
    with pytest.raises(ValueError):
        paired_difference([1.0], [])


def test_suite_rejects_bad_judgements():
    with pytest.raises(ValueError, match="unknown"):
        Suite("x", (Product("a", "A"),), (Query("q", {"b": 4}),))
    with pytest.raises(ValueError, match="duplicate"):
        Suite("x", (Product("a", "A"), Product("a", "B")), ())
