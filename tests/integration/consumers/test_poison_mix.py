"""A poison mix over the real broker and all three consumer groups, then the dead-letter tool.

A simulated shop's stream with more than 1% bad records mixed in, of every class the contract
and the read models reject: out-of-range numbers, far-future and far-past times, an event on
another type's topic, a reused order id with different content, a record of nearly 1 MiB, bad JSON,
a wrong schema and an unknown type. Every bad record is in `dead-letter` exactly once per group that
reads its topic, with its reason; everything else is counted exactly as the simulator produced it.
Then `shopstream dead-letter list / show / replay` over the same topic: counts per group and kind,
one letter's headers and value, a dry run that sends nothing, and a replay after a fix (a wider
clock-skew limit) that applies the record once, even when replayed twice.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from api.services.metrics import MetricsService
from consumers.deadletter import MAX_VALUE_BYTES
from consumers.groups import build_loop
from events import CLICKS, ORDERS, PRODUCTS, Click, ClickSource, Event, Order, ProductUpserted, make_event
from infra.config import CONSUMER_GROUPS, Settings
from infra.producer import EventSink
from infra.sqlite import read_counters
from producers.simulator.world import Simulator, SimulatorConfig
from shopstream.cli import app
from shopstream.dead_letters import dedupe, read_letters

pytestmark = pytest.mark.broker

GOOD_EVENTS = 3000


@dataclass(frozen=True)
class Bad:
    """One poison record: where it went and what every group reading its topic must say."""

    topic: str  # logical
    kind: str
    partition: int
    offset: int
    size: int


def _doc(event: Event) -> dict[str, Any]:
    return json.loads(event.model_dump_json())


def _click(user: str = "u00001", product: str = "p000001", **payload: Any) -> dict[str, Any]:
    doc = _doc(make_event(Click(user_id=user, product_id=product, session_id="poison", source=ClickSource.BROWSE)))
    doc["payload"].update(payload)
    return doc


def _product(**payload: Any) -> dict[str, Any]:
    doc = _doc(make_event(ProductUpserted(product_id="p-poison", name="Poison lamp", price=Decimal("9.99"), stock=3)))
    doc["payload"].update(payload)
    return doc


def _dated(doc: dict[str, Any], when: str) -> dict[str, Any]:
    return {**doc, "event_id": str(uuid.uuid4()), "event_time": when}


def _poison(first_order: Order, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(topic, expected kind, value) for every class, several times each."""
    order_doc = _doc(make_event(first_order))
    reused = json.loads(json.dumps(order_doc))
    reused["event_id"] = str(uuid.uuid4())
    line = reused["payload"]["lines"][0]
    line["quantity"] += 1  # different content under the same order id (same user: same partition)
    reused["payload"]["total"] = str(sum(Decimal(x["unit_price"]) * x["quantity"] for x in reused["payload"]["lines"]))
    unknown = {**_click(), "type": "refund", "payload": {"type": "refund", "order_id": "o1"}}
    big = _product()
    big["payload"]["padding"] = "x" * (1_000_000 - len(json.dumps(big)))  # valid JSON, nearly 1 MiB
    far_future, far_past = "9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z"
    out: list[tuple[str, str, dict[str, Any] | bytes]] = []
    for i in range(4):
        out += [
            (CLICKS, "schema", _click(position=10**30 + i)),  # out-of-range numbers
            (PRODUCTS, "schema", _product(stock=10**12 + i)),
            (PRODUCTS, "schema", _product(price="1e20")),
            (ORDERS, "schema", {**order_doc, "event_id": str(uuid.uuid4()), "payload": {
                **order_doc["payload"], "order_id": f"o-poison-{i}",
                "lines": [{**line, "quantity": 10**9}], "total": str(Decimal(line["unit_price"]) * 10**9)}}),
            (CLICKS, "future-time", _dated(_click(), far_future)),  # far-future and far-past times
            (PRODUCTS, "future-time", _dated(_product(), far_future)),
            (CLICKS, "past-time", _dated(_click(), far_past)),
            (PRODUCTS, "wrong-topic", _click()),  # another type's topic
            (CLICKS, "wrong-topic", _product()),
            (PRODUCTS, "bad-json", b"{not json " + str(i).encode()),
            (CLICKS, "schema", {k: v for k, v in _click().items() if k != "event_time"}),  # wrong schema
            (PRODUCTS, "schema", {**_product(), "payload": {k: v for k, v in _product()["payload"].items()
                                                            if k != "price"}}),
            (ORDERS, "unknown-type", {**unknown, "event_id": str(uuid.uuid4())}),
        ]
    out += [(ORDERS, "duplicate-order-id", reused), (PRODUCTS, "oversize", big), (CLICKS, "oversize", big)]
    rng.shuffle(out)
    return [(t, k, v if isinstance(v, bytes) else json.dumps(v).encode()) for t, k, v in out]


