"""A live shop for the API's integration tests: the three consumer groups in threads over the real
broker, a simulated shop produced to Kafka, and the real app served by uvicorn on a free port."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from api.main import create_app
from consumers.groups import build_loop
from consumers.runtime import ConsumerLoop
from infra.broker import free_port
from infra.config import CONSUMER_GROUPS, Settings
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from tests.integration.helpers import wait_for


class LiveServer:
    """The real app on a free port, served by uvicorn in a thread (a browser cannot reach TestClient)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout_s=30, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@contextmanager
def running_consumers(settings: Settings) -> Iterator[list[tuple[ConsumerLoop, threading.Thread]]]:
    """Every consumer group in a thread of this process, stopped (batch finished) on exit."""
    loops = [build_loop(group, settings) for group in CONSUMER_GROUPS]
    threads = [threading.Thread(target=loop.run, name=f"consume-{loop.processor.group}", daemon=True)
               for loop in loops]
    for t in threads:
        t.start()
    try:
        yield list(zip(loops, threads, strict=True))
    finally:
        for loop in loops:
            loop.stop()
        for t in threads:
            t.join(30)


def produce_shop(settings: Settings, seed: int = 5, products: int = 200, users: int = 40,
                 events: int = 800) -> Simulator:
    """A simulated shop on the topics: the catalogue, then live sessions."""
    sim = Simulator(SimulatorConfig(seed=seed, n_products=products, n_users=users))
    with EventSink(settings.bootstrap, settings.topic_prefix, linger_ms=0) as sink:
        publish(sink, sim.events(events), progress=False)
        sink.flush()
    return sim


def rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def stored_offsets(db: Path) -> dict[tuple[str, int], int]:
    if not db.exists():
        return {}
    try:
        found = rows(db, "SELECT topic, partition, next_offset FROM kafka_offsets")
        return {(str(t), int(str(p))): int(str(o)) for t, p, o in found}
    except sqlite3.OperationalError:  # not created yet
        return {}
