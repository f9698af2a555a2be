"""The learner's log and its model (`readmodels.learner`) on a temporary SQLite file: appended
exactly once, last-writer-wins for product changes, item vectors computed once and stored, read back
in order; the live model follows it with or without training and round-trips through snapshots."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from events import Event
from infra.sqlite import connect_writer, transaction
from readmodels.errors import Rejected
from readmodels.learner import convert
from readmodels.learner import log as learner_log
from readmodels.learner.model import LiveModel, snapshot_infos, snapshot_versions
from tests.unit.shop_events import again, at, click, order, product, removal


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect_writer(tmp_path / "learner.sqlite3")
    learner_log.setup(c)
    yield c
    c.close()


def append(conn: sqlite3.Connection, *events: Event) -> list[int]:
    with transaction(conn):
        return [learner_log.append(conn, e) for e in events]


def entries(conn: sqlite3.Connection, after: int = 0) -> list[learner_log.LogEntry]:
    return list(learner_log.read_log(conn, after))


def test_every_event_is_appended_once(conn: sqlite3.Connection) -> None:
    p, c, o = product("p1", t=1), click("u1", "p1", t=2), order("o1", "u1", [("p1", 2), ("p2", 1)], t=3)
    assert append(conn, p, c, o) == [1, 1, 2]
    assert append(conn, p, c, o, again(o)) == [0, 0, 0, 0]
    log = entries(conn)
    assert [(e.seq, e.kind, e.user_id, e.item_id, e.weight) for e in log] == [
        (1, "item", None, "p1", 0.0),
        (2, "click", "u1", "p1", convert.CLICK_WEIGHT),
        (3, "order", "u1", "p1", 2 * convert.ORDER_WEIGHT_PER_UNIT),
        (4, "order", "u1", "p2", 1 * convert.ORDER_WEIGHT_PER_UNIT),
    ]
    assert log[1].interaction().ts == at(2).timestamp() and log[1].session_id == "s1"


def test_an_order_id_used_again_for_another_order_is_rejected(conn: sqlite3.Connection) -> None:
    append(conn, order("o1", "u1", [("p1", 1)]))
    with pytest.raises(Rejected) as err:
        append(conn, order("o1", "u1", [("p1", 2)]))
    assert err.value.kind == "duplicate-order-id"


def test_product_changes_are_last_writer_wins(conn: sqlite3.Connection) -> None:
    assert append(conn, product("p1", t=10, name="ten")) == [1]
    assert append(conn, product("p1", t=5, name="older")) == [0]
    assert append(conn, removal("p1", t=20), product("p1", t=15)) == [1, 0]
    assert append(conn, removal("p2", t=20), product("p2", t=15)) == [1, 0]  # the removal came first
    assert append(conn, product("p1", t=30, name="back")) == [1]
    assert [(e.kind, e.item_id) for e in entries(conn)] == [
        ("item", "p1"), ("remove", "p1"), ("remove", "p2"), ("item", "p1")]
    assert entries(conn)[-1].product().name == "back"


def test_item_vectors_are_computed_once_when_logged(conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    event = product("p1", t=1, name="red desk lamp", description="a lamp for a desk")
    append(conn, event)
    [entry] = entries(conn)
    expected = convert.item_vector(event.payload)  # type: ignore[arg-type]
    assert entry.vector == expected.tobytes()
    assert append(conn, event) == [0]  # the same event again: no second entry, no second vector
    assert conn.execute("SELECT count(*) FROM log WHERE vector IS NOT NULL").fetchone()[0] == 1

    def no_embedding(texts: object) -> object:
        raise AssertionError("an item vector was computed again")

    monkeypatch.setattr(convert._embedder, "transform", no_embedding)
    spec = entry.item_spec()  # what the model learns the item from: the stored vector
    assert spec.vector is not None and np.array_equal(spec.vector, expected)
    assert (spec.item_id, spec.category, spec.brand, spec.price) == ("p1", "lamps", "acme", 10.0)
    live = LiveModel.new()
    live.apply(entry, train=True)
    assert "p1" in live.model.catalog


def test_read_log_pages_and_limits(conn: sqlite3.Connection) -> None:
    append(conn, *(click("u1", f"p{i}", t=i) for i in range(12)))
    assert [e.seq for e in learner_log.read_log(conn, 0, batch=5)] == list(range(1, 13))
    assert [e.seq for e in learner_log.read_log(conn, 4, batch=3, limit=4)] == [5, 6, 7, 8]
    assert list(learner_log.read_log(conn, 12)) == [] and learner_log.last_seq(conn) == 12


def test_a_users_items_recent_items_and_history(conn: sqlite3.Connection) -> None:
    append(conn, click("u1", "a", t=1), click("u1", "b", t=2), click("u2", "a", t=3),
           order("o1", "u1", [("c", 1)], t=4), click("u1", "a", t=5))
    items = learner_log.user_items(conn, "u1")
    assert (items.seen, items.bought) == ({"a", "b", "c"}, {"c"})
    assert learner_log.recent_items(conn, "u1") == ["a", "c", "b"]
    assert learner_log.recent_items(conn, "u1", n=2) == ["a", "c"]
    history = learner_log.history(conn, up_to_seq=3)
    assert {u: (h.seen, h.bought) for u, h in history.items()} == {"u1": ({"a", "b"}, set()), "u2": ({"a"}, set())}
    assert learner_log.user_items(conn, "nobody").seen == set()


def test_prequential_figures_round_trip(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        learner_log.save_prequential(conn, "model", 40, 8, 2, 1.5, 0.25, None)
        learner_log.save_prequential(conn, "model", 50, 10, 3, 2.0, 0.3, 0.2)  # replaces
    figs = learner_log.load_prequential(conn)["model"]
    assert (figs["seq"], figs["evaluated"], figs["hits"], figs["hr10"], figs["ndcg10"]) == (50, 10, 3, 0.3, 0.2)
    assert (figs["window_hr10"], figs["window_ndcg10"]) == (0.3, 0.2)


# -- the live model --------------------------------------------------------------------------------

def _shop(conn: sqlite3.Connection) -> None:
    append(conn, *(product(f"p{i}", t=0, category=f"c{i % 3}", name=f"thing {i} in c{i % 3}") for i in range(12)))
    append(conn, *(click(f"u{i % 4}", f"p{(i * 5) % 12}", t=10 + i, session=f"s{i % 4}") for i in range(40)))


def test_apply_trains_only_when_asked(conn: sqlite3.Connection) -> None:
    _shop(conn)
    learner, follower = LiveModel.new(), LiveModel.new()
    for entry in entries(conn):
        learner.apply(entry, train=True)
    assert follower.follow(conn) == 52
    assert learner.seq == follower.seq == 52
    assert (learner.model.events_trained, learner.model.events_seen) == (40, 40)
    assert (follower.model.events_trained, follower.model.events_seen) == (0, 40)
    assert not follower.model.fitted
    assert follower.model.profile("u1") == learner.model.profile("u1")


def test_follow_takes_a_limited_slice(conn: sqlite3.Connection) -> None:
    _shop(conn)
    live = LiveModel.new()
    assert live.follow(conn, limit=20) == 20 and live.seq == 20
    assert live.follow(conn, limit=100) == 32 and live.seq == 52
    assert live.follow(conn) == 0


def test_snapshots_round_trip_with_their_log_position(conn: sqlite3.Connection, tmp_path: Path) -> None:
    _shop(conn)
    live = LiveModel.new()
    for entry in entries(conn):
        live.apply(entry, train=True)
    snaps = tmp_path / "snaps"
    assert LiveModel.load_latest(snaps) is None
    assert live.save(snaps, {"t.clicks:0": 40}, extra={"note": "first"}) == 1
    append(conn, click("u1", "p3", t=100))
    live.apply(entries(conn, live.seq)[0], train=True)
    assert live.save(snaps, {"t.clicks:0": 41}) == 2
    loaded = LiveModel.load_latest(snaps)
    assert loaded is not None and (loaded.version, loaded.seq) == (2, 53)
    assert loaded.model.events_trained == live.model.events_trained == 41
    assert loaded.meta["offsets"] == {"t.clicks:0": 41}
    for user in ("u0", "u1", "u2", "u3", "new"):
        assert loaded.model.recommend(user, 5) == live.model.recommend(user, 5)
    assert snapshot_versions(snaps) == [1, 2]
    assert [(i["version"], i["seq"], i["extra"]) for i in snapshot_infos(snaps)] == [(1, 52, {"note": "first"}),
                                                                                    (2, 53, {})]
