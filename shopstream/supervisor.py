"""`shopstream run`: starts every part of the system as child processes, keeps them running, stops them all.

A child that dies is restarted, after an exponential backoff (1 s, 2 s, 4 s ... up to a minute by
default; back to 1 s once it has run a minute), and the restart is logged and counted in the status
file that /metrics reads (`infra/supervision.py`). The local broker is supervised the same way. The
simulator is the one child that may finish: when it exits cleanly (its `--count` is reached) it is
not started again. Nothing but Ctrl-C (or SIGTERM) stops `shopstream run`.

Children run in their own sessions (so one Ctrl-C does not hit them all at once in an arbitrary
order) and are told by the kernel to stop if this process dies. On Ctrl-C the simulator stops
first, then the consumers finish their batch, then the API, then the broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.api_token import HOW_TO_SET, new_token, unsafe_token_reason, write_token_file
from infra.broker import BrokerError, LocalBroker
from infra.config import CONSUMER_GROUPS, Settings
from infra.lag import measure_lag
from infra.process import die_with_parent, stop_process
from infra.supervision import write_status
from infra.topics import ensure_topics

BROKER_START_TIMEOUT_S = 120.0


def _new_run_id() -> str:
    from producers.simulator.world import new_run_id

    return new_run_id()


def describe_exit(code: int | None) -> str:
    """`code 1`, or `SIGKILL` for a child killed by a signal (Popen's negative return codes)."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


@dataclass
class Backoff:
    """Restart delays: `initial_s`, doubling up to `max_s`; back to `initial_s` once the child has
    run `reset_after_s` without dying (so a crash loop slows down, a rare crash restarts at once)."""

    initial_s: float = 1.0
    max_s: float = 60.0
    reset_after_s: float = 60.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.initial_s * 2.0 ** self.failures, self.max_s)
        self.failures += 1
        return delay

    def ran_for(self, seconds: float) -> None:
        if seconds >= self.reset_after_s:
            self.failures = 0


@dataclass
class Supervised:
    """What the supervisor knows of one child (the status file's entry)."""

    name: str
    state: str = "starting"  # starting | running | backoff | finished | stopped
    restarts: int = 0
    started_at: float | None = None  # time.time() of this incarnation
    started_mono: float = 0.0
    last_exit_code: int | None = None
    last_exit_at: float | None = None
    next_restart_mono: float | None = None
    backoff: Backoff = field(default_factory=Backoff)

    def status(self, pid: int | None) -> dict[str, Any]:
        next_at = None
        if self.next_restart_mono is not None:
            next_at = round(time.time() + max(self.next_restart_mono - time.monotonic(), 0.0), 3)
        return {"pid": pid, "state": self.state, "restarts": self.restarts, "started_at": self.started_at,
                "last_exit_code": self.last_exit_code, "last_exit_at": self.last_exit_at,
                "next_restart_at": next_at}


@dataclass
class Child:
    """A `shopstream <args>` child process, its output appended to `log`.

    `restart`: "always" (consumers, API: they never finish on their own) or "on-failure" (the
    simulator: a clean exit means it sent what it was asked to).
    """

    name: str
    args: list[str]
    log: Path
    restart: str = "always"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "shopstream", *self.args],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True, preexec_fn=die_with_parent,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.alive() and self.process is not None else None

    def stop(self, timeout_s: float = 20.0) -> None:
        stop_process(self.process, timeout_s)


