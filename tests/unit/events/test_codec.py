"""`epoch_seconds` and `columns` (pydantic-core's conversions) give exactly what `timestamp()` and
`str()` give: the store's rows depend on it, bit for bit."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

from events import Click, ClickSource, Event, columns, decode, encode, epoch_seconds, make_event


def _parsed(moment: str) -> datetime:
    """A time as parsed from JSON (with pydantic's own zone class, also for "Z")."""
    doc = {"event_id": str(uuid.uuid4()), "type": "product.removed", "schema_version": 1, "event_time": moment,
           "payload": {"type": "product.removed", "product_id": "p"}}
    return Event.model_validate_json(json.dumps(doc)).event_time


def test_epoch_seconds_is_timestamp_bit_for_bit() -> None:
    rng = random.Random(7)
    start = datetime(1970, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(microseconds=rng.randrange(-2_000_000_000_000_000, 4_000_000_000_000_000))
               for _ in range(20_000)]
    moments += [m.astimezone(timezone(timedelta(hours=rng.randrange(-12, 14), minutes=rng.choice((0, 30)))))
                for m in moments[:2_000]]
    parsed = [_parsed(m.isoformat().replace("+00:00", "Z")) for m in moments[:1_000]]
    parsed += [_parsed(m.isoformat()) for m in moments[-500:]]
    for m in moments + parsed:
        assert epoch_seconds(m) == m.timestamp(), m


def test_columns_are_the_ids_and_times_of_each_event() -> None:
    payload = Click(user_id="u", product_id="p", session_id="s", source=ClickSource.SEARCH)
    made = [make_event(payload, datetime(2026, 3, 1, 12, 30, 15, 123_457, tzinfo=UTC) + timedelta(seconds=i))
            for i in range(5)]
    events: list[Event] = [decode(encode(e)) for e in made] + made  # with and without a produce time
    ids, at, produced = columns(events)
    assert ids == [str(e.event_id) for e in events]
    assert at == [e.event_time.timestamp() for e in events]
    assert produced == [e.produce_time.timestamp() if e.produce_time else None for e in events]
    assert produced[-1] is None and produced[0] is not None
    assert columns([]) == ([], [], [])


def test_encode_stamps_the_bytes_not_the_event() -> None:
    event = make_event(Click(user_id="u", product_id="p", session_id="s", source=ClickSource.BROWSE))
    raw = encode(event)
    back = decode(raw)
    assert event.produce_time is None and back.produce_time is not None
    assert back.model_copy(update={"produce_time": None}) == event
    # The same bytes as serialising a copy with that time, as encode did before.
    assert raw == back.model_dump_json().encode("utf-8") == encode(back, stamp=False)
    assert decode(encode(event, stamp=False)).produce_time is None
