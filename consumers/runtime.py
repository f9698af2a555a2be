"""The consumer loop that every consumer group runs.

Poll a batch; decode and validate; send what fails to the dead-letter topic; apply the rest and
the next offsets in one SQLite transaction; then commit the offsets to Kafka so that standard lag
tools see progress. On partition assignment the consumer seeks to the offsets stored in SQLite,
so a crash between the SQLite commit and the Kafka commit replays nothing twice, and a record
delivered again after a rebalance is skipped inside the transaction.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError

from consumers.deadletter import DeadLetterSink
from events import DecodeError, Event, decode
from infra.sqlite import bump_counters, connect_writer, load_offsets, save_offsets, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    event: Event


class Processor(ABC):
    """A consumer group's state change. `apply` runs inside the batch's SQLite transaction."""

    group: str
    topics: tuple[str, ...]

    @abstractmethod
    def setup(self, conn: sqlite3.Connection) -> None:
        """Create the group's tables (idempotent)."""

    @abstractmethod
    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        """Apply a batch; return counter increments to store with it."""

    def after_commit(self, records: Sequence[Record]) -> None:  # noqa: B027 - optional hook
        """Called after the batch's transaction committed (e.g. to update an in-memory index)."""

    def on_idle(self) -> None:  # noqa: B027 - optional hook
        """Called when a poll returned nothing: time-based work (snapshots) happens here too."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once when the loop stops, before the SQLite connection closes."""


@dataclass
class LoopStats:
    batches: int = 0
    applied: int = 0
    skipped_replayed: int = 0
    dead_lettered: int = 0
    first_record_at: float | None = None  # time.monotonic() of the first non-empty poll


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass  # every batch is committed before the next poll, so there is nothing pending to flush

    def on_partitions_assigned(self, assigned: Any) -> None:
        stored = load_offsets(self.loop.conn)
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None:
                self.loop.consumer.seek(tp, offset)
        self.loop.assigned.set()
        log.info("assigned %s", sorted(f"{tp.topic}-{tp.partition}" for tp in assigned))


class ConsumerLoop:
    def __init__(
        self,
        processor: Processor,
        bootstrap: str,
        db_path: Path,
        batch_max_records: int = 500,
        poll_timeout_ms: int = 500,
        client_id: str | None = None,
        topic_prefix: str = "",
        group_id: str | None = None,
        session_timeout_ms: int = 10_000,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.group_id = group_id or topic_prefix + processor.group
        self.processor = processor
        self.db_path = db_path
        self.poll_timeout_ms = poll_timeout_ms
        self.batch_max_records = batch_max_records
        self.conn = connect_writer(db_path)
        processor.setup(self.conn)  # DDL via executescript, which manages its own transaction
        self.stats = LoopStats()
        self._stop = threading.Event()
        self.assigned = threading.Event()  # set on the first partition assignment
        self.dead_letter = DeadLetterSink(bootstrap, topic_prefix)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self.group_id,
            client_id=client_id or f"shopstream-{processor.group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=batch_max_records,
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 << 20,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(session_timeout_ms // 5, 500),
        )
        self.consumer.subscribe(
            [topic_prefix + t for t in processor.topics], listener=_SeekToStored(self)
        )

    def stop(self) -> None:
        """Finish the current batch, then return from `run`."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            log.info("signal %s: finishing the batch, then stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(
        self,
        idle_exit_s: float | None = None,
        on_batch: Callable[[LoopStats], None] | None = None,
    ) -> LoopStats:
        """Consume until stopped (or, with `idle_exit_s`, until no record arrived for that long)."""
        last_record = time.monotonic()
        try:
            while not self._stop.is_set():
                polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.batch_max_records)
                if not polled:
                    self.processor.on_idle()
                    if not self.assigned.is_set():
                        last_record = time.monotonic()  # idle time counts from the assignment
                    elif idle_exit_s is not None and time.monotonic() - last_record > idle_exit_s:
                        break
                    continue
                last_record = time.monotonic()
                if self.stats.first_record_at is None:
                    self.stats.first_record_at = last_record
                self._process(polled)
                if on_batch is not None:
                    on_batch(self.stats)
        finally:
            self.close()
        return self.stats

    def _process(self, polled: dict[TopicPartition, list[Any]]) -> None:
        good: list[tuple[str, Record]] = []  # (physical topic, record)
        bad = 0
        next_offsets: dict[tuple[str, int], int] = {}
        # Records below the stored offsets were applied already (a replay after a crash or a
        # rebalance): skip them before they can be dead-lettered or counted a second time.
        applied = load_offsets(self.conn)
        for tp, messages in polled.items():
            done = applied.get((tp.topic, tp.partition), 0)
            for msg in messages:
                if msg.offset < done:
                    self.stats.skipped_replayed += 1
                    continue
                try:
                    event = decode(msg.value)
                except DecodeError as exc:
                    self.dead_letter.send(msg, exc)
                    bad += 1
                else:
                    good.append(
                        (tp.topic, Record(self._logical(tp.topic), tp.partition, msg.offset, msg.timestamp, event))
                    )
            next_offsets[(tp.topic, tp.partition)] = messages[-1].offset + 1
        if bad:
            # Dead letters are durable before the offsets that skip them are: nothing is lost.
            self.dead_letter.flush()
        with transaction(self.conn):
            stored = load_offsets(self.conn)
            fresh = [r for t, r in good if r.offset >= stored.get((t, r.partition), 0)]
            counters = self.processor.apply(self.conn, fresh) if fresh else {}
            counters = {**counters, "events_applied": len(fresh), "dead_lettered": bad}
            bump_counters(self.conn, counters)
            save_offsets(
                self.conn,
                {tp: max(o, stored.get(tp, 0)) for tp, o in next_offsets.items()},
            )
        self.processor.after_commit(fresh)
        self.stats.batches += 1
        self.stats.applied += len(fresh)
        self.stats.skipped_replayed += len(good) - len(fresh)
        self.stats.dead_lettered += bad
        try:
            self.consumer.commit(
                {TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in next_offsets.items()}
            )
        except CommitFailedError as exc:
            # SQLite holds the truth; the Kafka commit only informs lag tools. A rebalance moved
            # the partition: its new owner seeks to the stored offsets and commits from there.
            log.warning("Kafka offset commit failed after a rebalance: %s", exc)

    def _logical(self, topic: str) -> str:
        return topic[len(self.topic_prefix):] if self.topic_prefix else topic

    def close(self) -> None:
        try:
            self.processor.close()
            self.consumer.close(autocommit=False)
        finally:
            self.dead_letter.close()
            self.conn.close()
