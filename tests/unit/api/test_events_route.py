"""`POST /events/click` and `GET /config` without a broker: auth, validation, Kafka down, the
event handed to the sink, the sink closed on shutdown, and when the page may see the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes.events import _Sinks
from events import Event
from infra.broker import free_port
from infra.config import Settings

TOKEN = "s3cret-token"
CLICK = {"user_id": "u1", "product_id": "p1", "session_id": "s1", "source": "search", "position": 0, "query": "tea"}


class FakeProducer:
    def __init__(self) -> None:
        self.flushed = 0

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1


class FakeSink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failed = 0
        self.closed = False
        self.producer = FakeProducer()

    def send(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    # Nothing listens on a port that was free a moment ago: Kafka is "down".
    return Settings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}", data_dir=tmp_path, api_token=TOKEN, **kw)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(_settings(tmp_path)))


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_or_wrong_token_is_401_with_a_clear_message(client: TestClient) -> None:
    resp = client.post("/events/click", json=CLICK)
    assert resp.status_code == 401 and "missing bearer token" in resp.json()["detail"]
    assert resp.headers["www-authenticate"] == "Bearer"
    resp = client.post("/events/click", json=CLICK, headers=_auth("nope"))
    assert resp.status_code == 401 and "wrong bearer token" in resp.json()["detail"]
    resp = client.post("/events/click", json=CLICK, headers={"Authorization": TOKEN})  # no scheme
    assert resp.status_code == 401
    # The token is checked before the body: a bad body without a token is still 401.
    assert client.post("/events/click", json={"x": 1}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {**CLICK, "source": "email"},
        {**CLICK, "user_id": ""},
        {**CLICK, "position": -1},
        {k: v for k, v in CLICK.items() if k != "product_id"},
        {**CLICK, "query": "x" * 1001},
    ],
)
def test_an_invalid_click_is_422(client: TestClient, body: dict[str, Any]) -> None:
    resp = client.post("/events/click", json=body, headers=_auth())
    assert resp.status_code == 422, resp.text


def test_kafka_unreachable_is_503_not_500(client: TestClient) -> None:
    resp = client.post("/events/click", json=CLICK, headers=_auth())
    assert resp.status_code == 503
    assert "not reachable" in resp.json()["detail"] and "not recorded" in resp.json()["detail"]


def test_a_valid_click_goes_to_the_sink_and_the_sink_is_closed_on_shutdown(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    sink = FakeSink()
    holder = _Sinks()
    holder.sink = sink  # type: ignore[assignment]
    app.state.click_sinks = holder
    with TestClient(app) as client:
        resp = client.post("/events/click", json=CLICK, headers=_auth())
        assert resp.status_code == 202, resp.text
        [event] = sink.events
        assert resp.json() == {"accepted": True, "event_id": str(event.event_id), "type": "click"}
        assert event.type.value == "click" and event.payload.model_dump() == {"type": "click", **CLICK}
        assert sink.producer.flushed == 1  # acknowledged before the 202
        assert not sink.closed
    assert sink.closed and holder.sink is None


def test_a_click_that_kafka_rejects_is_503(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    sink = FakeSink()

    def fail(event: Event) -> None:
        sink.failed += 1

    sink.send = fail  # type: ignore[method-assign]
    holder = _Sinks()
    holder.sink = sink  # type: ignore[assignment]
    app.state.click_sinks = holder
    resp = TestClient(app).post("/events/click", json=CLICK, headers=_auth())
    assert resp.status_code == 503 and "rejected" in resp.json()["detail"]


def test_the_page_sees_the_token_only_on_a_local_demo(tmp_path: Path) -> None:
    local = TestClient(create_app(_settings(tmp_path)), base_url="http://127.0.0.1:8000", client=("127.0.0.1", 5555))
    assert local.get("/config").json()["api_token"] == TOKEN
    # Another machine, a foreign Host (DNS rebinding), a proxy: no token.
    remote = TestClient(create_app(_settings(tmp_path)), base_url="http://127.0.0.1:8000", client=("10.1.2.3", 5555))
    assert remote.get("/config").json()["api_token"] is None
    assert local.get("/config", headers={"Host": "evil.example:8000"}).json()["api_token"] is None
    assert local.get("/config", headers={"X-Forwarded-For": "10.1.2.3"}).json()["api_token"] is None
    # An API bound to a public address never hands the token out.
    public = TestClient(
        create_app(_settings(tmp_path, api_host="0.0.0.0")), base_url="http://127.0.0.1:8000", client=("127.0.0.1", 1)
    )
    body = public.get("/config").json()
    assert body["api_token"] is None and "local demo" in body["token_note"]


def test_the_page_and_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="search-form"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/nope.js").status_code == 404


def test_a_click_that_kafka_does_not_acknowledge_in_time_is_503(tmp_path: Path) -> None:
    from kafka.errors import KafkaTimeoutError

    app = create_app(_settings(tmp_path))
    sink = FakeSink()

    def slow(timeout: float | None = None) -> None:
        raise KafkaTimeoutError("timed out")

    sink.producer.flush = slow  # type: ignore[method-assign]
    holder = _Sinks()
    holder.sink = sink  # type: ignore[assignment]
    app.state.click_sinks = holder
    resp = TestClient(app).post("/events/click", json=CLICK, headers=_auth())
    assert resp.status_code == 503 and "did not acknowledge" in resp.json()["detail"]
