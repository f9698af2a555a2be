"""The exactly-once object, without a broker: replay skip, state and offsets in one transaction,
record isolation by bisection, the error policy, and the order of dead letters, SQLite and Kafka.

`DeadLetters` and `OffsetCommitter` are the Checkpoint's own protocols; the small classes in
`recorders` implement them and record what they were asked, and what SQLite had committed then.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError

from consumers.checkpoint import Checkpoint, Polled, Undecodable, is_transient
from consumers.processor import Record
from infra.sqlite import connect_writer, read_counters
from readmodels.errors import Rejected
from tests.unit.consumers.recorders import RecordingCommitter, RecordingDeadLetters
from tests.unit.shop_events import PREFIX, click, record

GROUP = "ledger"
CLICKS = PREFIX + "clicks"


class Ledger:
    """A processor's `apply`: one row per record. A record's product id says how it behaves: it
    writes its row first and then raises, so a rollback that misses anything shows."""

    failures: Mapping[str, BaseException] = {
        "poison": ValueError("cannot take this"),
        "reject": Rejected("bad-thing", "this record names a thing we refuse"),
        "busy": sqlite3.OperationalError("database is locked"),
        "broker": KafkaTimeoutError("the broker is away"),
        "disk": OSError(28, "No space left on device"),
    }

    def __init__(self) -> None:
        self.calls = 0

    @staticmethod
    def setup(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS applied (topic TEXT, partition INTEGER, offset INTEGER, item TEXT)")

    def __call__(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        self.calls += 1
        for r in records:
            item = r.event.payload.product_id
            conn.execute("INSERT INTO applied VALUES (?, ?, ?, ?)", (r.topic, r.partition, r.offset, item))
            if item in self.failures:
                raise self.failures[item]
        return {"rows": len(records)}


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / f"{GROUP}.sqlite3"
        self.conn = connect_writer(self.db)
        Ledger.setup(self.conn)
        self.ledger = Ledger()
        self.dead_letters = RecordingDeadLetters(self.db)
        self.committer = RecordingCommitter(self.db)
        self.checkpoint = Checkpoint(self.conn, GROUP, self.dead_letters, self.committer)

    def process(self, polled: Sequence[Polled]):
        return self.checkpoint.process(polled, self.ledger)

    def rows(self) -> list[tuple[str, int, int, str]]:
        sql = "SELECT topic, partition, offset, item FROM applied ORDER BY partition, offset"
        return self.conn.execute(sql).fetchall()

    def counters(self) -> dict[str, int]:
        return read_counters(self.conn)


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.conn.close()


def polled(items: Sequence[str], start: int = 0, partition: int = 0) -> list[Polled]:
    """One click per item id, at consecutive offsets of one partition of the clicks topic."""
    out = []
    for i, item in enumerate(items):
        r = record(click("u1", item, t=i), offset=start + i, partition=partition)
        out.append(Polled(CLICKS, partition, r.offset, r))
    return out


def garbage(offset: int, partition: int = 0) -> Polled:
    return Polled(CLICKS, partition, offset,
                  Undecodable(partition, offset, 1_000, b"k", b"{not json", "bad-json", "Expecting property name"))


def test_a_clean_batch_commits_state_offsets_and_counters_together(h: Harness) -> None:
    batch = polled(["a", "b", "c"]) + polled(["d", "e"], start=40, partition=2)
    out = h.process(batch)
    assert [r.offset for r in out.applied] == [0, 1, 2, 40, 41]
    assert out.dead_lettered == [] and out.replayed == 0
    assert len(h.rows()) == 5
    assert h.checkpoint.stored_offsets() == {(CLICKS, 0): 3, (CLICKS, 2): 42}
    assert h.counters() == {"rows": 5, "events_applied": 5}
    assert h.committer.commits == [{(CLICKS, 0): 3, (CLICKS, 2): 42}]
    assert h.dead_letters.committed_at_flush == []  # nothing to dead-letter: no flush needed


def test_replayed_records_are_skipped_before_being_applied_counted_or_dead_lettered(h: Harness) -> None:
    h.process(polled(["a", "b", "c", "d"]))
    # Redelivered after a crash or a rebalance: offsets 2 and 3 again (this time one would fail to
    # apply and one would not decode), then new ones.
    out = h.process([*polled(["poison"], start=2), garbage(3), *polled(["e", "f"], start=4)])
    assert out.replayed == 2
    assert [r.offset for r in out.applied] == [4, 5]
    assert out.dead_lettered == [] and h.dead_letters.sent == []
    assert [row[2] for row in h.rows()] == [0, 1, 2, 3, 4, 5]
    assert h.counters() == {"rows": 6, "events_applied": 6}
    assert h.checkpoint.stored_offsets() == {(CLICKS, 0): 6}


def test_a_batch_that_is_all_replay_changes_nothing(h: Harness) -> None:
    h.process(polled(["a", "b", "c"]))
    before = (h.rows(), h.counters(), h.checkpoint.stored_offsets())
    out = h.process(polled(["a", "b", "c"]))
    assert out.replayed == 3 and out.applied == [] and out.dead_lettered == []
    assert (h.rows(), h.counters(), h.checkpoint.stored_offsets()) == before


def test_stored_offsets_never_move_back(h: Harness) -> None:
    h.process(polled(["a", "b", "c", "d", "e"]))
    h.process(polled(["b"], start=1) + polled(["x"], partition=1))
    assert h.checkpoint.stored_offsets() == {(CLICKS, 0): 5, (CLICKS, 1): 1}


def test_kafka_is_told_what_sqlite_holds_even_for_a_replayed_batch(h: Harness) -> None:
    """The Kafka commit is only for lag tools, but it should not report a partition further behind
    than it is: a redelivered batch must not move the group's committed offset back."""
    h.process(polled(["a", "b", "c", "d", "e"]))
    h.process(polled(["b", "c"], start=1))
    assert h.committer.commits[-1] == {(CLICKS, 0): 5}


