"""What the benchmarks share: an isolated topic namespace and data folder, the API as a real server,
an HTTP load generator, background simulator load, a bare consumer, percentiles."""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from kafka import KafkaConsumer
from threadpoolctl import threadpool_limits

from consumers.runtime import ConsumerLoop, LoopStats
from events import CLICKS, ORDERS, PRODUCTS
from infra.api_token import new_token
from infra.broker import free_port
from infra.config import Settings
from infra.producer import EventSink
from infra.topics import ensure_topics
from producers.publish import publish
from producers.simulator.world import Simulator
from shopstream.supervisor import Child


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def isolated(base: Settings, name: str, topics: bool = True) -> Iterator[Settings]:
    """Settings with a fresh topic namespace (created) and a temporary data folder."""
    prefix = f"{name}-{uuid.uuid4().hex[:8]}."
    if topics:
        ensure_topics(base.bootstrap, base.partitions, base.replication_factor, prefix)
    with tempfile.TemporaryDirectory(prefix=f"shopstream-{name}-") as tmp:
        # An API server needs an operator token (infra.api_token): one for this run unless set.
        yield base.model_copy(update={"data_dir": Path(tmp), "topic_prefix": prefix,
                                      "api_token": base.api_token or new_token()})


@contextmanager
def consumers(settings: Settings, *groups: str, env: dict[str, str] | None = None) -> Iterator[list[int]]:
    """`shopstream consume GROUP` processes (with `env` added to their environment; yields their
    pids), stopped on exit."""
    children = [Child(g, ["consume", g], settings.data_dir / "logs" / f"{g}.log") for g in groups]
    for child in children:
        child.start(settings.child_env(**(env or {})))
    try:
        yield [child.process.pid for child in children if child.process is not None]
    finally:
        for child in children:
            child.stop()


@contextmanager
def api_process(settings: Settings, workers: int = 1, ready_path: str = "/ping") -> Iterator[tuple[str, int]]:
    """`shopstream serve --workers N` on a free port; yields (base URL, pid) once `ready_path`
    answers 200 (with several workers: once a burst of requests all got 200), stops it on exit."""
    port = free_port()
    log = settings.data_dir / "logs" / f"api-{port}.log"
    child = Child("api", ["serve", "--workers", str(workers)], log)
    child.start(settings.child_env(SHOPSTREAM_API_PORT=str(port)))
    assert child.process is not None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                # Each connection may land on another worker: all of a burst must be ready.
                if all(httpx.get(f"{url}{ready_path}", timeout=30).status_code == 200 for _ in range(4 * workers)):
                    break
            except httpx.HTTPError:
                pass
            if not child.alive():
                raise RuntimeError(f"the API exited; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start; see {log}")
            time.sleep(0.2)
        yield url, child.process.pid
    finally:
        child.stop()


@contextmanager
def api_server(settings: Settings, workers: int = 1, ready_path: str = "/ping") -> Iterator[str]:
    """`shopstream serve` on a free port; yields its base URL once it answers, stops it on exit."""
    with api_process(settings, workers, ready_path) as (url, _pid):
        yield url


def http_load(url: str, paths: list[str], clients: int) -> tuple[list[float], float]:
    """Latencies (ms) and requests/s for `paths` spread over `clients` concurrent clients.

    Each client is a thread with one keep-alive `http.client` connection: the load generator
    shares the cores (and its own GIL) with what it measures, so it must cost as little per
    request as it can -- as a `wrk` would, not as an application's HTTP library."""
    parts = urlsplit(url)
    local = threading.local()

    def one(path: str) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        elapsed = (time.perf_counter() - started) * 1000
        if resp.status >= 400:
            raise RuntimeError(f"GET {path} answered {resp.status}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(one, paths))
    return times, len(paths) / (time.perf_counter() - started)


@contextmanager
def background_load(settings: Settings, sim: Simulator, rate: float) -> Iterator[None]:
    """The simulator's stream at `rate` events/s in a thread, for as long as the block runs."""
    stop = threading.Event()

    def produce() -> None:
        with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
            publish(sink, sim.events(), rate=rate, progress=False, should_stop=stop.is_set)
            sink.flush()

    thread = threading.Thread(target=produce, name="background-load", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def run_until_applied(loop: ConsumerLoop, n: int) -> LoopStats:
    """Run a consumer group's loop until it has applied `n` records, with one BLAS thread, as the
    CLI runs every process (`shopstream consume`); its stats time the run from the first record."""

    def stop_when_done(stats: LoopStats) -> None:
        if stats.applied >= n:
            loop.stop()

    with threadpool_limits(1):
        stats = loop.run(on_batch=stop_when_done)
    assert stats.first_record_at is not None
    return stats


def bare_consumer_rate(settings: Settings, group: str, n: int) -> float:
    """Events/s of a kafka-python consumer that only deserialises, from its first record to the n-th."""
    consumer = KafkaConsumer(
        *(settings.topic_prefix + t for t in (PRODUCTS, CLICKS, ORDERS)),
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
