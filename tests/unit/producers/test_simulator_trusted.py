"""Events the simulator builds without validation (`producers.simulator.trusted`) are the events
validation would have built: equal, with the same field order and set fields, valid on the wire."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, PrivateAttr, ValidationError

from events import Click, Event, Order, OrderLine, decode, encode, make_event
from events.schema import MAX_ORDER_LINES
from producers.simulator import SUBCATEGORIES, Simulator, SimulatorConfig
from producers.simulator.trusted import _check_plain, trusted_order, uuid4_from

CONFIGS = [
    SimulatorConfig(seed=1, n_products=300, n_users=100),
    # Busy (every kind of catalogue change, orders of several lines) and with a run id in the ids.
    SimulatorConfig(seed=5, n_products=60, n_users=30, max_stock=10, new_product_rate=0.01, restock_rate=0.02,
                    price_change_rate=0.01, remove_rate=0.01, order_rate=2.0, run_id="r-" + "x" * 38),
]


def _validated(model: BaseModel) -> Any:
    """`model` rebuilt through validation from the fields it has set (as the simulator built it before)."""
    values = {name: getattr(model, name) for name in model.model_fields_set}
    if isinstance(model, Order):
        values["lines"] = [_validated(line) for line in model.lines]
    return type(model)(**values)


def _same(built: BaseModel, validated: BaseModel) -> None:
    assert type(built) is type(validated)
    assert built == validated
    assert repr(built) == repr(validated)
    assert list(built.__dict__) == list(validated.__dict__)  # field order: repr, iteration
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()


@pytest.mark.parametrize("config", CONFIGS, ids=["plain", "busy-run-id"])
def test_simulated_events_are_what_validation_builds(config: SimulatorConfig) -> None:
    events = list(Simulator(config).events(4000))
    assert {"product.upserted", "click", "order"} <= {e.type.value for e in events}
    for event in events:
        payload = _validated(event.payload)
        _same(event.payload, payload)
        for line, rebuilt in zip(getattr(event.payload, "lines", ()), getattr(payload, "lines", ()), strict=True):
            _same(line, rebuilt)
        _same(event, make_event(payload, event_time=event.event_time, event_id=event.event_id))
        # What a consumer gets back: valid under the schema's bounds, and equal.
        for stamp in (False, True):
            decoded = decode(encode(event, stamp=stamp), now=event.event_time.timestamp())
            assert decoded.model_dump(exclude={"produce_time"}) == event.model_dump(exclude={"produce_time"})
            if not stamp:
                assert decoded == event


def test_event_ids_are_version_4_uuids() -> None:
    rng = random.Random(3)
    for bits in [0, 2**128 - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        built, expected = uuid4_from(bits), uuid.UUID(int=bits, version=4)
        assert built == expected and hash(built) == hash(expected) and str(built) == str(expected)
        assert built.version == 4 and built.is_safe is expected.is_safe


def test_orders_outside_the_schema_are_refused_as_before() -> None:
    one = ("p000001", 1, Decimal("1.00"))
    order = trusted_order("o1", "u1", "s1", [one, ("p000002", 2, Decimal("2.50"))], Decimal("6.00"))
    assert order == Order(order_id="o1", user_id="u1", session_id="s1", total=Decimal("6.00"), lines=[
        OrderLine(product_id="p000001", quantity=1, unit_price=Decimal("1.00")),
        OrderLine(product_id="p000002", quantity=2, unit_price=Decimal("2.50"))])
    with pytest.raises(ValidationError):
        trusted_order("o1", "u1", "s1", [one] * (MAX_ORDER_LINES + 1), Decimal(MAX_ORDER_LINES + 1))
    with pytest.raises(ValidationError):
        trusted_order("o1", "u1", "s1", [("p1", 1, Decimal("2000000000.00"))], Decimal("2000000000.00"))


def test_queries_fit_the_click_schema() -> None:
    """Clicks are not validated: the longest query the templates can make (brand, two attribute
    phrases and the longest noun or synonym; or a noun "for" a use) is below the schema's 1,000."""
    longest = 0
    for spec in SUBCATEGORIES:
        phrases = sorted((max(len(a.query.format(v=v.lower())) for v in a.values) for a in spec.attributes),
                         reverse=True)
        head = max(len(w) for w in (*spec.nouns, *spec.synonyms))
        longest = max(longest, max(map(len, spec.brands)) + sum(phrases[:2]) + head + 3,
                      max(map(len, spec.nouns)) + len(" for ") + max(map(len, spec.uses)))
    assert longest <= 1000
    Click(user_id="u", product_id="p", session_id="s", source="search", query="q" * longest)  # valid


def test_a_naive_start_time_still_gives_aware_event_times() -> None:
    naive = SimulatorConfig.model_construct(seed=2, n_products=20, n_users=5, start_time=datetime(2026, 1, 1))
    aware = SimulatorConfig(seed=2, n_products=20, n_users=5, start_time=datetime(2026, 1, 1, tzinfo=UTC))
    assert list(Simulator(naive).events(300)) == list(Simulator(aware).events(300))


def test_models_that_stop_being_plain_are_refused() -> None:
    class WithPrivate(BaseModel):
        x: int = 0
        _cache: dict[str, int] = PrivateAttr(default_factory=dict)

    _check_plain(Click)
    _check_plain(Event)
    with pytest.raises(TypeError, match="no longer a plain model"):
        _check_plain(WithPrivate)
