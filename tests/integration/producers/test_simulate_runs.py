"""Two `shopstream simulate` runs into the same topics, same seed: every order and click of both is
stored (each run has its own run id, so no id of one is a duplicate of the other's)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from consumers.groups import build_loop
from infra.broker import free_port
from infra.config import Settings

pytestmark = pytest.mark.broker


def simulate(settings, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "shopstream", "simulate", "--seed", "7", "--rate", "0", "--count", "1200",
         "--products", "100", "--users", "40", "--no-progress", *args],
        env=settings.child_env(), capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_two_runs_store_all_orders_of_both(settings):
    first, second = simulate(settings), simulate(settings)
    assert first["run_id"] != second["run_id"]
    # The same seed: the same world, so the same numbers of everything.
    assert (first["orders"], first["clicks"]) == (second["orders"], second["clicks"]) and first["orders"] > 20

    store = build_loop("store", settings).run(until_log_end=True)
    assert store.dead_lettered == 0
    db = sqlite3.connect(settings.sqlite_path("store"))
    order_ids = [r[0] for r in db.execute("SELECT order_id FROM orders")]
    assert len(order_ids) == first["orders"] + second["orders"]
    assert {i.rsplit("-", 2)[0] for i in order_ids if i.endswith(first["run_id"])} == {
        i.rsplit("-", 2)[0] for i in order_ids if i.endswith(second["run_id"])}
    assert db.execute("SELECT count(*) FROM clicks").fetchone()[0] == first["clicks"] + second["clicks"]
    assert db.execute("SELECT count(DISTINCT session_id) FROM clicks").fetchone()[0] > 0

    learner = build_loop("learner", settings).run(until_log_end=True)
    assert learner.dead_lettered == 0
    ldb = sqlite3.connect(settings.sqlite_path("learner"))
    assert ldb.execute("SELECT count(*) FROM order_ids").fetchone()[0] == first["orders"] + second["orders"]

    # A run id given again replays that run's ids: nothing new is stored, nothing is dead-lettered.
    again = simulate(settings, "--run-id", first["run_id"])
    assert again["orders"] == first["orders"]
    store = build_loop("store", settings).run(until_log_end=True)
    assert store.dead_lettered == 0
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == first["orders"] + second["orders"]


def test_no_broker_is_an_error_that_says_where_it_looked_and_the_run_ends(tmp_path):
    """More events than the pipe to the sender child holds are queued before the child gives up on
    the broker: the run must still end, with the error and no traceback."""
    where = f"127.0.0.1:{free_port()}"
    env = Settings(KAFKA_BOOTSTRAP_SERVERS=where, data_dir=tmp_path / "var").child_env()
    proc = subprocess.run(
        [sys.executable, "-m", "shopstream", "simulate", "--rate", "0", "--count", "20000", "--no-progress"],
        env=env, capture_output=True, text=True, timeout=150,
    )
    assert proc.returncode == 1, proc.stderr
    assert f"cannot start a producer for {where}" in proc.stderr
    assert f"Is Kafka running at {where}?" in proc.stderr
    assert "Traceback" not in proc.stderr
