"""The shop's record (`readmodels.store`) on a temporary SQLite file: every write idempotent, product
changes last-writer-wins by event time, inventory the same whatever order the topics interleave in."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from events import Event
from infra.sqlite import connect_writer, transaction
from readmodels.errors import Rejected
from readmodels.store import store
from tests.unit.shop_events import again, at, click, order, product, removal


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect_writer(tmp_path / "store.sqlite3")
    store.setup(c)
    yield c
    c.close()


def put(conn: sqlite3.Connection, *events: Event) -> list[str | None]:
    with transaction(conn):
        return [store.apply_event(conn, e) for e in events]


def one(conn: sqlite3.Connection, sql: str, *args: object) -> object:
    return conn.execute(sql, args).fetchone()[0]


def test_the_same_click_twice_counts_once(conn: sqlite3.Connection) -> None:
    e = click("u1", "p1", t=5)
    assert put(conn, e, e) == ["clicks", None]
    assert put(conn, e) == [None]  # in another batch too
    assert one(conn, "SELECT count(*) FROM clicks") == 1
    assert conn.execute("SELECT clicks, orders, first_seen, last_seen FROM users").fetchall() == [
        (1, 0, e.event_time.timestamp(), e.event_time.timestamp())]


def test_two_clicks_with_the_same_content_are_two_clicks(conn: sqlite3.Connection) -> None:
    """A click has no id of its own but its event id: two events are two clicks."""
    e = click("u1", "p1", t=5)
    assert put(conn, e, again(e)) == ["clicks", "clicks"]
    assert one(conn, "SELECT clicks FROM users") == 2


def test_the_same_order_counts_once_even_in_a_new_envelope(conn: sqlite3.Connection) -> None:
    put(conn, product("p1", t=0, stock=10), product("p2", t=0, stock=10))
    o = order("o1", "u1", [("p1", 2), ("p2", 1)], t=10, unit_price="4.00")
    assert put(conn, o, o, again(o)) == ["orders", None, None]
    assert put(conn, again(o)) == [None]
    assert one(conn, "SELECT count(*) FROM orders") == 1
    assert one(conn, "SELECT count(*) FROM order_lines") == 2
    assert conn.execute("SELECT orders, spent_cents FROM users").fetchall() == [(1, 1200)]
    assert dict(conn.execute("SELECT product_id, stock FROM inventory").fetchall()) == {"p1": 8, "p2": 9}


def test_an_order_id_used_again_for_another_order_is_rejected(conn: sqlite3.Connection) -> None:
    put(conn, order("o1", "u1", [("p1", 1)], t=10))
    with pytest.raises(Rejected) as err:
        put(conn, order("o1", "u2", [("p1", 1)], t=11))
    assert err.value.kind == "duplicate-order-id" and "'o1'" in err.value.reason
    assert conn.execute("SELECT order_id, user_id FROM orders").fetchall() == [("o1", "u1")]


def _product_row(conn: sqlite3.Connection) -> tuple[object, ...]:
    return conn.execute("SELECT name, price_cents, removed, created_at, updated_at FROM products").fetchone()


def test_product_changes_are_last_writer_wins_by_event_time(conn: sqlite3.Connection) -> None:
    put(conn, product("p1", t=10, name="ten", price="1.00"))
    put(conn, product("p1", t=5, name="five", price="2.00"))  # older, late: changes nothing
    assert _product_row(conn)[:2] == ("ten", 100)
    put(conn, product("p1", t=10, name="ten again", price="3.00"))  # a tie: the later one applied wins
    assert _product_row(conn)[:2] == ("ten again", 300)
    put(conn, product("p1", t=20, name="twenty", price="4.00"))
    assert _product_row(conn) == ("twenty", 400, 0, at(10).timestamp(),
                                  at(20).timestamp())


def test_a_removal_is_last_writer_wins_too(conn: sqlite3.Connection) -> None:
    put(conn, product("p1", t=10))
    put(conn, removal("p1", t=5))  # older than the listing
    assert _product_row(conn)[2] == 0
    put(conn, removal("p1", t=15))
    put(conn, product("p1", t=12))  # older than the removal
    assert _product_row(conn)[2] == 1
    put(conn, product("p1", t=20))  # listed again
    assert _product_row(conn)[2] == 0


def test_a_removal_that_arrives_before_the_listing_it_follows_holds(conn: sqlite3.Connection) -> None:
    """Removed at t=20, the t=10 listing arriving late: the product is removed, whatever the order."""
    put(conn, removal("p1", t=20))
    put(conn, product("p1", t=10))
    assert one(conn, "SELECT count(*) FROM products WHERE removed = 0") == 0
    put(conn, product("p1", t=30, name="back"))
    assert _product_row(conn)[:3] == ("back", 1000, 0)


# Stock: the latest product event by event time sets it; every order after that event lowers it.
STOCK_EVENTS = (
    ("list", 10, 50),  # (order id or "list", event time, stock or quantity)
    ("o1", 20, 3),
    ("list", 30, 40),
    ("o2", 40, 2),
    ("o0", 5, 4),  # before any listing
    ("o2", 40, 2),  # the same order delivered again
)


def _stock_events(tag: str) -> list[Event]:
    item = f"p-{tag}"
    return [product(item, t=t, stock=n) if what == "list" else order(f"{what}-{tag}", "u1", [(item, n)], t=t)
            for what, t, n in STOCK_EVENTS]


def test_inventory_does_not_depend_on_how_the_topics_interleave(conn: sqlite3.Connection) -> None:
    seen = set()
    for i, permutation in enumerate(itertools.permutations(range(len(STOCK_EVENTS)))):
        events = _stock_events(str(i))
        put(conn, *(events[j] for j in permutation))
        seen.add(conn.execute("SELECT base_stock, base_time, sold_since, stock FROM inventory WHERE product_id = ?",
                              (f"p-{i}",)).fetchone())
    [(base_stock, base_time, sold_since, stock)] = seen
    assert (base_stock, sold_since, stock) == (40, 2, 38)
    assert base_time == at(30).timestamp()
    assert i + 1 == 720  # every order of the six events was tried


def test_stock_never_goes_below_zero(conn: sqlite3.Connection) -> None:
    put(conn, product("p1", t=0, stock=2), order("o1", "u1", [("p1", 5)], t=1))
    assert conn.execute("SELECT base_stock, sold_since, stock FROM inventory").fetchone() == (2, 5, 0)


def test_users_first_and_last_seen_do_not_depend_on_order(conn: sqlite3.Connection) -> None:
    late, early = click("u1", "p1", t=50), order("o1", "u1", [("p1", 1)], t=7)
    put(conn, late, early)
    assert conn.execute("SELECT first_seen, last_seen FROM users").fetchone() == (
        early.event_time.timestamp(), late.event_time.timestamp())
