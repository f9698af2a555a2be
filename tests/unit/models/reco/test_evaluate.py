"""Prequential evaluation: test-then-train bookkeeping."""

from __future__ import annotations

import math

import pytest

from models.reco import Interaction, Prequential, Recommendation, Recommender, TrendingPopularity, run_prequential
from models.reco.evaluate import Outcome, format_reports


class Scripted(Recommender):
    """Answers a fixed list; records what it was asked and what it learned."""

    def __init__(self, answer: list[str]) -> None:
        super().__init__()
        self.answer = answer
        self.asked: list[tuple[str, int, frozenset[str]]] = []
        self.learned: list[Interaction] = []

    def learn_one(self, interaction: Interaction) -> None:
        self.learned.append(interaction)

    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        self.asked.append((user_id, k, frozenset(exclude or ())))
        ex = exclude or set()
        return [Recommendation(i, 1.0, "scripted") for i in self.answer if i not in ex][:k]


def _x(user: str, item: str, ts: float) -> Interaction:
    return Interaction(user, item, "click", 1.0, ts)


def test_ndcg_of_a_single_relevant_item() -> None:
    assert Outcome(0, False, False, 10).ndcg == 1.0
    assert Outcome(2, False, False, 10).ndcg == pytest.approx(1 / math.log2(4))
    assert Outcome(None, False, False, 10).ndcg == 0.0
    assert Outcome(10, False, False, 10).ndcg == 0.0 and not Outcome(10, False, False, 10).hit


def test_asks_before_learning_and_excludes_what_the_user_has() -> None:
    model = Scripted(["a", "b", "c"])
    stream = [_x("u", "a", 0), _x("u", "b", 1), _x("u", "c", 2), _x("v", "c", 3)]
    r = run_prequential({"m": model}, stream, k=2)["m"]
    assert [a[2] for a in model.asked] == [frozenset(), {"a"}, {"a", "b"}, frozenset()]
    assert model.learned == stream
    # u/a: rank 0; u/b: rank 0 (a excluded); u/c: rank 0; v/c: rank 2 -> miss at k=2
    assert (r.evaluated, r.hits) == (4, 3)
    assert r.ndcg == pytest.approx(3 / 4)
    assert (r.cold_users.n, r.cold_users.hits, r.warm_users.n, r.warm_users.hits) == (2, 1, 2, 2)
    assert (r.cold_items.n, r.cold_items.hits) == (3, 3)


def test_repeats_are_learned_but_not_evaluated() -> None:
    model = Scripted(["a"])
    stream = [_x("u", "a", 0), _x("u", "a", 1), _x("u", "a", 2)]
    r = run_prequential({"m": model}, stream)["m"]
    assert (r.evaluated, r.skipped_repeats, r.learned) == (1, 2, 3)
    r2 = run_prequential({"m": Scripted(["a"])}, stream, skip_repeats=False)["m"]
    assert (r2.evaluated, r2.hits) == (3, 1)


def test_sample_every_evaluates_one_in_n_and_learns_all() -> None:
    models = {"a": Scripted(["x"]), "b": Scripted(["y"])}
    stream = [_x(f"u{i}", "x", float(i)) for i in range(10)]
    reports = run_prequential(models, stream, sample_every=3)
    assert [r.evaluated for r in reports.values()] == [4, 4]  # events 0, 3, 6, 9
    assert reports["a"].hits == 4 and reports["b"].hits == 0
    assert all(len(m.learned) == 10 for m in models.values())
    with pytest.raises(ValueError):
        run_prequential(models, stream, sample_every=0)


def test_rolling_window_and_curve() -> None:
    model = Scripted(["x"])
    stream = [_x(f"u{i}", "x" if i < 6 else "y", float(i)) for i in range(10)]
    r = run_prequential({"m": model}, stream, window=4)["m"]
    assert r.hit_rate == 0.6
    assert r.window_hit_rate == 0.0  # the last 4 all missed
    assert r.curve == [(4, 1.0), (8, 0.5)]
    d = r.as_dict()
    assert d["window_hit_rate"] == 0.0 and d["curve"] == [[4, 1.0], [8, 0.5]]
    assert "HR@k" in format_reports({"m": r})


def test_progress_callback() -> None:
    seen: list[int] = []
    stream = [_x(f"u{i}", "x", float(i)) for i in range(25)]
    run_prequential({"m": Scripted(["x"])}, stream, progress=lambda n, _: seen.append(n), progress_every=10)
    assert seen == [10, 20, 25]


def test_incremental_prequential_matches_the_batch_runner() -> None:
    stream = [
        _x(u, i, float(t))
        for t, (u, i) in enumerate(
            [("a", "1"), ("b", "1"), ("a", "2"), ("c", "2"), ("b", "2"), ("c", "1"), ("d", "3"), ("d", "1")]
        )
    ]
    def listed() -> TrendingPopularity:
        m = TrendingPopularity()
        for item in ("1", "2", "3"):
            m.add_item(item)
        return m

    p, model = Prequential(k=1), listed()
    outcomes = []
    for x in stream:  # test, then train, then observe: evaluation never trains
        outcomes.append(p.test(model, x))
        model.learn_one(x)
        p.observe(x)
    batch = run_prequential({"t": listed()}, stream, k=1)["t"]
    assert p.report.hits == batch.hits > 0 and p.report.evaluated == batch.evaluated
    assert sum(o.hit for o in outcomes if o is not None) == batch.hits


def test_evaluation_asks_and_never_trains() -> None:
    model = TrendingPopularity()
    model.add_item("1")
    p = Prequential(k=1)
    p.test(model, _x("a", "1", 0.0))
    assert model.recommend("b", 1) == []  # nothing was learned by asking
