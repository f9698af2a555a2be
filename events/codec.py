"""JSON on the wire: encode an event, decode bytes into a validated event or a `DecodeError`.

Decoding checks everything a consumer's state depends on, so that what reaches a read model fits
it: the JSON and the schema (with its bounds), the size of the record, that the event's type
belongs on the topic it came from, and that its event time lies within `Limits` of now (a far
future time would freeze a product under last-writer-wins and outweigh every other click).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from pydantic_core import SchemaSerializer, core_schema

from events.schema import PRODUCE_TIME, Event
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
    """Serialise; with `stamp`, with `produce_time` set to now (the event itself is not changed).

    >>> from events import ProductRemoved, make_event
    >>> e = make_event(ProductRemoved(product_id="p1"))
    >>> decode(encode(e)).produce_time is not None, e.produce_time, decode(encode(e, stamp=False)).produce_time
    (True, None, None)
    """
    context = {PRODUCE_TIME: datetime.now(UTC)} if stamp else None
    return Event.__pydantic_serializer__.to_json(event, context=context)


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
    at = epoch_seconds(event.event_time)
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
        # What `Event.model_validate_json` does, without its Python wrapper (about 0.5 us an event).
        event: Event = Event.__pydantic_validator__.validate_json(raw)
        return event
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


# Epoch seconds and id text by pydantic-core. `datetime.timestamp()` on a parsed time is slow: the
# zone pydantic gives it (`pydantic_core.TzInfo`, also for "Z") answers `utcoffset` in a call back
# into Python (0.6 us against 0.2 us here), and `str(uuid)` is Python code (0.7 us against 0.1 us
# in a batch). The values are the same, bit for bit (tests/unit/events/test_codec.py).
_CONFIG = core_schema.CoreConfig(ser_json_temporal="seconds")
_SECONDS = SchemaSerializer(core_schema.datetime_schema(), _CONFIG)
_IDS = SchemaSerializer(core_schema.list_schema(core_schema.uuid_schema()), _CONFIG)
_TIMES = SchemaSerializer(core_schema.list_schema(core_schema.nullable_schema(core_schema.datetime_schema())), _CONFIG)


def epoch_seconds(moment: datetime) -> float:
    """`moment.timestamp()` for an aware datetime (an event's times always are), faster.

    >>> epoch_seconds(datetime(2026, 1, 1, tzinfo=UTC))
    1767225600.0
    """
    seconds: float = _SECONDS.to_python(moment, mode="json")
    return seconds


def columns(events: Sequence[Event]) -> tuple[list[str], list[float], list[float | None]]:
    """For each event: its id as `str(event_id)`, its event time and its produce time (None if
    unset) as `epoch_seconds`: what a read model's rows are keyed and stamped with, in three calls
    for the whole batch."""
    ids: list[str] = _IDS.to_python([e.event_id for e in events], mode="json")
    at: list[float] = _TIMES.to_python([e.event_time for e in events], mode="json")
    produced: list[float | None] = _TIMES.to_python([e.produce_time for e in events], mode="json")
    return ids, at, produced


def event_key(event: Event) -> bytes:
    """The partition key: product id for product events, user id for clicks and orders."""
    payload = event.payload
    key = payload.user_id if hasattr(payload, "user_id") else payload.product_id
    return key.encode("utf-8")
