"""Ingest throughput: the simulator producing, the store pipeline consuming into SQLite, and a bare
kafka-python consumer that only deserialises, over the same topics in the same run."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer

from consumers.groups import build_loop
from consumers.runtime import LoopStats
from events import CLICKS, ORDERS, PRODUCTS
from infra.config import Settings
from infra.topics import ensure_topics
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from producers.sink import EventSink
from shopstream.bench.report import median


def _bare_consumer(settings: Settings, prefix: str, group: str, n: int) -> float:
    consumer = KafkaConsumer(
        *(prefix + t for t in (PRODUCTS, CLICKS, ORDERS)),
        bootstrap_servers=settings.bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=settings.batch_max_records,
        fetch_max_wait_ms=100, max_partition_fetch_bytes=4 << 20,
    )
    seen = 0
    started: float | None = None
    try:
        while seen < n:
            for records in consumer.poll(timeout_ms=500).values():
                if started is None:
                    started = time.monotonic()
                for record in records:
                    json.loads(record.value)
                seen += len(records)
    finally:
        consumer.close(autocommit=False)
    assert started is not None
    return n / (time.monotonic() - started)


def _pipeline(settings: Settings, prefix: str, group: str, n: int, workdir: Path) -> float:
    local = settings.model_copy(update={"data_dir": workdir / group, "topic_prefix": prefix})
    loop = build_loop("store", local, group_id=group)

    def stop_when_done(stats: LoopStats) -> None:
        if stats.applied >= n:
            loop.stop()

    stats = loop.run(on_batch=stop_when_done)
    assert stats.first_record_at is not None and stats.applied == n
    return n / (time.monotonic() - stats.first_record_at)


def bench_ingest(settings: Settings, n: int = 30_000, repeats: int = 3) -> dict[str, float]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    ensure_topics(settings.bootstrap, settings.partitions, settings.replication_factor, prefix)
    sim = Simulator(SimulatorConfig(seed=1, n_products=2000, n_users=1000))
    with EventSink(settings.bootstrap, prefix) as sink:
        started = time.monotonic()
        publish(sink, sim.events(n), total=n, desc="bench: simulate")
        sink.flush()
        simulator_rate = n / (time.monotonic() - started)
    bare, pipe = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            # Alternate, so that drift in the machine's load hits both alike.
            bare.append(_bare_consumer(settings, prefix, f"{prefix}bare-{r}", n))
            pipe.append(_pipeline(settings, prefix, f"{prefix}store-{r}", n, Path(tmp)))
            print(f"  run {r + 1}/{repeats}: bare {bare[-1]:,.0f} ev/s, pipeline {pipe[-1]:,.0f} ev/s", flush=True)
    return {
        "ingest.simulator_events_per_s": simulator_rate,
        "ingest.bare_consumer_events_per_s": median(bare),
        "ingest.pipeline_events_per_s": median(pipe),
        "ingest.ratio": median(pipe) / median(bare),
    }
