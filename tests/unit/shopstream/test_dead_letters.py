"""The dead-letter tool's logic without a broker: headers read back, choosing, de-duplicating,
counting, and what a replay sends (once per original record, never a truncated one)."""

from __future__ import annotations

import pytest

from consumers.deadletter import MAX_VALUE_BYTES, DeadLetter, StoredLetter, parse
from shopstream.dead_letters import Selection, counts, dedupe, parse_time, plan_replay, select

PREFIX = "t1."


def _stored(dlq_offset: int, group: str, kind: str = "schema", topic: str = "clicks", offset: int = 5,
            value: bytes | None = b'{"x": 1}', at: float = 1000.0, exception: str | None = None) -> StoredLetter:
    letter = DeadLetter(PREFIX + group, PREFIX + topic, 1, offset, 123, b"k", value, kind, f"{kind}: why",
                        exception=exception)
    return parse(0, dlq_offset, letter.key, letter.stored_value(), letter.headers(now=at))


def test_headers_read_back_into_the_letter_they_came_from() -> None:
    s = _stored(7, "store", "duplicate-order-id", exception="Rejected: reused", at=1234.5)
    assert s.id == "0:7" and s.time == 1234.5 and s.truncated_from is None
    assert s.letter == DeadLetter(PREFIX + "store", PREFIX + "clicks", 1, 5, 123, b"k", b'{"x": 1}',
                                  "duplicate-order-id", "duplicate-order-id: why", "Rejected: reused")
    assert s.origin == (PREFIX + "clicks", 1, 5)


def test_a_cut_value_says_its_original_size_and_a_bare_record_still_parses() -> None:
    s = _stored(1, "store", "oversize", value=b"y" * (MAX_VALUE_BYTES + 10))
    assert s.truncated_from == MAX_VALUE_BYTES + 10 and len(s.letter.value or b"") == MAX_VALUE_BYTES
    bare = parse(2, 9, None, b"?", None, record_time_ms=5000)
    assert (bare.letter.group, bare.letter.kind, bare.letter.offset, bare.time) == ("?", "unknown", -1, 5.0)


def test_choosing_by_group_kind_topic_time_and_id() -> None:
    letters = [_stored(1, "store", at=100), _stored(2, "learner", "future-time", at=200),
               _stored(3, "catalog", topic="products", at=300)]
    assert [s.id for s in select(letters, Selection(groups=frozenset({"store"})), PREFIX)] == ["0:1"]
    assert [s.id for s in select(letters, Selection(kinds=frozenset({"future-time"})), PREFIX)] == ["0:2"]
    assert [s.id for s in select(letters, Selection(topics=frozenset({"products"})), PREFIX)] == ["0:3"]
    assert [s.id for s in select(letters, Selection(since=150, until=250), PREFIX)] == ["0:2"]
    assert [s.id for s in select(letters, Selection(ids=frozenset({"0:3", "0:1"})), PREFIX)] == ["0:1", "0:3"]
    assert Selection().empty and not Selection(since=0).empty


def test_a_letter_repeated_by_a_crash_is_listed_once_per_group() -> None:
    letters = [_stored(1, "store", at=100), _stored(2, "learner", at=101), _stored(3, "store", at=102)]
    kept, repeated = dedupe(letters)
    assert [s.id for s in kept] == ["0:1", "0:2"] and repeated == 1
    assert counts(kept, PREFIX) == {"learner": {"schema": 1}, "store": {"schema": 1}}


def test_a_replay_sends_each_record_once_and_never_a_truncated_one() -> None:
    letters = [_stored(1, "store", offset=5), _stored(2, "learner", offset=5), _stored(3, "store", offset=9),
               _stored(4, "store", "oversize", offset=11, value=b"z" * (MAX_VALUE_BYTES + 1)),
               _stored(5, "store", topic="dead-letter", offset=1)]
    plan = plan_replay(letters, PREFIX)
    assert [s.origin for s in plan.send] == [(PREFIX + "clicks", 1, 5), (PREFIX + "clicks", 1, 9)]
    assert [(s.id, "rebuilt" in why or "not one of" in why) for s, why in plan.skipped] == [("0:4", True),
                                                                                            ("0:5", True)]
    assert plan.topics(PREFIX) == {"clicks": 2}


def test_times_can_be_iso_epoch_or_a_duration_ago() -> None:
    assert parse_time("90s", now=1000) == 910 and parse_time("3d", now=300_000) == 300_000 - 3 * 86_400
    assert parse_time("2026-01-01T00:00:00+00:00") == 1767225600.0
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday-ish")
