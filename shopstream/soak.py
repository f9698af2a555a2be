"""`shopstream soak` (`make soak`): the whole system under `shopstream run`, with the simulator
streaming, serves mixed traffic (search, recommendations, clicks) for ten minutes.

It passes with 0 errors (any response other than 2xx, or no response, is an error; so is a child
restarted by the supervisor during the soak) and with the resident memory of the API and of each
consumer growing less than 10% from the start of the measured window to its end. A warm-up (the
catalogue loaded, every group caught up once, then a minute of the same traffic) comes first, so
that "start" is a process that has built its indexes, not one that has just been born.

Prints, per endpoint, requests, errors, p50 and p99 latency, and per process the RSS at start and
end; writes the whole summary (with an RSS sample every 10 s) to `<data dir>/soak.json`.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra.config import CONSUMER_GROUPS, Settings
from infra.sqlite import connect_reader
from shopstream.statecheck import counters, groups_at_log_end
from shopstream.system import SupervisedRun

PROCESSES = ("api", *(f"consumer:{g}" for g in CONSUMER_GROUPS))
MAX_RSS_GROWTH = 0.10


@dataclass
class SoakPlan:
    duration_s: float = 600.0
    warmup_s: float = 60.0
    clients: int = 4
    think_ms: float = 20.0  # each client's pause between requests
    rate: float = 50.0  # simulator events/s
    products: int = 2000
    users: int = 1000
    seed: int = 11
    mix: dict[str, float] = field(default_factory=lambda: {"search": 0.5, "recommendations": 0.3, "click": 0.2})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_mb(pid: int | None) -> float | None:
    """Resident memory in MiB of `pid` and every process below it (Linux /proc): an API served by
    `serve --workers N` is a small supervising process and N workers that hold the indexes. None if
    `pid` is gone."""
    if pid is None:
        return None
    total = 0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            if p == pid:
                return None  # gone; a child that left meanwhile just does not count
    return round(total / 1024, 1)


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out += children
            todo += children
    return out


def _say(text: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)


class Targets:
    """What the traffic asks about: query words from product names, users and products that exist
    (read from the consumers' SQLite files, refreshed as the catalogue grows)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.words: list[str] = []
        self.products: list[str] = []
        self.users: list[str] = []
        self.loaded_at = 0.0
        self.lock = threading.Lock()

    def refresh(self, every_s: float = 30.0) -> None:
        if time.monotonic() - self.loaded_at < every_s:
            return
        try:
            catalog = connect_reader(self.settings.sqlite_path("catalog"))
            store = connect_reader(self.settings.sqlite_path("store"))
            try:
                rows = catalog.execute("SELECT product_id, name FROM products WHERE removed = 0").fetchall()
                users = [str(r[0]) for r in store.execute("SELECT user_id FROM users")]
            finally:
                catalog.close()
                store.close()
        except sqlite3.Error:
            return
        words = sorted({w.lower() for r in rows for w in str(r[1]).split() if len(w) > 3 and w.isalpha()})
        with self.lock:
            self.products = [str(r[0]) for r in rows]
            self.words, self.users = words, users
            self.loaded_at = time.monotonic()

    def removed(self, product_id: str) -> bool:
        """Whether the catalogue has removed `product_id` (the simulator delists products as it runs)."""
        try:
            catalog = connect_reader(self.settings.sqlite_path("catalog"))
            try:
                row = catalog.execute("SELECT removed FROM products WHERE product_id = ?", (product_id,)).fetchone()
            finally:
                catalog.close()
        except sqlite3.Error:
            return False
        return row is not None and bool(row[0])

    def ready(self, products: int) -> bool:
        self.refresh(0)
        return len(self.products) >= products and len(self.users) > 10

    def request(self, rng: random.Random, kind: str) -> tuple[str, str, str, dict[str, Any]]:
        """(endpoint name, method, path, query parameters or JSON body)."""
        with self.lock:
            words, users, products = self.words, self.users, self.products
        user = rng.choice(users) if users else "u-soak"
        if kind == "search":
            q = " ".join(rng.sample(words, k=min(len(words), rng.choice((1, 1, 2, 3))))) if words else "shoes"
            params: dict[str, Any] = {"q": q, "k": 10}
            if rng.random() < 0.3:
                params["user_id"] = user
            return "GET /search", "GET", "/search", params
        if kind == "recommendations":
            return "GET /recommendations", "GET", f"/recommendations/{user}", {"k": 10}
        product = rng.choice(products) if products else "p-missing"
        body = {"user_id": user, "product_id": product, "session_id": f"soak-{secrets.token_hex(6)}",
                "source": rng.choice(("search", "recommendation", "browse")), "position": rng.randrange(10),
                "query": None}
        return "POST /events/click", "POST", "/events/click", body


@dataclass
class EndpointStats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    # Right answers that are not 2xx: a click on a product the simulator removed after the target
    # list was read gets the 422 any client would get (and is not counted as popular).
    expected: Counter[str] = field(default_factory=Counter)

    def summary(self, seconds: float) -> dict[str, Any]:
        n = len(self.latencies_ms) + sum(self.errors.values()) + sum(self.expected.values())
        return {"requests": n, "errors": sum(self.errors.values()), "per_s": round(n / seconds, 1) if seconds else None,
                "expected_rejections": dict(self.expected),
                "p50_ms": round(percentile(self.latencies_ms, 0.50), 1),
                "p99_ms": round(percentile(self.latencies_ms, 0.99), 1),
                "error_kinds": dict(self.errors.most_common(5))}


class Load:
    """`clients` threads, each a keep-alive HTTP client sending the mix until stopped."""

    def __init__(self, url: str, targets: Targets, plan: SoakPlan, token: str) -> None:
        self.url = url
        self.targets = targets
        self.plan = plan
        self.token = token
        self.stats: dict[str, EndpointStats] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.measuring = False
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(plan.clients)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _client(self, i: int) -> None:
        rng = random.Random(self.plan.seed * 1000 + i)
        kinds, weights = zip(*self.plan.mix.items(), strict=True)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, timeout=30, headers=headers) as client:
            while not self.stop.is_set():
                name, method, path, args = self.targets.request(rng, rng.choices(kinds, weights)[0])
                started = time.perf_counter()
                error = expected = None
                try:
                    resp = client.get(path, params=args) if method == "GET" else client.post(path, json=args)
                    if resp.status_code >= 300:
                        error = f"HTTP {resp.status_code}: {resp.text[:120]}"
                        if resp.status_code == 422 and method == "POST" and self.targets.removed(args["product_id"]):
                            error, expected = None, "422 for a click on a product removed meanwhile"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:160]
                elapsed = (time.perf_counter() - started) * 1000
                if self.measuring:
                    with self.lock:
                        stats = self.stats.setdefault(name, EndpointStats())
                        if expected is not None:
                            stats.expected[expected] += 1
                        elif error is None:
                            stats.latencies_ms.append(elapsed)
                        else:
                            stats.errors[error] += 1
                self.stop.wait(self.plan.think_ms / 1000)


