"""Recommendations through the real broker: learner and catalog consumers running, API on top."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from consumers.groups import build_loop
from events import Click, ClickSource, Order, OrderLine, ProductUpserted, make_event
from infra.producer import EventSink
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.broker

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HEADPHONES = ["Wireless Noise Cancelling Over-Ear Headphones", "Bluetooth Over-Ear Headphones with Mic",
              "Studio Monitor Headphones, Closed Back", "Noise Cancelling Wireless Earbuds Headphones"]
COFFEE = ["Burr Coffee Grinder, Stainless Steel", "Espresso Machine with Milk Frother",
          "Pour Over Coffee Maker, Glass", "French Press Coffee Maker, 1 Litre"]


def _count(db, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        return int(sqlite3.connect(db).execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0


TOP = {"Headphones": "Electronics", "Coffee": "Home & Kitchen"}
BLURB = {
    "Headphones": "Deep bass, long battery life and soft ear cushions for music and calls. A fine gift.",
    "Coffee": "Brews rich, aromatic coffee for espresso, filter or cold brew at home. A fine gift.",
}


def _product(pid: str, name: str, cat: str, brand: str, stock: int = 20) -> ProductUpserted:
    return ProductUpserted(
        product_id=pid, name=name, description=f"{name}. {BLURB[cat]}",
        category_path=[TOP[cat], cat], brand=brand, price=Decimal("129.00" if cat == "Headphones" else "39.00"),
        stock=stock,
    )


@pytest.fixture(scope="module")
def reco_env(module_settings):
    settings = module_settings.model_copy(update={"snapshot_interval_s": 1.0})
    loops = [build_loop("learner", settings), build_loop("catalog", settings)]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for t in threads:
        t.start()
    clock = [T0]

    def at() -> datetime:
        clock[0] += timedelta(seconds=30)
        return clock[0]

    with EventSink(settings.bootstrap, settings.topic_prefix, linger_ms=0) as sink:
        for i, name in enumerate(HEADPHONES * 3):
            sink.send(make_event(_product(f"h{i}", f"{name} {i}", "Headphones", "Sonic"), event_time=at()))
        for i, name in enumerate(COFFEE * 3):
            sink.send(make_event(_product(f"c{i}", f"{name} {i}", "Coffee", "Brewco"), event_time=at()))
        sink.flush()
        # Kafka orders events within a partition, not across topics: let the catalogue land first,
        # as it does in a shop, so that the first clicks meet known products.
        db = settings.sqlite_path("learner")
        wait_for(lambda: _count(db, "SELECT count(*) FROM log WHERE kind = 'item'") >= 24, what="items learned")
        for u in range(30):
            prefix, n = ("h", 12) if u % 2 == 0 else ("c", 12)
            for j in range(6):
                item = f"{prefix}{(u + j * 5) % n}"
                sink.send(make_event(Click(user_id=f"u{u}", product_id=item, session_id=f"s{u}",
                                           source=ClickSource.BROWSE), event_time=at()))
        line = OrderLine(product_id="h0", quantity=1, unit_price=Decimal("49.00"))
        sink.send(make_event(Order(order_id="o-u0", user_id="u0", session_id="s0", lines=[line],
                                   total=Decimal("49.00")), event_time=at()))
        sink.flush()
        app = create_app(settings)
        with TestClient(app) as client:
            wait_for(lambda: client.get("/recommendations/u0").status_code == 200, timeout_s=60,
                     what="a model snapshot")
            wait_for(lambda: client.get("/users/u0").json().get("bought") == ["h0"], timeout_s=30,
                     what="u0's order to be learned")
            yield settings, client, sink, at
    for loop in loops:
        loop.stop()
    for t in threads:
        t.join(30)


def _ids(client, user, k=10):
    resp = client.get(f"/recommendations/{user}", params={"k": k})
    assert resp.status_code == 200, resp.text
    return [r["product_id"] for r in resp.json()["results"]], resp.json()["results"]


def test_a_new_user_gets_trending_items(reco_env):
    _s, client, _sink, _at = reco_env
    ids, results = _ids(client, f"newcomer-{uuid.uuid4().hex[:6]}")
    assert len(ids) == 10
    assert all(r["reason"] for r in results)
    assert any("trending" in r["reason"].lower() or "popular" in r["reason"].lower() for r in results)


def test_recommendations_follow_taste_and_skip_what_was_bought(reco_env):
    _s, client, _sink, _at = reco_env
    ids, results = _ids(client, "u0")  # a headphones fan who bought h0
    assert "h0" not in ids
    assert sum(i.startswith("h") for i in ids[:5]) >= 4, ids
    assert all(r["reason"] for r in results) and results[0]["name"]
    coffee_ids, _ = _ids(client, "u1")
    assert sum(i.startswith("c") for i in coffee_ids[:5]) >= 4, coffee_ids
    profile = client.get("/users/u0").json()
    assert profile["known"] and profile["top_categories"][0][0] == "Headphones"


def test_a_brand_new_product_reaches_a_matching_user(reco_env):
    _s, client, sink, at = reco_env
    sink.send(make_event(_product("h-new", "Wireless Noise Cancelling Headphones, Over-Ear, New Model",
                                  "Headphones", "Sonic"), event_time=at()))
    sink.flush()
    wait_for(lambda: "h-new" in _ids(client, "u2", 10)[0], timeout_s=30, what="the new product in u2's list")
    reason = next(r["reason"] for r in _ids(client, "u2", 10)[1] if r["product_id"] == "h-new")
    assert "Headphones" in reason or "interest" in reason, reason


def test_models_and_bad_requests(reco_env):
    _s, client, _sink, _at = reco_env
    # Only the learner trains: the API serves its snapshots and swaps to each newer one.
    wait_for(lambda: (client.get("/models").json()["serving"] or {}).get("events_trained", 0) > 0,
             timeout_s=30, what="a served snapshot with trained events")
    body = client.get("/models").json()
    assert body["versions"] and body["serving"]["log_seq"] > 0
    assert "model" in body["prequential"]
    assert client.get("/recommendations/u0", params={"k": 0}).status_code == 422
    assert client.get("/recommendations/u0", params={"k": 10_000}).status_code == 422
    assert client.get("/users/" + "x" * 300).status_code == 422


def test_personalised_search_prefers_the_users_taste(reco_env):
    _s, client, _sink, _at = reco_env
    generic = client.get("/search", params={"q": "gift", "k": 5, "explain": "true"}).json()["results"]
    assert generic
    fan = client.get("/search", params={"q": "gift", "k": 5, "user_id": "u0", "explain": "true"}).json()
    assert all(r["category"] == "Headphones" for r in fan["results"][:3]), fan["results"]
    assert any("personal_boost" in r["explain"] for r in fan["results"])


def test_metrics_show_lag_throughput_freshness_and_quality(reco_env):
    _s, client, sink, at = reco_env
    # Freshness is over the applies of the last minute: apply one now. The lag sampler writes a
    # round every few seconds; the figures are as of its last round.
    sink.send(make_event(_product("h-fresh", "Fresh Over-Ear Headphones", "Headphones", "Sonic"), event_time=at()))
    sink.flush()
    wait_for(lambda: client.get("/metrics.json").json()["consumers"]["catalog"]["produce_to_applied"],
             timeout_s=30, what="a sampling round with freshness")
    body = client.get("/metrics.json").json()
    assert body["consumers"]["learner"]["events_applied"] > 0
    assert body["consumers"]["catalog"]["produce_to_applied"]["p50_s"] >= 0
    assert set(body["lag"]["groups"]) >= {"learner", "catalog"}
    assert body["lag"]["groups"]["learner"]["records"] >= 0
    assert 0.0 <= body["prequential"]["model"]["hr10"] <= 1.0
