"""OnlineRecommender: cold starts, exclusions, parameters as data, and quality on synthetic data."""

from __future__ import annotations

import io
import json
import math
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
    top_k_indices,
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


REASON_PREFIXES = (
    "bought together with ",
    "often viewed with ",
    "matches your interest in ",
    "trending in ",
    "popular now",
    "similar to what you viewed",
    "new in ",
    "new arrival",
)


def test_reasons_name_their_evidence(trained: OnlineRecommender, world: SyntheticWorld) -> None:
    """Whatever the learned weights (they differ in the last bits between BLAS kernels), a reason
    names real evidence: an item the user had, or a category / brand of the item that the user
    has shown interest in."""
    spec = {it.item_id: it for it in world.items}
    checked = 0
    for user in _warm_users(world):
        owned = _owned(world, user)
        categories = {spec[i].category for i in owned}
        brands = {spec[i].brand for i in owned}
        for r in trained.recommend(user, 10, exclude=owned):
            item = spec[r.item_id]
            assert r.reason.startswith(REASON_PREFIXES), r
            named = r.reason.split(" with ", 1)[-1] if " with " in r.reason else r.reason.rsplit(" in ", 1)[-1]
            if r.reason.startswith(("bought together with ", "often viewed with ")):
                assert named in owned, (user, r)
            elif r.reason.startswith("matches your interest in "):
                assert (named == item.category and named in categories) or (named == item.brand and named in brands)
            elif r.reason.startswith("trending in "):
                assert named == item.category and named in categories, (user, r)
            elif r.reason.startswith("new in "):
                assert named == item.category, (user, r)
            checked += 1
    assert checked == 10 * len(_warm_users(world))


def test_each_kind_of_reason_where_its_evidence_is_plain() -> None:
    """A model on its prior weights (no training): which evidence wins is fixed by clear margins."""
    m = OnlineRecommender(seed=1)
    m.add_item("tent", category="camping", brand="acme", price=120.0, vector=[1.0, 0.0])
    m.add_item("stove", category="cooking", brand="blaze", price=40.0, vector=[0.0, 1.0])
    m.add_item("lamp", category="camping", price=20.0, vector=[0.9, 0.1])
    m.learn_one(Interaction("u1", "tent", "order", 1.0, ts=0.0, session_id="s1"))
    m.learn_one(Interaction("u1", "stove", "order", 1.0, ts=1.0, session_id="s1"))
    m.learn_one(Interaction("u2", "tent", "click", 1.0, ts=2.0))
    m.learn_one(Interaction("u3", "lamp", "click", 1.0, ts=3.0, session_id="s3"))
    m.learn_one(Interaction("u3", "stove", "click", 1.0, ts=4.0, session_id="s3"))
    assert not m.fitted
    reasons = {r.item_id: r.reason for r in m.recommend("u2", k=2, exclude={"tent"})}
    assert reasons == {"lamp": "matches your interest in camping", "stove": "bought together with tent"}
    assert {r.item_id: r.reason for r in m.recommend("u4", k=3)} == {
        "tent": "popular now", "stove": "popular now", "lamp": "popular now"}
    # u3 had the stove, which u1 bought with the tent
    assert [r.reason for r in m.recommend("u3", k=1, exclude={"lamp", "stove"})] == ["bought together with stove"]


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


# -- item cold start -------------------------------------------------------------------------------
# Each case builds its own small shop on the prior weights (no training, so no BLAS kernel can move
# the answer): a user who looked at two lamps, three popular lamps everyone clicks, a product listed
# five days ago that nobody ever clicked ("stale", a perfect match for the user) and, at the end,
# products listed just now. Vectors are chosen by their cosine with the user's profile.

DAY = 86_400.0
PROFILE = [1.0, 0.0, 0.0, 0.0]
ELSEWHERE = [0.0, 1.0, 0.0, 0.0]  # cosine 0 with the profile
SHOWN = 3


def cosine(c: float) -> list[float]:
    """A unit vector at cosine ``c`` with the user's profile."""
    return [c, 0.0, math.sqrt(1.0 - c * c), 0.0]


