"""Versioned event schemas.

Every event travels in one envelope (id, type, schema version, event time, produce time) around a
typed payload. Unknown fields are tolerated so that a newer producer does not break an older
consumer; missing or wrongly typed fields are rejected.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    field_serializer,
    model_validator,
)

SCHEMA_VERSION = 1
PRODUCE_TIME = "produce_time"  # the serialisation context's key for a send time (`events.encode`)

# Bounds: what the read models can hold. SQLite integers are 64-bit and prices are stored in
# cents, so every number has a ceiling far above a real shop's and far below an overflow.
MAX_STOCK = 1_000_000_000
MAX_QUANTITY = 1_000_000
MAX_POSITION = 1_000_000
MAX_PRICE = Decimal("1000000000")  # 1e9 in the shop's currency
MAX_ATTRIBUTES = 100
MAX_ORDER_LINES = 500

NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]
Money = Annotated[Decimal, Field(ge=0, le=MAX_PRICE, max_digits=14, decimal_places=2, allow_inf_nan=False)]


def _utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC (not the machine's local time)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


EventTime = Annotated[datetime, AfterValidator(_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EventType(StrEnum):
    PRODUCT_UPSERTED = "product.upserted"
    PRODUCT_REMOVED = "product.removed"
    CLICK = "click"
    ORDER = "order"


class ClickSource(StrEnum):
    SEARCH = "search"
    RECOMMENDATION = "recommendation"
    BROWSE = "browse"


class ProductUpserted(_Model):
    type: Literal["product.upserted"] = "product.upserted"
    product_id: NonEmpty
    name: Annotated[str, Field(min_length=1, max_length=500)]
    description: Annotated[str, Field(max_length=20_000)] = ""
    category_path: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=10
    )
    brand: Annotated[str, Field(max_length=200)] = ""
    price: Money
    attributes: Annotated[
        dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=1000)]],
        Field(max_length=MAX_ATTRIBUTES),
    ] = Field(default_factory=dict)
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK)]


class ProductRemoved(_Model):
    type: Literal["product.removed"] = "product.removed"
    product_id: NonEmpty


class Click(_Model):
    type: Literal["click"] = "click"
    user_id: NonEmpty
    product_id: NonEmpty
    session_id: NonEmpty
    source: ClickSource
    position: Annotated[int, Field(ge=0, le=MAX_POSITION)] | None = None
    query: Annotated[str, Field(max_length=1000)] | None = None


class OrderLine(_Model):
    product_id: NonEmpty
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
    unit_price: Money


class Order(_Model):
    type: Literal["order"] = "order"
    order_id: NonEmpty
    user_id: NonEmpty
    session_id: NonEmpty | None = None
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_ORDER_LINES)]
    total: Money

    @model_validator(mode="after")
    def _total_matches_lines(self) -> Order:
        expected = sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))
        if expected != self.total:
            raise ValueError(f"order total {self.total} != sum of lines {expected}")
        return self


Payload = Annotated[
    ProductUpserted | ProductRemoved | Click | Order, Field(discriminator="type")
]


class Event(_Model):
    """The envelope. `type` is repeated inside the payload so that the payload is self-describing."""

    event_id: uuid.UUID
    type: EventType
    schema_version: Annotated[int, Field(ge=1)]
    event_time: EventTime
    produce_time: EventTime | None = None
    payload: Payload

    @field_serializer("produce_time", when_used="json")
    def _stamped(self, value: datetime | None, info: SerializationInfo) -> datetime | None:
        """The send time `events.encode` passes in the serialisation context, else the field: stamping
        this way copies no event (a copy was a third of what encoding one cost)."""
        context = info.context
        stamp = context.get(PRODUCE_TIME) if isinstance(context, dict) else None
        return stamp if stamp is not None else value

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Event:
        if self.payload.type != self.type:  # a StrEnum equals its value; `.value` costs a descriptor call
            raise ValueError(f"envelope type {self.type} != payload type {self.payload.type}")
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(
                f"schema version {self.schema_version} is newer than this consumer's "
                f"{SCHEMA_VERSION}: upgrade the consumer"
            )
        return self


def make_event(
    payload: ProductUpserted | ProductRemoved | Click | Order,
    event_time: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Event:
    """Wrap a payload in a fresh envelope; `produce_time` is stamped by the sink on send.

    >>> e = make_event(ProductRemoved(product_id="p1"))
    >>> e.type.value, e.schema_version
    ('product.removed', 1)
    """
    return Event(
        event_id=event_id or uuid.uuid4(),
        type=EventType(payload.type),
        schema_version=SCHEMA_VERSION,
        event_time=event_time or datetime.now(UTC),
        payload=payload,
    )
