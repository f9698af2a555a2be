"""The store group's SQLite state equals what was produced: across a SIGKILL, a restart and a
rebalance between several processes, nothing is lost and nothing is counted twice."""

from __future__ import annotations

import signal
import sqlite3
from decimal import Decimal

import pytest

from consumers.groups import build_loop
from infra.sqlite import connect_reader, read_status
from tests.integration.helpers import counter, dump, produce_simulation, start_consumer, wait_for

pytestmark = pytest.mark.broker

N = 6000


def test_sqlite_holds_exactly_what_was_produced(settings):
    tally = produce_simulation(settings, 4000)
    stats = build_loop("store", settings).run(until_log_end=True)
    assert stats.applied == 4000 and stats.dead_lettered == 0

    db = sqlite3.connect(settings.sqlite_path("store"))
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    t = tally.to_dict()
    assert t["clicks"] > 100 and t["orders"] > 10  # the stream is a real mix
    assert one("SELECT count(*) FROM clicks") == t["clicks"]
    assert one("SELECT count(*) FROM orders") == t["orders"]
    assert one("SELECT count(*) FROM order_lines") == t["order_lines"]
    assert one("SELECT coalesce(sum(quantity), 0) FROM order_lines") == t["units_sold"]
    assert Decimal(one("SELECT coalesce(sum(total_cents), 0) FROM orders")) / 100 == t["order_total"]
    assert one("SELECT count(*) FROM products WHERE removed = 0") == t["products_alive"]
    assert one("SELECT count(*) FROM products WHERE removed = 1") == t["products_removed"]
    for source, n in t["clicks_by_source"].items():
        assert one(f"SELECT count(*) FROM clicks WHERE source = '{source}'") == n
    assert one("SELECT sum(clicks) FROM users") == t["clicks"]
    assert one("SELECT sum(orders) FROM users") == t["orders"]


def _baseline(settings, tmp_path):
    """An uninterrupted run of the same stream, in its own group and SQLite file."""
    base = settings.model_copy(update={"data_dir": tmp_path / "baseline"})
    stats = build_loop("store", base, group_id=settings.topic_prefix + "baseline").run(until_log_end=True)
    assert stats.applied == N
    return dump(base.sqlite_path("store"))


def test_sigkill_and_restart_equals_an_uninterrupted_run(settings, tmp_path):
    produce_simulation(settings, N)
    expected = _baseline(settings, tmp_path)
    db = settings.sqlite_path("store")
    small_batches = {"SHOPSTREAM_BATCH_MAX_RECORDS": "40"}

    for kill_at in (1500, 3500):
        proc = start_consumer(settings, "store", small_batches)
        wait_for(lambda k=kill_at: counter(db, "events_applied") >= k, what=f"{kill_at} events applied")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert counter(db, "events_applied") < N, "the kill must land in the middle of the stream"

    proc = start_consumer(settings, "store")
    try:
        wait_for(lambda: counter(db, "events_applied") >= N, what="the restarted consumer to catch up")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.said()
    assert counter(db, "events_applied") == N
    assert dump(db) == expected


def test_two_processes_share_the_work_across_a_rebalance(settings, tmp_path):
    produce_simulation(settings, N)
    expected = _baseline(settings, tmp_path)
    db = settings.sqlite_path("store")
    env = {"SHOPSTREAM_BATCH_MAX_RECORDS": "40"}
    first, second = start_consumer(settings, "store", env), start_consumer(settings, "store", env)
    wait_for(lambda: counter(db, "events_applied") >= 2000, what="progress")
    second.send_signal(signal.SIGKILL)  # the group rebalances onto the survivor
    second.wait()
    third = start_consumer(settings, "store", env)  # and again when a new member joins
    # Its first heartbeat comes after its signal handlers are in place: from then on a SIGTERM
    # makes it finish its batch and exit 0 (before, it would die of the signal, as any process).
    wait_for(lambda: _has_beaten(db, third.pid), what="the third consumer to start")
    try:
        wait_for(lambda: counter(db, "events_applied") >= N, what="the group to catch up")
    finally:
        for proc in (first, third):
            proc.send_signal(signal.SIGTERM)
        for proc in (first, third):
            assert proc.wait(60) == 0, proc.said()
    assert counter(db, "events_applied") == N
    assert dump(db) == expected


def _has_beaten(db, pid: int) -> bool:
    conn = connect_reader(db)
    try:
        return any(f":{pid}:" in str(row["member"]) for row in read_status(conn))
    finally:
        conn.close()
