"""The operations dashboard (`/ops`) in a real headless Chromium, over the real broker and consumers:
it loads without a console error, its charts hold points from the server-side history, and each
consumer group has a status badge. Screenshots of `/ops` and of the shop page are saved as test
artefacts (`$SHOPSTREAM_ARTEFACTS`, default /tmp/shopstream-artefacts; the README shows copies)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consumers.groups import build_loop
from infra.config import Settings
from tests.integration.api.live import LiveServer
from tests.integration.api.test_web_page import browser as browser  # the module's Chromium fixture
from tests.integration.helpers import produce_simulation, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.browser]

ARTEFACTS = Path(os.environ.get("SHOPSTREAM_ARTEFACTS", "/tmp/shopstream-artefacts"))
FAST = {"lag_sample_interval_s": 0.5, "lag_window_samples": 6, "consumer_stale_after_s": 10.0,
        "snapshot_interval_s": 1.0}


@pytest.fixture(scope="module")
def live_shop(module_settings: Settings) -> Iterator[tuple[Settings, LiveServer]]:
    settings = module_settings.model_copy(update=FAST)
    loops = [build_loop(g, settings) for g in ("store", "catalog", "learner")]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for t in threads:
        t.start()
    try:
        with LiveServer(settings) as server:
            produce_simulation(settings, 600, seed=5, products=200, users=40)
            time.sleep(2)  # a few sampling rounds while the stream arrives: the charts move
            produce_simulation(settings, 400, seed=6, products=20, users=40)
            with httpx.Client(base_url=server.url, timeout=30) as http:
                def lag() -> dict[str, dict[str, Any]]:
                    groups: dict[str, dict[str, Any]] = http.get("/metrics.json").json()["lag"]["groups"]
                    return groups

                try:
                    wait_for(lambda: all(g.get("records") == 0 for g in lag().values()),
                             timeout_s=120, what="every group caught up")
                except AssertionError as exc:  # say where each consumer stood, for the next such failure
                    raise AssertionError(f"{exc}; lag {lag()}; loops " + "; ".join(
                        f"{loop.processor.group}: {loop.stats}" for loop in loops)) from None
            yield settings, server
    finally:
        for loop in loops:
            loop.stop()
        for t in threads:
            t.join(30)


def test_ops_page_charts_badges_and_screenshots(live_shop, browser):
    _settings, server = live_shop
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    browser.goto(server.url + "/ops")
    browser.wait("document.querySelectorAll('#badges .badge[data-status]').length === 3", "three group badges")
    statuses = browser.js("Object.fromEntries([...document.querySelectorAll('#badges .badge')]"
                          ".map(b => [b.dataset.group, b.dataset.status]))")
    assert statuses == {"store": "OK", "catalog": "OK", "learner": "OK"}, statuses
    charts = ("lag", "lag_s", "in", "applied", "fresh", "quality", "dead")
    points = (f"Object.fromEntries({json.dumps(list(charts))}.map(n => [n, window.opsCharts[n] ? "
              "window.opsCharts[n].data.slice(1).map(s => s.filter(v => v !== null).length) : null]))")
    browser.wait(f"(p => Object.values(p).every(c => c && c.length && c.some(n => n >= 3)))({points})",
                 "every chart to hold points", timeout_s=60)
    counts = browser.js(points)
    assert all(max(c) >= 3 for c in counts.values()), counts
    # Events went in and were applied: the rate charts show a non-zero rate somewhere.
    peak = browser.js("Math.max(...window.opsCharts['applied'].data.slice(1).flat().filter(v => v !== null))")
    assert peak > 0
    assert browser.js("document.querySelectorAll('#partitions tr').length") >= 9
    time.sleep(1.5)  # one more live update, drawn
    browser.screenshot(ARTEFACTS / "ops.png")
    assert browser.page_errors() == []

    browser.goto(server.url + "/")
    link = browser.js("document.getElementById('ops-link').getAttribute('href')")
    assert link == "/ops"
    browser.wait("document.querySelectorAll('#results[data-state=loaded] .card').length > 0", "search results")
    browser.wait("document.querySelectorAll('#recs[data-state=loaded] .rec').length > 0", "recommendations")
    time.sleep(0.5)
    browser.screenshot(ARTEFACTS / "shop.png")
    assert browser.page_errors() == []
