from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from events import (
    Click,
    ClickSource,
    DecodeError,
    Order,
    OrderLine,
    ProductRemoved,
    ProductUpserted,
    decode,
    encode,
    event_key,
    make_event,
    topic_for,
)


def _product(**kw: object) -> ProductUpserted:
    base: dict[str, object] = {"product_id": "p1", "name": "Mug", "price": Decimal("2.50"), "stock": 3}
    return ProductUpserted.model_validate({**base, **kw})


@pytest.mark.parametrize(
    "payload",
    [
        _product(category_path=["Home", "Kitchen"], attributes={"colour": "red"}),
        ProductRemoved(product_id="p1"),
        Click(user_id="u1", product_id="p1", session_id="s1", source=ClickSource.SEARCH, position=0, query="mug"),
        Order(
            order_id="o1", user_id="u1",
            lines=[OrderLine(product_id="p1", quantity=2, unit_price=Decimal("2.50"))], total=Decimal("5.00"),
        ),
    ],
)
def test_round_trip(payload):
    event = make_event(payload)
    back = decode(encode(event))
    assert back.payload == event.payload
    assert back.event_id == event.event_id
    assert back.produce_time is not None


def test_keys_and_topics():
    click = make_event(Click(user_id="u7", product_id="p1", session_id="s", source=ClickSource.BROWSE))
    assert event_key(click) == b"u7" and topic_for("click") == "clicks"
    assert event_key(make_event(ProductRemoved(product_id="p9"))) == b"p9"
    assert topic_for("product.upserted") == "products"


def _envelope(payload: dict[str, object], **kw: object) -> bytes:
    doc = {
        "event_id": str(uuid.uuid4()), "type": payload.get("type"), "schema_version": 1,
        "event_time": "2026-01-01T00:00:00Z", "payload": payload, **kw,
    }
    return json.dumps(doc).encode()


def test_unknown_fields_are_tolerated():
    raw = _envelope(
        {"type": "product.removed", "product_id": "p1", "future_field": 1}, another_new_field="x"
    )
    assert decode(raw).payload == ProductRemoved(product_id="p1")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"{not json", "bad-json"),
        (b"", "bad-json"),
        (None, "bad-json"),
        (_envelope({"type": "refund", "order_id": "o1"}), "unknown-type"),
        (_envelope({"type": "click", "user_id": "u1"}), "schema"),  # product, session, source missing
        (_envelope({"type": "product.upserted", "product_id": "p", "name": "n", "price": "-1", "stock": 1}), "schema"),
        (_envelope({"type": "click", "user_id": "u", "product_id": "p", "session_id": "s", "source": "tv"}), "schema"),
        (_envelope({"type": "order", "order_id": "o", "user_id": "u",
                    "lines": [{"product_id": "p", "quantity": 1, "unit_price": "1.00"}], "total": "9.99"}), "schema"),
        (_envelope({"type": "product.removed", "product_id": "p"}, schema_version=99), "schema"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(raw, kind):
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert info.value.kind == kind
    assert info.value.reason


def test_envelope_type_must_match_payload():
    raw = _envelope({"type": "product.removed", "product_id": "p"}, type="click")
    with pytest.raises(DecodeError):
        decode(raw)
