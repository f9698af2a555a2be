"""`ProcessSink`: events made here, sent by a producer in a child process, every one delivered once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kafka import KafkaConsumer

from events import PRODUCTS, ProductUpserted, decode, make_event
from infra.broker import free_port
from infra.producer import SendFailed
from infra.sender import CHUNK, ProcessSink

pytestmark = pytest.mark.broker


def test_every_event_arrives_once_in_order_per_key(settings):
    n = 3 * CHUNK + 17  # whole chunks and a partial one, sent by flush
    events = [make_event(ProductUpserted(product_id=f"p{i % 50}", name=f"Item {i}", price=Decimal(1), stock=i))
              for i in range(n)]
    with ProcessSink(settings.bootstrap, settings.topic_prefix) as sink:
        for event in events:
            sink.send(event)
        sink.flush()
        assert (sink.sent, sink.acked, sink.failed) == (n, n, 0)
    consumer = KafkaConsumer(settings.topic_prefix + PRODUCTS, bootstrap_servers=settings.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000, group_id=None)
    try:
        got = [decode(record.value, topic=PRODUCTS) for record in consumer]
    finally:
        consumer.close()
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in events)
    stock_by_product: dict[str, list[int]] = {}
    for e in got:
        assert isinstance(e.payload, ProductUpserted)
        stock_by_product.setdefault(e.payload.product_id, []).append(e.payload.stock)
    assert all(stocks == sorted(stocks) for stocks in stock_by_product.values())  # one key, one partition, in order


def test_no_broker_is_reported_not_waited_on_forever() -> None:
    sink = ProcessSink(f"127.0.0.1:{free_port()}", "t.")
    with pytest.raises(SendFailed, match="cannot start a producer") as caught:
        sink.send(make_event(ProductUpserted(product_id="p", name="Item", price=Decimal(1), stock=1)))
        sink.flush(timeout_s=30)
    sink.close()
    assert "127.0.0.1" in str(caught.value)  # names where it looked
