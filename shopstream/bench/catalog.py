"""Catalog benchmarks: how fast the `catalog` group applies products (SQLite + embedding + the vector
index) beside a bare consumer of the same topic, and an import through the whole pipeline until the
last product is searchable, with the vector index checked against the catalogue at every snapshot.

* ``search.catalog_products_per_s``: products already in Kafka (the producer is not timed), one
  `catalog` consumer from its first record until all are applied to SQLite and the vector index.
* ``search.ingest_products_per_s``: ``shopstream import products FILE`` (a CSV of simulated
  products) -> Kafka -> `catalog` consumer -> API ``/search``, from the import's start until the last
  product the consumer applied is found by ``/search``. Meanwhile every snapshot the consumer writes
  is loaded and caught up as the API does (no embedding) and checked with ``index_gaps``, the last
  one after the import ended. ``search.vector_index_missing`` is the largest number of live
  products missing from an index over all those checks and the consumer's own check at each
  snapshot (0 expected).
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from threadpoolctl import threadpool_limits

from consumers.catalog import CatalogProcessor
from consumers.groups import build_loop
from infra.config import Settings
from infra.producer import EventSink
from infra.snapshots import SnapshotStore
from infra.sqlite import connect_reader
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.catalog import store
from readmodels.catalog.live_index import SNAPSHOT_NAME, LiveIndex, index_gaps
from shopstream.bench.harness import api_server, bare_consumer_rate, consumers, isolated, run_until_applied


def bench_catalog(base: Settings, n: int = 100_000) -> dict[str, float]:
    """``search.catalog_products_per_s`` at `n` products, beside a bare consumer of the same records."""
    with isolated(base, "catalog") as settings:
        sim = Simulator(SimulatorConfig(seed=11, n_products=n, n_users=10))
        with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
            publish(sink, sim.initial_catalogue(), total=n, desc=f"bench: {n:,} products")
            sink.flush()
        del sim
        bare = bare_consumer_rate(settings, f"{settings.topic_prefix}bare", n)
        loop = build_loop("catalog", settings)
        processor = loop.processor
        assert isinstance(processor, CatalogProcessor)
        with threadpool_limits(1):  # as `shopstream consume` runs, also for the index's last step below
            stats = run_until_applied(loop, n)
            # The loop stops its indexer thread when it returns: the index's last step (what the
            # thread would have done next) is timed here, so the rate counts products applied to
            # SQLite *and* the vector index.
            conn = connect_reader(settings.sqlite_path("catalog"))
            processor.index_step(conn)
            elapsed = time.monotonic() - (stats.first_record_at or time.monotonic())
        assert processor.live is not None and processor.caught_up(conn)
        missing, extra = index_gaps(processor.live, conn)
        conn.close()
        rate = stats.applied / elapsed
        print(f"  {stats.applied:,} products in {elapsed:.1f}s: {rate:,.0f}/s (bare consumer {bare:,.0f}/s); "
              f"index {len(processor.live.index):,} ({processor.live.index.kind}), missing {len(missing)}", flush=True)
    return {
        "search.catalog_products_per_s": rate,
        "search.catalog_bare_consumer_per_s": bare,
        "search.catalog_products": float(stats.applied),
        "search.catalog_vector_index_missing": float(len(missing)),
        "search.catalog_vector_index_extra": float(len(extra)),
    }


def _write_products_csv(path: Path, n: int) -> None:
    sim = Simulator(SimulatorConfig(seed=13, n_products=n, n_users=10))
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "name", "description", "category", "brand", "price", "stock"])
        for p in sim.catalogue():
            # The id in the name makes each name unique, and stock > 0 keeps it among the first results
            # (products out of stock go last), so that `/search` by name finds each one.
            out.writerow([p.product_id, f"{p.name} {p.product_id}", p.description, " > ".join(p.category_path),
                          p.brand, p.price, max(p.stock, 1)])


class SnapshotChecker:
    """Loads every new snapshot of the catalog, catches it up from SQLite as the API does (a reader
    never embeds) and checks that it then holds exactly the live products."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.checked: list[tuple[int, int, int, int]] = []  # version, vectors, missing, extra
        self.recorded_missing = 0  # the consumer's own check, stored in each snapshot's meta
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot-checker", daemon=True)

    def __enter__(self) -> SnapshotChecker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        self.check_new()  # the last one

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.check_new()

    def check_new(self) -> None:
        directory = self.settings.snapshot_dir("catalog")
        db = self.settings.sqlite_path("catalog")
        done = {v for v, *_ in self.checked}
        for info in SnapshotStore(directory, SNAPSHOT_NAME).complete():
            if info.version in done or not db.exists():
                continue
            self.recorded_missing = max(self.recorded_missing, int(info.meta.get("checks", {}).get("missing", 0)))
            try:
                live = LiveIndex.from_snapshot(info)
            except (OSError, ValueError):
                continue  # pruned while being read: a newer one follows
            conn = connect_reader(db)
            try:
                live.catch_up(conn)
                if live.waiting_for is not None:
                    continue  # a newer snapshot (another embedder) takes over from here
                missing, extra = index_gaps(live, conn)
            finally:
                conn.close()
            self.checked.append((info.version, len(live.index), len(missing), len(extra)))