@pytest.mark.parametrize("bad", ["busy", "broker", "disk"])
def test_a_transient_error_rolls_back_everything_and_is_raised(h: Harness, bad: str) -> None:
    h.process(polled(["a"]))
    before = (h.rows(), h.counters(), h.checkpoint.stored_offsets())
    with pytest.raises(type(Ledger.failures[bad])):
        h.process(polled(["b", "c", bad, "d"], start=1))
    assert (h.rows(), h.counters(), h.checkpoint.stored_offsets()) == before
    assert h.dead_letters.sent == [] and len(h.committer.commits) == 1
    # ... and the same batch goes through once the cause is gone
    h.ledger.failures = {}
    out = h.process(polled(["b", "c", bad, "d"], start=1))
    assert len(out.applied) == 4 and len(h.rows()) == 5


def test_a_transient_error_met_while_isolating_a_bad_record_rolls_back_everything(h: Harness) -> None:
    with pytest.raises(sqlite3.OperationalError):
        h.process(polled(["a", "poison", "b", "c", "busy", "d"]))
    assert h.rows() == [] and h.counters() == {} and h.checkpoint.stored_offsets() == {}
    assert h.dead_letters.sent == []  # the poison record's letter was never sent
    assert h.committer.commits == []


def test_a_failing_record_is_isolated_and_dead_lettered_alone(h: Harness) -> None:
    items = ["a", "b", "c", "d", "e", "poison", "f", "g", "h"]
    batch = polled(items, start=100, partition=1)
    out = h.process(batch)
    assert [r.event.payload.product_id for r in out.applied] == [i for i in items if i != "poison"]
    # every other record applied exactly once; the poison one not at all
    rows = h.rows()
    assert [row[3] for row in rows] == [i for i in items if i != "poison"]
    assert len({row[2] for row in rows}) == len(rows)
    [letter] = out.dead_lettered
    bad = batch[5].item
    assert isinstance(bad, Record)
    assert letter == h.dead_letters.sent[0] == h.dead_letters.flushed[0]
    assert (letter.group, letter.topic, letter.partition, letter.offset) == (GROUP, CLICKS, 1, 105)
    assert (letter.timestamp_ms, letter.key, letter.value) == (bad.timestamp_ms, bad.key, bad.value)
    assert letter.kind == "apply-failed"
    assert letter.reason == letter.exception == "ValueError: cannot take this"
    headers = dict(letter.headers(now=0.0))
    assert headers["dlq.group"] == GROUP.encode() and headers["original.offset"] == b"105"
    # the processor's own counters count only what was applied; the offsets move past the bad record
    assert h.counters() == {"rows": 8, "events_applied": 8, "dead_lettered": 1, "dead_lettered.apply-failed": 1}
    assert h.checkpoint.stored_offsets() == {(CLICKS, 1): 109}


