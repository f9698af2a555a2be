"""The web page in a real headless Chromium, over the real broker and consumers.

The store, catalog and learner consumers run in threads; a simulated shop is produced to Kafka;
the real app is served by uvicorn on a free port; Chromium (Debian's `chromium`, `make browser`)
is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no extra
package). The page searches, shows recommendations with reasons, and a mouse click on a result
becomes a `click` event that is read back from the `clicks` topic.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from kafka import KafkaConsumer

from api.main import create_app
from consumers.groups import build_loop
from events import CLICKS, Event, decode
from infra.broker import free_port
from infra.config import Settings
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from tests.integration.helpers import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = Path("/tmp/shopstream-page.png")
QUERY = "coffee maker"
USER = "u00001"  # the page's default shopper; a simulated user


# -- a minimal DevTools-protocol client over a pipe ------------------------------------------------


class Chromium:
    """Headless Chromium; commands go as NUL-terminated JSON on fd 3, answers come back on fd 4."""

    def __init__(self, width: int = 1400, height: int = 950) -> None:
        assert CHROMIUM, "chromium is not installed: run `make browser`"
        self.profile = tempfile.mkdtemp(prefix="shopstream-chromium-")
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        # The child's ends must not be 3 or 4 themselves before the shell moves them there
        # (bash, not sh: dash takes single-digit file descriptors only).
        cmd_r, res_w = (_above(fd, 10) for fd in (cmd_r, res_w))
        args = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
            "--hide-scrollbars", f"--window-size={width},{height}", f"--user-data-dir={self.profile}",
            "--remote-debugging-pipe", "about:blank",
        ]
        self.log = Path(self.profile) / "chromium.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{cmd_r} 4>&{res_w} {cmd_r}<&- {res_w}>&-', CHROMIUM, *args],
                pass_fds=(cmd_r, res_w), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        os.close(cmd_r)
        os.close(res_w)
        self._out, self._in = cmd_w, res_r
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.size = (width, height)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._in, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._answers[-1] = {"error": {"message": "chromium closed the pipe"}}
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = False,
             timeout_s: float = 30.0) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            msg_id = self._next_id
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while msg_id not in self._answers and -1 not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to {method} in {timeout_s:.0f}s")
                self._cond.wait(left)
            answer = self._answers.pop(msg_id, None) or self._answers[-1]
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def js(self, expression: str) -> Any:
        """Evaluate in the page (promises awaited) and return the value as JSON."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, what: str, timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} ({expression})")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait("document.readyState === 'complete'", f"{url} to load")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the middle of the element."""
        box = self.js(_CENTRE_OF % json.dumps(selector))
        assert box, f"nothing matches {selector}"
        x, y = box
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session=True)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}, session=True)

    def type(self, selector: str, text: str) -> None:
        self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); e.select(); }})()")
        self.call("Input.insertText", {"text": text}, session=True)

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "text": "\r"}, session=True)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def page_errors(self) -> list[str]:
        with self._cond:
            events = list(self.events)
        return [json.dumps(e["params"])[:500] for e in events if e.get("method") == "Runtime.exceptionThrown"]

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout_s=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(10)  # the pipe closed with the browser
        for fd in (self._out, self._in):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


_CENTRE_OF = """(() => {
    const e = document.querySelector(%s);
    if (!e) return null;
    e.scrollIntoView({block: "center"});
    const r = e.getBoundingClientRect();
    return [r.x + r.width / 2, r.y + r.height / 2];
})()"""


def _above(fd: int, minimum: int) -> int:
    if fd >= minimum:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, minimum)
    os.close(fd)
    return moved


# -- the live system -------------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def shop(module_settings: Settings) -> Iterator[tuple[Settings, LiveServer]]:
    settings = module_settings.model_copy(update={"snapshot_interval_s": 1.0})
    loops = [build_loop(group, settings) for group in ("store", "catalog", "learner")]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for t in threads:
        t.start()
    try:
        sim = Simulator(SimulatorConfig(seed=5, n_products=200, n_users=40))
        with EventSink(settings.bootstrap, settings.topic_prefix, linger_ms=0) as sink:
            publish(sink, sim.events(800), progress=False)  # the catalogue, then ~600 live events
            sink.flush()
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            wait_for(lambda: http.get(f"/recommendations/{USER}").status_code == 200, timeout_s=60,
                     what="a model snapshot")
            wait_for(lambda: http.get("/search", params={"q": QUERY}).json().get("results"), timeout_s=60,
                     what="the catalogue to be searchable")
            yield settings, server
    finally:
        for loop in loops:
            loop.stop()
        for t in threads:
            t.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `make browser` (apt-get install chromium)")
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


def _clicks(settings: Settings, event_id: str, timeout_s: float = 20.0) -> Event:
    """The click event with this id, read back from the clicks topic."""
    consumer = KafkaConsumer(
        settings.topic_prefix + CLICKS, bootstrap_servers=settings.bootstrap, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=1000,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in consumer:
                event = decode(record.value)
                if str(event.event_id) == event_id:
                    return event
        raise AssertionError(f"click event {event_id} not found on {settings.topic_prefix + CLICKS}")
    finally:
        consumer.close()


def _count(selector: str) -> str:
    return f"document.querySelectorAll({json.dumps(selector)}).length"


# -- the tests ---------------------------------------------------------------------------------------


def test_search_facets_recommendations_and_operator_strip(shop, browser):
    _settings, server = shop
    browser.goto(server.url + "/")
    browser.wait(f"{_count('#recs[data-state=loaded] .rec')} > 0", "recommendations")
    reasons = browser.js("[...document.querySelectorAll('#recs .rec .reason')].map(e => e.textContent)")
    assert len(reasons) == 10 and all(r.strip() for r in reasons), reasons
    assert browser.js("document.getElementById('rec-user').textContent") == USER

    browser.type("#q", QUERY)
    browser.press_enter()
    browser.wait(f"document.getElementById('results-title').textContent.includes({json.dumps(QUERY)})"
                 f" && {_count('#results[data-state=loaded] .card')} > 0", "search results")
    cards = browser.js("""[...document.querySelectorAll('#results .card')].map(c => ({
        id: c.dataset.productId, name: c.querySelector('.name').textContent,
        meta: c.querySelector('.meta').textContent, price: c.querySelector('.price').textContent,
        badge: (c.querySelector('.badge') || {}).textContent}))""")
    assert cards and all(c["name"] and c["price"].startswith("$") and c["badge"] for c in cards), cards
    assert any("coffee" in c["name"].lower() for c in cards[:3]), cards[:3]

    # A facet re-runs the search with that filter.
    facet = browser.js("(() => { const b = document.querySelector('#facet-groups [data-facet=category]');"
                       " return b && b.dataset.value; })()")
    assert facet
    browser.click(f"#facet-groups [data-facet=category][data-value={json.dumps(facet)}]")
    browser.wait(f"{_count('#active-filters .chip')} === 1 && {_count('#results[data-state=loaded] .card')} > 0",
                 "filtered results")
    metas = browser.js("[...document.querySelectorAll('#results .card .meta')].map(e => e.textContent)")
    assert all(m.endswith(facet) for m in metas), (facet, metas)
    browser.click("#active-filters .chip")  # and off again
    browser.wait(f"{_count('#active-filters .chip')} === 0", "the filter to be removed")
    browser.wait(f"{_count('#results[data-state=loaded] .card')} > 0", "unfiltered results")
    band = browser.js("document.querySelector('#facet-groups [data-facet=price]').dataset.value")  # e.g. "10-25"
    browser.click(f"#facet-groups [data-facet=price][data-value={json.dumps(band)}]")
    browser.wait(f"{_count('#active-filters .chip')} === 1 && {_count('#results[data-state=loaded] .card')} > 0",
                 "results in a price band")
    prices = browser.js("[...document.querySelectorAll('#results .card .price')].map(e => e.textContent)")
    low, _, high = band.rstrip("+").partition("-")
    assert all(float(low) <= float(p.lstrip("$")) < float(high or "inf") for p in prices), (band, prices)
    browser.click("#active-filters .chip")
    browser.wait(f"{_count('#active-filters .chip')} === 0 && {_count('#results[data-state=loaded] .card')} > 0",
                 "unfiltered results")

    # The operator strip shows /metrics when the API has it, and hides otherwise.
    has_metrics = httpx.get(server.url + "/metrics.json", timeout=30).status_code != 404
    if has_metrics:
        browser.wait(f"{_count('#ops .ops-row')} > 3 && !document.getElementById('ops').hidden", "operator figures")
    else:
        browser.wait("document.getElementById('ops').hidden", "the strip to hide")
    time.sleep(0.3)  # let the last paint settle
    browser.screenshot(SCREENSHOT)
    assert browser.page_errors() == []


def test_a_click_on_a_result_or_recommendation_is_an_event_in_kafka(shop, browser):
    settings, server = shop
    if not browser.js(f"{_count('#results[data-state=loaded] .card')} > 0"):
        browser.goto(server.url + "/")
        browser.type("#q", QUERY)
        browser.press_enter()
        browser.wait(f"{_count('#results[data-state=loaded] .card')} > 0", "search results")
    query = browser.js("window.shopstream.lastSearchQuery")
    product = browser.js("document.querySelector('#results .card').dataset.productId")
    session = browser.js("sessionStorage.getItem('shopstream.session')")
    browser.click("#results .card")
    event_id = browser.wait("document.body.dataset.lastClickEvent", "the click to be accepted")
    # The product panel opens, with the product and similar products.
    browser.wait(f"!document.getElementById('panel').hidden && document.getElementById('panel-name')"
                 f" && {_count('#similar .rec')} > 0", "the product panel")
    browser.screenshot(SCREENSHOT.with_name("shopstream-panel.png"))

    event = _clicks(settings, event_id)
    click = event.payload
    assert event.type.value == "click"
    assert (click.source.value, click.product_id, click.user_id, click.session_id, click.position, click.query) == (
        "search", product, USER, session, 0, query)

    # A recommendation click says so.
    browser.click("#panel-close")
    rec = browser.js("document.querySelector('#recs .rec').dataset.productId")
    browser.click("#recs .rec")
    second = browser.wait(f"(id => id && id !== {json.dumps(event_id)} && id)(document.body.dataset.lastClickEvent)",
                          "the recommendation click")
    event = _clicks(settings, second)
    assert (event.payload.source.value, event.payload.product_id, event.payload.query) == ("recommendation", rec, None)
    assert browser.page_errors() == []


def test_writes_need_the_token(shop):
    _settings, server = shop
    body = {"user_id": USER, "product_id": "p000001", "session_id": "s-http", "source": "browse"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/events/click", json=body).status_code == 401
        resp = http.post("/events/click", json=body, headers={"Authorization": "Bearer wrong"})
        assert resp.status_code == 401 and "wrong bearer token" in resp.json()["detail"]
        token = http.get("/config").json()["api_token"]  # this client is on the same machine
        assert token
        assert http.post("/events/click", json={**body, "source": "tv"},
                         headers={"Authorization": f"Bearer {token}"}).status_code == 422
        ok = http.post("/events/click", json=body, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 202 and ok.json()["event_id"]


def test_the_page_says_when_a_consumer_is_not_running(browser, tmp_path, bootstrap):
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, data_dir=tmp_path / "empty")  # no consumer has run
    with LiveServer(settings) as server:
        browser.goto(server.url + "/")
        text = browser.wait("(t => t.includes('503') && t)(document.getElementById('results-error').innerText)",
                            "the 503 message")
        assert "catalog" in text and "consumer running" in text
        recs = browser.wait("document.getElementById('recs-error').innerText", "the recommendations' 503")
        assert "learner" in recs
        browser.screenshot(SCREENSHOT.with_name("shopstream-not-ready.png"))
