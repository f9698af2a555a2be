"""The `store` group's processor on a temporary SQLite file, alone and behind a real Checkpoint."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.checkpoint import Checkpoint, Polled
from consumers.store.processor import StoreProcessor
from infra.sqlite import connect_writer, read_counters
from tests.unit.consumers.recorders import RecordingCommitter, RecordingDeadLetters
from tests.unit.shop_events import again, apply, click, order, product, record, removal


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect_writer(tmp_path / "store.sqlite3")
    StoreProcessor().setup(c)
    yield c
    c.close()


def test_apply_counts_what_moved(conn: sqlite3.Connection) -> None:
    p = StoreProcessor()
    c = click("u1", "p1", t=2)
    counters = apply(conn, p, [product("p1", t=1), c, c, order("o1", "u1", [("p1", 1)], t=3), removal("p2", t=4)])
    assert counters == {"products_upserted": 1, "products_removed": 1, "clicks": 1, "orders": 1}
    assert apply(conn, p, [c]) == {"products_upserted": 0, "products_removed": 0, "clicks": 0, "orders": 0}


def test_setup_is_idempotent(conn: sqlite3.Connection) -> None:
    apply(conn, StoreProcessor(), [click("u1", "p1")])
    StoreProcessor().setup(conn)
    assert conn.execute("SELECT count(*) FROM clicks").fetchone()[0] == 1


def test_behind_a_checkpoint_a_reused_order_id_is_dead_lettered_and_the_rest_applied(
    tmp_path: Path, conn: sqlite3.Connection
) -> None:
    db = tmp_path / "store.sqlite3"
    dead_letters = RecordingDeadLetters(db)
    checkpoint = Checkpoint(conn, "store", dead_letters, RecordingCommitter(db))
    first = order("o1", "u1", [("p1", 1)], t=1)
    c = click("u2", "p1", t=2)
    events = [product("p1", t=0, stock=9), first, c, order("o1", "u9", [("p1", 5)], t=3), again(first), c]
    batch = [record(e, offset=i) for i, e in enumerate(events)]
    out = checkpoint.process([Polled(r.source_topic, 0, r.offset, r) for r in batch], StoreProcessor().apply)
    [letter] = out.dead_lettered
    assert (letter.offset, letter.kind, letter.group) == (3, "duplicate-order-id", "store")
    assert letter.value == batch[3].value
    counters = read_counters(conn)
    assert {k: counters.get(k) for k in ("events_applied", "orders", "clicks", "dead_lettered.duplicate-order-id")} \
        == {"events_applied": 5, "orders": 1, "clicks": 1, "dead_lettered.duplicate-order-id": 1}
    assert conn.execute("SELECT stock FROM inventory").fetchone()[0] == 8
    assert [d.offset for d in dead_letters.flushed] == [3]
