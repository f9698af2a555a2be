"""`shopstream lag` prints the same numbers as Kafka's own ConsumerGroupCommand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.groups import build_loop
from events import ProductUpserted, make_event
from infra.lag import measure_lag
from infra.producer import EventSink
from tests.integration.helpers import kafka_describe

pytestmark = pytest.mark.broker


def test_lag_matches_consumer_group_command(settings):
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        for i in range(60):
            sink.send(make_event(ProductUpserted(product_id=f"p{i}", name=f"Item {i}", price=Decimal(1), stock=1)))
        sink.flush()
    loop = build_loop("store", settings)
    loop.run(until_log_end=True)
    # More events after the consumer stopped, so that the lag is not zero.
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        for i in range(60, 100):
            sink.send(make_event(ProductUpserted(product_id=f"p{i}", name=f"Item {i}", price=Decimal(1), stock=1)))
        sink.flush()

    group = settings.topic_prefix + "store"
    ours = {(r.topic, r.partition): (r.committed, r.log_end, r.lag) for r in measure_lag(settings.bootstrap, [group])}
    theirs = kafka_describe(settings, group)
    products = {k: v for k, v in theirs.items() if k[0].endswith("products")}
    assert sum(v[2] for v in products.values()) == 40
    assert ours == theirs
    rows = measure_lag(settings.bootstrap, [group], with_seconds=True)
    assert all(r.seconds is not None and r.seconds >= 0 for r in rows if r.lag > 0)


def test_lag_command_shows_status_and_the_same_offsets(settings):
    """`shopstream lag` samples when no API does, and says STOP for a group whose consumer is gone."""
    import json
    import subprocess
    import sys

    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        for i in range(30):
            sink.send(make_event(ProductUpserted(product_id=f"p{i}", name=f"Item {i}", price=Decimal(1), stock=1)))
        sink.flush()
    build_loop("store", settings).run(until_log_end=True)
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        for i in range(30, 45):
            sink.send(make_event(ProductUpserted(product_id=f"p{i}", name=f"Item {i}", price=Decimal(1), stock=1)))
        sink.flush()

    def lag(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "shopstream", "lag", *args], env=settings.child_env(),
                              capture_output=True, text=True, timeout=120, check=True).stdout

    group = settings.topic_prefix + "store"
    table = lag()
    line = next(x for x in table.splitlines() if x.startswith(group + " "))
    assert " STOP " in line and "no live consumer" in line, table
    rows = json.loads(lag("--json", "-g", "store"))
    assert {r["group"] for r in rows} == {group} and all(r["status"] == "STOP" for r in rows if r["lag"]), rows
    assert {(r["topic"], r["partition"]): r["lag"] for r in rows} == {
        tp: v[2] for tp, v in kafka_describe(settings, group).items()}
    assert sum(r["lag"] for r in rows) == 15
