"""Events built from values the simulator knows to be valid, without running pydantic's validation.

Validating an envelope costs about as much as the rest of making an event: pydantic checks the
payload against each member of the union (an `isinstance` through `ABCMeta` each) and runs two Python
validators, all to confirm what the simulator already guarantees by construction. `model_construct`
would skip the checks but is slower still (a Python loop over the fields, aliases and defaults), so
this module sets an instance's state the way `model_construct` does, with every field given in
declaration order: the result is the same object `Event(...)` / `Click(...)` would give, field by
field, with the same `model_fields_set` (tests/unit/producers/test_simulator_trusted.py checks this
and that the events decode back equal).

The envelope, clicks and orders go this way: nearly every event, with values bounded by construction
(see `trusted_click`; `trusted_order` checks the two bounds that depend on the config). Product events
keep their validation: they are few, and their bounds depend on the config and the templates (a huge
`max_stock` would break them).

>>> click = trusted_click("u00001", "p000001", "s0000001", ClickSource.SEARCH, 0, "red shoes")
>>> click == Click(user_id="u00001", product_id="p000001", session_id="s0000001",
...                source=ClickSource.SEARCH, position=0, query="red shoes")
True
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from events import (
    SCHEMA_VERSION,
    Click,
    ClickSource,
    Event,
    EventType,
    Order,
    OrderLine,
    ProductRemoved,
    ProductUpserted,
)
from events.schema import MAX_ORDER_LINES, MAX_PRICE

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__  # the models are frozen: pydantic sets their state the same way
_CLICK_SET = frozenset(("user_id", "product_id", "session_id", "source", "position", "query"))
_EVENT_SET = frozenset(("event_id", "type", "schema_version", "event_time", "payload"))
_ORDER_SET = frozenset(("order_id", "user_id", "session_id", "lines", "total"))
_LINE_SET = frozenset(("product_id", "quantity", "unit_price"))
_EVENT_TYPE = {t.value: t for t in EventType}  # `EventType(value)` goes through `EnumType.__call__`


def _check_plain(cls: type[BaseModel]) -> None:
    """What `_construct` relies on: no private attributes, no extras kept, no post-init hook."""
    if cls.__private_attributes__ or cls.model_config.get("extra") == "allow" or cls.__pydantic_post_init__:
        raise TypeError(f"{cls.__name__} is no longer a plain model: build it with validation")


for _cls in (Click, Event, Order, OrderLine):
    _check_plain(_cls)


def _construct(cls: type[M], values: dict[str, Any], fields_set: frozenset[str]) -> M:
    """`cls.model_construct(_fields_set=set(fields_set), **values)` for `values` that hold every field
    in declaration order (so `__dict__`, and with it `repr` and equality, match a validated model)."""
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(fields_set))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_V4 = (0x8000 << 48) | (4 << 76)
_SAFE_UNKNOWN = uuid.SafeUUID.unknown


def uuid4_from(bits: int) -> uuid.UUID:
    """`uuid.UUID(int=bits, version=4)` for 0 <= bits < 2**128, without `UUID.__init__`'s argument
    checks (a third of the cost of an event's envelope): the version and variant bits are set here, and
    the two slots are set as `__init__` sets them (the class is immutable through `__setattr__`)."""
    value = _new(uuid.UUID)
    _set(value, "int", (bits & _UUID_CLEAR) | _UUID_V4)
    _set(value, "is_safe", _SAFE_UNKNOWN)
    return value


def trusted_click(
    user_id: str, product_id: str, session_id: str, source: ClickSource, position: int, query: str | None
) -> Click:
    """`Click(...)` with these fields. The simulator's values fit the schema: its ids are short and
    non-empty (`u00001`, `p000001`, `s0000001-<run id of at most 40 characters>`), positions are below
    one page (20) and queries are a few template words (the templates test bounds their length)."""
    values = {
        "type": "click",
        "user_id": user_id,
        "product_id": product_id,
        "session_id": session_id,
        "source": source,
        "position": position,
        "query": query,
    }
    return _construct(Click, values, _CLICK_SET)


def trusted_event(
    payload: ProductUpserted | ProductRemoved | Click | Order, event_time: datetime, event_id: uuid.UUID
) -> Event:
    """`events.make_event(payload, event_time, event_id)` for a valid payload and an aware `event_time`
    (what the envelope's validators would check: a known type, matching the payload's)."""
    values = {
        "event_id": event_id,
        "type": _EVENT_TYPE[payload.type],
        "schema_version": SCHEMA_VERSION,
        "event_time": event_time,
        "produce_time": None,
        "payload": payload,
    }
    return _construct(Event, values, _EVENT_SET)


def trusted_order(
    order_id: str, user_id: str, session_id: str, lines: list[tuple[str, int, Decimal]], total: Decimal
) -> Order:
    """`Order(...)` with `OrderLine(product_id=, quantity=, unit_price=)`s from `lines`, for a `total`
    that is their sum. The simulator's quantities are 1 to 3 and its prices are whole cents from
    `charm_price`, not negative; what depends on the config (how many lines a long session orders, how
    large the total gets) is checked here, and an order outside the schema's bounds is validated (and
    so refused) as before."""
    if len(lines) > MAX_ORDER_LINES or total > MAX_PRICE:  # each unit price is at most the total
        return Order(
            order_id=order_id,
            user_id=user_id,
            session_id=session_id,
            lines=[OrderLine(product_id=p, quantity=q, unit_price=u) for p, q, u in lines],
            total=total,
        )
    built = [
        _construct(OrderLine, {"product_id": p, "quantity": q, "unit_price": u}, _LINE_SET) for p, q, u in lines
    ]
    values = {
        "type": "order",
        "order_id": order_id,
        "user_id": user_id,
        "session_id": session_id,
        "lines": built,
        "total": total,
    }
    return _construct(Order, values, _ORDER_SET)
