"""Search benchmarks: relevance (NDCG@10 per leg, per embedder, per fusion), latency over HTTP beside a
bare endpoint on the same server, and freshness through the whole pipeline under load."""

from __future__ import annotations

import gc
import os
import statistics
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
from threadpoolctl import threadpool_limits

from api.services.catalog import CatalogService
from api.services.search import search
from events import ProductUpserted, make_event
from infra.config import Settings
from infra.producer import EventSink
from infra.sqlite import connect_reader
from models.embed import MiniLMUnavailableError
from models.metrics import ndcg_at_k
from models.search import Fusion, Mode
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.catalog.live_index import rebuild
from shopstream.bench.catalog_fixture import build_catalog, write_catalog
from shopstream.bench.harness import api_server, background_load, consumers, http_load, isolated, percentile
from shopstream.bench.realtext import Suite, build_known_item_suites, build_realtext_suites
from shopstream.bench.reco import DEFAULT_MOVIELENS

EMBEDDERS = (("hashing", 128), ("lsa", 64), ("lsa", 128), ("lsa", 256), ("wordllama", 256), ("minilm", 384))


def _ndcg(catalog: CatalogService, queries: list[tuple[str, dict[str, int]]], mode: Mode,
          fusion: Fusion = "weighted", bm25_weight: float | None = None) -> tuple[float, float]:
    scores, times = [], []
    for text, judged in queries:
        started = time.perf_counter()
        result = search(catalog, text, 10, mode=mode, fusion=fusion, bm25_weight=bm25_weight)
        times.append((time.perf_counter() - started) * 1000)
        scores.append(ndcg_at_k([h.product.product_id for h in result.hits], judged, 10))
    return statistics.fmean(scores), statistics.median(times)