@pytest.mark.parametrize("bad_positions", [(0,), (7,), (0, 7), (2, 3), (1, 4, 6), tuple(range(8))])
def test_every_failing_record_is_isolated_wherever_it_sits(h: Harness, bad_positions: tuple[int, ...]) -> None:
    items = [("poison" if i in bad_positions else f"ok{i}") for i in range(8)]
    out = h.process(polled(items))
    assert sorted(d.offset for d in out.dead_lettered) == list(bad_positions)
    assert [row[2] for row in h.rows()] == [i for i in range(8) if i not in bad_positions]
    assert h.counters().get("events_applied", 0) == 8 - len(bad_positions)
    assert h.checkpoint.stored_offsets() == {(CLICKS, 0): 8}


def test_a_rejected_record_is_dead_lettered_with_its_own_kind_and_reason(h: Harness) -> None:
    out = h.process(polled(["a", "reject", "b"]))
    [letter] = out.dead_lettered
    assert (letter.kind, letter.reason) == ("bad-thing", "this record names a thing we refuse")
    assert letter.exception is not None and letter.exception.startswith("Rejected: ")
    assert h.counters() == {"rows": 2, "events_applied": 2, "dead_lettered": 1, "dead_lettered.bad-thing": 1}


def test_undecodable_records_are_dead_lettered_as_they_came(h: Harness) -> None:
    out = h.process([*polled(["a"]), garbage(1), *polled(["b"], start=2)])
    [letter] = out.dead_lettered
    assert (letter.group, letter.topic, letter.offset, letter.kind) == (GROUP, CLICKS, 1, "bad-json")
    assert (letter.key, letter.value, letter.exception) == (b"k", b"{not json", None)
    assert [r.offset for r in out.applied] == [0, 2]
    assert h.counters()["dead_lettered.bad-json"] == 1


def test_dead_letters_are_durable_before_sqlite_commits_and_kafka_comes_last(h: Harness) -> None:
    h.process(polled(["a"]))
    h.process(polled(["b", "poison", "c"], start=1))
    # at the flush, SQLite had not yet committed this batch's offsets ...
    assert h.dead_letters.committed_at_flush == [{(CLICKS, 0): 1}]
    # ... and at each Kafka commit it had
    assert h.committer.committed_at_commit == [{(CLICKS, 0): 1}, {(CLICKS, 0): 4}]
    assert h.committer.commits == [{(CLICKS, 0): 1}, {(CLICKS, 0): 4}]


def test_a_dead_letter_flush_that_fails_leaves_nothing_committed(h: Harness) -> None:
    h.dead_letters.fail = OSError("dead-letter topic unreachable")
    with pytest.raises(OSError, match="unreachable"):
        h.process(polled(["a", "poison", "b"]))
    assert h.rows() == [] and h.counters() == {} and h.checkpoint.stored_offsets() == {}
    assert h.committer.commits == [] and h.committer.committed_at_commit == []
    # retried later, the letter is written and the batch commits
    h.dead_letters.fail = None
    out = h.process(polled(["a", "poison", "b"]))
    assert [d.offset for d in out.dead_lettered] == [1] and [d.offset for d in h.dead_letters.flushed] == [1]
    assert [row[3] for row in h.rows()] == ["a", "b"]
    assert h.checkpoint.stored_offsets() == {(CLICKS, 0): 3}


def test_a_failing_kafka_commit_is_not_fatal(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h.committer.fail = KafkaTimeoutError("commit timed out")
    with caplog.at_level(logging.WARNING, logger="consumers.checkpoint"):
        out = h.process(polled(["a", "b"]))
    assert len(out.applied) == 2
    assert h.checkpoint.stored_offsets() == {(CLICKS, 0): 2} and len(h.rows()) == 2
    assert "Kafka offset commit failed" in caplog.text
    # the next batch is still skipped if redelivered: SQLite holds the truth
    assert h.process(polled(["a", "b"])).replayed == 2


def test_the_state_survives_reopening_the_file(tmp_path: Path) -> None:
    first = Harness(tmp_path)
    first.process(polled(["a", "b", "c"]))
    first.conn.close()
    second = Harness(tmp_path)
    out = second.process(polled(["b", "c", "d"], start=1))
    assert out.replayed == 2 and [row[3] for row in second.rows()] == ["a", "b", "c", "d"]
    second.conn.close()


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (KafkaTimeoutError(), True),
        (OSError("disk full"), True),
        (ConnectionError("refused"), True),
        (TimeoutError(), True),
        (Rejected("duplicate-order-id", "x"), False),
        (ValueError("bad value"), False),
        (KeyError("missing"), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), False),
    ],
)
def test_error_policy(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
