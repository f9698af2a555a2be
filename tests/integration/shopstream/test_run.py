"""`shopstream run` (what `make run` calls): everything comes up, events flow, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from infra.broker import free_port
from tests.integration.helpers import counter, wait_for

pytestmark = pytest.mark.broker


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_run_brings_everything_up_and_stops_cleanly(tmp_path):
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(
        SHOPSTREAM_DATA_DIR=str(tmp_path / "var"),
        SHOPSTREAM_BROKER_PORT=str(free_port()),
        SHOPSTREAM_CONTROLLER_PORT=str(free_port()),
        SHOPSTREAM_API_PORT=str(api_port),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopstream", "run", "--rate", "300", "--products", "200", "--users", "50"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        url = f"http://127.0.0.1:{api_port}/health"

        def healthy() -> bool:
            try:
                return httpx.get(url, timeout=1).json()["stores"]["store"] is True
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout_s=120, interval_s=0.5, what="the API and the store database")
        db = tmp_path / "var" / "store.sqlite3"
        wait_for(lambda: counter(db, "events_applied") > 2500, timeout_s=90, what="events in SQLite")
        wait_for(lambda: any("store: lag" in line for line in lines), timeout_s=60, what="a lag report")
        children = _children(proc.pid)
        assert len(children) >= 6  # broker, three consumers, API, simulator
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
        reader.join(10)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert "shopstream is running" in out and f"http://127.0.0.1:{api_port}/" in out
    assert "store: lag" in out
    assert not [pid for pid in children if _alive(pid)], "a child process was left behind"
