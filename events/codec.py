"""JSON on the wire: encode an event, decode bytes into a validated event or a `DecodeError`.

Decoding checks everything a consumer's state depends on, so that what reaches a read model fits
it: the JSON and the schema (with its bounds), the size of the record, that the event's type
belongs on the topic it came from, and that its event time lies within `Limits` of now (a far
future time would freeze a product under last-writer-wins and outweigh every other click).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from events.schema import Event
from events.topics import topic_for

_YEAR_S = 365.25 * 86_400


@dataclass(frozen=True)
class Limits:
    """What a consumer accepts beyond the schema. Defaults suit live streams and replays of
    historical logs alike: up to 5 minutes of clock skew ahead, up to 60 years back."""

    max_event_bytes: int = 256 * 1024
    max_future_skew_s: float = 300.0
    max_age_s: float = 60 * _YEAR_S


DEFAULT_LIMITS = Limits()


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


def decode(raw: bytes | None, topic: str | None = None, limits: Limits = DEFAULT_LIMITS,
           now: float | None = None) -> Event:
    """Parse and validate. Raises `DecodeError` with kind `bad-json`, `oversize`, `unknown-type`,
    `schema`, `wrong-topic` (when `topic` is given and the type belongs elsewhere), `future-time`
    or `past-time` (event time outside `limits` of `now`, default the wall clock).

    >>> decode(b"{not json")
    Traceback (most recent call last):
    ...
    events.codec.DecodeError: bad-json: ...
    """
    if raw is None:
        raise DecodeError("bad-json", "empty message value (tombstone?)")
    if len(raw) > limits.max_event_bytes:
        raise DecodeError("oversize", f"{len(raw)} bytes, more than the {limits.max_event_bytes} an event may have")
    event = _validate(raw)
    if topic is not None and topic_for(event.type) != topic:
        raise DecodeError("wrong-topic", f"a {event.type.value} event belongs on {topic_for(event.type)!r}, "
                                         f"not {topic!r}")
    at = event.event_time.timestamp()
    now = time.time() if now is None else now
    if at > now + limits.max_future_skew_s:
        raise DecodeError("future-time", f"event time {event.event_time.isoformat()} is more than "
                                         f"{limits.max_future_skew_s:g} s ahead of now")
    if at < now - limits.max_age_s:
        raise DecodeError("past-time", f"event time {event.event_time.isoformat()} is more than "
                                       f"{limits.max_age_s / _YEAR_S:g} years ago")
    return event


def _validate(raw: bytes) -> Event:
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
