"""OnlineRecommender: cold starts, exclusions, parameters as data, and quality on synthetic data."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from models.reco import (
    FEATURES,
    Interaction,
    OnlineConfig,
    OnlineRecommender,
    TrendingPopularity,
    run_prequential,
)
from models.reco.synthetic import SyntheticWorld, make_world

HOUR = 3_600.0


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return make_world(n_users=200, n_items=600, n_categories=12, dim=16, n_interactions=6_000, seed=5)


@pytest.fixture(scope="module")
def trained(world: SyntheticWorld) -> OnlineRecommender:
    model = OnlineRecommender(OnlineConfig(trend_half_life=HOUR), seed=7)
    model.add_items(world.items)
    model.learn_many(world.interactions)
    return model


def _fresh(world: SyntheticWorld, n: int | None = None) -> OnlineRecommender:
    model = OnlineRecommender(OnlineConfig(trend_half_life=HOUR), seed=7)
    model.add_items(world.items)
    model.learn_many(world.interactions[:n])
    return model


def _warm_users(world: SyntheticWorld, n: int = 8) -> list[str]:
    seen: dict[str, None] = {}
    for x in reversed(world.interactions):
        seen.setdefault(x.user_id, None)
    return list(seen)[:n]


def _owned(world: SyntheticWorld, user: str) -> set[str]:
    return {x.item_id for x in world.interactions if x.user_id == user}


def test_new_item_matching_the_profile_is_recommended(world: SyntheticWorld) -> None:
    model = _fresh(world)
    for user in _warm_users(world, 5):
        vec = model.profile_vector(user)
        assert vec is not None
        top_category = model.profile(user)["top_categories"][0][0]
        item = f"new-for-{user}"
        model.add_item(item, category=top_category, brand=None, price=None, vector=vec)
        recs = model.recommend(user, 10, exclude=_owned(world, user))
        assert item in [r.item_id for r in recs], (user, recs)
        # and it is new: nobody has interacted with it
        assert model.profile(user)["known"] and item not in _owned(world, user)


def test_new_user_gets_trending_items(world: SyntheticWorld, trained: OnlineRecommender) -> None:
    trending = TrendingPopularity(half_life=HOUR)
    trending.add_items(world.items)
    trending.learn_many(world.interactions)
    got = trained.recommend("someone-new", 10)
    assert [r.item_id for r in got] == [r.item_id for r in trending.recommend("someone-new", 10)]
    assert {r.reason for r in got} == {"popular now"}
    assert trained.profile("someone-new") == {"user_id": "someone-new", "known": False, "events": 0}


def test_bought_item_is_never_returned_when_excluded(world: SyntheticWorld) -> None:
    model = _fresh(world, 3_000)
    user = _warm_users(world, 1)[0]
    first = model.recommend(user, 1)[0].item_id
    ts = world.interactions[2_999].ts + 1
    model.learn_one(Interaction(user, first, "order", 3.0, ts, session_id="s-buy"))
    for k in (1, 10, 100):
        assert first not in [r.item_id for r in model.recommend(user, k, exclude={first})]


def test_out_of_stock_is_never_returned(world: SyntheticWorld) -> None:
    model = _fresh(world, 3_000)
    users = _warm_users(world)
    hidden = {r.item_id for u in users for r in model.recommend(u, 5)}
    for item in hidden:
        model.set_in_stock(item, False)
    for user in [*users, "someone-new"]:
        assert not hidden & {r.item_id for r in model.recommend(user, 50)}
    # a vector search must not bring them back either
    item = next(iter(hidden))
    vec = model.catalog.vectors[model.catalog.index[item]]
    assert model.content is not None
    assert item not in [i for i, _ in model.content.search(vec, 5)]


def test_reasons_name_their_evidence(trained: OnlineRecommender, world: SyntheticWorld) -> None:
    reasons = [r.reason for u in _warm_users(world) for r in trained.recommend(u, 10, exclude=_owned(world, u))]
    prefixes = (
        "bought together with ",
        "often viewed with ",
        "matches your interest in ",
        "trending in ",
        "popular now",
        "similar to what you viewed",
        "new in ",
        "new arrival",
    )
    assert all(r.startswith(prefixes) for r in reasons), reasons
    assert any(r.startswith(("bought together with ", "often viewed with ")) for r in reasons)
    assert any(r.startswith("matches your interest in ") for r in reasons)


def test_profile_summary(trained: OnlineRecommender, world: SyntheticWorld) -> None:
    user = _warm_users(world, 1)[0]
    p = trained.profile(user)
    json.dumps(p)
    assert p["known"] and p["events"] == sum(x.user_id == user for x in world.interactions)
    assert p["recent_items"] and set(p["recent_items"]) <= _owned(world, user)
    shares = [s for _, s in p["top_categories"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0 + 1e-9
    band = p["price_band"]
    assert band["low"] <= band["typical"] <= band["high"]


def _roundtrip(model: OnlineRecommender) -> OnlineRecommender:
    """Through JSON text and an .npz without pickle, as a snapshot would go."""
    meta, arrays = model.state()
    text = json.dumps(meta)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = {k: npz[k] for k in npz.files}
    return OnlineRecommender.from_state(json.loads(text), loaded)


def _answers(model: OnlineRecommender, world: SyntheticWorld) -> list[object]:
    users = [*_warm_users(world, 20), "someone-new"]
    return (
        [model.recommend(u, 10, exclude=_owned(world, u)) for u in users]
        + [model.recommend(u, 10) for u in users]
        + [model.profile(u) for u in users]
    )


def test_state_round_trip_gives_identical_recommendations(world: SyntheticWorld) -> None:
    half = len(world.interactions) // 2
    model = _fresh(world, half + 17)  # mid-batch: pending training rows must survive too
    meta, arrays = model.state()
    assert meta["version"] == 1 and meta["events_trained"] == half + 17
    assert meta["features"] == list(FEATURES)
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    copy = _roundtrip(model)
    assert _answers(copy, world) == _answers(model, world)
    assert copy.ranker_weights() == model.ranker_weights()
    # ... and they keep learning identically
    rest = world.interactions[half + 17 :]
    model.learn_many(rest)
    copy.learn_many(rest)
    assert _answers(copy, world) == _answers(model, world)
    assert copy.ranker_weights() == model.ranker_weights()
    assert copy.events_trained == model.events_trained == len(world.interactions)


def test_state_round_trip_of_an_empty_model() -> None:
    model = OnlineRecommender()
    copy = _roundtrip(model)
    assert copy.recommend("u", 5) == [] and copy.events_trained == 0
    copy.add_item("a", "c", None, 1.0, [1.0, 0.0])
    copy.learn_one(Interaction("u", "a", "click", 1.0, 0.0))
    assert [r.item_id for r in copy.recommend("v", 5)] == ["a"]


def test_state_rejects_another_format() -> None:
    meta, arrays = OnlineRecommender().state()
    with pytest.raises(ValueError, match="not an"):
        OnlineRecommender.from_state({**meta, "version": 99}, arrays)


def test_learning_is_deterministic_given_the_seed(world: SyntheticWorld) -> None:
    a, b = _fresh(world, 2_000), _fresh(world, 2_000)
    assert a.ranker_weights() == b.ranker_weights()
    assert _answers(a, world) == _answers(b, world)


def test_ranker_learns_something(trained: OnlineRecommender) -> None:
    assert trained.fitted
    w = trained.ranker_weights()
    assert set(w) == {*FEATURES, "intercept"}
    assert any(abs(v) > 0.1 for v in w.values())


def test_prequential_quality_beats_trending_on_synthetic_tastes() -> None:
    """Users with latent category tastes; the online model should clearly beat popularity."""
    start = time.perf_counter()
    world = make_world(n_interactions=20_000, seed=0)
    models = {
        "trending": TrendingPopularity(half_life=HOUR),
        "online": OnlineRecommender(OnlineConfig(trend_half_life=HOUR)),
    }
    for m in models.values():
        m.add_items(world.items)
    with threadpool_limits(1, user_api="blas"):
        reports = run_prequential(models, world.interactions, sample_every=20)
    elapsed = time.perf_counter() - start
    online, trending = reports["online"], reports["trending"]
    assert online.evaluated > 500
    assert online.hit_rate >= 1.5 * trending.hit_rate, (online.as_dict(), trending.as_dict())
    assert online.hit_rate > 0.12
    assert online.warm_users.hit_rate > online.cold_users.hit_rate
    print(f"HR@10 online {online.hit_rate:.3f} vs trending {trending.hit_rate:.3f} in {elapsed:.1f} s")
