"""Ingest throughput: the simulator producing, the store pipeline consuming into SQLite, and a bare
kafka-python consumer that only deserialises, over the same topics in the same run."""

from __future__ import annotations

import time

from consumers.groups import build_loop
from consumers.runtime import LoopStats
from infra.config import Settings
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from shopstream.bench.harness import bare_consumer_rate, isolated
from shopstream.bench.report import median


def _pipeline(settings: Settings, group: str, n: int) -> float:
    local = settings.model_copy(update={"data_dir": settings.data_dir / group})
    loop = build_loop("store", local, group_id=group)

    def stop_when_done(stats: LoopStats) -> None:
        if stats.applied >= n:
            loop.stop()

    stats = loop.run(on_batch=stop_when_done)
    assert stats.first_record_at is not None and stats.applied == n
    return n / (time.monotonic() - stats.first_record_at)


def bench_ingest(base: Settings, n: int = 30_000, repeats: int = 3) -> dict[str, float]:
    bare, pipe = [], []
    with isolated(base, "ingest") as settings:
        prefix = settings.topic_prefix
        sim = Simulator(SimulatorConfig(seed=1, n_products=2000, n_users=1000))
        with EventSink(settings.bootstrap, prefix) as sink:
            started = time.monotonic()
            publish(sink, sim.events(n), total=n, desc="bench: simulate")
            sink.flush()
            simulator_rate = n / (time.monotonic() - started)
        for r in range(repeats):
            # Alternate, so that drift in the machine's load hits both alike.
            bare.append(bare_consumer_rate(settings, f"{prefix}bare-{r}", n))
            pipe.append(_pipeline(settings, f"{prefix}store-{r}", n))
            print(f"  run {r + 1}/{repeats}: bare {bare[-1]:,.0f} ev/s, pipeline {pipe[-1]:,.0f} ev/s", flush=True)
    return {
        "ingest.simulator_events_per_s": simulator_rate,
        "ingest.bare_consumer_events_per_s": median(bare),
        "ingest.pipeline_events_per_s": median(pipe),
        "ingest.ratio": median(pipe) / median(bare),
    }
