"""The "reco-served" benchmark: the evaluation protocol's test points, and lists taken as served."""

from __future__ import annotations

from pathlib import Path

from infra.config import Settings
from readmodels.learner.model import LiveModel
from shopstream.bench.main import BASELINES
from shopstream.bench.served import bench_served, run_served_protocol
from tests.unit.shop_events import click, product
from tests.unit.shopstream.test_bench_reco import _tiny_movielens


def test_test_points_are_every_nth_event_after_the_warm_up_of_a_known_user() -> None:
    products = [product(f"p{i}", t=0, category=f"c{i % 3}") for i in range(12)]
    log = [click(f"u{i % 7}", f"p{(i * 5) % 12}", t=10 + i) for i in range(400)]
    every, warmup = 10, 0.25
    seen: set[str] = set()
    expected = 0
    for i, e in enumerate(log):
        user = e.payload.user_id
        expected += i >= 100 and i % every == 0 and user in seen
        seen.add(user)
    result = run_served_protocol(products, log, lambda: LiveModel.new().model, every=every, warmup=warmup,
                                 snapshot_every=50, knn_retrain_every=100)
    assert {s.points for s in result.scores.values()} == {expected}
    assert result.events == 400


def test_a_list_never_repeats_what_the_user_has_under_the_default() -> None:
    """Every user clicks only items already clicked: every model, baselines included, must miss."""
    products = [product(f"p{i}", t=0) for i in range(30)]
    first = [click(f"u{u}", f"p{u}", t=u) for u in range(10)]
    repeats = [click(f"u{i % 10}", f"p{i % 10}", t=100 + i) for i in range(300)]
    result = run_served_protocol(products, first + repeats, lambda: LiveModel.new().model, every=5,
                                 snapshot_every=40, knn_retrain_every=50)
    assert result.scores["model"].points > 40
    assert {name: s.hits for name, s in result.scores.items()} == dict.fromkeys(result.scores, 0)


def test_the_suite_writes_its_keys(tmp_path: Path) -> None:
    figures = bench_served(Settings(), _tiny_movielens(tmp_path), top_items=30, quiet=True)
    for key, base in BASELINES["reco-served"]:
        assert 0.0 <= figures[key] <= 1.0 and 0.0 <= figures[base] <= 1.0
    assert figures["reco.served_items"] == 30
    assert figures["reco.served_points"] > 0
    for name in ("model", "popularity", "itemknn", "trending", "random"):
        assert figures[f"reco.served_ndcg10_{name}"] <= figures[f"reco.served_hr10_{name}"]
