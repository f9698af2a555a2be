"""`/metrics` in the Prometheus text format (prometheus_client), right across API workers.

Two kinds of figures, each kept where several worker processes cannot disagree on it:

- figures about the shared state -- lag, offsets, status, events applied and dead-lettered,
  produce -> applied freshness, prequential quality, versions, child restarts -- are read at scrape
  time from the files every worker sees (the consumers' SQLite files, the lag sampler's history
  store, the supervisor's restart counts) by `OpsCollector`: whichever worker answers, the same
  numbers;
- figures each worker measures itself -- HTTP request durations, produce -> searchable (each worker
  has its own index) -- are prometheus_client metrics; under `shopstream serve --workers N` the
  parent sets `PROMETHEUS_MULTIPROC_DIR` before the workers start, and a scrape sums every
  worker's files (prometheus_client's multiprocess mode).

Names follow what operators already use: kafka_exporter's `kafka_consumergroup_lag`,
`kafka_consumergroup_current_offset`, `kafka_topic_partition_current_offset`;
kafka-lag-exporter's `kafka_consumergroup_lag_seconds`; the rest is `shopstream_*` with units.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest, values
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector

from api.services.monitor import group_counters, prequential, versions
from infra.config import Settings
from infra.ops.history import FRESHNESS_BUCKETS, HistoryReader, history_path
from infra.ops.status import Status
from infra.supervision import restart_counts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def multiprocess() -> bool:
    """Whether prometheus_client keeps values in `PROMETHEUS_MULTIPROC_DIR` files (decided when it
    was first imported, so the variable must be set before that: `shopstream serve` does)."""
    return values.ValueClass is not values.MutexValue and bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class WorkerMetrics:
    """What one worker measures. Not registered globally: several apps may live in one process
    (tests), each with its own; in multiprocess mode they all write this process's files."""

    def __init__(self) -> None:
        self.http = Histogram(
            "shopstream_http_request_duration_seconds", "HTTP request duration by route template.",
            ["route", "method", "status"], buckets=HTTP_BUCKETS, registry=None)
        self.searchable = Histogram(
            "shopstream_freshness_produce_to_searchable_seconds",
            "Produce time of a product change to when this API worker's index serves it.",
            buckets=FRESHNESS_BUCKETS, registry=None)

    def observe_searchable(self, delays: list[float]) -> None:
        for d in delays:
            self.searchable.observe(max(d, 0.0))