def with_typo(query: str) -> str:
    """`query` with the middle letter of its longest word dropped, if that word has 5 letters or more:
    a shopper's typo, the same each run.

    >>> with_typo("hario coffee grinder"), with_typo("red mug")
    ('hario coffee grider', 'red mug')
    """
    words = query.split()
    if not words:
        return query
    i = max(range(len(words)), key=lambda j: len(words[j]))
    word = words[i]
    if len(word) >= 5:
        words[i] = word[:len(word) // 2] + word[len(word) // 2 + 1:]
    return " ".join(words)


def bench_relevance(base: Settings, n_products: int = 3000, n_queries: int = 300) -> dict[str, float]:
    with threadpool_limits(1):  # as the consumer and the API run: one BLAS thread
        return _relevance(base, n_products, n_queries)


def _relevance(base: Settings, n_products: int, n_queries: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with isolated(base, "relevance", topics=False) as settings:
        sim, _live, _ = build_catalog(settings, n_products)
        queries = sim.generate_queries(n_queries, seed=2)
        catalog = CatalogService(settings)
        out["search.ndcg10_bm25"], _ = _ndcg(catalog, queries, "bm25")
        conn = connect_reader(settings.sqlite_path("catalog"))
        for kind, dims in EMBEDDERS:
            name = f"{kind}{dims}"
            started = time.monotonic()
            try:
                catalog.live = rebuild(conn, kind, dims)
            except MiniLMUnavailableError as exc:
                print(f"  {name}: skipped ({exc})", flush=True)
                continue
            out[f"search.embed.{name}.fit_s"] = time.monotonic() - started
            out[f"search.embed.{name}.ndcg10_vector"], _ = _ndcg(catalog, queries, "vector")
            out[f"search.embed.{name}.ndcg10_hybrid"], ms = _ndcg(catalog, queries, "hybrid")
            out[f"search.embed.{name}.ndcg10_hybrid_rrf"], _ = _ndcg(catalog, queries, "hybrid", "rrf")
            out[f"search.embed.{name}.search_ms_p50"] = ms
            print(f"  {name}: vector {out[f'search.embed.{name}.ndcg10_vector']:.3f}, "
                  f"hybrid {out[f'search.embed.{name}.ndcg10_hybrid']:.3f}", flush=True)
        default = f"{base.embedder}{base.embed_dims}"
        catalog.live = rebuild(conn, base.embedder, base.embed_dims)
        for w in (0.4, 0.5, 0.6, 0.7, 0.8):
            out[f"search.ndcg10_hybrid_w{int(w * 10)}"], _ = _ndcg(catalog, queries, "hybrid", bm25_weight=w)
        # Typos, with the in-memory keyword index the API serves from (spelling is corrected
        # against its words), beside the same queries as written in the same configuration.
        catalog.live.enable_keywords(conn)
        typos = [(with_typo(text), judged) for text, judged in queries]
        for mode in ("bm25", "hybrid"):
            out[f"search.typo_ndcg10_{mode}_clean"], _ = _ndcg(catalog, queries, mode)
            out[f"search.typo_ndcg10_{mode}"], _ = _ndcg(catalog, typos, mode)
        print(f"  a typo in each query: hybrid {out['search.typo_ndcg10_hybrid']:.3f} "
              f"(as written {out['search.typo_ndcg10_hybrid_clean']:.3f}), bm25 {out['search.typo_ndcg10_bm25']:.3f} "
              f"(as written {out['search.typo_ndcg10_bm25_clean']:.3f})", flush=True)
        conn.close()
        out["search.ndcg10_vector"] = out[f"search.embed.{default}.ndcg10_vector"]
        out["search.ndcg10_hybrid"] = out[f"search.embed.{default}.ndcg10_hybrid"]
        out["search.ndcg10_rrf"] = out[f"search.embed.{default}.ndcg10_hybrid_rrf"]
    return out


def bench_relevance_real(base: Settings, data_dir: Path | None = None, folds: int = 2) -> dict[str, float]:
    """NDCG@10 on real text (`shopstream/bench/realtext.py`: MovieLens movies described by their
    users' tags, the held-out tags as queries; and known-item queries, one user's tags for a movie
    described by the others'), through the catalog store, the index and `search` as `/search`
    runs them, with the default embedder and fusion. Each figure is the mean over `folds` folds."""
    data_dir = data_dir or DEFAULT_MOVIELENS
    if not (data_dir / "tags.csv").exists():
        print(f"  MovieLens tags not found in {data_dir}: skipped", flush=True)
        return {}
    out: dict[str, float] = {}
    with threadpool_limits(1):
        for label, suites in (("real", build_realtext_suites(data_dir, folds=folds)),
                              ("real_known", build_known_item_suites(data_dir, folds=folds))):
            figures: dict[str, list[float]] = {"bm25": [], "vector": [], "hybrid": []}
            for suite in suites:
                for mode, ndcg in _suite_ndcg(base, suite).items():
                    figures[mode].append(ndcg)
            for mode, values in figures.items():
                out[f"search.{label}_ndcg10_{mode}"] = statistics.fmean(values)
            out[f"search.{label}_queries"] = float(sum(len(s.queries) for s in suites))
            print(f"  {label}: " + ", ".join(f"{m} {statistics.fmean(v):.4f}" for m, v in figures.items())
                  + f" ({int(out[f'search.{label}_queries'])} queries, {len(suites)} folds)", flush=True)
    return out


def _suite_ndcg(base: Settings, suite: Suite) -> dict[str, float]:
    with isolated(base, "relevance-real", topics=False) as settings:
        write_catalog(settings, suite.products, desc=suite.name)
        catalog = CatalogService(settings)
        queries = [(q.text, {pid: g - 1 for pid, g in q.judged.items()}) for q in suite.queries]
        return {mode: _ndcg(catalog, queries, mode)[0] for mode in ("bm25", "vector", "hybrid")}


def bench_latency(base: Settings, sizes: tuple[int, ...] = (10_000, 100_000), requests: int = 400,
                  workers: int | None = None) -> dict[str, float]:
    """Search over HTTP beside the bare endpoint, at one and 16 clients; at the largest size also
    with `workers` API processes (default: one per core) against 16 clients."""
    out: dict[str, float] = {}
    workers = workers or os.cpu_count() or 2
    for n in sizes:
        tag = f"{n // 1000}k"
        with isolated(base, f"latency-{tag}", topics=False) as settings:
            sim, live, build_s = build_catalog(settings, n)
            out[f"search.build_s_{tag}"] = build_s
            out[f"search.index_is_ivf_{tag}"] = float(live.index.kind == "ivf")
            # Kept so results compare with earlier runs': the approximate layout was HNSW until the
            # inverted file replaced it, so this is now always 0.
            out[f"search.index_is_hnsw_{tag}"] = 0.0
            queries = [q for q, _ in sim.generate_queries(200, seed=4)]
            paths = [str(httpx.URL("/search", params={"q": q, "k": 10})) for q in queries]
            # The client's own heap must not time the server: drop the build's objects first.
            del sim, live
            gc.collect()
            with api_server(settings) as url:
                http_load(url, paths[:50], 1)  # warm-up: first requests open connections and caches
                for clients, label in ((1, ""), (16, "_16c")):
                    work = (paths * (requests // len(paths) + 1))[:requests]
                    times, rps = http_load(url, work, clients)
                    bare, bare_rps = http_load(url, ["/ping"] * requests, clients)
                    out[f"search.p50_ms{label}_{tag}"] = percentile(times, 0.5)
                    out[f"search.p99_ms{label}_{tag}"] = percentile(times, 0.99)
                    out[f"search.rps{label}_{tag}"] = rps
                    out[f"search.bare_p50_ms{label}_{tag}"] = percentile(bare, 0.5)
                    out[f"search.bare_p99_ms{label}_{tag}"] = percentile(bare, 0.99)
                    out[f"search.bare_rps{label}_{tag}"] = bare_rps
                    print(f"  {tag} x{clients}: p50 {percentile(times, 0.5):.1f} ms, "
                          f"p99 {percentile(times, 0.99):.1f} ms, {rps:.0f} req/s "
                          f"(bare p99 {percentile(bare, 0.99):.1f} ms)", flush=True)
            if n == max(sizes) and workers > 1:
                out.update(_with_workers(settings, paths, requests, workers, tag))
    if "search.bare_p99_ms_100k" in out:
        out["search.bare_p99_ms"] = out["search.bare_p99_ms_100k"]
    return out


def _with_workers(settings: Settings, paths: list[str], requests: int, workers: int, tag: str) -> dict[str, float]:
    """16 clients against `serve --workers N`: each worker loads the snapshot and follows SQLite."""
    out: dict[str, float] = {f"search.workers_{tag}": float(workers)}
    with api_server(settings, workers=workers, ready_path=paths[0]) as url:
        http_load(url, paths[:50], 16)  # warm-up: every worker's connections and caches
        work = (paths * (requests // len(paths) + 1))[:requests]
        times, rps = http_load(url, work, 16)
        bare, bare_rps = http_load(url, ["/ping"] * requests, 16)
    label = f"_16c_{tag}_workers"
    out[f"search.p50_ms{label}"] = percentile(times, 0.5)
    out[f"search.p99_ms{label}"] = percentile(times, 0.99)
    out[f"search.rps{label}"] = rps
    out[f"search.bare_p99_ms{label}"] = percentile(bare, 0.99)
    out[f"search.bare_rps{label}"] = bare_rps
    print(f"  {tag} x16, {workers} workers: p50 {percentile(times, 0.5):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
          f"{rps:.0f} req/s (bare p99 {percentile(bare, 0.99):.1f} ms, {bare_rps:.0f} req/s)", flush=True)
    return out


def bench_freshness(base: Settings, samples: int = 20, load_rate: float = 300.0) -> dict[str, float]:
    """Produce a product, poll /search for its name: produce-to-visible, under simulator load."""
    delays: list[float] = []
    sim = Simulator(SimulatorConfig(seed=5, n_products=2000, n_users=500))
    with isolated(base, "freshness") as settings, consumers(settings, "catalog"), \
            EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        publish(sink, sim.initial_catalogue(), progress=False)
        sink.flush()
        with api_server(settings) as url, background_load(settings, sim, load_rate):
            client = httpx.Client(base_url=url, timeout=10)
            _wait_for_catalog(client, 2000)
            for i in range(samples):
                name = f"Probe{uuid.uuid4().hex[:8]} Freshness Lantern {i}"
                started = time.monotonic()
                probe = ProductUpserted(product_id=f"probe-{i}", name=name, price=Decimal("9.99"), stock=3)
                sink.send(make_event(probe))
                sink.producer.flush()
                while time.monotonic() - started < 30:
                    body = client.get("/search", params={"q": name, "k": 3}).json()
                    if any(r["product_id"] == f"probe-{i}" for r in body["results"]):
                        delays.append(time.monotonic() - started)
                        break
                    time.sleep(0.01)
                time.sleep(0.2)
    return {
        "search.freshness_p50_s": statistics.median(delays),
        "search.freshness_p95_s": percentile(delays, 0.95),
        "search.freshness_samples": float(len(delays)),
    }


def _wait_for_catalog(client: httpx.Client, n: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            catalog = client.get("/metrics.json").json()["consumers"]["catalog"]
            if catalog.get("events_applied", 0) >= n:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise RuntimeError("the catalogue did not arrive in the API within 120 s")
