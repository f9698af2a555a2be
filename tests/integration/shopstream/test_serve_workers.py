"""`shopstream serve --workers 2`: two processes answer, `/metrics` counts the requests of both, and
only one of them samples the lag."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.api_token import new_token
from infra.broker import free_port
from infra.ops.history import history_path
from infra.process import stop_process
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.broker


def test_two_workers_answer_and_metrics_count_both(settings):
    port = free_port()
    env = settings.child_env(SHOPSTREAM_LAG_SAMPLE_INTERVAL_S="0.5", SHOPSTREAM_API_TOKEN=new_token())
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "shopstream", "serve", "--workers", "2", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        def answers() -> bool:
            try:
                return httpx.get(url + "/health/live", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout_s=60, what="the API")
        before = _count(url, "/health/live")
        pids: set[int] = set()
        sent = 0
        # Until both have answered (the second may start seconds after the first on a loaded
        # machine: CI once saw 400 requests in a row go to the first), and at least 100 requests.
        deadline = time.monotonic() + 60
        while (len(pids) < 2 and time.monotonic() < deadline) or sent < 100:
            # A new connection each time: the workers take turns accepting them.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/health/live")
            pids.add(json.loads(conn.getresponse().read())["pid"])
            conn.close()
            sent += 1
        assert len(pids) == 2, f"one worker answered all {sent} requests"
        assert _count(url, "/health/live") - before == sent  # from both workers, each counted once

        # Both workers compete for the lag sampler: one samples.
        db = history_path(settings.data_dir)
        wait_for(lambda: db.exists() and _rounds(db) >= 3, timeout_s=60, what="sampling rounds")
        samplers = {r[0] for r in sqlite3.connect(db).execute("SELECT DISTINCT pid FROM rounds")}
        assert len(samplers) == 1 and samplers <= pids, (samplers, pids)
    finally:
        stop_process(proc, 30)
    assert not list((settings.data_dir / "run").glob("prometheus-*")), "the per-worker metric files were left"


def _rounds(db) -> int:
    try:
        return int(sqlite3.connect(db).execute("SELECT count(*) FROM rounds").fetchone()[0])
    except sqlite3.Error:
        return 0


def _count(url: str, route: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "shopstream_http_request_duration_seconds_count" and s.labels["route"] == route)
