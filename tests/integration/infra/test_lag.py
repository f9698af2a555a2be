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
