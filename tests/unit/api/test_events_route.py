"""`POST /events/click` without a broker: the anonymous path (products that exist, rate limit,
idempotency key), the operator's token, validation, body size, Kafka down, the sink closed on
shutdown; and that no route hands out the token."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routes.events import _Sinks
from events import Event
from infra.broker import free_port
from infra.config import Settings
from infra.sqlite import connect_writer, transaction
from readmodels.catalog import store

TOKEN = "s3cret-token-for-unit-tests"
PRODUCT = "p1"
CLICK = {"user_id": "u1", "product_id": PRODUCT, "session_id": "s1", "source": "search", "position": 0,
         "query": "tea"}


class FakeProducer:
    def __init__(self) -> None:
        self.flushed = 0

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1


class FakeSink:
    """Stands in for Kafka only where the broker's behaviour is not the point (unit tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failed = 0
        self.closed = False
        self.producer = FakeProducer()

    def send(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


def _catalog(data_dir: Path, *product_ids: str) -> None:
    """A catalog read model holding these products, as the catalog consumer would write it."""
    conn = connect_writer(data_dir / "catalog.sqlite3")
    store.setup(conn)
    with transaction(conn):
        for pid in product_ids:
            store.upsert_product(conn, product_id=pid, name=f"Tea {pid}", description="", category_path=["Tea"],
                                 brand="", price=Decimal("3.50"), attributes={}, stock=3, event_time=1.0,
                                 produced_at=None)
        store.remove_product(conn, "gone", 2.0, None)
    conn.close()


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    # Nothing listens on a port that was free a moment ago: Kafka is "down".
    kw = {"api_token": TOKEN, **kw}
    return Settings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}", data_dir=tmp_path, **kw)


def _app(tmp_path: Path, sink: FakeSink | None = None, **kw: Any) -> Any:
    _catalog(tmp_path, PRODUCT, "gone")
    app = create_app(_settings(tmp_path, **kw))
    if sink is not None:
        holder = _Sinks()
        holder.sink = sink  # type: ignore[assignment]
        app.state.click_sinks = holder
    return app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(_app(tmp_path))


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_anonymous_click_on_an_existing_product_is_accepted_with_the_clients_event_id(tmp_path: Path) -> None:
    sink = FakeSink()
    app = _app(tmp_path, sink)
    event_id = str(uuid.uuid4())
    with TestClient(app) as client:
        resp = client.post("/events/click", json={**CLICK, "event_id": event_id})
        assert resp.status_code == 202, resp.text
        assert resp.json() == {"accepted": True, "event_id": event_id, "type": "click"}
        [event] = sink.events
        assert str(event.event_id) == event_id  # the idempotency key is the event's id
        assert event.type.value == "click" and event.payload.model_dump() == {"type": "click", **CLICK}
        assert sink.producer.flushed == 1  # acknowledged before the 202
        # A retry sends the same id again: the consumers count it once (tested with the broker).
        again = client.post("/events/click", json={**CLICK, "event_id": event_id})
        assert again.status_code == 202 and again.json()["event_id"] == event_id
        assert [str(e.event_id) for e in sink.events] == [event_id, event_id]
        assert not sink.closed
    assert sink.closed and app.state.click_sinks.sink is None


def test_without_an_event_id_the_server_makes_one(tmp_path: Path) -> None:
    sink = FakeSink()
    resp = TestClient(_app(tmp_path, sink)).post("/events/click", json=CLICK)
    assert resp.status_code == 202 and resp.json()["event_id"] == str(sink.events[0].event_id)


@pytest.mark.parametrize("product", ["nope", "gone"])  # never existed; removed
def test_a_click_on_an_unknown_product_is_422_and_never_sent(tmp_path: Path, product: str) -> None:
    sink = FakeSink()
    resp = TestClient(_app(tmp_path, sink)).post("/events/click", json={**CLICK, "product_id": product})
    assert resp.status_code == 422 and "unknown product" in resp.json()["detail"]
    assert sink.events == []


def test_without_a_catalog_a_click_is_503_not_500(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))  # no catalog consumer has run
    resp = TestClient(app).post("/events/click", json=CLICK)
    assert resp.status_code == 503 and "catalog" in resp.json()["detail"]


