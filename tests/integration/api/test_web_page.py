"""The web page in a real headless Chromium, over the real broker and consumers.

The store, catalog and learner consumers run in threads; a simulated shop is produced to Kafka;
the real app is served by uvicorn on a free port; Chromium (Debian's `chromium`, `make browser`)
is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no extra
package). The page searches, shows recommendations with reasons, and a mouse click on a result
becomes a `click` event that is read back from the `clicks` topic. The page holds no token: it
uses the anonymous click path, and a click whose answer is lost on the way back is sent again
with the same event id and counted once by every consumer.
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
from kafka import KafkaConsumer

from events import CLICKS, Event, decode
from infra.api_token import new_token
from infra.config import Settings
from tests.integration.api.live import LiveServer, produce_shop, rows, running_consumers, stored_offsets
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
        # A browser's first text layout on a fresh machine waits for its font set-up: pay that here,
        # once, not inside the first page load a test times.
        self.call("Runtime.evaluate", {
            "expression": "document.body.innerHTML = '<p style=\"font: 16px sans-serif\">warm-up</p>';"
                          " document.body.offsetHeight; document.fonts.ready.then(() => true)",
            "awaitPromise": True, "returnByValue": True}, session=True, timeout_s=120)

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

    def wait_event(self, method: str, after: int = 0, timeout_s: float = 30.0) -> dict[str, Any]:
        """The params of the first protocol event ``method`` at index ``after`` or later
        (``params["_event"]`` is the event itself)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for event in self.events[after:]:
                    if event.get("method") == method:
                        return {**event["params"], "_event": event}
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {method} event in {timeout_s:.0f}s")
                self._cond.wait(left)

    def goto(self, url: str, timeout_s: float = 60.0) -> None:
        answer = self.call("Page.navigate", {"url": url}, session=True, timeout_s=timeout_s)
        assert "errorText" not in answer, f"navigating to {url} failed: {answer['errorText']}"
        # The new document, not the one still showing while the navigation starts.
        loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
        try:
            self.wait(loaded, f"{url} to load", timeout_s=timeout_s)
        except AssertionError as exc:
            state = self.js("JSON.stringify({href: location.href, readyState: document.readyState, "
                            "resources: performance.getEntriesByType('resource').map(r => r.name)})")
            raise AssertionError(f"{exc}; the page is at {state}") from None

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


@pytest.fixture(scope="module")
def shop(module_settings: Settings) -> Iterator[tuple[Settings, LiveServer]]:
    # The server has an operator token; the page is never given it.
    settings = module_settings.model_copy(update={"snapshot_interval_s": 1.0, "api_token": new_token()})
    with running_consumers(settings):
        produce_shop(settings)  # the catalogue, then ~600 live events
        with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            wait_for(lambda: http.get(f"/recommendations/{USER}").status_code == 200, timeout_s=60,
                     what="a model snapshot")
            wait_for(lambda: http.get("/search", params={"q": QUERY}).json().get("results"), timeout_s=60,
                     what="the catalogue to be searchable")
            yield settings, server


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `make browser` (apt-get install chromium)")
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


