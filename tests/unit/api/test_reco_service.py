"""The API's recommender (`api.services.reco.RecoService`) against a learner run here: the real
`LearnerProcessor` applies records built by hand to a temporary SQLite file and writes snapshots;
the service loads them and follows the log, as it does in production, with no broker.

What must hold (issue 7): right after the service loads a snapshot, its lists equal the learner's at
that snapshot's log position; between snapshots, the user state it applies (recent items, profile,
counts, co-occurrence, trends) equals the learner's at the same log position; it never trains.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.services.reco import RecoService, RecoUnavailable
from consumers.learner.processor import LearnerProcessor
from events import Event
from infra.config import Settings
from infra.sqlite import connect_writer
from models.reco import Interaction, OnlineRecommender
from models.reco.serving import EXCLUDE_POLICIES, ExcludePolicy, serve
from readmodels.catalog.store import Candidate
from readmodels.learner import log as learner_log
from readmodels.learner.model import LiveModel
from tests.unit.shop_events import apply, click, order, product

USERS = [f"u{i}" for i in range(6)]


def catalogue() -> list[Event]:
    return [product(f"p{i}", t=0, category=f"c{i % 4}", name=f"item {i} of c{i % 4}", brand=f"b{i % 3}",
                    price=f"{5 + i}.00") for i in range(120)]


def stream(n: int, start: int = 0) -> list[Event]:
    """Users with a favourite category each, clicking in sessions, ordering now and then; event
    ``i`` is the same whichever call makes it (so a stream can be continued)."""
    out: list[Event] = []
    for i in range(start, start + n):
        rng = random.Random(i)
        user = USERS[i % len(USERS)]
        category = (i % len(USERS)) % 4 if rng.random() < 0.8 else rng.randrange(4)
        item = f"p{category + 4 * rng.randrange(30)}"
        if rng.random() < 0.1:
            out.append(order(f"o{i}", user, [(item, 1 + i % 2)], t=1000 + 10 * i))
        else:
            out.append(click(user, item, t=1000 + 10 * i, session=f"{user}-{i // 24}"))
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", prequential_sample_every=3, snapshot_interval_s=3600,
                    learner_snapshot_every=1_000_000)


@pytest.fixture
def conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    c = connect_writer(settings.sqlite_path("learner"))
    yield c
    c.close()


@pytest.fixture
def learner(settings: Settings, conn: sqlite3.Connection) -> LearnerProcessor:
    p = LearnerProcessor(settings)
    p.setup(conn)
    return p


@pytest.fixture
def service(settings: Settings) -> Iterator[RecoService]:
    s = RecoService(settings)
    yield s
    s.stop()


def learner_lists(learner: LearnerProcessor, conn: sqlite3.Connection, policy: ExcludePolicy, k: int = 10
                  ) -> dict[str, Any]:
    """The learner's lists, served exactly as the API serves them (same path, same exclusions)."""
    return {u: serve(learner.live.model, u, k, policy, learner_log.user_items(conn, u)) for u in [*USERS, "nobody"]}


def service_lists(service: RecoService, policy: ExcludePolicy, k: int = 10) -> dict[str, Any]:
    return {u: service.recommend(u, k, policy)[0] for u in [*USERS, "nobody"]}


def test_right_after_loading_a_snapshot_the_service_serves_the_learners_lists(
    learner: LearnerProcessor, conn: sqlite3.Connection, service: RecoService
) -> None:
    apply(conn, learner, [*catalogue(), *stream(300)])  # the learner saves its first model at once ...
    learner.snapshot()  # ... and this one at its current position
    assert learner.live.model.fitted and learner.live.model.events_trained == 300
    service.refresh()
    live = service.live
    assert live is not None and (live.version, live.seq) == (learner.live.version, learner.live.seq)
    for policy in EXCLUDE_POLICIES:
        expected = learner_lists(learner, conn, policy)  # type: ignore[arg-type]
        assert service_lists(service, policy) == expected, policy  # type: ignore[arg-type]
        assert all(expected[u] for u in USERS)
    # a second, later snapshot: the service swaps to it and agrees again
    apply(conn, learner, stream(120, start=300))
    learner.snapshot()
    service.refresh()
    assert service.live is not None and service.live is not live
    assert (service.live.version, service.live.seq) == (learner.live.version, learner.live.seq)
    assert service_lists(service, "seen") == learner_lists(learner, conn, "seen")
    assert service.live.model.events_trained == learner.live.model.events_trained == 420


