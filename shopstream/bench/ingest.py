"""Ingest throughput, each beside its bare kafka-python counterpart in the same run: the simulator
producing (beside a bare producer with the same client settings sending the same records already
serialised), and the store pipeline consuming into SQLite (beside a bare consumer that only
deserialises the same topics)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from consumers.groups import build_loop
from consumers.processor import Processor, Record
from consumers.store import StoreProcessor
from events import encode, event_key, topic_for
from infra.config import Settings
from infra.producer import new_producer
from infra.sender import ProcessSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from shopstream.bench.harness import bare_consumer_rate, isolated, run_until_applied
from shopstream.bench.report import median


class _RowsLeftOut(StoreProcessor):
    """The store's pipeline without its rows: every event consumed, validated and its offset committed
    in a transaction, nothing written. How close to the bare consumer the design could come if
    writing rows cost nothing."""

    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        return {}


def _pipeline(settings: Settings, group: str, n: int, processor: Processor | None = None) -> float:
    local = settings.model_copy(update={"data_dir": settings.data_dir / group})
    stats = run_until_applied(build_loop("store", local, group_id=group, processor=processor), n)
    assert stats.first_record_at is not None and stats.applied == n
    return n / (time.monotonic() - stats.first_record_at)


def _simulate(settings: Settings, n: int, progress: bool) -> float:
    """Events/s of the simulator as `shopstream simulate` sends (the producer in a child process, started
    before the clock), until every event is acknowledged."""
    sim = Simulator(SimulatorConfig(seed=1, n_products=2000, n_users=1000))
    with ProcessSink(settings.bootstrap, settings.topic_prefix) as sink:
        # The child starts on its own (imports, then its producer: about 0.3 s here, an eighth of a
        # run); an empty flush returns once it is ready, as the bare producer is built before its clock.
        sink.flush()
        started = time.monotonic()
        publish(sink, sim.events(n), total=n, desc="bench: simulate", progress=progress)
        sink.flush()
        return n / (time.monotonic() - started)


def _bare_producer(settings: Settings, records: list[tuple[str, bytes, bytes]]) -> float:
    """Records/s of a kafka-python producer with the project's client settings, sending records
    serialised beforehand, until every one is acknowledged."""
    producer = new_producer(settings.bootstrap, client_id="bench-bare")
    try:
        started = time.monotonic()
        for topic, key, value in records:
            producer.send(settings.topic_prefix + topic, key=key, value=value)
        producer.flush()
        return len(records) / (time.monotonic() - started)
    finally:
        producer.close()


def bench_ingest(base: Settings, n: int = 30_000, repeats: int = 3) -> dict[str, float]:
    bare, pipe, no_rows, sim_rates, bare_producer = [], [], [], [], []
    sample = Simulator(SimulatorConfig(seed=1, n_products=2000, n_users=1000)).events(n)
    records = [(topic_for(e.type.value), event_key(e), encode(e)) for e in sample]
    for r in range(repeats):
        # Each into topics of its own; alternated, so that drift in the machine's load hits both alike.
        with isolated(base, f"produce-{r}") as scratch:
            sim_rates.append(_simulate(scratch, n, progress=False))
        with isolated(base, f"bare-produce-{r}") as scratch:
            bare_producer.append(_bare_producer(scratch, records))
        print(f"  produce {r + 1}/{repeats}: simulator {sim_rates[-1]:,.0f} ev/s, "
              f"bare producer {bare_producer[-1]:,.0f} ev/s", flush=True)
    with isolated(base, "ingest") as settings:
        prefix = settings.topic_prefix
        _simulate(settings, n, progress=True)  # the stream the consumers below read
        for r in range(repeats):
            # Alternate, so that drift in the machine's load hits both alike.
            bare.append(bare_consumer_rate(settings, f"{prefix}bare-{r}", n))
            pipe.append(_pipeline(settings, f"{prefix}store-{r}", n))
            no_rows.append(_pipeline(settings, f"{prefix}no-rows-{r}", n, _RowsLeftOut()))
            print(f"  run {r + 1}/{repeats}: bare {bare[-1]:,.0f} ev/s, pipeline {pipe[-1]:,.0f} ev/s, "
                  f"pipeline without its rows {no_rows[-1]:,.0f} ev/s", flush=True)
    return {
        "ingest.simulator_events_per_s": median(sim_rates),
        "ingest.bare_producer_events_per_s": median(bare_producer),
        "ingest.producer_ratio": median(sim_rates) / median(bare_producer),
        "ingest.record_bytes": sum(len(v) for _, _, v in records) / len(records),
        "ingest.bare_consumer_events_per_s": median(bare),
        "ingest.pipeline_events_per_s": median(pipe),
        "ingest.ratio": median(pipe) / median(bare),
        "ingest.pipeline_no_rows_events_per_s": median(no_rows),
        "ingest.no_rows_ratio": median(no_rows) / median(bare),
    }