def shop(new: dict[str, tuple[str, float]], *, popular: list[float] = ELSEWHERE,
         config: OnlineConfig | None = None) -> OnlineRecommender:
    """``new``: item -> (category, cosine with the profile), listed at the end."""
    m = OnlineRecommender(config or OnlineConfig(), seed=3)
    clock = 0.0

    def click(user: str, item: str, session: str) -> None:
        nonlocal clock
        clock += 60.0
        m.learn_one(Interaction(user, item, "click", 1.0, clock, session))

    for item in ("seen-1", "seen-2"):
        m.add_item(item, "lamps", "acme", None, PROFILE)
    for i in range(3):
        m.add_item(f"popular-{i}", "lamps", "acme", None, popular)
    click("v0", "popular-0", "v0-0")
    m.add_item("stale", "desks", None, None, cosine(1.0))  # listed at the first minute, never clicked
    clock = 5 * DAY
    for rnd in range(3):
        for i in range(3):
            for v in range(4 - i):
                click(f"v{v}", f"popular-{i}", f"v{v}-{rnd}")
    click("u", "seen-1", "u-1")
    click("u", "seen-2", "u-1")
    for item, (category, c) in new.items():
        m.add_item(item, category, None, None, cosine(c))
    assert not m.fitted  # the prior weights rank: what is asserted below is not learned
    return m


def shown(m: OnlineRecommender, k: int = SHOWN) -> list[tuple[str, str]]:
    return [(r.item_id, r.reason) for r in m.recommend("u", k, exclude={"seen-1", "seen-2"})]


NEW_ITEMS = {"new-ok": ("desks", 0.7), "new-best": ("desks", 0.9), "new-far": ("desks", 0.2)}


def test_the_new_item_slot_offers_the_best_matching_new_item() -> None:
    without_slot = shop(NEW_ITEMS, config=OnlineConfig(new_item_slot=False))
    ranked = [item for item, _ in shown(without_slot, k=5)]
    # the ranker alone: popular lamps first, then the stale perfect match, then the best new item
    assert ranked == ["popular-0", "popular-1", "popular-2", "stale", "new-best"]
    m = shop(NEW_ITEMS)
    assert shown(m) == [("popular-0", "matches your interest in lamps"),
                        ("popular-1", "matches your interest in lamps"),
                        ("new-best", "new in desks")]
    # it takes the displaced item's score, so the list stays sorted
    scores = [r.score for r in m.recommend("u", SHOWN, exclude={"seen-1", "seen-2"})]
    assert scores[-1] == without_slot.recommend("u", SHOWN, exclude={"seen-1", "seen-2"})[-1].score
    assert scores == sorted(scores, reverse=True)


def test_new_is_decided_by_age_in_the_catalogue_not_by_clicks() -> None:
    m = shop(NEW_ITEMS)
    # "stale" has never been clicked and matches the user best of all, but it was listed five days ago
    assert "stale" not in [i for i, _ in shown(m)]
    assert {m.catalog.ids[i] for i in m.new_items()} == set(NEW_ITEMS)
    # a new item somebody clicked is still new
    m.learn_one(Interaction("v3", "new-best", "click", 1.0, 5 * DAY + 3_600, "v3-9"))
    assert shown(m)[-1] == ("new-best", "new in desks")
    # ... until it is older than new_item_max_age (3 days)
    m.learn_one(Interaction("v3", "popular-0", "click", 1.0, 8.5 * DAY, "v3-10"))
    assert m.new_items().size == 0
    assert [i for i, _ in shown(m)] == ["popular-0", "popular-1", "popular-2"]


def test_the_slot_is_given_only_to_a_better_match_than_the_item_it_displaces() -> None:
    # the popular lamps now match the profile at 0.97; the best new item only at 0.85
    m = shop({"new-best": ("desks", 0.85)}, popular=cosine(0.97))
    assert [i for i, _ in shown(m)] == ["popular-0", "popular-1", "popular-2"]
    assert not any(reason.startswith("new ") for _, reason in shown(m, k=5))


def test_the_slot_needs_a_new_item_that_matches_the_profile() -> None:
    m = shop({"new-weak": ("desks", 0.4)})  # below new_item_min_similarity (0.5)
    assert [i for i, _ in shown(m)] == ["popular-0", "popular-1", "popular-2"]
    assert shown(shop({"new-weak": ("desks", 0.4)}, config=OnlineConfig(new_item_min_similarity=0.3)))[-1] == (
        "new-weak", "new in desks")


