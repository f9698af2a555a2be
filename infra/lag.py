"""Consumer lag: per group, topic and partition, the committed offset, the log-end offset, the lag.

The offsets are the ones Kafka's own `kafka-consumer-groups.sh --describe` prints; `seconds`
adds how old the oldest unconsumed record is (its producer timestamp; 0 when caught up), the
figure kafka-lag-exporter calls lag in seconds. `LagReader` keeps its Kafka clients between
calls (the lag sampler reads every few seconds); `measure_lag` is the one-shot form.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from types import TracebackType

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.protocol.consumer.offsets import OffsetSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LagRow:
    group: str
    topic: str
    partition: int
    committed: int
    log_end: int
    lag: int
    seconds: float | None = None
    status: str | None = None  #: Burrow-style status, where a window of samples gives one

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def consumer_groups(admin: KafkaAdminClient) -> list[str]:
    groups = admin.list_groups()
    names = [g[0] if isinstance(g, tuple) else g.get("group_id", g.get("group")) for g in groups]
    return sorted(str(n) for n in names if n)


class LagReader:
    """Reads committed and log-end offsets (and record timestamps) with clients kept open.

    Every call is bounded by `timeout_ms` per request; a broker that does not answer raises a
    `KafkaError` (or `OSError`) after that, and the clients are made anew on the next call.
    """

    def __init__(self, bootstrap: str, timeout_ms: int = 5_000) -> None:
        self.bootstrap = bootstrap
        self.timeout_ms = timeout_ms
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def __enter__(self) -> LagReader:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                try:
                    client.close()
                except Exception as exc:  # closing a broken client must not hide the first error
                    log.debug("closing a Kafka client: %s", exc)
        self._admin = self._consumer = None

    @property
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="shopstream-lag",
                                           request_timeout_ms=self.timeout_ms)
        return self._admin

    @property
    def consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                client_id="shopstream-lag", request_timeout_ms=max(self.timeout_ms, 1_000) + 500,
                fetch_max_wait_ms=100, fetch_max_bytes=1 << 20, max_partition_fetch_bytes=1 << 16,
            )
        return self._consumer

    def rows(self, groups: list[str] | None = None, with_seconds: bool = False) -> list[LagRow]:
        """Lag rows for the given groups (all groups when None), for partitions with a committed offset."""
        try:
            admin = self.admin
            names = groups if groups is not None else consumer_groups(admin)
            if not names:
                return []
            committed = {}
            for group in names:
                try:
                    committed.update(admin.list_group_offsets({group: None}))
                except KafkaError as exc:  # e.g. no coordinator yet for a group that never committed
                    log.debug("no offsets for group %s: %s", group, exc)
            partitions = {tp for offsets in committed.values() for tp in offsets}
            ends = self.log_ends_of(partitions)
        except Exception:
            self.close()
            raise
        rows = []
        for group in names:
            for tp, meta in sorted(committed.get(group, {}).items()):
                if meta.offset < 0 or tp not in ends:
                    continue
                end = ends[tp]
                rows.append(LagRow(group, tp.topic, tp.partition, meta.offset, end, max(end - meta.offset, 0)))
        if with_seconds:
            rows = self.add_seconds(rows)
        return rows

    def log_ends_of(self, partitions: set[TopicPartition] | list[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        answer = self.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions},
                                                   timeout_ms=self.timeout_ms)
        return {tp: int(o.offset) for tp, o in answer.items()}

    def log_ends(self, topics: list[str]) -> dict[tuple[str, int], int]:
        """The log-end offset of every partition of these topics (missing topics are left out)."""
        try:
            consumer = self.consumer
            parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            return {(tp.topic, tp.partition): end for tp, end in self.log_ends_of(parts).items()}
        except Exception:
            self.close()
            raise

    def add_seconds(self, rows: list[LagRow], budget_s: float = 2.0) -> list[LagRow]:
        """Each row with the age of its oldest unconsumed record (read at the committed offset).

        Rows of several groups may want different offsets of the same partition: they are read in
        turns, each turn one offset per partition, all within `budget_s`.
        """
        wanted: dict[tuple[str, int], set[int]] = defaultdict(set)
        for r in rows:
            if r.lag > 0:
                wanted[(r.topic, r.partition)].add(r.committed)
        stamps: dict[tuple[str, int, int], float] = {}  # (topic, partition, offset) -> record time
        deadline = time.monotonic() + budget_s
        try:
            while wanted and time.monotonic() < deadline:
                turn = {key: min(offsets) for key, offsets in wanted.items()}
                stamps.update(self._first_records(turn, deadline))
                for key, offset in turn.items():
                    wanted[key].discard(offset)
                wanted = defaultdict(set, {k: v for k, v in wanted.items() if v})
        except (KafkaError, OSError, AssertionError) as exc:
            log.debug("record timestamps not read: %s", exc)
            self.close()
        now = time.time()
        out = []
        for r in rows:
            stamp = stamps.get((r.topic, r.partition, r.committed))
            seconds = 0.0 if r.lag == 0 else (None if stamp is None else max(now - stamp, 0.0))
            out.append(replace(r, seconds=seconds))
        return out

    def _first_records(self, offsets: dict[tuple[str, int], int], deadline: float) -> dict[tuple[str, int, int], float]:
        consumer = self.consumer
        tps = {TopicPartition(t, p): o for (t, p), o in offsets.items()}
        consumer.assign(list(tps))
        for tp, offset in tps.items():
            consumer.seek(tp, offset)
        found: dict[tuple[str, int, int], float] = {}
        missing = set(tps)
        while missing and time.monotonic() < deadline:
            left_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            for tp, records in consumer.poll(timeout_ms=min(left_ms, 500)).items():
                if tp in missing and records:
                    # The first record at or after the committed offset (compaction may have removed it).
                    found[(tp.topic, tp.partition, tps[tp])] = records[0].timestamp / 1000.0
                    missing.discard(tp)
                    consumer.pause(tp)
        consumer.resume(*consumer.paused())
        return found


def measure_lag(bootstrap: str, groups: list[str] | None = None, with_seconds: bool = False) -> list[LagRow]:
    """Lag rows for the given groups (all groups when None), for partitions with a committed offset."""
    with LagReader(bootstrap) as reader:
        return reader.rows(groups, with_seconds=with_seconds)


def format_lag(rows: list[LagRow]) -> str:
    if not rows:
        return "no consumer group has committed offsets yet"
    with_status = any(r.status for r in rows)
    header = f"{'GROUP':<16}{'TOPIC':<14}{'PARTITION':>10}{'COMMITTED':>12}{'LOG-END':>12}{'LAG':>10}{'LAG-S':>9}"
    lines = [header + ("  STATUS" if with_status else "")]
    for r in rows:
        secs = "-" if r.seconds is None else f"{r.seconds:.1f}"
        line = f"{r.group:<16}{r.topic:<14}{r.partition:>10}{r.committed:>12}{r.log_end:>12}{r.lag:>10}{secs:>9}"
        lines.append(line + (f"  {r.status or '-'}" if with_status else ""))
    total = sum(r.lag for r in rows)
    lines.append(f"total lag: {total} records")
    return "\n".join(lines)
