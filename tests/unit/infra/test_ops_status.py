"""Burrow's consumer status rules, the history store and the Prometheus exposition, without a broker."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from api.schemas import OpsData
from api.services.metrics import MetricsService
from api.services.prometheus import OpsCollector, PrometheusExposition, WorkerMetrics
from infra.config import Settings
from infra.ops.history import GroupRow, Histogram, HistoryReader, HistoryWriter, PartitionRow, Round, history_path
from infra.ops.status import OffsetSample, Status, Verdict, group_status, partition_status
from infra.supervision import write_status


def window(*points: tuple[int, int], step: float = 5.0) -> list[OffsetSample]:
    return [OffsetSample(i * step, committed, lag) for i, (committed, lag) in enumerate(points)]


def test_lag_zero_anywhere_in_the_window_is_ok():
    assert partition_status(window((10, 5), (10, 0), (10, 7), (10, 9)), alive=True).status is Status.OK


def test_a_rewind_is_an_error_even_for_a_live_consumer():
    v = partition_status(window((100, 5), (120, 6), (90, 40)), alive=True)
    assert v.status is Status.ERR and "went back from 120 to 90" in v.reason


def test_no_live_consumer_with_lag_is_stop():
    assert partition_status(window((100, 5), (100, 9)), alive=False).status is Status.STOP


def test_offsets_stuck_with_lag_is_stall_for_a_live_consumer_once_the_window_is_long_enough():
    stuck = window((100, 5), (100, 8), (100, 12), (100, 15))
    assert partition_status(stuck, alive=True).status is Status.STALL
    assert partition_status(stuck[:2], alive=True).status is Status.OK  # too few samples to tell
    assert partition_status(stuck, alive=None).status is Status.STALL  # no heartbeats known: the window decides


def test_moving_offsets_with_lag_that_never_falls_is_warn_and_falling_lag_is_ok():
    assert partition_status(window((100, 5), (110, 5), (130, 9), (150, 12)), alive=True).status is Status.WARN
    assert partition_status(window((100, 5), (110, 9), (130, 4), (150, 12)), alive=True).status is Status.OK


def test_group_takes_the_worst_partition_and_stop_without_a_live_process():
    parts = [Verdict(Status.OK, "a"), Verdict(Status.WARN, "b"), Verdict(Status.STALL, "c")]
    assert group_status(parts, alive=True).status is Status.STALL
    assert group_status([Verdict(Status.OK, "caught up")], alive=False).status is Status.STOP
    assert group_status([Verdict(Status.ERR, "rewind")], alive=False).status is Status.ERR
    assert [s.severity for s in Status] == sorted(s.severity for s in Status)


def _round(at: float, lag: int, status: str = "OK") -> Round:
    hist = Histogram()
    for d in (0.02, 0.3, 4.0):
        hist.observe(d)
    return Round(
        at=at, kafka_ok=True, error=None, took_s=0.01, pid=1,
        partitions=[PartitionRow("store", "products", p, 100 + p, 100 + p + lag, lag, 1.5 if lag else 0.0, status,
                                 "x") for p in range(3)],
        groups=[GroupRow("store", status, "reason", 3 * lag, 1.5, 1, at, 42, 2, {"schema": 2}, 0.05, 0.2, 10)],
        topics={"products": 309 + 3 * lag}, quality={"model": {"hr10": 0.2, "evaluated": 10}},
        versions={"model": "3"}, histograms={("produce_to_applied", "store"): hist},
    )


def test_history_round_trip_and_pruning(tmp_path):
    path = history_path(tmp_path)
    writer = HistoryWriter(path, keep_s=100)
    writer.write(_round(1000.0, 0))
    writer.write(_round(1050.0, 4, "WARN"))
    latest = HistoryReader(path).latest()
    assert latest is not None and latest.at == 1050.0 and latest.offsets_at == 1050.0
    assert [p.lag for p in latest.partitions] == [4, 4, 4] and latest.groups[0].status == "WARN"
    assert latest.groups[0].dead_by_kind == {"schema": 2}
    assert latest.histograms[("produce_to_applied", "store")].n == 3
    series = HistoryReader(path).series(0)
    assert series["groups"]["store"]["lag"] == [0, 12] and series["topics"]["products"]["log_end"] == [309, 321]
    assert [v["version"] for v in series["versions"]] == ["3"]  # written once: it did not change
    writer.write(_round(1200.0, 1))  # more than keep_s later: the first two rounds go
    assert HistoryReader(path).series(0)["groups"]["store"]["at"] == [1200.0]
    assert HistoryReader(path).series(0)["versions"][0]["version"] == "3"  # the version in force stays
    writer.close()


def test_metrics_exposition_parses_and_names_what_operators_expect(tmp_path):
    settings = Settings(data_dir=tmp_path, topic_prefix="t.")
    writer = HistoryWriter(history_path(tmp_path), keep_s=3600)
    writer.write(_round(time.time(), 7, "STALL"))
    writer.close()
    write_status(tmp_path, {"children": {"consumer:store": {"restarts": 1, "state": "running"}}})
    worker = WorkerMetrics()
    worker.http.labels("/search", "GET", "200").observe(0.003)
    text = PrometheusExposition(settings, worker).render().decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    lag = {(s.labels["group"], s.labels["partition"]): s.value for s in fams["kafka_consumergroup_lag"].samples}
    assert lag == {("t.store", "0"): 7, ("t.store", "1"): 7, ("t.store", "2"): 7}
    status = {s.labels["status"]: s.value for s in fams["shopstream_consumergroup_status"].samples}
    assert status["STALL"] == 1 and status["OK"] == 0
    buckets = [s for s in fams["shopstream_freshness_produce_to_applied_seconds"].samples
               if s.name.endswith("_bucket")]
    assert [s.value for s in buckets if s.labels["le"] in ("0.025", "0.5", "5.0", "+Inf")] == [1, 2, 3, 3]
    assert fams["shopstream_child_restarts"].samples[0].value == 1
    assert fams["shopstream_http_request_duration_seconds"].type == "histogram"
    assert fams["shopstream_lag_sample_age_seconds"].samples[0].value < 60
    assert list(OpsCollector(settings).describe()) == []


def test_the_dashboards_figures_match_their_documented_shape(tmp_path):
    settings = Settings(data_dir=tmp_path, topic_prefix="t.")
    writer = HistoryWriter(history_path(tmp_path), keep_s=3600)
    now = time.time()
    writer.write(_round(now - 5, 3, "WARN"))
    writer.write(_round(now, 7, "STALL"))
    writer.close()
    data = OpsData.model_validate(MetricsService(settings).ops_data())
    assert data.status["store"].status == "STALL" and data.status["store"].lag == 21
    assert [p.lag for p in data.partitions] == [7, 7, 7]
    assert not data.stale
