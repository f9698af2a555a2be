"""The contract between producers and consumers: topic names, event schemas and the wire format.

This package is the only thing both sides import. It depends on pydantic and nothing else of ours.
"""

from events.codec import DEFAULT_LIMITS, DecodeError, Limits, columns, decode, encode, epoch_seconds, event_key
from events.schema import (
    SCHEMA_VERSION,
    Click,
    ClickSource,
    Event,
    EventType,
    Order,
    OrderLine,
    Payload,
    ProductRemoved,
    ProductUpserted,
    make_event,
)
from events.topics import ALL_TOPICS, CLICKS, DEAD_LETTER, ORDERS, PRODUCTS, topic_for

__all__ = [
    "ALL_TOPICS",
    "CLICKS",
    "DEAD_LETTER",
    "DEFAULT_LIMITS",
    "ORDERS",
    "PRODUCTS",
    "SCHEMA_VERSION",
    "Click",
    "ClickSource",
    "DecodeError",
    "Event",
    "EventType",
    "Limits",
    "Order",
    "OrderLine",
    "Payload",
    "ProductRemoved",
    "ProductUpserted",
    "columns",
    "decode",
    "encode",
    "epoch_seconds",
    "event_key",
    "make_event",
    "topic_for",
]