def _serving_state(model: OnlineRecommender) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything in the model's state but what only training moves: the ranker, its pending
    mini-batch, its random generator, the training counter, and the training-negatives cache of
    trending items (refreshed per mini-batch; serving ranks from the trend counts themselves)."""
    meta, arrays = model.state()
    meta = {k: v for k, v in meta.items() if k not in ("ranker", "rng", "pending_events", "events_trained")}
    arrays = {k: v for k, v in arrays.items() if not k.startswith(("ranker_", "pending_")) and k != "trend_cache"}
    return meta, arrays


def _assert_same_state(a: tuple[dict[str, Any], dict[str, Any]], b: tuple[dict[str, Any], dict[str, Any]]) -> None:
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        assert np.array_equal(a[1][key], b[1][key], equal_nan=a[1][key].dtype.kind == "f"), key


def test_between_snapshots_the_service_applies_the_learners_user_state_without_training(
    learner: LearnerProcessor, conn: sqlite3.Connection, service: RecoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(conn, learner, [*catalogue(), *stream(200)])
    learner.snapshot()
    service.refresh()
    live = service.live
    assert live is not None
    snapshot_weights = live.model.ranker_weights()

    def no_training(x: Interaction) -> None:
        raise AssertionError("the API trained the model")

    monkeypatch.setattr(live.model, "learn_one", no_training)
    for start, n in ((200, 100), (300, 100), (400, 100)):  # the learner goes on; the service follows each time
        apply(conn, learner, [*stream(n, start=start),
                              product(f"p-new-{start}", t=1000 + 10 * start, category="c1", name="new item of c1")])
        service.refresh()
        assert service.live is live and live.seq == learner.live.seq == learner_log.last_seq(conn)
        _assert_same_state(_serving_state(live.model), _serving_state(learner.live.model))
        for user in USERS:
            assert live.model.profile(user) == learner.live.model.profile(user)
        assert live.model.events_seen == learner.live.model.events_seen == start + n
    # and the ranker is the snapshot's, untouched: the learner's has moved on
    assert live.model.events_trained == 200 and learner.live.model.events_trained == 500
    assert live.model.ranker_weights() == snapshot_weights != learner.live.model.ranker_weights()


def test_a_click_shows_in_the_users_list_once_the_service_follows_the_log(
    learner: LearnerProcessor, conn: sqlite3.Connection, service: RecoService
) -> None:
    apply(conn, learner, [*catalogue(), *stream(200)])
    learner.snapshot()
    service.refresh()
    before = [r.item_id for r in service.recommend("u1", 10, "seen")[0]]
    clicked = before[0]
    apply(conn, learner, [click("u1", clicked, t=1e5, session="late")])
    service.refresh()
    after, live = service.recommend("u1", 10, "seen")
    assert clicked not in [r.item_id for r in after]  # it is seen now
    assert live.model.profile("u1")["recent_items"][0] == clicked
    assert service.profile("u1")["recent_items"][0] == clicked


def test_a_profile_and_search_boosts_come_from_the_followed_state(
    learner: LearnerProcessor, conn: sqlite3.Connection, service: RecoService
) -> None:
    apply(conn, learner, [*catalogue(), *stream(120)])
    learner.snapshot()
    service.refresh()
    profile = service.profile("u0")
    items = learner_log.user_items(conn, "u0")
    assert profile["known"] and profile["bought"] == sorted(items.bought) and profile["interacted_items"] == len(
        items.seen)
    assert service.profile("nobody")["known"] is False
    top_category = profile["top_categories"][0][0]
    candidates = {1: Candidate(1, top_category, "x", "nobody's brand", 1.0, 1),
                  2: Candidate(2, "no such category", "x", "nobody's brand", 1.0, 1)}
    boosts = service.boosts("u0", candidates)
    assert set(boosts) == {1} and 0 < boosts[1] <= 1.0
    assert service.boosts("nobody", candidates) == {}


def test_nothing_to_serve_yet_is_said_plainly(settings: Settings, learner: LearnerProcessor,
                                              conn: sqlite3.Connection) -> None:
    empty = RecoService(Settings(data_dir=settings.data_dir / "elsewhere"))
    with pytest.raises(RecoUnavailable, match="snapshot"):
        empty.recommend("u1", 10, "seen")
    assert empty.boosts("u1", {}) == {} and empty.prequential() == {}
    service = RecoService(settings)  # the learner has created its file, but not written a model yet
    with pytest.raises(RecoUnavailable, match="no model snapshot yet"):
        service.recommend("u1", 10, "seen")
    apply(conn, learner, [*catalogue(), *stream(10)])  # its first model is saved at once
    assert service.recommend("u1", 10, "seen")[0]
    assert service.prequential()["model"]["seq"] == learner.live.seq


def test_an_older_snapshot_never_replaces_a_newer_model(
    learner: LearnerProcessor, conn: sqlite3.Connection, service: RecoService, settings: Settings
) -> None:
    apply(conn, learner, [*catalogue(), *stream(100)])
    learner.snapshot()
    service.refresh()
    loaded = LiveModel.load_latest(settings.snapshot_dir("learner"))
    assert loaded is not None and service.live is not None and loaded.seq == service.live.seq
    current = service.live
    service.refresh()  # nothing new: the same model object keeps serving
    assert service.live is current
