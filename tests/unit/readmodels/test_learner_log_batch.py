"""The learner log's batch path (`append_events`) writes exactly the entries that appending each
event in turn writes, and the vectors it embeds in one call are those embedded one at a time."""

from __future__ import annotations

import random
import sqlite3
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from events import Event, ProductUpserted
from infra.sqlite import connect_writer, transaction
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.learner import log
from readmodels.learner.convert import item_vector, item_vectors

COLUMNS = "seq, event_id, line_no, kind, user_id, item_id, weight, ts, session_id, body, vector, produced_at"


@cache
def _events() -> list[Event]:
    events = list(Simulator(SimulatorConfig(seed=9, n_products=80, n_users=20)).events(1200))
    rng = random.Random(1)
    again = rng.sample(events, 100)  # redeliveries, and late (older) product versions among them
    mixed = events + again
    rng.shuffle(mixed)
    return mixed


def _db(tmp_path: Path, name: str) -> sqlite3.Connection:
    conn = connect_writer(tmp_path / f"{name}.sqlite3")
    log.setup(conn)
    return conn


@pytest.mark.parametrize("batch", [1, 50, 1000])
def test_batches_append_the_entries_of_one_event_at_a_time(tmp_path: Path, batch: int) -> None:
    events = _events()
    one, many = _db(tmp_path, "one"), _db(tmp_path, "many")
    with transaction(one):
        added_one = sum(log.append(one, e) for e in events)
    added_many = 0
    for start in range(0, len(events), batch):
        with transaction(many):
            added_many += log.append_events(many, events[start:start + batch])
    assert added_many == added_one > 0
    for sql in (f"SELECT {COLUMNS} FROM log ORDER BY seq", "SELECT * FROM items ORDER BY product_id",
                "SELECT * FROM order_ids ORDER BY order_id"):
        assert many.execute(sql).fetchall() == one.execute(sql).fetchall()


def test_vectors_embedded_together_equal_vectors_embedded_alone() -> None:
    products = [e.payload for e in Simulator(SimulatorConfig(seed=4, n_products=60, n_users=5)).events(60)
                if isinstance(e.payload, ProductUpserted)]
    together = item_vectors(products)
    alone = np.stack([item_vector(p) for p in products])
    assert together.dtype == np.float32 and together.shape == (len(products), alone.shape[1])
    assert np.array_equal(together, alone)