_TOPICS = {"store": (PRODUCTS, CLICKS, ORDERS), "catalog": (PRODUCTS,), "learner": (PRODUCTS, CLICKS, ORDERS)}


def _produce(settings: Settings) -> tuple[list[Bad], Counter[str], dict[str, Any], dict[str, Any]]:
    """The simulated stream with the poison mixed in at random places. Returns the bad records,
    the good events per topic, the simulator's tally and the fixable +1 h click (see the replay test)."""
    rng = random.Random(7)
    sim = Simulator(SimulatorConfig(seed=7, n_products=300, n_users=100))
    events = list(sim.events(GOOD_EVENTS))
    first_order = next(e.payload for e in events if isinstance(e.payload, Order))
    poison = _poison(first_order, rng)
    skewed = _dated(_click(user="u00002", product=events[0].payload.product_id),
                    (datetime.now(UTC) + timedelta(hours=1)).isoformat())
    poison.append((CLICKS, "future-time", json.dumps(skewed).encode()))
    order_at = next(i for i, e in enumerate(events) if e.payload is first_order)
    # Every bad record goes after the catalogue, and the reused order id after its first use.
    places = sorted(rng.randrange(order_at + 1, len(events)) for _ in poison)
    good: Counter[str] = Counter()
    bad: list[Bad] = []
    with EventSink(settings.bootstrap, settings.topic_prefix, linger_ms=0, max_request_size=1_100_000) as sink:
        p = 0
        for i, event in enumerate(events):
            sink.send(event)
            good[{"click": CLICKS, "order": ORDERS}.get(event.type.value, PRODUCTS)] += 1
            while p < len(poison) and places[p] == i:
                sink.flush()  # keep the mix in order
                topic, kind, value = poison[p]
                key = json.loads(value)["payload"].get("user_id", "k").encode() if kind == "duplicate-order-id" \
                    else f"poison-{p}".encode()
                partition, offset = sink.send_raw(topic, key, value)
                bad.append(Bad(topic, kind, partition, offset, len(value)))
                p += 1
        sink.flush()
    assert len(bad) == len(poison) and len(bad) >= 0.01 * (len(bad) + GOOD_EVENTS)
    assert {b.kind for b in bad} == {"schema", "future-time", "past-time", "wrong-topic", "duplicate-order-id",
                                     "oversize", "bad-json", "unknown-type"}
    return bad, good, sim.tally.to_dict(), skewed


def _one(db: sqlite3.Connection, sql: str) -> Any:
    return db.execute(sql).fetchone()[0]


@dataclass
class Poisoned:
    settings: Settings
    bad: list[Bad]
    good: Counter[str]
    tally: dict[str, Any]
    skewed: dict[str, Any]
    started: float
    stats: dict[str, Any]


@pytest.fixture(scope="module")
def poisoned(module_settings: Settings) -> Poisoned:
    started = time.time()
    bad, good, tally, skewed = _produce(module_settings)
    stats = {group: build_loop(group, module_settings).run(until_log_end=True) for group in CONSUMER_GROUPS}
    return Poisoned(module_settings, bad, good, tally, skewed, started, stats)


def _cli(settings: Settings, *args: str) -> Any:
    env = {k: v for k, v in settings.child_env().items() if k.startswith(("KAFKA_", "SHOPSTREAM_"))}
    return CliRunner().invoke(app, ["dead-letter", *args], env=env)


