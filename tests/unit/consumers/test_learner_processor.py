"""The `learner` group's processor on a temporary SQLite file: the log inside the batch, then
test-then-train after the commit (evaluation never trains), and a restart that neither trains on an
event twice nor evaluates one twice."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consumers.learner.processor import LearnerProcessor
from events import Event
from infra.config import Settings
from infra.sqlite import connect_writer
from models.reco import Interaction, Recommendation
from readmodels.learner import log as learner_log
from tests.unit.shop_events import again, apply, click, order, product


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The test events are dated near 1970: without a catch-up threshold this far off, the learner
    # would take every batch for a backlog and evaluate fewer entries (tested on its own below).
    return Settings(data_dir=tmp_path / "var", prequential_sample_every=1, snapshot_interval_s=3600,
                    learner_catch_up_after_s=1e12)


@pytest.fixture
def conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    c = connect_writer(settings.sqlite_path("learner"))
    yield c
    c.close()


def _started(settings: Settings, conn: sqlite3.Connection) -> LearnerProcessor:
    p = LearnerProcessor(settings)
    p.setup(conn)
    return p


def catalogue(n: int = 30) -> list[Event]:
    return [product(f"p{i}", t=0, category=f"c{i % 3}", name=f"item {i} of c{i % 3}", brand=f"b{i % 2}")
            for i in range(n)]


def stream(n: int, start: int = 0, users: int = 4) -> list[Event]:
    """Clicks of a few users, each in one category of the catalogue (10 items each); a few orders."""
    out: list[Event] = []
    for i in range(start, start + n):
        user = f"u{i % users}"
        item = f"p{(i % users) % 3 + 3 * ((i // users) % 10)}"
        if i % 7 == 6:
            out.append(order(f"o{i}", user, [(item, 1)], t=100 + i))
        else:
            out.append(click(user, item, t=100 + i, session=f"s{i // 8}"))
    return out


def test_apply_logs_each_event_once(settings: Settings, conn: sqlite3.Connection) -> None:
    p = _started(settings, conn)
    items, c, o = catalogue(3), click("u1", "p1", t=1), order("o1", "u1", [("p1", 1), ("p2", 2)], t=2)
    assert apply(conn, p, [*items, c, o]) == {"log_entries": 6}
    assert apply(conn, p, [c, o, again(o), *items]) == {"log_entries": 0}
    assert learner_log.last_seq(conn) == 6
    assert p.live.seq == 6 and p.live.model.events_trained == 3


class Spy:
    """Wraps the learner's model to record, in order, what evaluation asked and what was trained,
    and whether asking changed the model's state."""

    def __init__(self, p: LearnerProcessor, monkeypatch: pytest.MonkeyPatch) -> None:
        self.model = p.live.model
        self.calls: list[tuple[str, str, int]] = []
        self.state_changes = 0
        recommend, learn_one = self.model.recommend, self.model.learn_one

        def asked(user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
            before = self.model.state()
            answer = recommend(user_id, k, exclude)
            self.state_changes += not _same_state(before, self.model.state())
            self.calls.append(("ask", user_id, self.model.events_trained))
            return answer

        def trained(x: Interaction) -> None:
            learn_one(x)
            self.calls.append(("train", x.user_id, self.model.events_trained))

        monkeypatch.setattr(self.model, "recommend", asked)
        monkeypatch.setattr(self.model, "learn_one", trained)


def _same_state(a: tuple[dict[str, Any], dict[str, Any]], b: tuple[dict[str, Any], dict[str, Any]]) -> bool:
    return a[0] == b[0] and a[1].keys() == b[1].keys() and all(
        np.array_equal(a[1][k], b[1][k], equal_nan=a[1][k].dtype.kind == "f") for k in a[1])


def test_each_interaction_is_tested_before_it_is_trained_and_testing_never_trains(
    settings: Settings, conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = _started(settings, conn)
    spy = Spy(p, monkeypatch)
    events = [*catalogue(), *stream(40)]
    apply(conn, p, events[:20])
    apply(conn, p, events[20:])
    interactions = [e for e in learner_log.read_log(conn, 0) if e.is_interaction]
    trains = [c for c in spy.calls if c[0] == "train"]
    assert len(trains) == len(interactions) == p.live.model.events_trained
    # every "ask" comes right before the training on that user's interaction, and sees the model
    # as trained on the entries before it only
    for i, call in enumerate(spy.calls):
        if call[0] == "ask":
            assert spy.calls[i + 1] == ("train", call[1], call[2] + 1)
    asks = [c for c in spy.calls if c[0] == "ask"]
    evaluated = learner_log.load_prequential(conn)["model"]["evaluated"]
    assert len(asks) == evaluated > 20  # repeats of an item the user has are not asked about
    assert spy.state_changes == 0


def test_behind_the_stream_it_evaluates_fewer_entries_and_trains_the_same(settings: Settings, tmp_path: Path
                                                                            ) -> None:
    events = [*catalogue(), *stream(60)]
    outcomes = []
    for name, after_s in (("live", 1e12), ("behind", 0.0)):
        s = settings.model_copy(update={"data_dir": tmp_path / name, "learner_catch_up_after_s": after_s,
                                        "learner_catch_up_sample_every": 4})
        c = connect_writer(s.sqlite_path("learner"))
        p = _started(s, c)
        apply(conn=c, processor=p, events=events)
        outcomes.append((p.catching_up, learner_log.load_prequential(c)["model"]["evaluated"], p.live.model.state()))
        c.close()
    (live_flag, live_n, live_state), (behind_flag, behind_n, behind_state) = outcomes
    assert not live_flag and behind_flag
    assert 0 < behind_n < live_n / 2  # 1 in 4 entries instead of every one (repeats are not asked)
    assert _same_state(live_state, behind_state)  # evaluation never trains: what is learned is the same


def test_a_restart_resumes_from_the_snapshot_without_training_or_evaluating_twice(
    settings: Settings, conn: sqlite3.Connection
) -> None:
    first = _started(settings, conn)
    apply(conn, first, [*catalogue(), *stream(30)])
    first.close()  # writes a snapshot of what it trained
    figures = learner_log.load_prequential(conn)
    second = _started(settings, conn)
    assert second.live.seq == first.live.seq and second.live.model.events_trained == 30
    assert second.pq["model"].report.total.n == figures["model"]["evaluated"]
    apply(conn, second, stream(20, start=30))
    assert second.live.model.events_trained == 50
    after = learner_log.load_prequential(conn)
    # the 20 new interactions (minus repeats) were evaluated; none of the first 30 again
    assert 0 < after["model"]["evaluated"] - figures["model"]["evaluated"] <= 20
    assert after["model"]["seq"] == learner_log.last_seq(conn)


def test_a_restart_before_any_snapshot_trains_the_log_from_the_start(settings: Settings, conn: sqlite3.Connection
                                                                     ) -> None:
    first = _started(settings, conn)
    apply(conn, first, [*catalogue(), *stream(10)])  # logged and trained, but no snapshot written
    second = _started(settings, conn)
    assert second.live.seq == learner_log.last_seq(conn) and second.live.model.events_trained == 10
