"""Exactly-once effects for one batch: the state transaction, the stored offsets, the commit order.

A :class:`Checkpoint` owns what makes a consumer group's effects happen exactly once:

1. **Replays are skipped.** The next offset of every partition is stored in the group's SQLite
   file with its state. A record below it was applied already (a redelivery after a crash or a
   rebalance) and is dropped before it can be applied, counted or dead-lettered again.
2. **State and offsets commit together.** The records are applied and the new offsets stored in
   one SQLite transaction: either both are durable or neither is.
3. **A bad record is isolated, not fatal** (the error policy, :func:`is_transient`): if applying
   the batch raises a transient error (the database is busy, the broker is away) the whole
   transaction is rolled back and the caller retries the batch later. Any other error is the
   fault of a record: the batch is split in halves under SQLite savepoints until the failing
   record stands alone; it is dead-lettered with the group, the error and its origin, and every
   other record is applied as if it had been alone.
4. **Dead letters are durable before the offsets that skip them**, inside the same transaction:
   if they cannot be written, nothing commits and the batch is retried.
5. **Then Kafka.** The offsets are committed to Kafka after SQLite, only so that standard lag tools
   see progress; SQLite holds the truth, and a consumer seeks to it on every assignment.

Nothing here talks to Kafka directly: dead letters and offset commits go through the two small
protocols below, so the whole order can be tested without a broker.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from consumers.deadletter import DeadLetter
from consumers.processor import Record
from infra.sqlite import bump_counters, load_offsets, save_offsets, transaction
from readmodels.errors import Rejected

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]  # (topic as on the broker, partition)
Apply = Callable[[sqlite3.Connection, Sequence[Record]], Mapping[str, int]]


class DeadLetters(Protocol):
    def send(self, letter: DeadLetter) -> None: ...

    def flush(self) -> None:
        """Return once every letter sent is durable; raise otherwise."""


class OffsetCommitter(Protocol):
    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Tell Kafka the next offsets (best effort: SQLite holds the truth)."""


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A record that is not a valid event: it goes to the dead-letter topic as it came."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    kind: str
    reason: str


class Polled(NamedTuple):
    """One polled record, decoded or not, at its position on the broker.

    A named tuple rather than a frozen dataclass: one is made for every record consumed, and a
    frozen dataclass's `__init__` (an `object.__setattr__` a field) costs twice as much (0.65 us)."""

    topic: str  # as on the broker, prefix included
    partition: int
    offset: int
    item: Record | Undecodable


@dataclass
class Outcome:
    """What one batch did."""

    applied: list[Record] = field(default_factory=list)
    dead_lettered: list[DeadLetter] = field(default_factory=list)
    replayed: int = 0
    counters: dict[str, int] = field(default_factory=dict)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same batch later may succeed: the database is locked, busy or out of
    space, the broker is unreachable or slow. Anything else is taken to be the record's fault."""
    from kafka.errors import KafkaError

    if isinstance(exc, Rejected):
        return False
    return isinstance(exc, sqlite3.OperationalError | KafkaError | OSError | TimeoutError | MemoryError)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Checkpoint:
    """The exactly-once unit of a consumer group: see the module docstring for the order."""

    def __init__(self, conn: sqlite3.Connection, group: str, dead_letters: DeadLetters,
                 committer: OffsetCommitter) -> None:
        self.conn = conn
        self.group = group
        self.dead_letters = dead_letters
        self.committer = committer

    def stored_offsets(self) -> dict[TopicPartition, int]:
        return load_offsets(self.conn)

    def process(self, polled: Sequence[Polled], apply: Apply) -> Outcome:
        """Apply one polled batch exactly once. Raises only for a transient error, after rolling
        everything back: the caller seeks back to the stored offsets and tries again later."""
        next_offsets: dict[TopicPartition, int] = {}
        out = Outcome()
        with transaction(self.conn):
            stored = load_offsets(self.conn)
            # One pass over the batch (it runs for every record): the next offsets, the replays
            # skipped, the records to apply and the undecodable ones to dead-letter.
            records: list[Record] = []
            for p in polled:
                tp = (p.topic, p.partition)
                if p.offset >= next_offsets.get(tp, 0):
                    next_offsets[tp] = p.offset + 1
                if p.offset < stored.get(tp, 0):
                    out.replayed += 1
                elif isinstance(p.item, Record):
                    records.append(p.item)
                else:
                    u = p.item
                    out.dead_lettered.append(DeadLetter(self.group, p.topic, u.partition, u.offset, u.timestamp_ms,
                                                        u.key, u.value, u.kind, u.reason))
            counters, failed = self._isolating(records, apply)
            bad = {id(r) for r, _ in failed}
            out.applied = [r for r in records if id(r) not in bad] if bad else records
            out.dead_lettered += [self._letter(r, exc) for r, exc in failed]
            if out.dead_lettered:
                for letter in out.dead_lettered:
                    self.dead_letters.send(letter)
                self.dead_letters.flush()
            by_kind = Counter(f"dead_lettered.{d.kind}" for d in out.dead_lettered)
            out.counters = {**counters, "events_applied": len(out.applied),
                            "dead_lettered": len(out.dead_lettered), **by_kind}
            bump_counters(self.conn, out.counters)
            # Never behind what is stored: a redelivered batch must not move either back.
            next_offsets = {tp: max(o, stored.get(tp, 0)) for tp, o in next_offsets.items()}
            save_offsets(self.conn, next_offsets)
        try:
            self.committer.commit(next_offsets)
        except Exception as exc:  # informational only: the next batch's commit carries it
            log.warning("Kafka offset commit failed (SQLite holds the offsets): %s", describe(exc))
        return out

    def _isolating(
        self, records: Sequence[Record], apply: Apply
    ) -> tuple[dict[str, int], list[tuple[Record, Exception]]]:
        """Apply ``records``; on a record's fault, split under savepoints until it stands alone."""
        if not records:
            return {}, []
        self.conn.execute("SAVEPOINT records")
        try:
            counters = dict(apply(self.conn, records))
        except Exception as exc:
            self.conn.execute("ROLLBACK TO records")
            self.conn.execute("RELEASE records")
            if is_transient(exc):
                raise
            if len(records) == 1:
                log.warning("%s: giving up on %s[%d]@%d: %s", self.group, records[0].topic, records[0].partition,
                            records[0].offset, describe(exc))
                return {}, [(records[0], exc)]
            mid = len(records) // 2
            first, failed_first = self._isolating(records[:mid], apply)
            second, failed_second = self._isolating(records[mid:], apply)
            return dict(Counter(first) + Counter(second)), failed_first + failed_second
        self.conn.execute("RELEASE records")
        return counters, []

    def _letter(self, r: Record, exc: Exception) -> DeadLetter:
        kind, reason = (exc.kind, exc.reason) if isinstance(exc, Rejected) else ("apply-failed", describe(exc))
        return DeadLetter(self.group, r.source_topic or r.topic, r.partition, r.offset, r.timestamp_ms, r.key,
                          r.value, kind, reason, exception=describe(exc))