def test_a_poison_mix_is_dead_lettered_once_per_group_and_the_rest_is_exact(poisoned: Poisoned) -> None:
    settings, bad, good, tally, started = (poisoned.settings, poisoned.bad, poisoned.good, poisoned.tally,
                                           poisoned.started)
    for group in CONSUMER_GROUPS:
        stats = poisoned.stats[group]
        expected_bad = [b for b in bad if b.topic in _TOPICS[group]]
        assert stats.dead_lettered == len(expected_bad), group
        assert stats.applied == sum(good[t] for t in _TOPICS[group]), group
        db = sqlite3.connect(settings.sqlite_path(group))
        counters = read_counters(db)
        by_kind = Counter(b.kind for b in expected_bad)
        assert {k.removeprefix("dead_lettered."): v for k, v in counters.items()
                if k.startswith("dead_lettered.")} == dict(by_kind), group
        assert counters["events_applied"] == stats.applied
        db.close()
    # The operator's JSON metrics carry the counts by reason.
    figures = MetricsService(settings).groups()
    for group in CONSUMER_GROUPS:
        assert figures[group]["dead_lettered_by_kind"] == dict(
            Counter(b.kind for b in bad if b.topic in _TOPICS[group])), group

    # The rest, exactly as produced.
    store = sqlite3.connect(settings.sqlite_path("store"))
    assert _one(store, "SELECT count(*) FROM clicks") == tally["clicks"]
    assert _one(store, "SELECT count(*) FROM orders") == tally["orders"]
    assert _one(store, "SELECT count(*) FROM order_lines") == tally["order_lines"]
    assert _one(store, "SELECT coalesce(sum(quantity), 0) FROM order_lines") == tally["units_sold"]
    assert Decimal(_one(store, "SELECT sum(total_cents) FROM orders")) / 100 == tally["order_total"]
    assert _one(store, "SELECT count(*) FROM products WHERE removed = 0") == tally["products_alive"]
    assert _one(store, "SELECT count(*) FROM products WHERE product_id = 'p-poison'") == 0
    assert _one(store, "SELECT max(position) FROM clicks") < 10**6
    catalog = sqlite3.connect(settings.sqlite_path("catalog"))
    assert _one(catalog, "SELECT count(*) FROM products WHERE removed = 0") == tally["products_alive"]
    learner = sqlite3.connect(settings.sqlite_path("learner"))
    assert _one(learner, "SELECT count(DISTINCT event_id) FROM log WHERE kind IN ('click', 'order')") == \
        tally["clicks"] + tally["orders"]
    assert _one(learner, "SELECT max(ts) FROM log") < time.time() + 300  # no far-future time got in

    # In dead-letter: every bad record once per group that reads its topic, with its reason.
    letters = read_letters(settings.bootstrap, settings.topic_prefix)
    unique, repeats = dedupe(letters)
    assert repeats == 0
    got = Counter((s.letter.group.removeprefix(settings.topic_prefix), s.letter.topic.removeprefix(
        settings.topic_prefix), s.letter.partition, s.letter.offset, s.letter.kind) for s in letters)
    expected = Counter(
        (g, b.topic, b.partition, b.offset, b.kind) for b in bad for g in CONSUMER_GROUPS if b.topic in _TOPICS[g])
    assert got == expected
    for s in letters:
        assert s.letter.reason and started - 1 <= s.time <= time.time() + 1
        if s.letter.kind == "oversize":
            assert s.truncated_from is not None and s.truncated_from > 990_000
            assert len(s.letter.value or b"") == MAX_VALUE_BYTES
        if s.letter.kind == "duplicate-order-id":
            assert "already used for a different order" in s.letter.reason and s.letter.exception
    assert len(unique) == len(letters) == sum(len([g for g in CONSUMER_GROUPS if b.topic in _TOPICS[g]]) for b in bad)



