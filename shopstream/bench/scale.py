"""A million products (`make bench-scale`, kept out of `make bench`: about 10 minutes here).

The catalogue is generated (the simulator's templates, in chunks with distinct seeds), written as
JSONL and imported with `shopstream import products` through Kafka while a `catalog` consumer and
the API run, as in production. Measured:

* time from the import's start until every product is searchable through the API (the last product
  of every partition is a sentinel with a unique name: once `/search` finds all of them, the API's
  index has caught up with every partition), and products/s end to end and of the import alone;
* resident memory (now and peak) of the catalog consumer and of one API worker;
* the consumer's snapshot: size on disk and the time to load it;
* `/search` p50/p99 over HTTP at one client and at 16 clients;
* the vector leg's recall@10 against exact search over the products' stored vectors, and its
  latency, for several nprobe values: the measurement the index parameters are chosen by.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np
from kafka.partitioner.default import murmur2

from infra.config import Settings
from infra.snapshots import SnapshotStore
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.catalog import store
from readmodels.catalog.live_index import SNAPSHOT_NAME, LiveIndex
from shopstream.bench.harness import api_process, consumers, http_load, isolated, percentile

CHUNK = 50_000  # products per simulator (its world is held in memory)
NPROBE_SWEEP = (4, 8, 16, 32, 64, 128)
TIMEOUT_S = 3 * 3600


def catalogue_rows(n: int, seed: int = 21) -> Iterator[dict[str, Any]]:
    """`n` generated products as import rows (ids unique across the chunks' simulators)."""
    made = 0
    chunk = 0
    while made < n:
        size = min(CHUNK, n - made)
        sim = Simulator(SimulatorConfig(seed=seed + chunk, n_products=size, n_users=1))
        for p in sim.catalogue():
            attrs = " ".join(p.attributes.values())
            yield {
                "id": f"c{chunk}-{p.product_id}", "name": p.name, "description": f"{p.description} {attrs}".strip(),
                "category": " > ".join(p.category_path), "brand": p.brand, "price": str(p.price), "stock": p.stock,
            }
        made += size
        chunk += 1


def sentinels(partitions: int) -> list[dict[str, Any]]:
    """One product per partition of `products`, each with a name no other product has."""
    out: dict[int, dict[str, Any]] = {}
    while len(out) < partitions:
        token = uuid.uuid4().hex[:12]
        pid = f"sentinel-{token}"
        part = (murmur2(pid.encode()) & 0x7FFFFFFF) % partitions  # Kafka's default keyed partitioner
        out.setdefault(part, {"id": pid, "name": f"Sentinel{token} lantern", "description": "the last product",
                              "category": "Bench > Sentinel", "brand": "Bench", "price": "1.00", "stock": 1})
    return list(out.values())


def write_catalogue(path: Path, n: int, partitions: int) -> list[dict[str, Any]]:
    """The import file: `n` products, then the sentinels (last, so each partition ends with one)."""
    marks = sentinels(partitions)
    with path.open("w", encoding="utf-8") as f:
        for row in catalogue_rows(n):
            f.write(json.dumps(row) + "\n")
        for row in marks:
            f.write(json.dumps(row) + "\n")
    return marks


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MiB of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _found(client: httpx.Client, mark: dict[str, Any]) -> bool:
    try:
        resp = client.get("/search", params={"q": mark["name"], "k": 3})
    except httpx.HTTPError:
        return False
    return resp.status_code == 200 and any(r["product_id"] == mark["id"] for r in resp.json()["results"])


def _wait_for_snapshot(settings: Settings, n: int, timeout_s: float) -> Any:
    store = SnapshotStore(settings.snapshot_dir("catalog"), SNAPSHOT_NAME)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        infos = store.complete()
        if infos and int(infos[-1].meta.get("count", 0)) >= n:
            return infos[-1]
        time.sleep(2)
    raise RuntimeError(f"no catalog snapshot with {n:,} vectors within {timeout_s:.0f} s")


def stored_vectors(settings: Settings, dim: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(doc ids sorted, their vectors) of every live product as stored in SQLite: what every index
    is built from, before the index's own storage rounds it."""
    conn = sqlite3.connect(settings.sqlite_path("catalog"))
    try:
        ids: list[int] = []
        blobs: list[bytes] = []
        for change in store.index_changes(conn, 0):
            if not change.removed and change.vector is not None:
                ids.append(change.doc_id)
                blobs.append(change.vector)
    finally:
        conn.close()
    order = np.argsort(ids)
    return np.asarray(ids, np.int64)[order], store.decode_vectors(blobs, dim)[order]


def vector_recall(live: LiveIndex, settings: Settings, queries: list[str], k: int = 10,
                  eps: float = 1e-3) -> dict[str, float]:
    """Recall@k of the index against exact inner-product search over the products' stored vectors,
    and the vector search's median latency, for each nprobe in `NPROBE_SWEEP` (and the configured
    one): the measurement the index parameters are chosen by.

    Recall counts a returned item when its exact score is at least the k-th best exact score less
    `eps`, as ann-benchmarks does: generated catalogues hold many products with the same text, so
    the exact top k is one arbitrary pick among ties, and counting only those ids would call an
    equally good answer a miss. The recall of those exact ids is kept too (`recall10_ids*`).
    """
    out: dict[str, float] = {}
    index = live.index
    q = np.asarray(live.embedder.transform(queries), dtype=np.float32)
    q = q[np.abs(q).sum(axis=1) > 0]  # a query with no known term has no vector leg
    ids, vectors = stored_vectors(settings, index.dim)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    scores, rows = exact.search(q, k)
    del exact
    truth = [set(ids[r].tolist()) for r in rows]
    kth = scores[:, k - 1] - eps
    tied = [int((vectors @ qv >= s).sum()) for qv, s in zip(q, kth, strict=True)]
    out["scale.exact_ties_at_k_median"] = float(np.median(tied))
    configured = index.nprobe
    for nprobe in sorted({*NPROBE_SWEEP, configured}):
        index.nprobe = nprobe  # every search passes it to FAISS
        times, hits, id_hits = [], 0, 0
        for vec, want, floor in zip(q, truth, kth, strict=True):
            started = time.perf_counter()
            got, _ = index.search(vec, k)
            times.append((time.perf_counter() - started) * 1000)
            id_hits += len(want & set(got.tolist()))
            if len(got):
                hits += int((vectors[np.searchsorted(ids, got)] @ vec >= floor).sum())
        recall = hits / (k * len(q))
        out[f"scale.recall10_nprobe{nprobe}"] = recall
        out[f"scale.recall10_ids_nprobe{nprobe}"] = id_hits / (k * len(q))
        out[f"scale.vector_ms_nprobe{nprobe}"] = float(np.median(times))
        print(f"  nprobe {nprobe}: recall@{k} {recall:.3f} (exact ids {id_hits / (k * len(q)):.3f}), "
              f"{np.median(times):.2f} ms", flush=True)
    index.nprobe = configured
    out["scale.recall10"] = out[f"scale.recall10_nprobe{configured}"]
    out["scale.recall10_ids"] = out[f"scale.recall10_ids_nprobe{configured}"]
    out["scale.ivf_nprobe"] = float(configured)
    out["scale.ivf_nlist"] = float(index.lists)
    out["scale.index_is_ivf"] = float(index.kind == "ivf")
    return out


def bench_scale(base: Settings, n: int = 1_000_000, requests: int = 400, n_queries: int = 200) -> dict[str, float]:
    out: dict[str, float] = {"scale.products": float(n)}
    with isolated(base, "scale") as settings:
        path = settings.data_dir / "catalogue.jsonl"
        started = time.monotonic()
        marks = write_catalogue(path, n, settings.partitions)
        out["scale.generate_s"] = time.monotonic() - started
        print(f"  wrote {n:,} products in {out['scale.generate_s']:.0f} s ({path.stat().st_size / 2**20:,.0f} MiB)",
              flush=True)
        queries = [q for q, _ in Simulator(SimulatorConfig(seed=21, n_products=5000, n_users=1))
                   .generate_queries(n_queries, seed=4)]
        with consumers(settings, "catalog") as (consumer,), api_process(settings) as (url, api):
            t0 = time.monotonic()
            imported = subprocess.run(
                [sys.executable, "-m", "shopstream", "import", "products", str(path), "--stock-col", "stock",
                 "--json", "--no-progress"],
                env=settings.child_env(), capture_output=True, text=True, check=False,
            )
            if imported.returncode != 0:
                raise RuntimeError(f"the import failed: {imported.stderr[-2000:]}")
            out["scale.import_s"] = time.monotonic() - t0
            out["scale.import_products_per_s"] = (n + len(marks)) / out["scale.import_s"]
            print(f"  imported in {out['scale.import_s']:.0f} s "
                  f"({out['scale.import_products_per_s']:,.0f} products/s)", flush=True)
            client = httpx.Client(base_url=url, timeout=30)
            waiting = list(marks)
            peak_consumer = peak_api = 0.0
            last_report = time.monotonic()
            while waiting:
                if time.monotonic() - t0 > TIMEOUT_S:
                    raise RuntimeError(f"not all searchable after {TIMEOUT_S} s")
                waiting = [m for m in waiting if not _found(client, m)]
                peak_consumer = max(peak_consumer, memory_mb(consumer)[1])
                peak_api = max(peak_api, memory_mb(api)[1])
                if time.monotonic() - last_report > 60:
                    last_report = time.monotonic()
                    print(f"  {time.monotonic() - t0:.0f} s: {len(marks) - len(waiting)} of {len(marks)} "
                          f"partitions searchable to the end", flush=True)
                time.sleep(1)
            out["scale.searchable_s"] = time.monotonic() - t0
            out["scale.products_per_s"] = n / out["scale.searchable_s"]
            print(f"  all {n:,} searchable after {out['scale.searchable_s']:.0f} s "
                  f"({out['scale.products_per_s']:,.0f} products/s)", flush=True)

            # Latency at 1M, as in the latency suite (the same load generator).
            paths = [str(httpx.URL("/search", params={"q": q, "k": 10})) for q in queries]
            http_load(url, paths[:50], 1)
            for clients, label in ((1, ""), (16, "_16c")):
                work = (paths * (requests // len(paths) + 1))[:requests]
                times, rps = http_load(url, work, clients)
                out[f"scale.p50_ms{label}"] = percentile(times, 0.5)
                out[f"scale.p99_ms{label}"] = percentile(times, 0.99)
                out[f"scale.rps{label}"] = rps
                print(f"  1M x{clients}: p50 {percentile(times, 0.5):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
                      f"{rps:.0f} req/s", flush=True)
            rss, peak = memory_mb(api)
            out["scale.api_rss_mb"], out["scale.api_peak_rss_mb"] = rss, max(peak, peak_api)
            info = _wait_for_snapshot(settings, n, timeout_s=600)
            rss, peak = memory_mb(consumer)
            out["scale.consumer_rss_mb"], out["scale.consumer_peak_rss_mb"] = rss, max(peak, peak_consumer)
        print(f"  RSS: API worker {out['scale.api_rss_mb']:,.0f} MiB (peak {out['scale.api_peak_rss_mb']:,.0f}), "
              f"catalog consumer {out['scale.consumer_rss_mb']:,.0f} MiB "
              f"(peak {out['scale.consumer_peak_rss_mb']:,.0f})", flush=True)
        files = [info.path, *(info.file(role) for role in info.files)]
        out["scale.snapshot_mb"] = sum(f.stat().st_size for f in files) / 2**20
        started = time.monotonic()
        live = LiveIndex.from_snapshot(info)
        out["scale.snapshot_load_s"] = time.monotonic() - started
        print(f"  snapshot {out['scale.snapshot_mb']:,.0f} MiB, loaded in {out['scale.snapshot_load_s']:.1f} s",
              flush=True)
        out.update(vector_recall(live, settings, queries))
        out["scale.sqlite_mb"] = settings.sqlite_path("catalog").stat().st_size / 2**20
    return out
