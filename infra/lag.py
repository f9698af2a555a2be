"""Consumer lag: per group, topic and partition, the committed offset, the log-end offset, the lag.

The offsets are the ones Kafka's own `kafka-consumer-groups.sh --describe` prints; `seconds`
adds how old the oldest unconsumed record is (0 when caught up).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

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

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def consumer_groups(admin: KafkaAdminClient) -> list[str]:
    groups = admin.list_groups()
    names = [g[0] if isinstance(g, tuple) else g.get("group_id", g.get("group")) for g in groups]
    return sorted(str(n) for n in names if n)


def measure_lag(
    bootstrap: str, groups: list[str] | None = None, with_seconds: bool = False
) -> list[LagRow]:
    """Lag rows for the given groups (all groups when None), for partitions with a committed offset."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="shopstream-lag")
    try:
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
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions}) if partitions else {}
    finally:
        admin.close()
    rows = []
    for group in names:
        for tp, meta in sorted(committed.get(group, {}).items()):
            if meta.offset < 0:
                continue
            end = ends[tp].offset
            rows.append(LagRow(group, tp.topic, tp.partition, meta.offset, end, max(end - meta.offset, 0)))
    if with_seconds:
        rows = _add_seconds(bootstrap, rows)
    return rows


def _add_seconds(bootstrap: str, rows: list[LagRow]) -> list[LagRow]:
    """Age of the oldest unconsumed record: read the record at the committed offset."""
    behind = [r for r in rows if r.lag > 0]
    ages: dict[tuple[str, str, int], float] = {}
    if behind:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
            consumer_timeout_ms=2000, fetch_max_bytes=1 << 20, max_partition_fetch_bytes=1 << 16,
        )
        try:
            for row in behind:
                tp = TopicPartition(row.topic, row.partition)
                consumer.assign([tp])
                consumer.seek(tp, row.committed)
                batch = consumer.poll(timeout_ms=2000, max_records=1)
                for records in batch.values():
                    if records:
                        ages[(row.group, row.topic, row.partition)] = max(
                            time.time() - records[0].timestamp / 1000.0, 0.0
                        )
        finally:
            consumer.close()
    return [
        LagRow(**{**r.to_dict(), "seconds": ages.get((r.group, r.topic, r.partition), 0.0 if r.lag == 0 else None)})  # type: ignore[arg-type]
        for r in rows
    ]


def format_lag(rows: list[LagRow]) -> str:
    if not rows:
        return "no consumer group has committed offsets yet"
    header = f"{'GROUP':<16}{'TOPIC':<14}{'PARTITION':>10}{'COMMITTED':>12}{'LOG-END':>12}{'LAG':>10}{'LAG-S':>9}"
    lines = [header]
    for r in rows:
        secs = "-" if r.seconds is None else f"{r.seconds:.1f}"
        lines.append(
            f"{r.group:<16}{r.topic:<14}{r.partition:>10}{r.committed:>12}{r.log_end:>12}{r.lag:>10}{secs:>9}"
        )
    total = sum(r.lag for r in rows)
    lines.append(f"total lag: {total} records")
    return "\n".join(lines)
