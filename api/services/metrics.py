"""Operator figures, measured by the system itself: consumer lag (records and seconds), throughput,
freshness (produce -> applied) and the learner's prequential quality."""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from typing import Any

from infra.config import CONSUMER_GROUPS, Settings
from infra.lag import measure_lag
from infra.sqlite import connect_reader, read_counters

_FRESHNESS_SQL = {
    "catalog": "SELECT applied_at - produced_at FROM products WHERE produced_at IS NOT NULL "
    "ORDER BY seq DESC LIMIT 500",
    "learner": "SELECT applied_at - produced_at FROM log WHERE produced_at IS NOT NULL ORDER BY seq DESC LIMIT 500",
}


_PREQUENTIAL = ("evaluated", "hr10", "ndcg10", "window_hr10", "window_ndcg10")


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "p50_s": round(statistics.median(ordered), 4),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
        "samples": len(ordered),
    }


class MetricsService:
    def __init__(self, settings: Settings, lag_ttl_s: float = 2.0) -> None:
        self.settings = settings
        self.lag_ttl_s = lag_ttl_s
        self._lag: tuple[float, dict[str, Any]] | None = None
        self._previous: dict[str, tuple[float, int]] = {}  # group -> (time, events_applied)
        self._lock = threading.Lock()

    def lag(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._lag is not None and now - self._lag[0] < self.lag_ttl_s:
            return self._lag[1]
        names = {self.settings.group_id(g): g for g in CONSUMER_GROUPS}  # this node's groups
        try:
            rows = measure_lag(self.settings.bootstrap, list(names), with_seconds=True)
            out: dict[str, Any] = {}
            for r in rows:
                g = out.setdefault(names.get(r.group, r.group), {"records": 0, "seconds": 0.0})
                g["records"] += r.lag
                g["seconds"] = max(g["seconds"], r.seconds or 0.0)
            result: dict[str, Any] = {"groups": out}
        except Exception as exc:  # the broker may be down: say so, keep serving the rest
            result = {"error": f"cannot reach Kafka at {self.settings.bootstrap}: {exc}"}
        self._lag = (now, result)
        return result

    def groups(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for group in CONSUMER_GROUPS:
            path = self.settings.sqlite_path(group)
            if not path.exists():
                out[group] = {"running": False}
                continue
            try:
                conn = connect_reader(path)
                try:
                    counters = read_counters(conn)
                    fresh = None
                    if group in _FRESHNESS_SQL:
                        delays = [float(r[0]) for r in conn.execute(_FRESHNESS_SQL[group]) if r[0] is not None]
                        fresh = _quantiles(delays)
                finally:
                    conn.close()
            except sqlite3.Error as exc:
                out[group] = {"error": str(exc)}
                continue
            applied = counters.get("events_applied", 0)
            now = time.monotonic()
            with self._lock:
                before = self._previous.get(group)
                self._previous[group] = (now, applied)
            rate = None
            if before is not None and now > before[0]:
                rate = round((applied - before[1]) / (now - before[0]), 2)
            out[group] = {
                "events_applied": applied,
                "dead_lettered": counters.get("dead_lettered", 0),
                "events_per_s": rate,
                "produce_to_applied": fresh,
            }
        return out

    def snapshot(self, prequential: dict[str, dict[str, float]]) -> dict[str, Any]:
        return {
            "time": time.time(),
            "consumers": self.groups(),
            "lag": self.lag(),
            "prequential": {
                name: {k: figs[k] for k in _PREQUENTIAL if k in figs} for name, figs in prequential.items()
            },
        }
