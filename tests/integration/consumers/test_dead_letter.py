"""Bad JSON, a wrong schema and an unknown event type land in dead-letter; the stream goes on."""

from __future__ import annotations

import json
import sqlite3
import uuid
from decimal import Decimal

import pytest
from kafka import KafkaConsumer

from consumers.groups import build_loop
from events import DEAD_LETTER, ProductUpserted, make_event
from infra.producer import EventSink
from infra.sqlite import read_counters

pytestmark = pytest.mark.broker


def _read_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
        consumer_timeout_ms=10_000,
    )
    out = []
    for msg in consumer:
        out.append(msg)
        if len(out) >= expected:
            break
    consumer.close()
    return out


def test_bad_events_go_to_dead_letter_and_the_consumer_goes_on(settings):
    good = lambda i: make_event(  # noqa: E731
        ProductUpserted(product_id=f"p{i}", name=f"Lamp {i}", price=Decimal("10.00"), stock=1)
    )
    unknown = {
        "event_id": str(uuid.uuid4()), "type": "refund", "schema_version": 1,
        "event_time": "2026-01-01T00:00:00Z", "payload": {"type": "refund", "order_id": "o1"},
    }
    wrong_schema = {
        "event_id": str(uuid.uuid4()), "type": "product.upserted", "schema_version": 1,
        "event_time": "2026-01-01T00:00:00Z",
        "payload": {"type": "product.upserted", "product_id": "px", "name": "No price", "stock": 1},
    }
    bad = {
        b"bad-json": b"{this is not json",
        b"unknown-type": json.dumps(unknown).encode(),
        b"schema": json.dumps(wrong_schema).encode(),
    }
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        sink.send(good(1))
        where = {key: sink.send_raw("products", key, value) for key, value in bad.items()}
        sink.send(good(2))
        sink.flush()

    stats = build_loop("store", settings).run(until_log_end=True)
    assert stats.applied == 2
    assert stats.dead_lettered == 3

    db = sqlite3.connect(settings.sqlite_path("store"))
    names = sorted(r[0] for r in db.execute("SELECT name FROM products"))
    assert names == ["Lamp 1", "Lamp 2"]  # the good event after the bad ones was applied
    assert read_counters(db)["dead_lettered"] == 3

    letters = _read_all(settings.bootstrap, settings.topic_prefix + DEAD_LETTER, 3)
    assert len(letters) == 3
    by_kind = {}
    for msg in letters:
        headers = {k: v.decode() for k, v in msg.headers}
        assert headers["original.topic"] == settings.topic_prefix + "products"
        assert headers["error.reason"]
        kind = headers["error.kind"]
        assert where[kind.encode()] == (int(headers["original.partition"]), int(headers["original.offset"]))
        by_kind[kind] = msg
    assert set(by_kind) == {"bad-json", "unknown-type", "schema"}
    for kind, msg in by_kind.items():
        assert msg.value == bad[kind.encode()]  # the original bytes are kept
    assert "price" in dict(by_kind["schema"].headers)["error.reason"].decode()

    # Restarting does not dead-letter the same records again.
    again = build_loop("store", settings).run(until_log_end=True)
    assert again.dead_lettered == 0 and again.applied == 0
