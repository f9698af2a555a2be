"""Operations benchmark: the time to serve `/metrics` (Prometheus text) with 3 consumer groups x 3
partitions (store and learner read 3 topics, catalog 1: 21 rows) in the lag history, beside the
bare endpoint on the same server, requests interleaved."""

from __future__ import annotations

import sqlite3
import statistics
import time

from infra.config import Settings
from infra.ops.history import history_path
from producers.simulator.world import Simulator, SimulatorConfig
from shopstream.bench.harness import api_server, background_load, consumers, http_load, isolated, percentile


def _partitions_sampled(settings: Settings) -> dict[str, int]:
    """Partitions per group in the lag sampler's last round."""
    path = history_path(settings.data_dir)
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute("SELECT grp, count(*) FROM partitions WHERE at = (SELECT max(at) FROM partitions) "
                                "GROUP BY grp").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {str(g): int(n) for g, n in rows}


def bench_ops(base: Settings, requests: int = 300) -> dict[str, float]:
    with isolated(base, "ops") as settings:
        sim = Simulator(SimulatorConfig(seed=9, n_products=500, n_users=200))
        with consumers(settings, "store", "catalog", "learner"), background_load(settings, sim, rate=300), \
                api_server(settings, workers=1) as url:
            deadline = time.monotonic() + 180
            # 3 groups x 3 partitions at least (store and learner read 3 topics, catalog 1): 21 rows.
            while not ((seen := _partitions_sampled(settings)).keys() == {"store", "catalog", "learner"}
                       and min(seen.values()) >= 3):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the lag sampler did not see 3 groups x 3 partitions within 180 s: {seen}")
                time.sleep(0.5)
            rounds: dict[str, list[float]] = {"/metrics": [], "/ping": []}
            for _ in range(3):  # interleaved, so that both see the same machine load
                for path in rounds:
                    times, _rps = http_load(url, [path] * (requests // 3), clients=1)
                    rounds[path].extend(times)
    metrics, bare = rounds["/metrics"], rounds["/ping"]
    return {
        "ops.metrics_scrape_ms": statistics.median(metrics),
        "ops.metrics_scrape_p99_ms": percentile(metrics, 0.99),
        "ops.bare_ms": statistics.median(bare),
        "ops.bare_p99_ms": percentile(bare, 0.99),
    }
