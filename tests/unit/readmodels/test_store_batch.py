"""The store's batch path (`apply_events`, few statements per batch) writes exactly the rows that
applying each event in turn (`apply_event`) writes, duplicates and late events included."""

from __future__ import annotations

import random
import sqlite3
from functools import cache
from pathlib import Path

import pytest

from events import Event, Order
from infra.sqlite import connect_writer, transaction
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.errors import Rejected
from readmodels.store import store
from tests.unit.shop_events import click

TABLES = ("products", "inventory", "users", "clicks", "orders", "order_lines", "order_ids")


@cache
def _events() -> list[Event]:
    events = list(Simulator(SimulatorConfig(seed=5, n_products=100, n_users=30)).events(1500))
    rng = random.Random(3)
    # Redeliveries (the same event again, later in the stream) and the same order under a new
    # envelope (a producer retry with a fresh event id).
    again = rng.sample(events, 150)
    orders = [e for e in events if isinstance(e.payload, Order)][:15]
    resent = [e.model_copy(update={"event_id": e.event_id.__class__(int=e.event_id.int ^ 1)}) for e in orders]
    mixed = events + again + resent
    rng.shuffle(mixed)  # every rule of the store is order-free: any order gives the same rows
    return mixed


def _dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def _db(tmp_path: Path, name: str) -> sqlite3.Connection:
    conn = connect_writer(tmp_path / f"{name}.sqlite3")
    store.setup(conn)
    return conn


@pytest.mark.parametrize("batch", [1, 37, 500])
def test_batches_write_the_rows_of_one_event_at_a_time(tmp_path: Path, batch: int) -> None:
    events = _events()
    one, many = _db(tmp_path, "one"), _db(tmp_path, "many")
    singles: dict[str, int] = {}
    with transaction(one):
        for e in events:
            name = store.apply_event(one, e)
            if name is not None:
                singles[name] = singles.get(name, 0) + 1
    batched: dict[str, int] = {}
    for start in range(0, len(events), batch):
        with transaction(many):
            for name, n in store.apply_events(many, events[start:start + batch]).items():
                batched[name] = batched.get(name, 0) + n
    assert {k: v for k, v in batched.items() if v} == singles
    assert _dump(many) == _dump(one)
    assert singles["clicks"] == one.execute("SELECT count(*) FROM clicks").fetchone()[0]
    assert one.execute("SELECT sum(clicks) FROM users").fetchone()[0] == singles["clicks"]
    assert one.execute("SELECT sum(orders) FROM users").fetchone()[0] == singles["orders"]


def test_an_order_id_reused_within_a_batch_is_rejected(tmp_path: Path) -> None:
    events = [e for e in Simulator(SimulatorConfig(seed=2, n_products=50, n_users=10)).events(2000)
              if isinstance(e.payload, Order)][:2]
    first, second = events
    assert isinstance(first.payload, Order) and isinstance(second.payload, Order)
    clash = second.model_copy(update={"payload": second.payload.model_copy(
        update={"order_id": first.payload.order_id})})
    conn = _db(tmp_path, "s")
    with pytest.raises(Rejected) as caught, transaction(conn):
        store.apply_events(conn, [first, clash])
    assert caught.value.kind == "duplicate-order-id"
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0


def _clicks(n: int) -> list[Event]:
    return [click(f"u{i % 3}", f"p{i}", float(i)) for i in range(n)]


def test_clicks_stored_already_are_skipped_and_the_rest_inserted(tmp_path: Path) -> None:
    # The optimistic insert meets stored ids: it is undone and the look-up path decides.
    events = _clicks(10)
    conn = _db(tmp_path, "s")
    with transaction(conn):
        assert store.apply_events(conn, events[:6])["clicks"] == 6
    with transaction(conn):
        moved = store.apply_events(conn, [*events[3:], events[8], events[0]])  # 3 stored, 4 new, 1 twice
    assert moved["clicks"] == 4
    stored = conn.execute("SELECT event_id FROM clicks ORDER BY rowid").fetchall()
    assert [r[0] for r in stored] == [str(e.event_id) for e in events]
    assert conn.execute("SELECT sum(clicks) FROM users").fetchone()[0] == 10


def test_a_failed_click_insert_leaves_no_savepoint_open(tmp_path: Path) -> None:
    conn = _db(tmp_path, "s")
    store.apply_events(conn, _clicks(2))  # outside a transaction: its savepoint commits on release
    assert not conn.in_transaction
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON clicks WHEN NEW.product_id = 'p5' "
                 "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.apply_events(conn, _clicks(6)[2:])
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM clicks").fetchone()[0] == 2
