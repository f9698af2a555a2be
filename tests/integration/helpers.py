"""Helpers for integration tests: simulated streams, consumer subprocesses, table dumps."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from infra.config import Settings
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig, Tally

STORE_TABLES = ("products", "inventory", "users", "clicks", "orders", "order_lines")


def produce_simulation(settings: Settings, count: int, seed: int = 7, products: int = 300, users: int = 100) -> Tally:
    sim = Simulator(SimulatorConfig(seed=seed, n_products=products, n_users=users))
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        sent = publish(sink, sim.events(count), progress=False)
        sink.flush()
    assert sent == count
    return sim.tally


def dump(db_path: Path, tables: tuple[str, ...] = STORE_TABLES) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(db_path)
    try:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        db.close()


def counter(db_path: Path, name: str) -> int:
    if not db_path.exists():
        return 0
    db = sqlite3.connect(db_path, timeout=30)
    try:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        db.close()


# kafka-python logs every refused reconnect during an outage; what the consumer itself said matters.
RECONNECT_NOISE = ("ECONNREFUSED", "No node available", "socket disconnected", "Connection lost", "Abort (",
                   "Error sending", "No partition metadata")


def log_tail(path: Path, lines: int = 60) -> str:
    """The last lines a child process logged, kafka-python's reconnect noise left out."""
    if not path.exists():
        return "(no log)"
    said = [line for line in path.read_text(errors="replace").splitlines()
            if not any(noise in line for noise in RECONNECT_NOISE)]
    return "\n".join(said[-lines:])


class ConsumerProcess(subprocess.Popen[bytes]):
    """A `shopstream consume` child; what it logs goes to `log` (shown when a test fails on it)."""

    log: Path

    def said(self, lines: int = 60) -> str:
        return f"the consumer (pid {self.pid}, exit {self.returncode}) logged:\n{log_tail(self.log, lines)}"


def start_consumer(settings: Settings, group: str, extra_env: dict[str, str] | None = None) -> ConsumerProcess:
    env = settings.child_env(SHOPSTREAM_SESSION_TIMEOUT_MS="6000", **(extra_env or {}))
    log = settings.data_dir / "logs" / f"consume-{group}-{time.monotonic_ns()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = ConsumerProcess([sys.executable, "-m", "shopstream", "consume", group],
                               env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def wait_for(predicate, timeout_s: float = 120.0, interval_s: float = 0.1, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def kafka_describe(settings: Settings, group: str) -> dict[tuple[str, int], tuple[int, int, int]]:
    """Kafka's own ConsumerGroupCommand (`kafka-consumer-groups.sh --describe`): per (topic, partition)
    the committed offset, the log-end offset and the lag."""
    from infra.broker import java_command

    cmd = java_command(
        settings.cache_dir, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server", settings.bootstrap, "--describe", "--group", group,
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] == group and parts[3].isdigit():
            rows[(parts[1], int(parts[2]))] = (int(parts[3]), int(parts[4]), int(parts[5]))
    return rows