class Supervisor:
    def __init__(self, settings: Settings, rate: float, products: int, users: int, seed: int,
                 run_id: str | None = None, count: int = 0, backoff: Backoff | None = None) -> None:
        self.settings = settings
        self.rate = rate
        self.products = products
        self.users = users
        self.seed = seed
        # One run id for this supervisor's run, kept by a restarted simulator: it sends the same
        # events again (same seed, same ids), which the consumers recognise as duplicates.
        self.run_id = run_id or _new_run_id()
        self.count = count
        self._backoff = backoff or Backoff(settings.restart_backoff_initial_s, settings.restart_backoff_max_s,
                                           settings.restart_reset_after_s)
        self.broker: LocalBroker | None = None
        self.children: list[Child] = []
        self.records: dict[str, Supervised] = {}
        self._stopping = threading.Event()
        self._env: dict[str, str] = {}
        self._started_at = time.time()
        self._status_written = 0.0
        self._reporter: threading.Thread | None = None

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def _record(self, name: str) -> Supervised:
        if name not in self.records:
            b = self._backoff
            self.records[name] = Supervised(name, backoff=Backoff(b.initial_s, b.max_s, b.reset_after_s))
        return self.records[name]

    # -- running -------------------------------------------------------------------------------

    def run(self, duration_s: float = 0.0) -> None:
        s = self.settings
        logs = s.data_dir / "logs"

        def on_signal(_signum: int, _frame: object) -> None:
            self._stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            if not s.bootstrap_servers:
                self._say(f"starting Kafka on {s.bootstrap} (data in {s.data_dir / 'kafka'}) ...")
                self.broker = LocalBroker(
                    s.data_dir / "kafka", s.cache_dir, s.broker_port, s.controller_port, s.partitions
                ).start()
                self._started(self._record("broker"))
            # Development mode: a random operator token for this run (or the one set), in a 0600 file.
            if s.api_token and (problem := unsafe_token_reason(s.api_token)):
                raise RuntimeError(f"{problem}: unset it (`shopstream run` then makes one) or {HOW_TO_SET}")
            token = s.api_token or new_token()
            token_file = write_token_file(s.data_dir, token)
            self._env = s.child_env(SHOPSTREAM_API_TOKEN=token)
            created = ensure_topics(s.bootstrap, s.partitions, s.replication_factor, s.topic_prefix)
            self._say(f"topics ready ({', '.join(created) or 'already there'})")
            simulate = ["simulate", "--rate", str(self.rate), "--products", str(self.products),
                        "--users", str(self.users), "--seed", str(self.seed), "--run-id", self.run_id,
                        "--no-progress", "--tastes-out", str(s.data_dir / "tastes.json")]
            if self.count:
                simulate += ["--count", str(self.count)]
            self.children = [
                *(Child(f"consumer:{g}", ["consume", g], logs / f"consume-{g}.log") for g in CONSUMER_GROUPS),
                Child("api", ["serve"], logs / "api.log"),
                Child("simulator", simulate, logs / "simulator.log", restart="on-failure"),
            ]
            for child in self.children:
                child.start(self._env)
                self._started(self._record(child.name))
            self._write_status()
            url = f"http://{s.api_host}:{s.api_port}"
            print(
                f"\nshopstream is running.\n"
                f"  web page / API : {url}/   (health: {url}/health, docs: {url}/docs)\n"
                f"  API token      : {token_file}   (operator writes, e.g. clicks without the rate limit)\n"
                f"  Kafka          : {s.bootstrap}\n"
                f"  consumer lag   : shopstream lag   (also printed below every 5 s)\n"
                f"  state (SQLite) : {s.state_dir}/*.sqlite3\n"
                f"  logs           : {logs}/   (children: {s.data_dir / 'supervisor.json'})\n"
                f"A child that dies is restarted. Ctrl-C stops everything.\n",
                flush=True,
            )
            started = time.monotonic()
            next_report = started + 5
            while not self._stopping.is_set():
                changed = self._watch_broker()
                for child in self.children:
                    changed |= self._watch(child)
                now = time.monotonic()
                if changed or time.time() - self._status_written >= 2:
                    self._write_status()
                if now >= next_report:
                    self._report_in_background()
                    next_report = now + 5
                if duration_s and now - started >= duration_s:
                    break
                self._stopping.wait(0.2)
        finally:
            self.shutdown()

    def _started(self, rec: Supervised) -> None:
        rec.state = "running"
        rec.started_at = time.time()
        rec.started_mono = time.monotonic()
        rec.next_restart_mono = None

    def _exited(self, rec: Supervised, code: int | None, log: Path) -> None:
        """Note an exit and schedule the restart."""
        rec.backoff.ran_for(time.monotonic() - rec.started_mono)
        rec.last_exit_code = code
        rec.last_exit_at = time.time()
        delay = rec.backoff.next_delay()
        rec.state = "backoff"
        rec.next_restart_mono = time.monotonic() + delay
        self._say(f"{rec.name} exited ({describe_exit(code)}); restarting in {delay:.0f} s "
                  f"(restart {rec.restarts + 1}; log: {log})")

    def _watch(self, child: Child) -> bool:
        """Restart `child` if it died and its backoff has passed; whether anything changed."""
        rec = self._record(child.name)
        if rec.state == "running" and not child.alive():
            code = child.process.returncode if child.process is not None else None
            if child.restart == "on-failure" and code == 0:
                rec.state, rec.last_exit_code, rec.last_exit_at = "finished", 0, time.time()
                self._say(f"{child.name} finished")
                return True
            self._exited(rec, code, child.log)
            return True
        if rec.state == "backoff" and rec.next_restart_mono is not None and time.monotonic() >= rec.next_restart_mono:
            child.start(self._env)
            rec.restarts += 1
            self._started(rec)
            self._say(f"{child.name} restarted (pid {child.pid}, restart {rec.restarts})")
            return True
        return False

    def _watch_broker(self) -> bool:
        """The local broker, supervised like a child: restarted (without blocking) if it dies."""
        broker = self.broker
        if broker is None:
            return False
        rec = self._record("broker")
        if rec.state in ("running", "starting") and not broker.alive():
            code = broker.process.returncode if broker.process is not None else None
            broker.process = None
            self._exited(rec, code, broker.log_file)
            return True
        if rec.state == "backoff" and rec.next_restart_mono is not None and time.monotonic() >= rec.next_restart_mono:
            try:
                broker.launch()
            except BrokerError as exc:  # e.g. its port is taken: try again later
                delay = rec.backoff.next_delay()
                rec.next_restart_mono = time.monotonic() + delay
                self._say(f"broker could not be restarted: {exc} Next try in {delay:.0f} s.")
                return True
            rec.restarts += 1
            rec.state, rec.started_mono, rec.next_restart_mono = "starting", time.monotonic(), None
            rec.started_at = time.time()
            self._say(f"broker restarting (pid {broker.process.pid if broker.process else '?'}, "
                      f"restart {rec.restarts}) ...")
            return True
        if rec.state == "starting":
            if broker.ready():
                self._started(rec)
                self._say(f"broker is back on {broker.bootstrap}")
                return True
            if time.monotonic() - rec.started_mono > BROKER_START_TIMEOUT_S:
                self._say(f"broker did not come up within {BROKER_START_TIMEOUT_S:.0f} s; killing it")
                broker.kill()
                self._exited(rec, None, broker.log_file)
                return True
        return False

    def _write_status(self) -> None:
        children: dict[str, Any] = {}
        if self.broker is not None:
            pid = self.broker.process.pid if self.broker.alive() and self.broker.process is not None else None
            children["broker"] = self._record("broker").status(pid)
        for child in self.children:
            children[child.name] = self._record(child.name).status(child.pid)
        try:
            write_status(self.settings.data_dir, {"pid": os.getpid(), "started_at": self._started_at,
                                                  "updated_at": time.time(), "children": children})
        except OSError as exc:  # a full disk must not stop the supervisor
            self._say(f"could not write the status file: {exc}")
        self._status_written = time.time()

    # -- reporting -----------------------------------------------------------------------------

    def _report_in_background(self) -> None:
        """The lag line, from a thread: asking a broker that is down can take many seconds, and the
        supervisor must go on watching its children meanwhile."""
        if self._reporter is not None and self._reporter.is_alive():
            return
        self._reporter = threading.Thread(target=self._report, name="lag-report", daemon=True)
        self._reporter.start()

    def _report(self) -> None:
        try:
            rows = measure_lag(self.settings.bootstrap, [self.settings.group_id(g) for g in CONSUMER_GROUPS])
        except Exception as exc:  # the report is informative only; a broker hiccup must not stop the run
            self._say(f"[lag] unavailable: {exc}")
            return
        by_group: dict[str, tuple[int, int]] = {}
        for r in rows:
            lag, end = by_group.get(r.group, (0, 0))
            by_group[r.group] = (lag + r.lag, end + r.log_end)
        summary = ", ".join(f"{g}: lag {lag} of {end} records" for g, (lag, end) in sorted(by_group.items()))
        self._say(summary or "waiting for the first commit")

    def shutdown(self) -> None:
        self._say("stopping ...")
        order = ["simulator", "api", *(f"consumer:{g}" for g in CONSUMER_GROUPS)]
        for name in order:
            for child in self.children:
                if child.name == name:
                    child.stop()
                    self._record(name).state = "stopped"
        if self.broker is not None:
            self.broker.stop()
            self._record("broker").state = "stopped"
        if self.records:
            self._write_status()
        self._say("stopped; no process left behind.")
