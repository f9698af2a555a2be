"""`shopstream chaos` (`make chaos`): the whole system under `shopstream run`, with its parts killed
while the simulator streams, must end with the same state as an uninterrupted run of the same seed.

Two runs of `shopstream run --count N --seed S`, one after the other, each with its own local broker,
ports and data folder:

1. **interrupted**: while the simulator streams, every consumer kind is SIGKILLed `consumer_kills`
   times, the API `api_kills` times, and the broker is SIGKILLed and kept down for
   `broker_outage_s` (its restarts fail while this tool holds the broker's data-directory lock, as a
   stale instance would); nobody but the supervisor restarts anything.
2. **uninterrupted**: the same stream, nothing killed (the simulator unpaced, to save time: the
   simulator's clock is simulated, so its events do not depend on the pace).

Each run ends once the simulator has finished and every group's stored offsets reach the end of
its topics; then Ctrl-C (the learner saves its model on the way out). The two states are then
compared figure by figure (`shopstream.statecheck`): SQLite tables, the vector index's contents and
the learner's trained-event count. The tool prints them side by side with what was killed when and
the supervisor's restart counts, writes `<data dir>/chaos.json`, and fails if any figure differs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra.config import CONSUMER_GROUPS, Settings
from shopstream.statecheck import Figures, counters, differences, side_by_side, summarize
from shopstream.system import SupervisedRun


class ChaosError(RuntimeError):
    pass


@dataclass
class ChaosPlan:
    events: int = 100_000
    rate: float = 500.0  # events/s of the interrupted run: the kills land while it streams
    seed: int = 7
    products: int = 2000
    users: int = 1000
    consumer_kills: int = 3  # SIGKILLs of each consumer kind
    api_kills: int = 1
    broker_outage_s: float = 35.0  # at least: the broker is back once a restart after that succeeds
    timeout_s: float = 1800.0  # for each run to finish and catch up


@dataclass
class Action:
    at_s: float  # since the interrupted run's stream started
    what: str
    detail: str


@dataclass
class ChaosResult:
    plan: ChaosPlan
    interrupted: Figures
    uninterrupted: Figures
    differences: list[str]
    actions: list[Action]
    restarts: dict[str, int]
    durations_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _say(text: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", flush=True)


def _gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie has: its files and locks are released)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@contextlib.contextmanager
def _broker_held_down(data_dir: Path, pid: int) -> Iterator[None]:
    """SIGKILL the broker and hold its data-directory lock: a broker the supervisor starts meanwhile
    exits at once ("another Kafka instance is using this directory"), as next to a stale instance.
    The lock is taken the moment the killed broker has released it, long before a restarted JVM
    gets that far."""
    with (data_dir / "kafka" / "logs" / ".lock").open("a+") as lock:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ChaosError(f"the broker's data-directory lock was not released (pid {pid}, "
                                     f"gone: {_gone(pid)})") from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


class Chaos:
    def __init__(self, run: SupervisedRun, plan: ChaosPlan) -> None:
        self.run = run
        self.plan = plan
        self.actions: list[Action] = []
        # The clock starts with the simulator's stream (the supervisor started it a while ago).
        since = time.time() - float(run.child("simulator").get("started_at") or time.time())
        self.started = time.monotonic() - max(since, 0.0)

    def note(self, what: str, detail: str) -> None:
        action = Action(round(time.monotonic() - self.started, 1), what, detail)
        self.actions.append(action)
        _say(f"t+{action.at_s:>6.1f}s  {what}: {detail}")

    def _applied(self) -> str:
        """Progress so far, to show that a kill lands mid-stream."""
        applied = ", ".join(f"{g} {counters(self.run.settings, g).get('events_applied', 0)}" for g in CONSUMER_GROUPS)
        stream = "still streaming" if self.run.child("simulator").get("state") == "running" else "finished"
        return f"events applied so far: {applied}; simulator {stream}"

    def kill(self, name: str) -> None:
        """SIGKILL child `name`; wait until the supervisor has it running again."""
        run = self.run
        run.wait(lambda: run.child(name).get("state") == "running" and run.child(name).get("pid") is not None,
                 f"{name} to be running", 300)
        pid = int(run.child(name)["pid"])
        applied = self._applied()
        os.kill(pid, signal.SIGKILL)
        self.note(f"SIGKILL {name}", f"pid {pid}; {applied}")
        run.wait(lambda: run.child(name).get("state") == "running" and run.child(name).get("pid") not in (None, pid),
                 f"the supervisor to restart {name}", 300)
        self.note(f"{name} back", f"pid {run.child(name)['pid']}, restarts {run.child(name).get('restarts')}")
        if name == "api":
            run.wait(run.api_answers, "the restarted API to answer", 120)
            self.note("api answers", f"{run.url}/health")

    def kill_broker(self) -> None:
        run = self.run
        pid = int(run.child("broker")["pid"])
        applied = self._applied()
        with _broker_held_down(run.data_dir, pid):
            down = time.monotonic()
            self.note("SIGKILL broker", f"pid {pid}; held down for {self.plan.broker_outage_s:.0f} s; {applied}")
            while time.monotonic() - down < self.plan.broker_outage_s:
                run.status()  # the supervisor itself must live on
                time.sleep(1)
        run.wait(lambda: run.child("broker").get("state") == "running", "the supervisor to restart the broker", 300)
        self.note("broker back", f"down {time.monotonic() - down:.0f} s, pid {run.child('broker')['pid']}, "
                  f"restarts {run.child('broker').get('restarts')}")

    def play(self) -> None:
        """Consumer kills before and after the broker outage, the API in between, spread over the stream."""
        p = self.plan
        kinds = [f"consumer:{g}" for g in CONSUMER_GROUPS]
        before = (p.consumer_kills + 1) // 2
        steps: list[str] = [*(kinds * before), "broker", *(["api"] * p.api_kills),
                            *(kinds * (p.consumer_kills - before))]
        stream_s = p.events / p.rate if p.rate > 0 else 60.0
        gap = stream_s / (len(steps) + 1)
        for i, step in enumerate(steps, start=1):
            pause = self.started + i * gap - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if step == "broker":
                self.kill_broker()
            else:
                self.kill(step)


def _run_args(plan: ChaosPlan, rate: float) -> list[str]:
    # The same seed and run id: both runs send the very same events (ids included).
    return ["--rate", str(rate), "--count", str(plan.events), "--seed", str(plan.seed),
            "--run-id", f"chaos-{plan.seed}", "--products", str(plan.products), "--users", str(plan.users)]


def run_chaos(plan: ChaosPlan, workdir: Path, keep: bool = False) -> ChaosResult:
    """Both runs, the comparison; the work folder is removed afterwards unless `keep`."""
    durations: dict[str, float] = {}
    if workdir.exists():
        shutil.rmtree(workdir)
    try:
        interrupted = SupervisedRun("interrupted", workdir / "interrupted", _run_args(plan, plan.rate))
        _say(f"interrupted run: {plan.events} events at {plan.rate:.0f}/s, seed {plan.seed} "
             f"(data: {interrupted.data_dir}; supervisor log: {interrupted.log})")
        started = time.monotonic()
        interrupted.start()
        try:
            interrupted.wait_up()
            chaos = Chaos(interrupted, plan)
            chaos.play()
            interrupted.wait(interrupted.caught_up, "the stream to end and every group to catch up", plan.timeout_s, 2)
            chaos.note("caught up", "simulator finished; every group at the end of its topics")
            restarts = {name: int(c.get("restarts", 0)) for name, c in interrupted.status().items()}
        finally:
            interrupted.stop()
        durations["interrupted"] = round(time.monotonic() - started, 1)
        got = summarize(interrupted.settings)

        baseline = SupervisedRun("uninterrupted", workdir / "uninterrupted", _run_args(plan, 0.0))
        _say(f"uninterrupted run: the same {plan.events} events, seed {plan.seed}, nothing killed")
        started = time.monotonic()
        baseline.start()
        try:
            baseline.wait_up()
            baseline.wait(baseline.caught_up, "the stream to end and every group to catch up", plan.timeout_s, 2)
            unexpected = {n: int(c.get("restarts", 0)) for n, c in baseline.status().items() if c.get("restarts")}
            if unexpected:
                raise ChaosError(f"the uninterrupted run restarted children: {unexpected}")
        finally:
            baseline.stop()
        durations["uninterrupted"] = round(time.monotonic() - started, 1)
        want = summarize(baseline.settings)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return ChaosResult(plan, got, want, differences(got, want), chaos.actions, restarts, durations)


def report(result: ChaosResult) -> str:
    p = result.plan
    lines = [
        "",
        f"chaos: {p.events} events, seed {p.seed}; each consumer kind SIGKILLed {p.consumer_kills}x, "
        f"the API {p.api_kills}x, the broker killed and held down {p.broker_outage_s:.0f} s",
        "",
        "what happened (t since the stream started):",
        *(f"  t+{a.at_s:>6.1f}s  {a.what}: {a.detail}" for a in result.actions),
        "",
        "restarts by the supervisor: " + ", ".join(f"{k} {v}" for k, v in sorted(result.restarts.items())),
        f"durations: interrupted {result.durations_s.get('interrupted')} s, "
        f"uninterrupted {result.durations_s.get('uninterrupted')} s",
        "",
        side_by_side(result.interrupted, result.uninterrupted, ("interrupted", "uninterrupted")),
        "",
        "RESULT: the same state" if result.ok else
        "RESULT: DIFFERENT STATE\n  " + "\n  ".join(result.differences),
    ]
    return "\n".join(lines)


def main(settings: Settings, plan: ChaosPlan, keep: bool = False) -> bool:
    workdir = settings.data_dir / "chaos"
    result = run_chaos(plan, workdir, keep=keep)
    print(report(result), flush=True)
    out = settings.data_dir / "chaos.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_dict(), indent=1, default=str))
    print(f"\nwritten: {out}", flush=True)
    return result.ok
