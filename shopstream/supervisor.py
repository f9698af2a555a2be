"""`shopstream run`: starts every part of the system as child processes and stops them all.

Children run in their own sessions (so one Ctrl-C does not hit them all at once in an arbitrary
order) and are told by the kernel to stop if this process dies. On Ctrl-C the simulator stops
first, then the consumers finish their batch, then the API, then the broker.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.broker import LocalBroker
from infra.config import CONSUMER_GROUPS, Settings
from infra.lag import measure_lag
from infra.process import die_with_parent, stop_process
from infra.topics import ensure_topics


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
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

    def stop(self, timeout_s: float = 20.0) -> None:
        stop_process(self.process, timeout_s)


class Supervisor:
    def __init__(self, settings: Settings, rate: float, products: int, users: int, seed: int,
                 run_id: str | None = None) -> None:
        self.settings = settings
        self.rate = rate
        self.products = products
        self.users = users
        self.seed = seed
        self.run_id = run_id  # None: the simulator names each of its runs afresh
        self.broker: LocalBroker | None = None
        self.children: list[Child] = []

    def _say(self, text: str) -> None:
        print(text, flush=True)

    def run(self, duration_s: float = 0.0) -> None:
        s = self.settings
        logs = s.data_dir / "logs"
        stopping = False

        def on_signal(_signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            if not s.bootstrap_servers:
                self._say(f"starting Kafka on {s.bootstrap} (data in {s.data_dir / 'kafka'}) ...")
                self.broker = LocalBroker(
                    s.data_dir / "kafka", s.cache_dir, s.broker_port, s.controller_port, s.partitions
                ).start()
            env = s.child_env()
            created = ensure_topics(s.bootstrap, s.partitions, s.replication_factor, s.topic_prefix)
            self._say(f"topics ready ({', '.join(created) or 'already there'})")
            self.children = [
                *(Child(f"consumer:{g}", ["consume", g], logs / f"consume-{g}.log") for g in CONSUMER_GROUPS),
                Child("api", ["serve"], logs / "api.log"),
                Child(
                    "simulator",
                    ["simulate", "--rate", str(self.rate), "--products", str(self.products),
                     "--users", str(self.users), "--seed", str(self.seed), "--no-progress",
                     "--tastes-out", str(s.data_dir / "tastes.json"),
                     *(["--run-id", self.run_id] if self.run_id else [])],
                    logs / "simulator.log",
                ),
            ]
            for child in self.children:
                child.start(env)
            url = f"http://{s.api_host}:{s.api_port}"
            self._say(
                f"\nshopstream is running.\n"
                f"  web page / API : {url}/   (health: {url}/health, docs: {url}/docs)\n"
                f"  Kafka          : {s.bootstrap}\n"
                f"  consumer lag   : shopstream lag   (also printed below every 5 s)\n"
                f"  state (SQLite) : {s.state_dir}/*.sqlite3\n"
                f"  logs           : {logs}/\n"
                f"Ctrl-C stops everything.\n"
            )
            started = time.monotonic()
            next_report = started + 5
            while not stopping:
                for child in self.children:
                    if not child.alive():
                        code = child.process.returncode if child.process else None
                        raise RuntimeError(f"{child.name} exited with code {code}; see {child.log}")
                time.sleep(0.5)
                now = time.monotonic()
                if now >= next_report:
                    self._report()
                    next_report = now + 5
                if duration_s and now - started >= duration_s:
                    break
        finally:
            self.shutdown()

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
        self._say(f"[{time.strftime('%H:%M:%S')}] {summary or 'waiting for the first commit'}")

    def shutdown(self) -> None:
        self._say("stopping ...")
        order = ["simulator", "api", *(f"consumer:{g}" for g in CONSUMER_GROUPS)]
        for name in order:
            for child in self.children:
                if child.name == name:
                    child.stop()
        if self.broker is not None:
            self.broker.stop()
        self._say("stopped; no process left behind.")
