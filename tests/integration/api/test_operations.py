"""The operator's view over the real broker and consumers: `/metrics` in Prometheus text that a REAL
Prometheus scrapes (and whose lag equals Kafka's own ConsumerGroupCommand), Burrow-style status
through a consumer's death and restart, and health that tells the truth."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from consumers.groups import build_loop
from infra.broker import free_port
from infra.config import Settings
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from tests.integration.api.live import LiveServer
from tests.integration.helpers import counter, kafka_describe, produce_simulation, start_consumer, wait_for
from tests.unit.infra.test_monitoring_config import dashboard_queries, rule_queries

pytestmark = pytest.mark.broker

PROMETHEUS = shutil.which("prometheus")
FAST = {"lag_sample_interval_s": 0.5, "lag_window_samples": 6, "consumer_stale_after_s": 10.0,
        "snapshot_interval_s": 1.0}


def families(text: str) -> dict[str, list]:
    """{family name: samples} of a Prometheus text exposition."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _group_lag(http: httpx.Client, group: str) -> dict:
    return http.get("/metrics.json").json()["lag"]["groups"].get(group, {})


@pytest.fixture(scope="module")
def running(module_settings: Settings) -> Iterator[tuple[Settings, LiveServer, dict]]:
    """The three groups consuming in threads, a simulated shop produced, the API on a free port."""
    settings = module_settings.model_copy(update=FAST)
    loops = {g: build_loop(g, settings) for g in ("store", "catalog", "learner")}
    threads = {g: threading.Thread(target=loop.run, daemon=True) for g, loop in loops.items()}
    for t in threads.values():
        t.start()
    try:
        produce_simulation(settings, 900, seed=11, products=150, users=40)
        with LiveServer(settings) as server:
            yield settings, server, loops
    finally:
        for loop in loops.values():
            loop.stop()
        for t in threads.values():
            t.join(30)


def test_metrics_is_prometheus_text_with_the_operators_names(running):
    settings, server, _loops = running
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for group in ("store", "catalog", "learner"):
            wait_for(lambda g=group: _group_lag(http, g).get("records") == 0, timeout_s=120, what=f"{group} caught up")
        http.get("/search", params={"q": "shoes"})
        http.get("/products/nope")
        resp = http.get("/metrics")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        fams = families(resp.text)

    prefix = settings.topic_prefix
    lag = fams["kafka_consumergroup_lag"]
    assert {s.labels["group"] for s in lag} == {prefix + g for g in ("store", "catalog", "learner")}
    assert all(s.value == 0 for s in lag)
    assert {s.labels["topic"] for s in lag if s.labels["group"] == prefix + "store"} == {
        prefix + t for t in ("products", "clicks", "orders")}
    assert all(s.value == 0 for s in fams["kafka_consumergroup_lag_seconds"])
    offsets = {(s.labels["topic"], s.labels["partition"]): s.value
               for s in fams["kafka_topic_partition_current_offset"]}
    assert sum(v for (t, _), v in offsets.items() if t.startswith(prefix)) == 900
    committed = [s for s in fams["kafka_consumergroup_current_offset"] if s.labels["group"] == prefix + "store"]
    assert sum(s.value for s in committed) == 900

    applied = {s.labels["group"]: s.value for s in fams["shopstream_events_applied"] if s.name.endswith("_total")}
    assert applied[prefix + "store"] == counter(settings.sqlite_path("store"), "events_applied") > 0
    status = {(s.labels["group"], s.labels["status"]): s.value for s in fams["shopstream_consumergroup_status"]}
    assert all(status[(prefix + g, "OK")] == 1 for g in ("store", "catalog", "learner")), status

    fresh = {s.labels["group"]: s.value for s in fams["shopstream_freshness_produce_to_applied_seconds"]
             if s.name.endswith("_count")}
    assert fresh[prefix + "catalog"] > 0 and fresh[prefix + "learner"] > 0
    http_counts = {(s.labels["route"], s.labels["status"]): s.value
                   for s in fams["shopstream_http_request_duration_seconds"] if s.name.endswith("_count")}
    assert http_counts[("/search", "200")] >= 1
    assert http_counts[("/products/{product_id}", "404")] >= 1  # the template, not the id
    quality = {s.labels["model"]: s.value for s in fams["shopstream_prequential_hr10"]}
    assert set(quality) == {"model", "popularity"} and all(0 <= v <= 1 for v in quality.values())
    assert fams["shopstream_model_info"][0].labels["version"]
    assert fams["shopstream_index_info"][0].labels["version"]
    assert fams["shopstream_lag_sample_age_seconds"][0].value < 10


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed: run `make prometheus`")
def test_a_real_prometheus_scrapes_the_lag_that_kafka_reports(running):
    settings, server, loops = running
    group = settings.topic_prefix + "store"
    loops["store"].stop()  # the store group stops; the stream goes on without it
    with httpx.Client(base_url=server.url, timeout=30) as http:
        wait_for(lambda: _group_lag(http, "store").get("status") == "STOP", timeout_s=60, what="store to be STOP")
        produce_simulation(settings, 120, seed=12, products=10, users=5)
        kafka = kafka_describe(settings, group)
        behind = sum(lag for _c, _e, lag in kafka.values())
        assert behind > 0
        wait_for(lambda: _group_lag(http, "store").get("records") == behind, timeout_s=60, what="the sampler")

        # Readiness names the group that is not alive; liveness does not care.
        ready = http.get("/health/ready")
        assert ready.status_code == 503
        assert any(p.startswith("store: no live consumer") for p in ready.json()["problems"]), ready.json()
        assert http.get("/health/live").status_code == 200
        assert http.get("/health").json()["status"] == "degraded"

    with prometheus(server.url) as prom:
        def scraped() -> dict[tuple[str, int], int] | None:
            r = prom.get("/api/v1/query", params={"query": f'kafka_consumergroup_lag{{group="{group}"}}'}).json()
            result = r["data"]["result"]
            if len(result) < len(kafka):
                return None
            return {(x["metric"]["topic"], int(x["metric"]["partition"])): int(float(x["value"][1])) for x in result}

        wait_for(lambda: scraped() is not None, timeout_s=60, interval_s=0.5, what="Prometheus to scrape the API")
        ours = scraped()
        # Every query of the Grafana dashboard and of the alert rules runs on this Prometheus.
        for expr in dashboard_queries() + rule_queries():
            answer = prom.get("/api/v1/query", params={"query": expr}).json()
            assert answer["status"] == "success", (expr, answer)
        status = prom.get("/api/v1/query", params={
            "query": f'shopstream_consumergroup_status{{group="{group}",status="STOP"}}'}).json()["data"]["result"]
        assert [float(x["value"][1]) for x in status] == [1.0]
    assert ours == {tp: lag for tp, (_c, _e, lag) in kafka.items()}
    assert sum(ours.values()) == behind


