"""The two rules every read model shares: last writer wins by event time (`readmodels.upsert`) and
an order id names one order (`readmodels.orders`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from events import Order
from infra.sqlite import connect_writer
from readmodels import orders
from readmodels.errors import Rejected
from readmodels.upsert import SUPERSEDES_SQL, supersedes
from tests.unit.shop_events import again, order


@pytest.mark.parametrize(
    ("event_time", "stored_time", "wins"),
    [(1.0, None, True), (2.0, 1.0, True), (1.0, 1.0, True), (0.5, 1.0, False), (-1.0, 0.0, False)],
)
def test_supersedes(event_time: float, stored_time: float | None, wins: bool) -> None:
    assert supersedes(event_time, stored_time) is wins


def test_the_sql_form_of_the_rule_agrees_with_the_python_one(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "rule.sqlite3")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, at REAL)")
    sql = f"INSERT INTO t VALUES ('k', ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, at = excluded.at " \
          f"WHERE {SUPERSEDES_SQL.format(col='at', table='t')}"
    stored: float | None = None
    for value, at in [("a", 5.0), ("b", 3.0), ("c", 5.0), ("d", 9.0), ("e", 8.99)]:
        conn.execute(sql, (value, at))
        expected = supersedes(at, stored)
        assert (conn.execute("SELECT v FROM t").fetchone()[0] == value) is expected
        stored = at if expected else stored
    assert conn.execute("SELECT v, at FROM t").fetchone() == ("d", 9.0)
    conn.close()


@pytest.fixture
def conn(tmp_path: Path):
    c = connect_writer(tmp_path / "orders.sqlite3")
    c.execute("CREATE TABLE ids (order_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL) WITHOUT ROWID")
    yield c
    c.close()


def _order(event: object) -> Order:
    assert isinstance(event, Order)
    return event


def test_an_order_is_claimed_once(conn: sqlite3.Connection) -> None:
    e = order("o1", "u1", [("p1", 2)])
    assert orders.claim(conn, _order(e.payload), "ids") is True
    assert orders.claim(conn, _order(e.payload), "ids") is False
    assert orders.claim(conn, _order(again(e).payload), "ids") is False  # a new envelope, same order


@pytest.mark.parametrize("change", [{"user_id": "u2"}, {"session_id": "s9"}])
def test_an_order_id_reused_for_another_order_is_rejected(conn: sqlite3.Connection, change: dict[str, str]) -> None:
    first = _order(order("o1", "u1", [("p1", 2)]).payload)
    orders.claim(conn, first, "ids")
    with pytest.raises(Rejected) as err:
        orders.claim(conn, first.model_copy(update=change), "ids")
    assert err.value.kind == "duplicate-order-id" and "o1" in err.value.reason
    assert conn.execute("SELECT fingerprint FROM ids").fetchone()[0] == orders.fingerprint(first)


def test_other_lines_are_another_order(conn: sqlite3.Connection) -> None:
    orders.claim(conn, _order(order("o1", "u1", [("p1", 2)]).payload), "ids")
    with pytest.raises(Rejected):
        orders.claim(conn, _order(order("o1", "u1", [("p1", 3)]).payload), "ids")
