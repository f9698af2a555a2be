from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from consumers.groups import build_loop
from events import Click, ClickSource, Order, OrderLine, ProductUpserted, make_event
from infra.producer import EventSink

pytestmark = pytest.mark.broker


def test_events_reach_sqlite(settings):
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        sink.send(make_event(ProductUpserted(product_id="p1", name="Red Mug", price=Decimal("3.50"), stock=5)))
        sink.send(make_event(Click(user_id="u1", product_id="p1", session_id="s1", source=ClickSource.SEARCH)))
        line = OrderLine(product_id="p1", quantity=2, unit_price=Decimal("3.50"))
        sink.send(make_event(Order(order_id="o1", user_id="u1", lines=[line], total=Decimal("7.00"))))
        sink.flush()
    loop = build_loop("store", settings)
    stats = loop.run(until_log_end=True)
    assert stats.applied == 3
    db = sqlite3.connect(settings.sqlite_path("store"))
    assert db.execute("SELECT stock FROM inventory WHERE product_id='p1'").fetchone() == (3,)
    assert db.execute("SELECT clicks, orders, spent_cents FROM users").fetchone() == (1, 1, 700)
