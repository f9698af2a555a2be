"""Operator figures as JSON (`/metrics.json` for the shop page's strip, `/ops/data` for the dashboard)
and the health checks. Nothing here talks to Kafka: lag and status come from the lag sampler's
history store (`infra.ops`), as of its last round, with that round's age; counters and heartbeats
are read now from the consumers' SQLite files."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from api.services.monitor import group_counters, pick, prequential
from infra.config import CONSUMER_GROUPS, Settings
from infra.ops.history import GroupRow, HistoryReader, history_path
from infra.ops.status import Status
from infra.sqlite import connect_reader, read_status

_PREQUENTIAL = ("evaluated", "hr10", "ndcg10", "window_hr10", "window_ndcg10")


def _r(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(v, digits)


@dataclass
class Readiness:
    ready: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    stores: dict[str, bool] = field(default_factory=dict)


class MetricsService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.history = HistoryReader(history_path(settings.state_dir))

    @property
    def stale_after_s(self) -> float:
        """Figures older than three sampling rounds are marked stale."""
        return 3 * self.settings.lag_sample_interval_s + 2

    # -- /metrics.json ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        latest = self.history.latest()
        rows = {g.group: g for g in latest.groups} if latest else {}
        rates = self._rates(now)
        consumers: dict[str, Any] = {}
        for group, c in group_counters(self.settings).items():
            if not c.exists:
                consumers[group] = {"running": False}
                continue
            if not c.readable:
                consumers[group] = {"error": c.error}
                continue
            row = rows.get(group)
            consumers[group] = {
                "events_applied": c.applied,
                "dead_lettered": c.dead_lettered,
                # By reason (`error.kind`): what `shopstream dead-letter list --counts` counts on the topic.
                "dead_lettered_by_kind": dict(sorted(c.dead_by_kind.items())),
                "events_per_s": rates.get(group),
                "members_alive": row.members if row else None,
                "produce_to_applied": None if row is None or row.fresh_n == 0 else {
                    "p50_s": _r(row.fresh_p50), "p95_s": _r(row.fresh_p95), "samples": row.fresh_n,
                    "window_s": self.settings.freshness_window_s},
            }
        lag: dict[str, Any] = {"groups": {g.group: {"records": g.lag, "seconds": _r(g.lag_s, 2), "status": g.status,
                                                    "reason": g.reason} for g in rows.values()}}
        if latest is None:
            lag["error"] = "no lag sample yet (the sampler writes one every " \
                           f"{self.settings.lag_sample_interval_s:g} s)"
        else:
            lag["age_s"] = round(now - latest.at, 2)
            lag["stale"] = now - latest.at > self.stale_after_s
            if latest.error:
                lag["error"] = latest.error
        return {
            "time": now,
            "consumers": consumers,
            "lag": lag,
            "prequential": {name: pick(figs, _PREQUENTIAL) for name, figs in prequential(self.settings).items()},
        }

    def _rates(self, now: float, window_s: float = 30.0) -> dict[str, float | None]:
        """Events applied per second over the last `window_s` of history, per group."""
        out: dict[str, float | None] = {}
        for group, cols in self.history.series(now - window_s, what=("groups",))["groups"].items():
            at, applied = cols["at"], cols["applied"]
            out[group] = round((applied[-1] - applied[0]) / (at[-1] - at[0]), 2) if len(at) > 1 else None
        return out

    # -- /ops/data ----------------------------------------------------------------------------------

    def ops_data(self, since: float | None = None) -> dict[str, Any]:
        now = time.time()
        start = max(since or 0.0, now - self.settings.ops_history_s)
        latest = self.history.latest()
        return {
            "time": now,
            "since": start,
            "interval_s": self.settings.lag_sample_interval_s,
            "history_s": self.settings.ops_history_s,
            "stale": latest is None or now - latest.at > self.stale_after_s,
            "age_s": None if latest is None else round(now - latest.at, 2),
            "error": None if latest is None else latest.error,
            "status": {g.group: _status(g) for g in latest.groups} if latest else {},
            "partitions": [vars(p) for p in latest.partitions] if latest else [],
            "series": self.history.series(start),
        }

    # -- health ---------------------------------------------------------------------------------------

    def readiness(self) -> Readiness:
        """Ready when every group's store is readable, has a live consumer process, and is not
        STALL, STOP or ERR by the last lag sample."""
        now = time.time()
        out = Readiness(ready=True)
        latest = self.history.latest()
        sampled = {g.group: g for g in latest.groups} if latest else {}
        fresh = latest is not None and now - latest.at <= self.stale_after_s
        if latest is None:
            out.notes.append("no lag sample yet: stall and stop not judged")
        elif not fresh:
            out.notes.append(f"the last lag sample is {now - latest.at:.0f} s old: stall and stop not judged")
        for group in CONSUMER_GROUPS:
            facts = self._liveness(group, now)
            out.stores[group] = facts["store_readable"]
            row = sampled.get(group)
            if row is not None and fresh:
                facts["status"] = row.status
                facts["reason"] = row.reason
            out.groups[group] = facts
            if not facts["store_readable"]:
                out.problems.append(f"{group}: store not readable ({facts['store_error']})")
            elif facts["members_alive"] == 0:
                since = facts["last_beat_age_s"]
                out.problems.append(f"{group}: no live consumer process" + (
                    "" if since is None else f" (last heartbeat {since:.0f} s ago)"))
            if row is not None and fresh and not Status(row.status).healthy and facts["members_alive"]:
                out.problems.append(f"{group}: {row.status}: {row.reason}")
        out.ready = not out.problems
        return out

    def _liveness(self, group: str, now: float) -> dict[str, Any]:
        path = self.settings.sqlite_path(group)
        facts: dict[str, Any] = {"store_readable": False, "store_error": None, "members_alive": 0,
                                 "last_beat_age_s": None, "status": None, "reason": None}
        if not path.exists():
            facts["store_error"] = f"{path} does not exist yet: is the `{group}` consumer running?"
            return facts
        try:
            conn = connect_reader(path)
            try:
                conn.execute("SELECT count(*) FROM counters").fetchone()
                beats = read_status(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            facts["store_error"] = f"{path}: {exc}"
            return facts
        facts["store_readable"] = True
        stale = now - self.settings.consumer_stale_after_s
        facts["members_alive"] = len([b for b in beats if b["state"] != "stopped" and float(b["beat_at"]) >= stale])  # type: ignore[arg-type]
        last = max((float(b["beat_at"]) for b in beats), default=None)  # type: ignore[arg-type]
        facts["last_beat_age_s"] = None if last is None else round(now - last, 1)
        return facts


def _status(g: GroupRow) -> dict[str, Any]:
    return {"status": g.status, "reason": g.reason, "lag": g.lag, "lag_s": _r(g.lag_s, 2), "members": g.members,
            "applied": g.applied, "dead_lettered": g.dead_lettered, "dead_by_kind": g.dead_by_kind,
            "fresh_p50": _r(g.fresh_p50), "fresh_p95": _r(g.fresh_p95)}