def test_anonymous_clicks_are_rate_limited_per_client_and_the_token_lifts_the_limit(tmp_path: Path) -> None:
    sink = FakeSink()
    app = _app(tmp_path, sink, click_rate_limit="3/minute")
    one = TestClient(app, client=("10.0.0.1", 5000))
    other = TestClient(app, client=("10.0.0.2", 5000))
    assert [one.post("/events/click", json=CLICK).status_code for _ in range(3)] == [202, 202, 202]
    limited = one.post("/events/click", json=CLICK)
    assert limited.status_code == 429
    assert "too many clicks from 10.0.0.1" in limited.json()["detail"]
    assert int(limited.headers["retry-after"]) in range(1, 61)
    assert one.post("/events/click", json={"bad": "body"}).status_code == 429  # floods of bad bodies too
    assert other.post("/events/click", json=CLICK).status_code == 202  # another client has its own window
    assert all(one.post("/events/click", json=CLICK, headers=_auth()).status_code == 202 for _ in range(5))
    assert len(sink.events) == 3 + 1 + 5


def test_a_wrong_token_is_401_not_a_fallback_to_the_anonymous_path(client: TestClient) -> None:
    resp = client.post("/events/click", json=CLICK, headers=_auth("nope"))
    assert resp.status_code == 401 and "wrong bearer token" in resp.json()["detail"]
    assert resp.headers["www-authenticate"] == "Bearer"
    assert client.post("/events/click", json={"x": 1}, headers=_auth("nope")).status_code == 401


def test_a_server_without_an_operator_token_rejects_any_bearer(tmp_path: Path) -> None:
    app = _app(tmp_path, FakeSink(), api_token=None)
    resp = TestClient(app).post("/events/click", json=CLICK, headers=_auth())
    assert resp.status_code == 401 and "no operator token" in resp.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {**CLICK, "source": "email"},
        {**CLICK, "user_id": ""},
        {**CLICK, "position": -1},
        {**CLICK, "position": 10**30},
        {**CLICK, "event_id": "not-a-uuid"},
        {k: v for k, v in CLICK.items() if k != "product_id"},
        {**CLICK, "query": "x" * 1001},
    ],
)
def test_an_invalid_click_is_422(client: TestClient, body: dict[str, Any]) -> None:
    resp = client.post("/events/click", json=body)
    assert resp.status_code == 422, resp.text


def test_request_bodies_are_size_limited_on_every_route(tmp_path: Path) -> None:
    sink = FakeSink()
    client = TestClient(_app(tmp_path, sink, api_max_body_bytes=2048))
    big = {**CLICK, "query": "x" * 900, "padding": "y" * 4000}  # unknown fields are ignored, but not their size
    resp = client.post("/events/click", json=big)
    assert resp.status_code == 413 and "larger than 2048 bytes" in resp.json()["detail"]
    # Streamed without a length (chunked): cut off as it arrives.
    resp = client.post("/events/click", content=iter([b'{"user_id": "', b"u" * 3000, b'"}']),
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert client.request("GET", "/search", content=b"z" * 5000).status_code == 413
    assert client.post("/events/click", content=b"{}", headers={"Content-Length": "x"}).status_code == 400
    assert sink.events == []
    assert client.post("/events/click", json=CLICK).status_code == 202  # a normal body still passes


def test_kafka_unreachable_is_503_not_500(client: TestClient) -> None:
    resp = client.post("/events/click", json=CLICK)
    assert resp.status_code == 503
    assert "not reachable" in resp.json()["detail"] and "not recorded" in resp.json()["detail"]


def test_a_click_that_kafka_rejects_is_503(tmp_path: Path) -> None:
    sink = FakeSink()

    def fail(event: Event) -> None:
        sink.failed += 1

    sink.send = fail  # type: ignore[method-assign]
    resp = TestClient(_app(tmp_path, sink)).post("/events/click", json=CLICK)
    assert resp.status_code == 503 and "rejected" in resp.json()["detail"]


def test_a_click_that_kafka_does_not_acknowledge_in_time_is_503_and_says_to_retry_with_the_id(
    tmp_path: Path,
) -> None:
    from kafka.errors import KafkaTimeoutError

    sink = FakeSink()

    def slow(timeout: float | None = None) -> None:
        raise KafkaTimeoutError("timed out")

    sink.producer.flush = slow  # type: ignore[method-assign]
    resp = TestClient(_app(tmp_path, sink)).post("/events/click", json=CLICK)
    assert resp.status_code == 503
    assert "did not acknowledge" in resp.json()["detail"] and "same event_id" in resp.json()["detail"]


def test_no_route_hands_out_the_token(client: TestClient) -> None:
    assert client.get("/config").status_code == 404
    for path in ("/", "/static/app.js", "/openapi.json", "/health"):
        assert TOKEN not in client.get(path).text, path


def test_the_page_and_its_files_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="search-form"' in page.text and "/static/app.js" in page.text
    assert "token" not in page.text.lower()
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/nope.js").status_code == 404


def test_a_malformed_rate_limit_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SHOPSTREAM_CLICK_RATE_LIMIT"), \
            TestClient(create_app(_settings(tmp_path, click_rate_limit="fast please"))):
        pass