@dataclass
class SoakResult:
    plan: SoakPlan
    seconds: float
    endpoints: dict[str, dict[str, Any]]
    rss_mb: dict[str, dict[str, float | None]]  # process -> start, end, max, growth
    rss_samples: list[dict[str, Any]]
    restarts_during: dict[str, int]
    events_applied: dict[str, int]

    @property
    def errors(self) -> int:
        return sum(int(e["errors"]) for e in self.endpoints.values()) + sum(self.restarts_during.values())

    @property
    def max_growth(self) -> float:
        return max((float(r["growth"] or 0.0) for r in self.rss_mb.values()), default=0.0)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.max_growth < MAX_RSS_GROWTH

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors, "max_rss_growth": self.max_growth, "ok": self.ok}


def run_soak(plan: SoakPlan, workdir: Path, keep: bool = False) -> SoakResult:
    if workdir.exists():
        shutil.rmtree(workdir)
    token = secrets.token_urlsafe(24)
    run = SupervisedRun("soak", workdir, ["--rate", str(plan.rate), "--seed", str(plan.seed),
                                          "--products", str(plan.products), "--users", str(plan.users)],
                        extra_env={"SHOPSTREAM_API_TOKEN": token})
    _say(f"starting the system (data: {workdir}; supervisor log: {run.log}) ...")
    run.start()
    try:
        run.wait_up()
        targets = Targets(run.settings)
        # The initial catalogue is in and every group has caught up once: the indexes are built.
        run.wait(lambda: groups_at_log_end(run.settings), "the consumers to catch up with the catalogue", 600, 2)
        run.wait(lambda: targets.ready(plan.products // 2), "products and users to ask about", 300, 2)
        load = Load(run.url, targets, plan, token)
        load.start()
        _say(f"warm-up: {plan.warmup_s:.0f} s of traffic ({plan.clients} clients)")
        time.sleep(plan.warmup_s)

        pids = {name: run.pid(name) for name in PROCESSES}
        restarts_before = {n: int(c.get("restarts", 0)) for n, c in run.status().items()}
        samples: list[dict[str, Any]] = []

        def sample() -> None:
            samples.append({"t_s": round(time.monotonic() - started, 1),
                            **{name: rss_mb(pids[name]) for name in PROCESSES}})

        load.measuring = True
        started = time.monotonic()
        _say(f"measuring for {plan.duration_s:.0f} s: {plan.clients} clients, mix {plan.mix}, "
             f"simulator at {plan.rate:.0f} events/s")
        sample()
        next_sample = started + 10
        next_note = started + 60
        while time.monotonic() - started < plan.duration_s:
            targets.refresh()
            now = time.monotonic()
            if now >= next_sample:
                sample()
                next_sample = now + 10
            if now >= next_note:
                with load.lock:
                    done = sum(len(s.latencies_ms) + sum(s.errors.values()) for s in load.stats.values())
                    errors = sum(sum(s.errors.values()) for s in load.stats.values())
                _say(f"{now - started:>5.0f} s: {done} requests, {errors} errors; RSS MiB "
                     + ", ".join(f"{k} {v}" for k, v in samples[-1].items() if k != "t_s"))
                next_note = now + 60
            time.sleep(0.5)
        sample()
        load.measuring = False
        seconds = time.monotonic() - started
        load.finish()
        status = run.status()
        restarts_during = {n: int(c.get("restarts", 0)) - restarts_before.get(n, 0) for n, c in status.items()
                           if int(c.get("restarts", 0)) != restarts_before.get(n, 0)}
        changed = [n for n in PROCESSES if run.pid(n) != pids[n]]
        for name in changed:  # a process replaced without a counted restart would fake the memory figures
            restarts_during.setdefault(name, 1)
        applied = {g: counters(run.settings, g).get("events_applied", 0) for g in CONSUMER_GROUPS}
    finally:
        run.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rss: dict[str, dict[str, float | None]] = {}
    for name in PROCESSES:
        series = [s[name] for s in samples if s.get(name) is not None]
        start, end = (series[0], series[-1]) if series else (None, None)
        growth = round(end / start - 1, 4) if start and end else None
        rss[name] = {"start": start, "end": end, "max": max(series) if series else None, "growth": growth}
    endpoints = {name: s.summary(seconds) for name, s in sorted(load.stats.items())}
    return SoakResult(plan, round(seconds, 1), endpoints, rss, samples, restarts_during, applied)


def report(result: SoakResult) -> str:
    p = result.plan
    lines = [
        "",
        f"soak: {result.seconds:.0f} s measured after a {p.warmup_s:.0f} s warm-up; {p.clients} clients "
        f"(think time {p.think_ms:.0f} ms), simulator at {p.rate:.0f} events/s",
        "",
        f"{'endpoint':<22}{'requests':>10}{'per s':>8}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}",
    ]
    for name, e in result.endpoints.items():
        lines.append(f"{name:<22}{e['requests']:>10}{e['per_s']:>8}{e['errors']:>8}{e['p50_ms']:>9}{e['p99_ms']:>9}")
        lines += [f"    {n} x {kind}" for kind, n in e["error_kinds"].items()]
        lines += [f"    {n} x {kind} (not an error)" for kind, n in e["expected_rejections"].items()]
    lines += ["", f"{'process':<20}{'RSS start MiB':>15}{'RSS end MiB':>13}{'max MiB':>9}{'growth':>9}"]
    for name, r in result.rss_mb.items():
        growth = "-" if r["growth"] is None else f"{100 * r['growth']:+.1f}%"
        lines.append(f"{name:<20}{r['start']!s:>15}{r['end']!s:>13}{r['max']!s:>9}{growth:>9}")
    lines += [
        "",
        "restarts during the soak: " + (", ".join(f"{k} {v}" for k, v in result.restarts_during.items()) or "none"),
        "events applied by the end: " + ", ".join(f"{g} {n}" for g, n in result.events_applied.items()),
        "",
        f"RESULT: {'ok' if result.ok else 'FAILED'} ({result.errors} errors; largest RSS growth "
        f"{100 * result.max_growth:+.1f}%, limit {100 * MAX_RSS_GROWTH:.0f}%)",
    ]
    return "\n".join(lines)


def main(settings: Settings, plan: SoakPlan, keep: bool = False) -> bool:
    result = run_soak(plan, settings.data_dir / "soak", keep=keep)
    print(report(result), flush=True)
    out = settings.data_dir / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_dict(), indent=1, default=str))
    print(f"\nwritten: {out}", flush=True)
    return result.ok