@contextlib.contextmanager
def prometheus(api_url: str) -> Iterator[httpx.Client]:
    """Debian's Prometheus on a free port, scraping `api_url` every second, with a generated config."""
    assert PROMETHEUS
    port = free_port()
    target = api_url.removeprefix("http://")
    with tempfile.TemporaryDirectory(prefix="shopstream-prometheus-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: shopstream\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        log = (Path(tmp) / "prometheus.log").open("wb")
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                def up() -> bool:
                    try:
                        return client.get("/-/ready").status_code == 200
                    except httpx.HTTPError:
                        return proc.poll() is not None  # died: fail below with its log
                wait_for(up, timeout_s=60, what="Prometheus to start")
                assert proc.poll() is None, (Path(tmp) / "prometheus.log").read_text()[-3000:]
                yield client
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()


def test_a_stopped_consumer_turns_stop_and_its_lag_seconds_grow_then_ok_after_restart(settings):
    settings = settings.model_copy(update=FAST)
    produce_simulation(settings, 300, seed=21, products=100, users=20)
    stop_load = threading.Event()

    def load() -> None:  # the stream goes on: ~60 events/s
        sim = Simulator(SimulatorConfig(seed=22, n_products=50, n_users=20))
        with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
            publish(sink, sim.events(), rate=60, progress=False, should_stop=stop_load.is_set)
            sink.flush()

    consumer = start_consumer(settings, "store")
    loader = threading.Thread(target=load, daemon=True)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        try:
            loader.start()
            wait_for(lambda: counter(settings.sqlite_path("store"), "events_applied") > 300
                     and _group_lag(http, "store").get("records") is not None
                     and _group_lag(http, "store").get("status") == "OK"
                     and http.get("/metrics.json").json()["consumers"]["store"].get("members_alive") == 1,
                     timeout_s=90, what="store consuming, OK, with a live consumer")

            consumer.send_signal(signal.SIGKILL)  # gone without a word
            consumer.wait(10)
            wait_for(lambda: _group_lag(http, "store").get("status") in ("STOP", "STALL"), timeout_s=60,
                     what="STOP or STALL")
            down = _group_lag(http, "store")
            assert "no live consumer" in down["reason"] or down["status"] == "STALL", down
            first = down["seconds"]
            wait_for(lambda: (_group_lag(http, "store").get("seconds") or 0) > (first or 0) + 2, timeout_s=30,
                     what="lag seconds to grow")
            grown = _group_lag(http, "store")
            assert grown["records"] > 0
            problems = http.get("/health/ready").json()["problems"]
            assert any(p.startswith("store:") for p in problems), problems
            fams = families(http.get("/metrics").text)
            st = {s.labels["status"]: s.value for s in fams["shopstream_consumergroup_status"]
                  if s.labels["group"] == settings.topic_prefix + "store"}
            assert st["STOP"] == 1 or st["STALL"] == 1, st

            consumer = start_consumer(settings, "store")
            wait_for(lambda: _group_lag(http, "store").get("status") == "OK", timeout_s=90, what="OK after restart")
            wait_for(lambda: (_group_lag(http, "store").get("seconds") or 0) < min(2.0, grown["seconds"] / 2),
                     timeout_s=60, what="lag seconds to fall back")
        finally:
            stop_load.set()
            loader.join(15)
            consumer.send_signal(signal.SIGTERM)
            consumer.wait(30)
