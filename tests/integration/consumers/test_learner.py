"""The learner through the real broker: learns each event once, across restarts."""

from __future__ import annotations

import sqlite3

import pytest

from consumers.groups import build_loop
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.learner.model import LiveModel

pytestmark = pytest.mark.broker


def _interactions(db) -> int:
    return sqlite3.connect(db).execute("SELECT count(*) FROM log WHERE user_id IS NOT NULL").fetchone()[0]


def test_restart_resumes_training_without_retraining(settings):
    sim = Simulator(SimulatorConfig(seed=9, n_products=300, n_users=60))
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        publish(sink, sim.events(3000), progress=False)
        sink.flush()
    build_loop("learner", settings).run(until_log_end=True)
    db = settings.sqlite_path("learner")
    tally = sim.tally.to_dict()
    first = _interactions(db)
    assert first == tally["clicks"] + tally["order_lines"]
    model = LiveModel.load_latest(settings.snapshot_dir("learner"))
    assert model is not None and model.model.events_trained == first

    # A restart with nothing new trains on nothing.
    build_loop("learner", settings).run(until_log_end=True)
    again = LiveModel.load_latest(settings.snapshot_dir("learner"))
    assert again is not None and again.model.events_trained == first

    # New events are learned exactly once.
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        publish(sink, sim.events(1000), progress=False)
        sink.flush()
    build_loop("learner", settings).run(until_log_end=True)
    latest = LiveModel.load_latest(settings.snapshot_dir("learner"))
    total = _interactions(db)
    assert total > first
    assert latest is not None and latest.model.events_trained == total
    assert latest.version is not None and again.version is not None and latest.version > again.version

    row = sqlite3.connect(db).execute("SELECT evaluated, hits FROM prequential WHERE model = 'model'").fetchone()
    assert row[0] > 0 and 0 <= row[1] <= row[0]
