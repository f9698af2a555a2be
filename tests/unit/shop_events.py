"""Events and consumer records built by hand, for broker-free tests of processors, stores and services.

A record is what `consumers.runtime` hands a processor after decoding: the event, where it came from
(topic, partition, offset) and the bytes as they came. Event times count seconds from `T0`.
"""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from consumers.processor import Processor, Record
from events import Click, ClickSource, Event, Order, OrderLine, ProductRemoved, ProductUpserted, make_event, topic_for
from events.codec import encode, event_key
from infra.sqlite import transaction

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PREFIX = "t."  # the topic namespace of these records on the (imaginary) broker

_offsets = itertools.count()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def product(
    product_id: str, t: float = 0.0, *, name: str | None = None, description: str = "", category: str = "lamps",
    top: str = "home", brand: str = "acme", price: str = "10.00", stock: int = 5,
    attributes: dict[str, str] | None = None, event_id: uuid.UUID | None = None,
) -> Event:
    payload = ProductUpserted(
        product_id=product_id, name=name or f"{product_id} {category}", description=description,
        category_path=[top, category], brand=brand, price=Decimal(price), attributes=attributes or {}, stock=stock,
    )
    return make_event(payload, at(t), event_id)


def removal(product_id: str, t: float = 0.0) -> Event:
    return make_event(ProductRemoved(product_id=product_id), at(t))


def click(user_id: str, product_id: str, t: float = 0.0, *, session: str = "s1",
          event_id: uuid.UUID | None = None) -> Event:
    payload = Click(user_id=user_id, product_id=product_id, session_id=session, source=ClickSource.BROWSE)
    return make_event(payload, at(t), event_id)


def order(order_id: str, user_id: str, lines: Sequence[tuple[str, int]], t: float = 0.0, *, unit_price: str = "2.50",
          session: str | None = "s1") -> Event:
    order_lines = [OrderLine(product_id=p, quantity=q, unit_price=Decimal(unit_price)) for p, q in lines]
    total = sum((ln.unit_price * ln.quantity for ln in order_lines), Decimal(0))
    payload = Order(order_id=order_id, user_id=user_id, session_id=session, lines=order_lines, total=total)
    return make_event(payload, at(t))


def again(event: Event) -> Event:
    """The same content in a new envelope (a producer that retried with a fresh event id)."""
    return event.model_copy(update={"event_id": uuid.uuid4()})


def record(event: Event, offset: int | None = None, partition: int = 0) -> Record:
    """`event` as polled from its topic; offsets count up across calls unless given."""
    topic = topic_for(event.type.value)
    return Record(
        topic=topic, partition=partition, offset=next(_offsets) if offset is None else offset,
        timestamp_ms=int(event.event_time.timestamp() * 1000), event=event, source_topic=PREFIX + topic,
        key=event_key(event), value=encode(event),
    )


def records(events: Iterable[Event]) -> list[Record]:
    return [record(e) for e in events]


def apply(conn: sqlite3.Connection, processor: Processor, events: Iterable[Event | Record]) -> dict[str, int]:
    """One batch through `processor.apply` in its own transaction, then `after_commit` (no checkpoint)."""
    batch = [e if isinstance(e, Record) else record(e) for e in events]
    with transaction(conn):
        counters = processor.apply(conn, batch)
    processor.after_commit(batch)
    return counters