def test_a_new_item_the_ranker_already_shows_is_not_offered_twice() -> None:
    m = shop({"new-lamp": ("lamps", 1.0), **NEW_ITEMS})  # a new lamp exactly like the user's
    items = [i for i, _ in shown(m)]
    assert "new-lamp" in items and "new-best" not in items
    assert sum(i.startswith("new-") for i in items) == 1


def test_a_user_without_a_profile_gets_no_new_item_slot() -> None:
    m = shop(NEW_ITEMS)
    assert [r.reason for r in m.recommend("someone-new", SHOWN)] == ["popular now"] * SHOWN


def test_reason_groups_are_those_of_the_largest_summed_contribution() -> None:
    from models.reco.online import _REASON_GROUPS, _reason_groups

    def one_by_one(row: np.ndarray) -> str:  # what each answer's reason was chosen by, row by row
        return max(_REASON_GROUPS, key=lambda g: float(sum(row[i] for i in _REASON_GROUPS[g])))

    rng = np.random.default_rng(11)
    contrib = np.round(rng.normal(size=(300, len(FEATURES))), 1)  # rounded: ties between groups
    contrib[:20] = 0.0  # all equal: the first group
    contrib[20, 0] = math.nan
    assert _reason_groups(contrib) == [one_by_one(row) for row in contrib]


def test_the_best_source_of_a_reason_is_the_largest_contribution_newest_first(trained: OnlineRecommender,
                                                                              world: SyntheticWorld) -> None:
    m = trained
    for user_id in _warm_users(world, 30):
        ctx = m._context(m.users[user_id])
        for table in (m.cooc, m.bought):
            # the reference: every gathered pair's contribution, the largest per item (first of equals)
            best: dict[int, tuple[float, int]] = {}
            for src, w in zip(ctx.sources, ctx.source_weight.tolist(), strict=True):
                keys, vals = table.row(src)
                for key, val in zip(keys.tolist(), vals.tolist(), strict=True):
                    contrib = w * val / math.sqrt(max(float(m._count[key]), 1.0))
                    if key not in best or contrib > best[key][0]:
                        best[key] = (contrib, src)
            for item in range(len(m.catalog)):
                assert m._best_source(table, ctx, item) == best.get(item, (0.0, -1))[1]


def test_the_trending_leg_finds_what_a_scan_of_the_catalogue_finds(world: SyntheticWorld) -> None:
    """Trending candidates are read from the items ever interacted with, not from every item: they
    must be exactly those a scan of the whole catalogue keeps, before and after a reload."""
    model = _fresh(world)
    ids = model.catalog.ids
    for i in range(0, len(ids), 9):
        model.remove_item(ids[i])
    for i in range(4, len(ids), 11):
        model.set_in_stock(ids[i], False)
    for m in (model, _roundtrip(model)):
        raw = m.trend.raw(len(m.catalog))
        for exclude in (None, set(ids[:50])):
            scan = np.flatnonzero(m._candidate_mask(exclude) & (raw > 0) & np.isfinite(raw))
            items, vals = m._trending(m._candidate_filter(exclude))
            assert scan.size > 0 and items.tolist() == scan.tolist() and vals.tolist() == raw[scan].tolist()


def test_the_trending_negatives_are_the_top_of_the_whole_catalogue(world: SyntheticWorld) -> None:
    model = _fresh(world, 300)  # early in the stream, and at its end
    for m in (model, _fresh(world)):
        raw = m.trend.raw(len(m.catalog))
        m._refresh_trend_cache()
        k = min(m.config.n_trending_candidates, int(np.count_nonzero(raw)))
        assert k > 0 and m._trend_cache.tolist() == top_k_indices(raw, k).tolist()


def test_a_large_catalogues_answers_are_those_of_a_small_ones(world: SyntheticWorld) -> None:
    """From `dense_below` items on, an answer filters and merges its candidates without arrays the
    catalogue's size: forced here on a small catalogue, every answer must stay the same."""
    model = _fresh(world)
    ids = model.catalog.ids
    for i in range(0, len(ids), 13):
        model.set_in_stock(ids[i], False)
    users = [*_warm_users(world, 30), "someone-new"]
    dense = [model.recommend(u, 10, exclude=_owned(world, u)) for u in users]
    model.dense_below = 0
    assert [model.recommend(u, 10, exclude=_owned(world, u)) for u in users] == dense
    assert sum(len(answer) for answer in dense) > 200