def bench_search_ingest(base: Settings, n: int = 10_000, timeout_s: float = 900.0) -> dict[str, float]:
    """``search.ingest_products_per_s``: an import of `n` products until the last one is searchable."""
    with isolated(base, "search-ingest") as settings:
        snapshot_every = {"SHOPSTREAM_SNAPSHOT_INTERVAL_S": "2"}  # many snapshots to check
        path = settings.data_dir / "products.csv"
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _write_products_csv(path, n)
        db = settings.sqlite_path("catalog")
        with consumers(settings, "catalog", env=snapshot_every), api_server(settings) as url, \
                SnapshotChecker(settings) as checker:
            client = httpx.Client(base_url=url, timeout=30)
            started = time.monotonic()
            importer = subprocess.Popen(  # its exit time is not observed while products are awaited
                [sys.executable, "-m", "shopstream", "import", "products", str(path), "--id-col", "id",
                 "--name-col", "name", "--description-col", "description", "--category-col", "category",
                 "--brand-col", "brand", "--price-col", "price", "--stock-col", "stock", "--no-progress"],
                env=settings.child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            last = _wait_for_all(db, n, started + timeout_s)
            applied_s = time.monotonic() - started
            name = last.name
            while True:
                body = client.get("/search", params={"q": name, "k": 10}).json()
                if any(r["product_id"] == last.product_id for r in body["results"]):
                    break
                if time.monotonic() > started + timeout_s:
                    raise RuntimeError(f"{last.product_id} was not searchable within {timeout_s:.0f}s")
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            _, err = importer.communicate(timeout=120)
            if importer.returncode != 0:
                raise RuntimeError(f"the import failed: {err.decode()[-2000:]}")
            time.sleep(5)  # one more snapshot after the last product
        conn = connect_reader(db)
        live_products = store.count_live(conn)
        conn.close()
    rate = n / elapsed
    worst_missing = max((m for _, _, m, _ in checker.checked), default=-1)
    worst_extra = max((x for _, _, _, x in checker.checked), default=-1)
    print(f"  {n:,} products imported and searchable in {elapsed:.1f}s: {rate:,.0f}/s; "
          f"{len(checker.checked)} snapshots checked, most missing {worst_missing}, most extra {worst_extra}",
          flush=True)
    if not checker.checked:
        raise RuntimeError("no catalog snapshot was written, so none could be checked")
    return {
        "search.ingest_products_per_s": rate,
        "search.ingest_seconds": elapsed,
        "search.ingest_applied_seconds": applied_s,  # until all were in SQLite (the rest: the API's catch-up)
        "search.ingest_live_products": float(live_products),
        "search.vector_index_missing": float(max(worst_missing, checker.recorded_missing)),
        "search.vector_index_extra": float(worst_extra),
        "search.snapshots_checked": float(len(checker.checked)),
    }


def _wait_for_all(db: Path, n: int, deadline: float) -> store.ProductRow:
    """Wait until the catalog holds `n` live products; the one applied last."""
    while time.monotonic() < deadline:
        if db.exists():
            conn = connect_reader(db)
            try:
                last = store.last_changed(conn) if store.count_live(conn) >= n else None
                if last is not None:
                    return last
            except sqlite3.OperationalError:  # tables not created yet
                pass
            finally:
                conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"the catalog did not reach {n:,} products in time")
