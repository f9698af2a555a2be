"""JSON on the wire: encode an event, decode bytes into a validated event or a `DecodeError`."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from events.schema import Event


class DecodeError(ValueError):
    """Bytes that are not a valid event. `reason` is short and safe to put in a Kafka header."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.reason = f"{kind}: {detail}"[:2000]


def encode(event: Event, stamp: bool = True) -> bytes:
    """Serialise; with `stamp`, set `produce_time` to now."""
    if stamp:
        event = event.model_copy(update={"produce_time": datetime.now(UTC)})
    return event.model_dump_json().encode("utf-8")


def decode(raw: bytes | None) -> Event:
    """Parse and validate. Raises `DecodeError` with kind `bad-json`, `unknown-type` or `schema`.

    >>> decode(b"{not json")
    Traceback (most recent call last):
    ...
    events.codec.DecodeError: bad-json: ...
    """
    if raw is None:
        raise DecodeError("bad-json", "empty message value (tombstone?)")
    try:
        return Event.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0] if errors else {"type": "", "loc": (), "msg": str(exc)}
        if first["type"] == "json_invalid":
            raise DecodeError("bad-json", str(first["msg"])) from None
        unknown_type = (first["type"] == "enum" and tuple(first["loc"]) == ("type",)) or (
            first["type"] == "union_tag_invalid" and tuple(first["loc"]) == ("payload",)
        )
        if unknown_type:
            raise DecodeError("unknown-type", str(first["msg"])) from None
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in errors[:5]
        )
        raise DecodeError("schema", detail) from None


def event_key(event: Event) -> bytes:
    """The partition key: product id for product events, user id for clicks and orders."""
    payload = event.payload
    key = payload.user_id if hasattr(payload, "user_id") else payload.product_id
    return key.encode("utf-8")
