"""The consumer loop that every consumer group runs.

Poll a batch; decode and validate each record against the contract (`events.decode`, with the
record's topic and the configured `Limits`); hand the batch to the group's `Checkpoint`, which
applies it exactly once, isolates a bad record and dead-letters it; then let the processor
follow the committed state in memory (`after_commit`).

Nothing stops the stream: the broker going away is waited out (polls and commits are retried with
backoff, the client reconnects by itself), a transient failure rolls the batch back and it is
tried again from the stored offsets, and a failure in `after_commit` is logged and counted. On
assignment the consumer seeks to the offsets stored in SQLite. The loop writes a heartbeat row
(`consumer_status`) that the API's health check reads.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, OffsetAndMetadata
from kafka import TopicPartition as KafkaTopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import MemberState

from consumers.checkpoint import Checkpoint, Polled, TopicPartition, Undecodable, describe, is_transient
from consumers.deadletter import DeadLetterSink
from consumers.processor import Processor, Record
from consumers.stall import SettleWatch, StallWatch
from events import DEFAULT_LIMITS, DecodeError, Limits, decode
from infra.memory import trim_heap
from infra.sqlite import connect_writer, transaction, write_status

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0
HEARTBEAT_S = 2.0
TRIM_HEAP_EVERY_S = 60.0
UNREACHABLE_AFTER_S = 2.0  # how long no broker must answer before the heartbeat says so
COMMIT_TIMEOUT_MS = 5_000  # a commit while the broker is away must not hold the loop (and its heartbeat) long
OFFSETS_TIMEOUT_MS = 5_000  # the stall check's two offset lookups


@dataclass
class LoopStats:
    batches: int = 0
    applied: int = 0
    skipped_replayed: int = 0
    dead_lettered: int = 0
    retries: int = 0  # batches rolled back on a transient error
    hook_errors: int = 0  # failures in after_commit / on_idle
    stalls: int = 0  # times records waited on an assigned partition and none came (the group was rejoined)
    new_clients: int = 0  # times the group membership did not settle and the Kafka client was replaced
    first_record_at: float | None = None  # time.monotonic() of the first non-empty poll


class KafkaCommitter:
    """Commits offsets to Kafka for lag tools (the `OffsetCommitter` of a `Checkpoint`).

    Asynchronously: SQLite holds the truth, so the next batch need not wait a round trip for the
    broker's answer. It remembers what the broker accepted: an offset it refused (a rebalance, a
    member the coordinator expelled) stays `unconfirmed` until a later commit carries it, the next
    batch's or `flush`'s, which the loop calls when idle. Without that, a refused last commit
    would leave Kafka's lag for good wherever no record follows. `flush` commits and waits, so
    that a consumer that stops leaves Kafka's view exact.
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.last: dict[TopicPartition, int] = {}  # the offsets to tell Kafka, per partition
        self.confirmed: dict[TopicPartition, int] = {}  # what it accepted

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.last.update(offsets)
        self.consumer.commit_async(_kafka_offsets(offsets), callback=self._done)

    def adopt(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Offsets stored for partitions just assigned: Kafka's view may lag them (a commit refused
        before the rebalance, by this client or the one it replaced)."""
        self.last.update(offsets)

    def _done(self, offsets: Mapping[Any, Any], response: Any) -> None:
        if isinstance(response, BaseException):
            log.debug("async offset commit failed (the next commit carries it): %s", describe(response))
            return
        self._confirm({(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()})

    def _confirm(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if offset > self.confirmed.get(tp, -1):
                self.confirmed[tp] = offset

    def unconfirmed(self) -> dict[TopicPartition, int]:
        """The offsets of assigned partitions that Kafka has not accepted yet."""
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        return {tp: o for tp, o in list(self.last.items())
                if tp in assigned and o > self.confirmed.get(tp, -1)}

    def flush(self, timeout_ms: int = COMMIT_TIMEOUT_MS) -> None:
        offsets = self.unconfirmed()
        if offsets:
            self.consumer.commit(_kafka_offsets(offsets), timeout_ms=timeout_ms)
            self._confirm(offsets)


def _kafka_offsets(offsets: Mapping[TopicPartition, int]) -> dict[KafkaTopicPartition, OffsetAndMetadata]:
    return {KafkaTopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()}


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass  # every batch is committed before the next poll, so there is nothing pending to flush

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.loop.seek_to_stored(assigned)
        self.loop.stall_watch.restart()
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
        limits: Limits = DEFAULT_LIMITS,
        stall_after_s: float = 30.0,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.group_id = group_id or topic_prefix + processor.group
        self.processor = processor
        self.db_path = db_path
        self.poll_timeout_ms = poll_timeout_ms
        self.batch_max_records = batch_max_records
        self.limits = limits
        self.conn = connect_writer(db_path)
        processor.setup(self.conn)  # DDL via executescript, which manages its own transaction
        self.stats = LoopStats()
        self._stop = threading.Event()
        self.assigned = threading.Event()  # set on the first partition assignment
        self.member = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._beat_at = 0.0
        self._backoff = 0.0
        self._unreachable_since: float | None = None
        self.stall_watch = StallWatch(stall_after_s)
        self.settle_watch = SettleWatch(stall_after_s)
        self._flushed_at = 0.0
        self._trimmed_at = time.monotonic()
        self.dead_letter = DeadLetterSink(bootstrap, topic_prefix)
        self._bootstrap = bootstrap
        self._client_id = client_id or f"shopstream-{processor.group}"
        self._session_timeout_ms = session_timeout_ms
        self._consumer: KafkaConsumer | None = None
        self._committer: KafkaCommitter | None = None
        self._checkpoint: Checkpoint | None = None
        self._heartbeat("starting", force=True)

    # -- connecting ----------------------------------------------------------------------------

    @property
    def consumer(self) -> KafkaConsumer:
        """The Kafka consumer, created (and subscribed) on first use; waits for the broker."""
        while self._consumer is None:
            try:
                consumer = KafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    group_id=self.group_id,
                    client_id=self._client_id,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    max_poll_records=self.batch_max_records,
                    fetch_max_wait_ms=100,
                    max_partition_fetch_bytes=4 << 20,
                    session_timeout_ms=self._session_timeout_ms,
                    heartbeat_interval_ms=max(self._session_timeout_ms // 5, 500),
                    reconnect_backoff_max_ms=5_000,
                )
            except KafkaError as exc:
                self._wait_out(f"cannot reach Kafka at {self._bootstrap}", exc)
                if self._stop.is_set():
                    raise
                continue
            self._subscribe(consumer)
            self._consumer = consumer
            self._committer = KafkaCommitter(consumer)
            self._checkpoint = Checkpoint(self.conn, self.group_id, self.dead_letter, self._committer)
        return self._consumer

    def _subscribe(self, consumer: KafkaConsumer) -> None:
        consumer.subscribe([self.topic_prefix + t for t in self.processor.topics], listener=_SeekToStored(self))

    @property
    def checkpoint(self) -> Checkpoint:
        _ = self.consumer
        assert self._checkpoint is not None
        return self._checkpoint

    def seek_to_stored(self, partitions: Any) -> None:
        stored = self.checkpoint.stored_offsets()
        adopted = {}
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None:
                self.consumer.seek(tp, offset)
                adopted[(tp.topic, tp.partition)] = offset
        if self._committer is not None:
            self._committer.adopt(adopted)

    def _wait_out(self, what: str, exc: BaseException) -> None:
        """Back off (1, 2, 4 ... up to 10 s) after a failure, saying so in the heartbeat."""
        self._backoff = min(max(self._backoff * 2, 1.0), MAX_BACKOFF_S)
        log.warning("%s (%s); retrying in %.0f s", what, describe(exc), self._backoff)
        self._heartbeat("retrying", error=f"{what}: {describe(exc)}", force=True)
        self._stop.wait(self._backoff)

    # -- running -------------------------------------------------------------------------------

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
        on_batch: Callable[[LoopStats], None] | None = None,
        until_log_end: bool = False,
    ) -> LoopStats:
        """Consume until stopped; with `until_log_end`, until every partition of the group's topics
        has been applied up to the end of the log (as it was when last checked)."""
        try:
            while not self._stop.is_set():
                try:
                    polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.batch_max_records)
                except KafkaError as exc:
                    self._wait_out("poll failed", exc)
                    continue
                except Exception:
                    if self._stop.is_set():
                        break
                    raise
                if not polled:
                    self._idle()
                    if until_log_end and self.assigned.is_set() and self.at_log_end():
                        break
                    continue
                if self.stats.first_record_at is None:
                    self.stats.first_record_at = time.monotonic()
                self._process(polled)
                self.stall_watch.progressed()
                if on_batch is not None:
                    on_batch(self.stats)
                self._maybe_trim_heap()
        finally:
            self.close()
        return self.stats

    def _idle(self) -> None:
        self._commit_unconfirmed()
        try:
            self.processor.on_idle()
        except Exception:
            self.stats.hook_errors += 1
            log.exception("%s: on_idle failed; the stream goes on", self.processor.group)
        self._maybe_trim_heap()
        problem = self._kafka_unreachable()
        # Between reconnect attempts a connection is down for a moment while the broker is fine:
        # say "retrying" only once the broker has stayed out of reach for a while.
        now = time.monotonic()
        if problem is None:
            self._unreachable_since = None
        elif self._unreachable_since is None:
            self._unreachable_since = now
        lasting = self._unreachable_since is not None and now - self._unreachable_since >= UNREACHABLE_AFTER_S
        confirmed = problem if lasting else None
        self._heartbeat("retrying" if confirmed else "running", error=confirmed)
        if problem is not None:
            self.settle_watch.pause()
        elif not self._new_client_if_unsettled():
            self._rejoin_if_stalled()

    def _commit_unconfirmed(self) -> None:
        """Commit again, at most every `HEARTBEAT_S`, what Kafka has not accepted (see `KafkaCommitter`)."""
        committer, now = self._committer, time.monotonic()
        if committer is None or now - self._flushed_at < HEARTBEAT_S:
            return
        self._flushed_at = now
        try:
            committer.flush(timeout_ms=1_000)
        except Exception as exc:  # kept unconfirmed: tried again on a later idle poll
            log.debug("offset commit on idle failed: %s", describe(exc))

    def _membership_settled(self) -> bool:
        """Whether the client holds a settled group membership: joined, and not needing to join
        again. Reads the pinned kafka-python coordinator's state (private; read defensively: what
        cannot be read counts as settled, never a reason to replace the client)."""
        coordinator = getattr(self._consumer, "_coordinator", None)
        state = getattr(coordinator, "state", MemberState.STABLE)
        return bool(state == MemberState.STABLE and not getattr(coordinator, "rejoin_needed", False))

    def _new_client_if_unsettled(self) -> bool:
        """Replace the Kafka client when its group membership has stayed unsettled too long (see
        `consumers.stall.SettleWatch`). The new client joins afresh and its assignment seeks to
        the stored offsets, so nothing is lost or applied twice."""
        consumer, waited_s = self._consumer, self.settle_watch.interval_s
        if consumer is None or not self.settle_watch.observe(self._membership_settled()):
            return False
        self.stats.new_clients += 1
        log.warning("%s: the consumer's group membership has not settled for %.0f s; starting a new Kafka client",
                    self.processor.group, waited_s)
        self._consumer = self._committer = self._checkpoint = None
        try:
            consumer.close(autocommit=False, timeout_ms=OFFSETS_TIMEOUT_MS)
        except Exception as exc:  # the old client is dropped either way
            log.debug("closing the unsettled client: %s", describe(exc))
        _ = self.consumer  # connect and subscribe the new one now
        return True

    def _rejoin_if_stalled(self) -> None:
        """Leave and rejoin the group if records have waited on an assigned partition while none
        arrived for `stall_after_s` (see `consumers.stall`): a new assignment starts the client's
        fetch state afresh, from the offsets stored in SQLite."""
        consumer = self._consumer
        if consumer is None or not self.stall_watch.due():
            return
        assigned = list(consumer.assignment())
        if not assigned:
            return
        try:
            begin = consumer.beginning_offsets(assigned, timeout_ms=OFFSETS_TIMEOUT_MS)
            end = consumer.end_offsets(assigned, timeout_ms=OFFSETS_TIMEOUT_MS)
        except KafkaError as exc:
            log.debug("stall check skipped: %s", describe(exc))
            return
        stored = self.checkpoint.stored_offsets()
        owed = StallWatch.waiting(assigned, {tp: stored[(tp.topic, tp.partition)] for tp in assigned
                                             if (tp.topic, tp.partition) in stored}, begin, end)
        if not owed:
            return
        self.stats.stalls += 1
        log.warning("%s: %d records wait on %s, but none has arrived for %.0f s; rejoining the group",
                    self.processor.group, sum(owed.values()),
                    ", ".join(sorted(f"{tp.topic}-{tp.partition}" for tp in owed)), self.stall_watch.interval_s)
        self.stall_watch.stalled()
        consumer.unsubscribe()
        self._subscribe(consumer)

    def _maybe_trim_heap(self) -> None:
        """Now and then give freed heap pages back: batches allocate and drop arrays of every
        size, and glibc would otherwise keep the high-water mark resident for good."""
        now = time.monotonic()
        if now - self._trimmed_at >= TRIM_HEAP_EVERY_S:
            self._trimmed_at = now
            trim_heap()

    def _kafka_unreachable(self) -> str | None:
        """Why the broker cannot be reached now, if it cannot: an empty poll alone does not say
        whether there is nothing new or no broker. Reads the pinned kafka-python client's state
        (private attributes, so read defensively): the group coordinator is unknown, or the client
        holds no live connection to any broker. The second is the one to rely on: a healthy idle
        consumer keeps its fetch connection open, and during an outage it has none, while the
        coordinator bookkeeping notices only now and then (between reconnect attempts)."""
        consumer = self._consumer
        try:
            coordinator = getattr(consumer, "_coordinator", None)
            if coordinator is not None and coordinator.coordinator_unknown():
                return f"waiting for Kafka at {self._bootstrap}: the group coordinator is unreachable"
            manager = getattr(getattr(consumer, "_client", None), "_manager", None)
            conns = getattr(manager, "_conns", None)
            if conns is not None and not any(conn.connected for conn in list(conns.values())):
                return f"waiting for Kafka at {self._bootstrap}: no broker connection is up"
        except Exception:  # introspection only; never a reason to stop
            return None
        return None

    def _decode(self, topic: str, partition: int, messages: list[Any]) -> list[Polled]:
        logical, limits = self._logical(topic), self.limits
        now = time.time()  # one clock reading per partition's batch: the time limits are minutes wide
        out = []
        for msg in messages:
            try:
                event = decode(msg.value, topic=logical, limits=limits, now=now)
            except DecodeError as exc:
                item: Record | Undecodable = Undecodable(partition, msg.offset, msg.timestamp, msg.key, msg.value,
                                                         exc.kind, exc.reason)
            else:
                item = Record(logical, partition, msg.offset, msg.timestamp, event, topic, msg.key, msg.value)
            out.append(Polled(topic, partition, msg.offset, item))
        return out

    def _process(self, polled: dict[Any, list[Any]]) -> None:
        batch = [p for tp, messages in polled.items() for p in self._decode(tp.topic, tp.partition, messages)]
        try:
            outcome = self.checkpoint.process(batch, self.processor.apply)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Rolled back: read the batch again from the stored offsets after a pause.
            self.stats.retries += 1
            self._wait_out("batch rolled back", exc)
            try:
                self.seek_to_stored(self.consumer.assignment())
            except (KafkaError, AssertionError, sqlite3.Error) as seek_exc:
                log.warning("seek after a rollback failed: %s", describe(seek_exc))
            return
        self._backoff = 0.0
        try:
            self.processor.after_commit(outcome.applied)
        except Exception:  # the state is committed; what follows it in memory catches up next batch
            self.stats.hook_errors += 1
            log.exception("%s: after_commit failed; the stream goes on", self.processor.group)
        self.stats.batches += 1
        self.stats.applied += len(outcome.applied)
        self.stats.skipped_replayed += outcome.replayed
        self.stats.dead_lettered += len(outcome.dead_lettered)
        self._heartbeat("running", batch=True)

    def at_log_end(self) -> bool:
        """Whether the stored offsets reach the end of every partition of the group's topics."""
        consumer = self.consumer
        parts = [KafkaTopicPartition(t, p) for t in (self.topic_prefix + x for x in self.processor.topics)
                 for p in (consumer.partitions_for_topic(t) or ())]
        try:
            ends = consumer.end_offsets(parts)
        except KafkaError:
            return False
        stored = self.checkpoint.stored_offsets()
        return all(stored.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items())

    def _heartbeat(self, state: str, error: str | None = None, batch: bool = False, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._beat_at < HEARTBEAT_S:
            return
        self._beat_at = now
        try:
            with transaction(self.conn):
                write_status(self.conn, self.member, self.processor.group, state, now,
                             applied=self.stats.applied, dead_lettered=self.stats.dead_lettered,
                             last_batch_at=now if batch else None, error=error)
        except sqlite3.Error as exc:  # a busy file must not stop the stream for a heartbeat
            log.debug("heartbeat not written: %s", exc)

    def _flush_commits(self) -> None:
        if self._committer is None:
            return
        try:
            self._committer.flush()
        except Exception as exc:  # informational only: SQLite holds the offsets
            log.warning("final Kafka offset commit failed (SQLite holds the offsets): %s", describe(exc))

    def _logical(self, topic: str) -> str:
        return topic[len(self.topic_prefix):] if self.topic_prefix else topic

    def close(self) -> None:
        try:
            try:
                self.processor.close()
            finally:
                self._heartbeat("stopped", force=True)
                if self._consumer is not None:
                    self._flush_commits()
                    try:
                        self._consumer.close(autocommit=False)
                    except Exception as exc:  # SQLite holds the state; a stop is still a clean stop
                        log.warning("closing the Kafka client failed: %s", describe(exc))
        finally:
            self.dead_letter.close()
            self.conn.close()
