"""The recommender contract, checked on every implementation (in the spirit of River's `checks`).

Every concrete :class:`Recommender` found in `models.reco` must have a factory here: a new
recommender without one fails `test_every_recommender_is_checked`, so none escapes the checks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from models.reco import (
    Interaction,
    ItemKNN,
    OnlineRecommender,
    OracleRecommender,
    Recommendation,
    Recommender,
    TrendingPopularity,
)
from models.reco.synthetic import SyntheticWorld, make_world

WORLD = make_world(n_users=40, n_items=120, n_categories=6, dim=8, n_interactions=1_500, seed=11)


def _oracle(world: SyntheticWorld) -> Recommender:
    return OracleRecommender(world.score, world.score_many)


def _oracle_slow(world: SyntheticWorld) -> Recommender:
    return OracleRecommender(world.score)


def _concrete_recommenders() -> set[type[Recommender]]:
    import inspect

    import models.reco

    found: set[type[Recommender]] = set()
    todo = list(Recommender.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("models.reco") and not inspect.isabstract(cls):
            found.add(cls)
    assert models.reco.__all__  # the package and all its modules are imported above
    return found


FACTORIES: dict[str, Callable[[SyntheticWorld], Recommender]] = {
    "trending": lambda w: TrendingPopularity(half_life=3_600.0),
    "itemknn": lambda w: ItemKNN(retrain_every=200),
    "online": lambda w: OnlineRecommender(seed=3),
    "oracle": _oracle,
    "oracle_one_by_one": _oracle_slow,
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Callable[[], Recommender]:
    factory = FACTORIES[request.param]

    def build() -> Recommender:
        model = factory(WORLD)
        model.add_items(WORLD.items)
        return model

    return build


@pytest.fixture
def trained(make: Callable[[], Recommender]) -> Recommender:
    model = make()
    model.learn_many(WORLD.interactions)
    return model


def _owned(user: str) -> set[str]:
    return {x.item_id for x in WORLD.interactions if x.user_id == user}


def _active_users() -> list[str]:
    counts: dict[str, int] = {}
    for x in WORLD.interactions:
        counts[x.user_id] = counts.get(x.user_id, 0) + 1
    return sorted(counts, key=lambda u: (-counts[u], u))[:5]


def test_is_a_recommender(trained: Recommender) -> None:
    assert isinstance(trained, Recommender)


def test_answers_are_well_formed(trained: Recommender) -> None:
    known = {it.item_id for it in WORLD.items}
    for user in [*_active_users(), "nobody"]:
        for k in (1, 5, 10):
            recs = trained.recommend(user, k)
            assert len(recs) <= k
            assert all(isinstance(r, Recommendation) for r in recs)
            ids = [r.item_id for r in recs]
            assert len(ids) == len(set(ids)), "no duplicates"
            assert set(ids) <= known
            assert all(isinstance(r.reason, str) and r.reason for r in recs)
            scores = [r.score for r in recs]
            assert all(np.isfinite(scores))
            if not isinstance(trained, ItemKNN):  # popularity fill-ins score 0 after the k-NN part
                assert scores == sorted(scores, reverse=True)
        assert trained.recommend(user, 0) == []


def test_fills_k_for_known_users(trained: Recommender) -> None:
    for user in _active_users():
        assert len(trained.recommend(user, 10)) == 10


def test_excluded_items_never_returned(trained: Recommender) -> None:
    for user in _active_users():
        owned = _owned(user)
        recs = trained.recommend(user, 30, exclude=owned)
        assert recs, "something is left to recommend"
        assert not {r.item_id for r in recs} & owned


def test_out_of_stock_and_removed_never_returned(trained: Recommender) -> None:
    user = _active_users()[0]
    first = [r.item_id for r in trained.recommend(user, 10)]
    trained.set_in_stock(first[0], False)
    trained.remove_item(first[1])
    again = {r.item_id for r in trained.recommend(user, 50)}
    assert first[0] not in again and first[1] not in again
    for other in ("nobody", *_active_users()):
        ids = {r.item_id for r in trained.recommend(other, 120)}
        assert first[0] not in ids and first[1] not in ids
    # back in stock, re-listed: recommendable again
    trained.set_in_stock(first[0], True)
    it = next(i for i in WORLD.items if i.item_id == first[1])
    trained.add_item(it.item_id, it.category, it.brand, it.price, it.vector)
    back = {r.item_id for r in trained.recommend(user, 120)}
    assert {first[0], first[1]} <= back


def test_learning_an_interaction_on_a_removed_item_does_not_relist_it(trained: Recommender) -> None:
    item = WORLD.items[0].item_id
    trained.remove_item(item)
    trained.learn_one(Interaction("late-user", item, "click", 1.0, WORLD.interactions[-1].ts + 1))
    assert item not in {r.item_id for r in trained.recommend("late-user", 120)}


def test_every_recommender_is_checked() -> None:
    checked = {type(f(WORLD)) for f in FACTORIES.values()}
    assert _concrete_recommenders() <= checked, "add a factory for every recommender to FACTORIES"


def test_unknown_item_is_learned_but_not_recommended_until_listed(make: Callable[[], Recommender]) -> None:
    model = make()
    ts = 0.0
    for user in ("a", "b", "c"):
        model.learn_one(Interaction(user, "brand-new", "click", 1.0, ts))
        ts += 1
    assert "brand-new" in model.catalog
    assert "brand-new" not in {r.item_id for r in model.recommend("d", 200)}  # a phantom id is never popular
    model.add_item("brand-new", "cat0", None, 10.0, np.ones(WORLD.items[0].vector.shape[0]))
    if not isinstance(model, OracleRecommender):  # the oracle does not know the item's score
        assert "brand-new" in {r.item_id for r in model.recommend("d", 5)}


def test_observe_updates_what_serving_reads_like_learn_one(make: Callable[[], Recommender]) -> None:
    """Serving copies follow the learner with observe(): the state they read must be the same."""
    learner, follower = make(), make()
    for x in WORLD.interactions[:1_000]:
        learner.learn_one(x)
        follower.observe(x)
    if isinstance(learner, OnlineRecommender) and isinstance(follower, OnlineRecommender):
        for user in _active_users():
            assert learner.profile(user) == follower.profile(user)
        assert learner.events_seen == follower.events_seen == 1_000
        assert follower.events_trained == 0
    else:  # counting models learn by observing
        for user in _active_users():
            assert learner.recommend(user, 10) == follower.recommend(user, 10)


def test_state_round_trip(trained: Recommender) -> None:
    """A model with parameters as data rebuilds identically from them."""
    if not hasattr(trained, "state"):
        pytest.skip(f"{type(trained).__name__} keeps no snapshot state")
    meta, arrays = trained.state()
    again = type(trained).from_state(meta, arrays)  # type: ignore[attr-defined]
    for user in [*_active_users(), "nobody"]:
        assert again.recommend(user, 10, exclude=_owned(user)) == trained.recommend(user, 10, exclude=_owned(user))
    x = WORLD.interactions[-1]
    again.learn_one(x)
    trained.learn_one(x)
    assert again.recommend(x.user_id, 10) == trained.recommend(x.user_id, 10)


def test_deterministic(make: Callable[[], Recommender]) -> None:
    a, b = make(), make()
    a.learn_many(WORLD.interactions)
    b.learn_many(WORLD.interactions)
    for user in [*_active_users(), "nobody"]:
        assert a.recommend(user, 10, exclude=_owned(user)) == b.recommend(user, 10, exclude=_owned(user))


def test_clock_follows_event_time_and_never_goes_back(trained: Recommender) -> None:
    last = WORLD.interactions[-1].ts
    assert trained.clock == last
    trained.learn_one(Interaction("x", WORLD.items[0].item_id, "click", 1.0, last - 1_000.0))
    assert trained.clock == last


def test_a_model_without_items_recommends_nothing(make: Callable[[], Recommender]) -> None:
    fresh = make()
    for it in WORLD.items:
        fresh.remove_item(it.item_id)
    assert fresh.recommend("nobody", 5) == []
    assert fresh.recommend(_active_users()[0], 5) == []