class RequestTimer:
    """ASGI middleware: each HTTP request's duration under its route template (`/products/{product_id}`,
    not the product id, so that the number of series stays bounded)."""

    def __init__(self, app: ASGIApp, metrics: WorkerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.http.labels(route, scope.get("method", "GET"), str(status)).observe(
                time.perf_counter() - started)


class OpsCollector:
    """The shared-state figures, read at scrape time (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.history = HistoryReader(history_path(settings.state_dir))

    def describe(self) -> list[Metric]:
        return []  # no fixed set (groups appear as they start); skip the registry's duplicate check

    def collect(self) -> Iterator[Metric]:
        s = self.settings
        kafka_group = {g: s.group_id(g) for g in ("store", "catalog", "learner")}
        latest = self.history.latest()
        now = time.time()

        sampler = GaugeMetricFamily("shopstream_lag_sample_age_seconds",
                                    "Age of the last lag sample (the figures below are that old; stale past a few "
                                    "sampling intervals).")
        sampler.add_metric([], now - latest.at if latest else math.nan)
        yield sampler
        kafka_up = GaugeMetricFamily("shopstream_lag_sampler_kafka_up",
                                     "1 if the last sampling round could read offsets from Kafka.")
        kafka_up.add_metric([], 1.0 if latest and latest.kafka_ok else 0.0)
        yield kafka_up

        labels = ["group", "topic", "partition"]
        lag = GaugeMetricFamily("kafka_consumergroup_lag", "Records behind the log end, per partition.",
                                labels=labels)
        lag_s = GaugeMetricFamily("kafka_consumergroup_lag_seconds",
                                  "Age of the oldest record the group has not consumed (0 when caught up).",
                                  labels=labels)
        committed = GaugeMetricFamily("kafka_consumergroup_current_offset", "The group's committed offset.",
                                      labels=labels)
        log_end = GaugeMetricFamily("kafka_topic_partition_current_offset", "The partition's log-end offset.",
                                    labels=["topic", "partition"])
        part_status = GaugeMetricFamily("shopstream_consumergroup_partition_status",
                                        "1 for the partition's Burrow-style status (OK, WARN, STALL, STOP, ERR).",
                                        labels=[*labels, "status"])
        ends_seen: set[tuple[str, int]] = set()
        for p in latest.partitions if latest else []:
            key = [kafka_group.get(p.group, s.group_id(p.group)), p.topic, str(p.partition)]
            lag.add_metric(key, p.lag)
            committed.add_metric(key, p.committed)
            if p.lag_s is not None:
                lag_s.add_metric(key, p.lag_s)
            for st in Status:
                part_status.add_metric([*key, st.value], 1.0 if p.status == st.value else 0.0)
            if (p.topic, p.partition) not in ends_seen:
                ends_seen.add((p.topic, p.partition))
                log_end.add_metric([p.topic, str(p.partition)], p.log_end)
        yield from (lag, lag_s, committed, log_end, part_status)

        status = GaugeMetricFamily("shopstream_consumergroup_status",
                                   "1 for the group's status (its worst partition's; STOP with no live process).",
                                   labels=["group", "status"])
        members = GaugeMetricFamily("shopstream_consumergroup_members_alive",
                                    "Consumer processes of the group with a recent heartbeat.", labels=["group"])
        for g in latest.groups if latest else []:
            for st in Status:
                status.add_metric([kafka_group.get(g.group, g.group), st.value], 1.0 if g.status == st.value else 0.0)
            members.add_metric([kafka_group.get(g.group, g.group)], g.members)
        yield from (status, members)

        applied = CounterMetricFamily("shopstream_events_applied", "Events applied to the group's state.",
                                      labels=["group"])
        dead = CounterMetricFamily("shopstream_events_dead_lettered", "Events the group sent to dead-letter.",
                                   labels=["group"])
        dead_kind = CounterMetricFamily("shopstream_dead_letters", "Dead letters by reason kind.",
                                        labels=["group", "kind"])
        for group, c in group_counters(s).items():
            if not c.readable:
                continue
            applied.add_metric([kafka_group[group]], c.applied)
            dead.add_metric([kafka_group[group]], c.dead_lettered)
            for kind, n in sorted(c.dead_by_kind.items()):
                dead_kind.add_metric([kafka_group[group], kind], n)
        yield from (applied, dead, dead_kind)

        fresh = HistogramMetricFamily("shopstream_freshness_produce_to_applied_seconds",
                                      "Produce time to the consumer's commit, per event (catalog, learner).",
                                      labels=["group"])
        for (name, group), h in sorted((latest.histograms if latest else {}).items()):
            if name != "produce_to_applied":
                continue
            buckets = [(_le(b), float(n)) for b, n in zip(FRESHNESS_BUCKETS, h.counts, strict=False)]
            buckets.append(("+Inf", float(h.counts[-1])))
            fresh.add_metric([kafka_group.get(group, group)], buckets, h.total)
        yield fresh

        hr = GaugeMetricFamily("shopstream_prequential_hr10", "Prequential hit rate at 10, since the start.",
                               labels=["model"])
        ndcg = GaugeMetricFamily("shopstream_prequential_ndcg10", "Prequential NDCG at 10, since the start.",
                                 labels=["model"])
        window_hr = GaugeMetricFamily("shopstream_prequential_window_hr10",
                                      "Prequential hit rate at 10 over the recent window.", labels=["model"])
        evaluated = CounterMetricFamily("shopstream_prequential_evaluated", "Interactions evaluated.",
                                        labels=["model"])
        for model, figs in sorted(prequential(s).items()):
            hr.add_metric([model], figs["hr10"])
            ndcg.add_metric([model], figs["ndcg10"])
            if figs.get("window_hr10") is not None:
                window_hr.add_metric([model], figs["window_hr10"])
            evaluated.add_metric([model], figs["evaluated"])
        yield from (hr, ndcg, window_hr, evaluated)

        current = versions(s)
        for kind in ("model", "index"):
            info = InfoMetricFamily(f"shopstream_{kind}", f"The newest complete {kind} snapshot.")
            if kind in current:
                info.add_metric([], {"version": current[kind]})
            yield info

        restarts = CounterMetricFamily("shopstream_child_restarts", "Children restarted by the supervisor.",
                                       labels=["child"])
        for child, n in sorted(restart_counts(s.data_dir).items()):
            restarts.add_metric([child], n)
        yield restarts


def _le(bound: float) -> str:
    return repr(float(bound))


class PrometheusExposition:
    """The registry one worker serves at `/metrics`."""

    def __init__(self, settings: Settings, worker: WorkerMetrics) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        if multiprocess():
            MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        else:
            self.registry.register(worker.http)
            self.registry.register(worker.searchable)
        self.registry.register(OpsCollector(settings))

    def render(self) -> bytes:
        return generate_latest(self.registry)