def test_the_dead_letter_tool_lists_counts_and_shows(poisoned: Poisoned) -> None:
    settings, bad = poisoned.settings, poisoned.bad
    result = _cli(settings, "list", "--counts")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        g: dict(sorted(Counter(b.kind for b in bad if b.topic in _TOPICS[g]).items())) for g in CONSUMER_GROUPS}
    listed = _cli(settings, "list", "--kind", "past-time", "--group", "store")
    assert listed.exit_code == 0, listed.output
    table = [line for line in listed.output.splitlines() if re.match(r"\d+:\d+ ", line)]
    assert len(table) == 4 and all(" store " in line and " past-time " in line for line in table), listed.output
    assert "\n4 letters" in listed.output and "By kind: past-time 4." in listed.output
    rows = [json.loads(line) for line in _cli(settings, "list", "--json", "--limit", "0", "--topic", "orders")
            .output.splitlines()]
    assert len(rows) == 2 * sum(b.topic == ORDERS for b in bad)  # store and learner read orders
    assert {r["group"] for r in rows} == {"store", "learner"} and all(r["reason"] for r in rows)
    letters = read_letters(settings.bootstrap, settings.topic_prefix)
    dup = next(s for s in letters if s.letter.kind == "duplicate-order-id")
    shown = _cli(settings, "show", dup.id)
    assert shown.exit_code == 0, shown.output
    order_id = json.loads(dup.letter.value or b"")["payload"]["order_id"]
    assert "already used for a different order" in shown.output and f'"order_id": "{order_id}"' in shown.output
    assert "group:" in shown.output and "offset:" in shown.output
    assert _cli(settings, "show", "9:999999").exit_code == 1


def _clicks_end(settings: Settings) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    try:
        topic = settings.topic_prefix + CLICKS
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def test_replay_after_a_fix_applies_the_record_once(poisoned: Poisoned) -> None:
    """A click 1 h ahead of the clock (a producer with a wrong clock) is dead-lettered as
    future-time; the operator widens the skew limit and replays: applied once, even replayed twice."""
    settings = poisoned.settings
    skewed_id = poisoned.skewed["event_id"]
    store_db = settings.sqlite_path("store")

    def stored_clicks(event_id: str | None = None) -> int:
        db = sqlite3.connect(store_db)
        try:
            if event_id is None:
                return int(_one(db, "SELECT count(*) FROM clicks"))
            return int(db.execute("SELECT count(*) FROM clicks WHERE event_id = ?", (event_id,)).fetchone()[0])
        finally:
            db.close()

    assert stored_clicks(skewed_id) == 0
    before_end, before_clicks = _clicks_end(settings), stored_clicks()

    dry = _cli(settings, "replay", "--kind", "future-time", "--topic", "clicks", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "5 records to send again from 10 letters (clicks 5)" in dry.output and "nothing sent" in dry.output
    assert _clicks_end(settings) == before_end
    unconfirmed = _cli(settings, "replay", "--kind", "future-time", "--topic", "clicks")
    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.output and _clicks_end(settings) == before_end
    assert _cli(settings, "replay").exit_code == 2  # choosing nothing is not "everything"
    oversize = next(s for s in read_letters(settings.bootstrap, settings.topic_prefix) if s.letter.kind == "oversize")
    cut = _cli(settings, "replay", oversize.id, "--yes")
    assert cut.exit_code == 1 and "cannot be rebuilt" in cut.output

    fixed = settings.model_copy(update={"max_future_skew_s": 7200.0})  # the fix
    done = _cli(settings, "replay", "--kind", "future-time", "--topic", "clicks", "--yes")
    assert done.exit_code == 0, done.output
    assert done.output.count("replayed ") == 5 and _clicks_end(settings) == before_end + 5
    for group in ("store", "learner"):
        stats = build_loop(group, fixed).run(until_log_end=True)
        assert (stats.applied, stats.dead_lettered) == (1, 4), group  # the year-9999 clicks fail again
    assert stored_clicks(skewed_id) == 1 and stored_clicks() == before_clicks + 1

    # Replayed again, by its letter's id: Kafka holds it once more, every consumer counts it once.
    letter = next(s for s in read_letters(settings.bootstrap, settings.topic_prefix) if s.letter.kind == "future-time"
                  and json.loads(s.letter.value or b"{}").get("event_id") == skewed_id)
    again = _cli(settings, "replay", letter.id, "--yes")
    assert again.exit_code == 0 and _clicks_end(settings) == before_end + 6
    for group in ("store", "learner"):
        build_loop(group, fixed).run(until_log_end=True)
    assert stored_clicks(skewed_id) == 1 and stored_clicks() == before_clicks + 1
    learner = sqlite3.connect(settings.sqlite_path("learner"))
    assert learner.execute("SELECT count(*) FROM log WHERE event_id = ?", (skewed_id,)).fetchone()[0] == 1
    learner.close()
