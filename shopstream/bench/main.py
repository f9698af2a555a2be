"""Runs the benchmarks against a local broker it starts (or KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from infra.broker import LocalBroker, free_port
from infra.config import Settings
from shopstream.bench import report
from shopstream.bench.catalog import bench_catalog, bench_search_ingest
from shopstream.bench.ingest import bench_ingest
from shopstream.bench.learner import (
    bench_learner_catalogue_size,
    bench_learner_throughput,
    bench_learning_freshness,
)
from shopstream.bench.ops import bench_ops
from shopstream.bench.reco import bench_reco
from shopstream.bench.scale import bench_scale
from shopstream.bench.search import bench_freshness, bench_latency, bench_relevance, bench_relevance_real
from shopstream.bench.served import bench_served

Row = tuple[str, float, str, float | None]

# Each figure next to the baseline measured in the same run.
BASELINES: dict[str, list[tuple[str, str]]] = {
    "ingest": [
        ("ingest.simulator_events_per_s", "ingest.bare_producer_events_per_s"),
        ("ingest.pipeline_events_per_s", "ingest.bare_consumer_events_per_s"),
        ("ingest.pipeline_no_rows_events_per_s", "ingest.bare_consumer_events_per_s"),
    ],
    "relevance": [
        ("search.ndcg10_hybrid", "search.ndcg10_bm25"),
        ("search.ndcg10_vector", "search.ndcg10_bm25"),
        ("search.ndcg10_rrf", "search.ndcg10_bm25"),
        ("search.typo_ndcg10_hybrid", "search.typo_ndcg10_hybrid_clean"),
        ("search.typo_ndcg10_bm25", "search.typo_ndcg10_bm25_clean"),
    ],
    "relevance-real": [
        ("search.real_ndcg10_hybrid", "search.real_ndcg10_bm25"),
        ("search.real_ndcg10_hybrid", "search.real_ndcg10_vector"),
        ("search.real_known_ndcg10_hybrid", "search.real_known_ndcg10_bm25"),
        ("search.real_known_ndcg10_hybrid", "search.real_known_ndcg10_vector"),
    ],
    "catalog": [
        ("search.catalog_products_per_s", "search.catalog_bare_consumer_per_s"),
        ("search.catalog_vector_index_missing", "-"),
    ],
    "search-ingest": [
        ("search.ingest_products_per_s", "-"),
        ("search.vector_index_missing", "-"),
    ],
    "latency": [
        ("search.p50_ms_10k", "search.bare_p50_ms_10k"),
        ("search.p99_ms_10k", "search.bare_p99_ms_10k"),
        ("search.p99_ms_100k", "search.bare_p99_ms_100k"),
        ("search.p99_ms_16c_100k", "search.bare_p99_ms_16c_100k"),
        ("search.rps_100k", "search.bare_rps_100k"),
        ("search.rps_16c_100k", "search.bare_rps_16c_100k"),
        ("search.rps_16c_100k_workers", "search.rps_16c_100k"),
        ("search.p99_ms_16c_100k_workers", "search.p99_ms_16c_100k"),
    ],
    "freshness": [
        ("search.freshness_p50_s", "-"),
        ("search.freshness_p95_s", "-"),
    ],
    "learner": [
        ("reco.learner_events_per_s", "reco.bare_consumer_events_per_s"),
        ("reco.learner_live_events_per_s", "reco.bare_consumer_events_per_s"),
        ("reco.learner_untrained_events_per_s", "reco.bare_consumer_events_per_s"),
    ],
    "learner-scale": [
        ("reco.learn_one_us_large_catalogue", "reco.learn_one_us_small_catalogue"),
        ("reco.recommend_ms_large_catalogue", "reco.recommend_ms_small_catalogue"),
    ],
    "reco-freshness": [
        ("reco.freshness_p50_s", "-"),
        ("reco.freshness_p95_s", "-"),
    ],
    "reco-served": [
        ("reco.served_hr10_model", "reco.served_hr10_popularity"),
        ("reco.served_hr10_model", "reco.served_hr10_itemknn"),
        ("reco.served_hr10_model", "reco.served_hr10_trending"),
        ("reco.served_hr10_model", "reco.served_hr10_random"),
    ],
    "ops": [
        ("ops.metrics_scrape_ms", "ops.bare_ms"),
        ("ops.metrics_scrape_p99_ms", "ops.bare_p99_ms"),
    ],
    "scale": [
        ("scale.searchable_s", "-"),
        ("scale.products_per_s", "-"),
        ("scale.api_rss_mb", "-"),
        ("scale.consumer_rss_mb", "-"),
        ("scale.snapshot_load_s", "-"),
        ("scale.p99_ms", "-"),
        ("scale.p99_ms_16c", "-"),
        ("scale.recall10", "-"),
    ],
    "reco": [
        ("reco.hr10_model", "reco.hr10_popularity"),
        ("reco.hr10_model", "reco.hr10_batch"),
        ("reco.hr10_oracle", "reco.hr10_model"),
        ("reco.ml_hr10_model", "reco.ml_hr10_popularity"),
        ("reco.ml_hr10_model", "reco.ml_hr10_batch"),
    ],
}


@contextlib.contextmanager
def _broker(settings: Settings) -> Iterator[Settings]:
    if settings.bootstrap_servers:
        yield settings
        return
    with tempfile.TemporaryDirectory(prefix="shopstream-bench-") as tmp:
        broker = LocalBroker(Path(tmp), settings.cache_dir, free_port(), free_port(), settings.partitions)
        with broker:
            yield settings.model_copy(update={"bootstrap_servers": broker.bootstrap})


# Run only when asked for by name (`--only scale`, `make bench-scale`: about 10 minutes here).
OPT_IN = frozenset({"scale"})


def run_benchmarks(settings: Settings, only: set[str] | None = None, events: int = 30_000,
                   scale_products: int = 1_000_000, reco_items: int = 200_000) -> dict[str, float]:
    suites: dict[str, Callable[[Settings], dict[str, float]]] = {
        "ingest": lambda s: bench_ingest(s, n=events),
        "relevance": bench_relevance,
        "relevance-real": bench_relevance_real,
        "catalog": bench_catalog,
        "search-ingest": bench_search_ingest,
        "latency": bench_latency,
        "freshness": bench_freshness,
        "learner": bench_learner_throughput,
        "learner-scale": lambda s: bench_learner_catalogue_size(s, large=reco_items),
        "reco-freshness": bench_learning_freshness,
        "reco": bench_reco,
        "reco-served": bench_served,
        "ops": bench_ops,
        "scale": lambda s: bench_scale(s, n=scale_products),
    }
    unknown = (only or set()) - set(suites)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(suites)}")
    results: dict[str, float] = {}
    rows: list[Row] = []
    failed: list[str] = []
    with _broker(settings) as s:
        for name, suite in suites.items():
            if (only is not None and name not in only) or (only is None and name in OPT_IN):
                continue
            print(f"{name} ...", flush=True)
            try:
                r = suite(s)
            except Exception as exc:  # one suite failing must not lose the others' figures
                failed.append(name)
                print(f"{name} FAILED: {exc!r}", flush=True)
                continue
            results.update(r)
            report.save(r)  # saved as we go: a later failure keeps the earlier figures
            for key, base in BASELINES[name]:
                if key in r:
                    rows.append((key, r[key], base, r.get(base)))
    print()
    print(report.table(rows))
    print(f"\nall figures: {report.RESULTS}")
    if failed:
        raise RuntimeError(f"benchmark suite(s) failed: {', '.join(failed)} (see above)")
    return results