def _clicks(settings: Settings, event_id: str, expected: int = 1,
            timeout_s: float = 20.0) -> list[tuple[int, int, Event]]:
    """The records of the click event with this id on the clicks topic: (partition, offset, event)."""
    consumer = KafkaConsumer(
        settings.topic_prefix + CLICKS, bootstrap_servers=settings.bootstrap, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=1000,
    )
    found: list[tuple[int, int, Event]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(found) < expected:
            for record in consumer:
                event = decode(record.value)
                if str(event.event_id) == event_id:
                    found.append((record.partition, record.offset, event))
        assert found, f"click event {event_id} not found on {settings.topic_prefix + CLICKS}"
        return found
    finally:
        consumer.close()


def _applied(settings: Settings, group: str, records: list[tuple[int, int, Event]]) -> bool:
    """Whether ``group`` has stored offsets past every one of ``records``."""
    stored = stored_offsets(settings.sqlite_path(group))
    return all(stored.get((settings.topic_prefix + CLICKS, p), 0) > o for p, o, _ in records)


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

    assert browser.js("document.body.dataset.lastClickSent") == event_id  # the page's own id is the event's
    [(_, _, event)] = _clicks(settings, event_id)
    click = event.payload
    assert event.type.value == "click"
    assert (click.source.value, click.product_id, click.user_id, click.session_id, click.position, click.query) == (
        "search", product, USER, session, 0, query)

    # A recommendation click says so. The first click reloads the recommendations 1.5 s on: read
    # and click the list the reload leaves, not one it may replace in between.
    browser.click("#panel-close")
    browser.wait("!document.body.dataset.recsReloadDue && !!document.querySelector('#recs[data-state=loaded] .rec')",
                 "the recommendations the first click leads to")
    rec = browser.js("document.querySelector('#recs .rec').dataset.productId")
    browser.click("#recs .rec")
    second = browser.wait(f"(id => id && id !== {json.dumps(event_id)} && id)(document.body.dataset.lastClickEvent)",
                          "the recommendation click")
    [(_, _, event)] = _clicks(settings, second)
    assert (event.payload.source.value, event.payload.product_id, event.payload.query) == ("recommendation", rec, None)
    assert browser.page_errors() == []


def test_a_click_whose_answer_is_lost_is_sent_again_and_counted_once(shop, browser):
    """The first attempt reaches the API and Kafka, but its answer never reaches the page (DevTools
    fails the response: a timeout as the page sees it). The page sends the click again with the
    same event id; Kafka holds it twice, and every consumer counts it once."""
    settings, server = shop
    browser.goto(server.url + "/")
    browser.wait(f"{_count('#recs[data-state=loaded] .rec')} > 0", "recommendations")
    product = browser.js("document.querySelector('#recs .rec').dataset.productId")
    browser.call("Fetch.enable", {"patterns": [{"urlPattern": "*/events/click*", "requestStage": "Response"}]},
                 session=True)
    try:
        seen = len(browser.events)
        browser.click("#recs .rec")
        first = browser.wait_event("Fetch.requestPaused", after=seen)
        assert first["responseStatusCode"] == 202  # the API accepted it: the event is in Kafka
        assert not any(k.lower() == "authorization" for k in first["request"]["headers"])  # no token
        sent = json.loads(first["request"]["postData"])
        browser.call("Fetch.failRequest", {"requestId": first["requestId"], "errorReason": "TimedOut"}, session=True)
        second = browser.wait_event("Fetch.requestPaused", after=browser.events.index(first["_event"]) + 1)
        assert json.loads(second["request"]["postData"]) == sent  # the same click, the same event id
        browser.call("Fetch.continueRequest", {"requestId": second["requestId"]}, session=True)
    finally:
        browser.call("Fetch.disable", session=True)
    expected = json.dumps(sent["event_id"])
    event_id = browser.wait(f"(id => id === {expected} && id)(document.body.dataset.lastClickEvent)",
                            "the retried click to be accepted")
    assert browser.js("document.body.dataset.lastClickAttempts") == "2"

    records = _clicks(settings, event_id, expected=2)
    assert len(records) == 2 and {e.payload.product_id for _, _, e in records} == {product}
    for group in ("store", "learner"):
        wait_for(lambda g=group: _applied(settings, g, records), timeout_s=60, what=f"{group} to apply both records")
    assert rows(settings.sqlite_path("store"), "SELECT count(*) FROM clicks WHERE event_id = ?", event_id) == [(1,)]
    assert rows(settings.sqlite_path("learner"), "SELECT count(*) FROM log WHERE event_id = ?", event_id) == [(1,)]
    assert browser.page_errors() == []


def test_clicks_over_http_existing_products_only_and_the_token_is_never_served(shop):
    settings, server = shop
    body = {"user_id": USER, "product_id": "p000001", "session_id": "s-http", "source": "browse"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/config").status_code == 404  # the token is never handed to a page
        ok = http.post("/events/click", json=body)  # anonymous: the page's path
        assert ok.status_code == 202 and ok.json()["event_id"]
        unknown = http.post("/events/click", json={**body, "product_id": "p-does-not-exist"})
        assert unknown.status_code == 422 and "unknown product" in unknown.json()["detail"]
        resp = http.post("/events/click", json=body, headers={"Authorization": "Bearer wrong"})
        assert resp.status_code == 401 and "wrong bearer token" in resp.json()["detail"]
        assert http.post("/events/click", json={**body, "source": "tv"}).status_code == 422
        operator = {"Authorization": f"Bearer {settings.api_token}"}
        assert http.post("/events/click", json=body, headers=operator).status_code == 202
        big = http.post("/events/click", content=b"{" + b" " * (settings.api_max_body_bytes + 1) + b"}",
                        headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and "larger than" in big.json()["detail"]


def test_the_page_waits_out_the_rate_limit_and_records_the_click(shop, browser):
    settings, _server = shop
    # Wide enough that three clicks fall in one window on a loaded machine, short enough to wait out.
    strict = settings.model_copy(update={"click_rate_limit": "2/15 seconds"})
    with LiveServer(strict) as server:
        browser.goto(server.url + "/")
        browser.wait(f"{_count('#recs[data-state=loaded] .rec')} > 2", "recommendations")
        ids: list[str] = []
        for i in range(3):
            browser.click(f"#recs .rec:nth-child({i + 1})")
            ids.append(browser.wait(f"(id => id && !{json.dumps(ids)}.includes(id) && id)"
                                    f"(document.body.dataset.lastClickSent)", "a click to be sent"))
            browser.click("#panel-close")
        # The page says so on its status line; an earlier click answering late may replace that
        # line, so the retry is read where the page also keeps it.
        status = browser.wait("(t => t && t.includes('429') && t)(document.body.dataset.lastClickRetry)",
                              "the page to say it was rate-limited", timeout_s=20)
        assert "same event id" in status
        browser.wait(f"document.body.dataset.lastClickEvent === {json.dumps(ids[-1])}",
                     "the third click to be recorded after the wait", timeout_s=40)
        for event_id in ids:
            assert len(_clicks(settings, event_id)) == 1
    assert browser.page_errors() == []


def test_the_page_says_when_a_consumer_is_not_running(browser, tmp_path, bootstrap):
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, data_dir=tmp_path / "empty")  # no consumer has run
    settings = settings.model_copy(update={"api_token": new_token()})
    with LiveServer(settings) as server:
        browser.goto(server.url + "/")
        text = browser.wait("(t => t.includes('503') && t)(document.getElementById('results-error').innerText)",
                            "the 503 message")
        assert "catalog" in text and "consumer running" in text
        recs = browser.wait("document.getElementById('recs-error').innerText", "the recommendations' 503")
        assert "learner" in recs
        browser.screenshot(SCREENSHOT.with_name("shopstream-not-ready.png"))
