"""Runs the benchmarks against a local broker it starts (or KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from infra.broker import LocalBroker, free_port
from infra.config import Settings
from shopstream.bench import report
from shopstream.bench.ingest import bench_ingest


@contextlib.contextmanager
def _broker(settings: Settings) -> Iterator[Settings]:
    if settings.bootstrap_servers:
        yield settings
        return
    with tempfile.TemporaryDirectory(prefix="shopstream-bench-") as tmp:
        broker = LocalBroker(Path(tmp), settings.cache_dir, free_port(), free_port(), settings.partitions)
        with broker:
            yield settings.model_copy(update={"bootstrap_servers": broker.bootstrap})


def run_benchmarks(settings: Settings, only: set[str] | None = None, events: int = 30_000) -> dict[str, float]:
    results: dict[str, float] = {}
    rows: list[tuple[str, float, str, float | None]] = []
    with _broker(settings) as s:
        if only is None or "ingest" in only:
            print("ingest ...", flush=True)
            r = bench_ingest(s, n=events)
            results.update(r)
            bare = r["ingest.bare_consumer_events_per_s"]
            rows += [
                ("ingest.simulator_events_per_s", r["ingest.simulator_events_per_s"], "-", None),
                ("ingest.pipeline_events_per_s", r["ingest.pipeline_events_per_s"],
                 "ingest.bare_consumer_events_per_s", bare),
            ]
    report.save(results)
    print()
    print(report.table(rows))
    print(f"\nwritten to {report.RESULTS}")
    return results
