"""Consumers of every group ride through broker outages of more than 30 s (a SIGKILL and a graceful
stop): none exits, and once events flow again the state equals an uninterrupted run's."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.groups import build_loop
from infra.broker import LocalBroker, free_port
from infra.config import CONSUMER_GROUPS, Settings
from infra.producer import EventSink
from infra.sqlite import connect_reader, read_status
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from shopstream.statecheck import differences, side_by_side, summarize
from shopstream.supervisor import Child
from tests.conftest import make_settings
from tests.integration.helpers import counter, log_tail, wait_for

pytestmark = pytest.mark.broker

OUTAGE_S = 32.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of this test's own: the session's broker is shared and must stay up."""
    b = LocalBroker(tmp_path / "kafka", Settings().cache_dir, port=free_port(), controller_port=free_port())
    b.start()
    try:
        yield b
    finally:
        b.stop()


def _state(settings: Settings, group: str) -> str | None:
    """The newest heartbeat state of the group's consumer process."""
    try:
        conn = connect_reader(settings.sqlite_path(group))
        try:
            rows = read_status(conn)
        finally:
            conn.close()
    except sqlite3.Error:  # a writer holds the file for a moment
        return None
    return str(rows[0]["state"]) if rows else None


def _log_tail(child: Child, lines: int = 60) -> str:
    return log_tail(child.log, lines)


def _send(settings: Settings, events: Iterator, n: int) -> None:
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        assert publish(sink, itertools.islice(events, n), progress=False) == n
        sink.flush()


@pytest.mark.timeout(600)
def test_consumers_of_every_group_ride_through_a_killed_and_a_stopped_broker(broker, tmp_path):
    settings = make_settings(broker.bootstrap, "outage.", tmp_path / "var")
    sim = Simulator(SimulatorConfig(seed=11, n_products=300, n_users=120))
    stream = sim.events()
    _send(settings, stream, 3000)

    env = settings.child_env(SHOPSTREAM_SESSION_TIMEOUT_MS="6000", SHOPSTREAM_BATCH_MAX_RECORDS="100")
    logs = tmp_path / "logs"
    consumers = [Child(g, ["consume", g], logs / f"{g}.log") for g in CONSUMER_GROUPS]
    for child in consumers:
        child.start(env)

    def all_alive() -> None:
        for child in consumers:
            if not child.alive():  # pytest.fail, not assert: the catch-up wait below adds a log only to its timeout
                pytest.fail(f"{child.name} exited with {child.process.returncode}:\n{_log_tail(child)}")

    try:
        for how in ("kill", "stop"):
            # Mid-stream: every group has started on the backlog, none has finished it.
            mark = counter(settings.sqlite_path("store"), "events_applied")
            wait_for(lambda m=mark: counter(settings.sqlite_path("store"), "events_applied") > m + 200
                     and counter(settings.sqlite_path("learner"), "events_applied") > 0,
                     timeout_s=120, what="the consumers to be busy")
            applied = {g: counter(settings.sqlite_path(g), "events_applied") for g in CONSUMER_GROUPS}
            print(f"broker {how}: applied so far {applied}")
            down_at = time.monotonic()
            broker.kill() if how == "kill" else broker.stop()
            reported: set[str] = set()
            while time.monotonic() - down_at < OUTAGE_S:
                all_alive()
                reported |= {g for g in CONSUMER_GROUPS if _state(settings, g) == "retrying"}
                time.sleep(1)
            # Each says what it is doing, for the health check: waiting for Kafka.
            assert reported == set(CONSUMER_GROUPS), f"only {reported} reported the outage"
            broker.start()
            all_alive()
            _send(settings, stream, 3000)  # events keep coming after the outage

        # An uninterrupted run of the same stream: fresh groups, their own data folder.
        base = settings.model_copy(update={"data_dir": tmp_path / "baseline"})
        for group in CONSUMER_GROUPS:
            build_loop(group, base, group_id=f"outage.baseline-{group}").run(until_log_end=True)
        want = summarize(base)
        for child in consumers:
            def caught_up(c: Child = child) -> bool:
                all_alive()  # a consumer that died says so now, with its log, not after the timeout
                return counter(settings.sqlite_path(c.name), "events_applied") >= want[c.name]["events_applied"]

            try:
                wait_for(caught_up, timeout_s=180, interval_s=0.5, what=f"the {child.name} consumer to catch up")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; its log ends:\n{_log_tail(child)}") from None
    finally:
        for child in consumers:
            if child.alive():
                child.process.send_signal(signal.SIGTERM)
        codes = {child.name: child.process.wait(60) for child in consumers}
    assert codes == {g: 0 for g in CONSUMER_GROUPS}, codes  # a clean stop: each finished its batch

    got = summarize(settings)
    diff = differences(got, want)
    assert not diff, "\n".join(diff) + "\n" + side_by_side(got, want, ("after outages", "uninterrupted"))
    assert got["store"]["events_applied"] == 9000
    assert got["catalog"]["vectors_missing"] == got["catalog"]["stale_vectors"] == 0
    assert got["learner"]["snapshot_behind_log"] == 0 and got["learner"]["events_trained"] > 0
