"""The simulated shop: determinism, valid events, consistent orders and stock, tally, tastes, queries."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from events import Click, Event, Order, ProductRemoved, ProductUpserted, decode, encode
from producers.simulator import (
    SPEC_BY_KEY,
    SUBCATEGORIES,
    Simulator,
    SimulatorConfig,
    Tally,
    load_tastes,
)

SMALL = SimulatorConfig(seed=11, n_products=150, n_users=40)
# A small, busy shop so that sell-outs, restocks, removals and new products all happen quickly.
BUSY = SimulatorConfig(
    seed=5,
    n_products=60,
    n_users=30,
    max_stock=10,
    new_product_rate=0.01,
    restock_rate=0.02,
    price_change_rate=0.01,
    remove_rate=0.01,
)


@pytest.fixture(scope="module")
def busy_run() -> tuple[Simulator, list[Event]]:
    sim = Simulator(BUSY)
    return sim, list(sim.events(6000))


def _encoded(config: SimulatorConfig, n: int) -> list[bytes]:
    return [encode(e, stamp=False) for e in Simulator(config).events(n)]


def test_same_seed_gives_identical_stream_and_another_seed_does_not() -> None:
    first = _encoded(SMALL, 2000)
    assert first == _encoded(SMALL, 2000)
    other = _encoded(SMALL.model_copy(update={"seed": 12}), 2000)
    assert other != first
    assert {json.loads(b)["event_id"] for b in other}.isdisjoint(json.loads(b)["event_id"] for b in first)


def test_stream_continues_across_calls() -> None:
    sim = Simulator(SMALL)
    catalogue = list(sim.initial_catalogue())
    pieces = catalogue + list(sim.events(700)) + list(sim.events(300))
    assert [encode(e, stamp=False) for e in pieces] == _encoded(SMALL, SMALL.n_products + 1000)
    assert list(sim.initial_catalogue()) == []


def test_catalogue_comes_first_then_live_events_with_a_simulated_clock() -> None:
    start = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    sim = Simulator(SMALL.model_copy(update={"start_time": start}))
    events = list(sim.events(2000))
    head = events[: SMALL.n_products]
    assert all(isinstance(e.payload, ProductUpserted) for e in head)
    assert [e.payload.product_id for e in head] == [f"p{i:06d}" for i in range(1, SMALL.n_products + 1)]
    assert events[0].event_time == start + timedelta(milliseconds=1)
    times = [e.event_time for e in events]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert sim.now == times[-1]
    types = Counter(e.type.value for e in events[SMALL.n_products :])
    assert types["click"] > types["order"] > 0
    clicks = [e.payload for e in events if isinstance(e.payload, Click)]
    assert {c.source.value for c in clicks} == {"search", "browse", "recommendation"}
    assert all(c.position is not None and c.position >= 0 for c in clicks)
    assert all((c.query is not None) == (c.source.value == "search") for c in clicks)
    assert re.fullmatch(r"u\d{5}", clicks[0].user_id)


def test_naive_start_time_is_utc() -> None:
    config = SimulatorConfig(start_time=datetime(2026, 3, 1))
    assert config.start_time == datetime(2026, 3, 1, tzinfo=UTC)
    assert SimulatorConfig().start_time == datetime(2026, 1, 1, tzinfo=UTC)


def test_every_event_survives_the_wire(busy_run: tuple[Simulator, list[Event]]) -> None:
    _, events = busy_run
    for event in events:
        assert decode(encode(event, stamp=False)) == event


def test_orders_stock_and_removals_are_consistent(busy_run: tuple[Simulator, list[Event]]) -> None:
    sim, events = busy_run
    stock: dict[str, int] = {}
    price: dict[str, Decimal] = {}
    removed: set[str] = set()
    seen = Counter[str]()
    for event in events:
        p = event.payload
        if isinstance(p, ProductUpserted):
            if p.product_id in stock and p.stock == 0:
                assert stock[p.product_id] == 0, "a sold-out update must follow the order that emptied it"
            seen["sold_out" if p.stock == 0 else "upsert"] += 1
            stock[p.product_id], price[p.product_id] = p.stock, p.price
            assert p.product_id not in removed
        elif isinstance(p, ProductRemoved):
            removed.add(p.product_id)
            seen["removed"] += 1
        elif isinstance(p, Click):
            assert p.product_id in stock and p.product_id not in removed
        else:
            assert isinstance(p, Order)
            assert p.total == sum(line.unit_price * line.quantity for line in p.lines)
            assert p.total.as_tuple().exponent == -2
            assert len({line.product_id for line in p.lines}) == len(p.lines)
            for line in p.lines:
                assert line.product_id not in removed
                assert stock[line.product_id] >= line.quantity > 0, "ordered more than in stock"
                assert line.unit_price == price[line.product_id]
                stock[line.product_id] -= line.quantity
            seen["order"] += 1
    for pid, product in sim.products.items():
        assert product.alive == (pid not in removed)
        if product.alive:
            assert stock[pid] == product.stock
    assert seen["sold_out"] > 20 and seen["removed"] > 20 and seen["order"] > 100
    new_ids = [pid for pid in stock if int(pid[1:]) > BUSY.n_products]
    assert len(new_ids) > 20


def test_tally_equals_a_recount(busy_run: tuple[Simulator, list[Event]]) -> None:
    sim, events = busy_run
    alive: dict[str, int] = {}
    by_type = Counter[str]()
    lines = units = orders = 0
    total = Decimal("0")
    for event in events:
        p = event.payload
        by_type[p.type] += 1
        if isinstance(p, ProductUpserted):
            alive[p.product_id] = p.stock
        elif isinstance(p, ProductRemoved):
            alive.pop(p.product_id, None)
        elif isinstance(p, Order):
            orders += 1
            lines += len(p.lines)
            units += sum(line.quantity for line in p.lines)
            total += p.total
    tally = sim.tally.to_dict()
    assert tally["events"] == len(events)
    assert tally["by_type"] == {t: by_type[t] for t in tally["by_type"]}
    assert tally["clicks"] == by_type["click"] == sum(tally["clicks_by_source"].values())
    assert (tally["orders"], tally["order_lines"], tally["units_sold"]) == (orders, lines, units)
    assert tally["order_total"] == total and isinstance(tally["order_total"], Decimal)
    assert tally["products_alive"] == len(alive) == len(sim.catalogue())
    assert tally["products_sold_out"] == sum(1 for s in alive.values() if s == 0)
    assert Tally.from_events(events).to_dict() == tally


def test_tastes_json_round_trip_gives_the_same_scores(tmp_path, busy_run) -> None:
    sim, _ = busy_run
    path = sim.write_tastes(tmp_path / "tastes.json")
    data = json.loads(path.read_text())  # plain JSON
    assert set(data["users"]) == set(sim.user_ids)
    loaded = load_tastes(path)
    products = sim.catalogue()
    for user_id in sim.user_ids:
        for product in products[::7]:
            score = sim.taste_score(user_id, product)
            assert 0.0 < score < 1.0
            assert loaded.score(user_id, product) == score
    with pytest.raises(KeyError):
        sim.taste_score("nobody", products[0])


def test_clicks_and_orders_follow_hidden_tastes() -> None:
    sim = Simulator(SMALL.model_copy(update={"taste_drift": 0.0}))
    events = list(sim.events(8000))
    favourites = {uid: set(t.favourites(2)) for uid, t in sim.tastes.users.items()}
    keys = {e.payload.product_id: " > ".join(e.payload.category_path) for e in events[: SMALL.n_products]}
    keys.update({p.product_id: p.key for p in sim.products.values()})
    clicks = [e.payload for e in events if isinstance(e.payload, Click)]
    share = sum(keys[c.product_id] in favourites[c.user_id] for c in clicks) / len(clicks)
    chance = 2 / len(SUBCATEGORIES)
    assert share > 5 * chance, share
    # The propensity ranks clicked products above random ones for the same user.
    catalogue = sim.catalogue()
    clicked = [sim.taste_score(c.user_id, sim.products[c.product_id]) for c in clicks[:2000]]
    random_ = [sim.taste_score(c.user_id, catalogue[i % len(catalogue)]) for i, c in enumerate(clicks[:2000])]
    assert sum(clicked) / len(clicked) > 2 * sum(random_) / len(random_)


def test_products_have_realistic_text() -> None:
    sim = Simulator(SMALL)
    for product in sim.catalogue():
        spec = SPEC_BY_KEY[" > ".join(product.category_path)]
        assert product.brand in product.name or spec.top == "Books"
        assert product.brand in product.name + product.description
        text = (product.name + " " + product.description).lower()
        for value in product.attributes.values():
            assert value.lower() in text, (value, product.name, product.description)
        sentences = len(re.findall(r"[.?!](?:\s|$)", product.description))
        assert 2 <= sentences <= 5, product.description
        low, high = spec.price
        assert Decimal(str(low)) <= product.price <= Decimal(str(high))
        assert product.price.as_tuple().exponent == -2
    names = [p.name for p in sim.catalogue()]
    assert len(set(names)) > 0.9 * len(names)


def test_generated_queries_have_graded_judgements() -> None:
    sim = Simulator(SMALL)
    queries = sim.generate_queries(200, seed=3)
    assert queries == sim.generate_queries(200, seed=3)
    assert queries != sim.generate_queries(200, seed=4)
    texts = [q for q, _ in queries]
    assert len(texts) == len(set(texts)) == 200
    ids = {p.product_id for p in sim.catalogue()}
    by_id = {p.product_id: p for p in sim.catalogue()}
    synonym_only = 0
    for text, judged in queries:
        assert text == text.lower() and text.strip()
        assert set(judged) <= ids
        assert set(judged.values()) <= {1, 2, 3} and 3 in judged.values()
        best_names = " ".join(by_id[p].name.lower() for p, g in judged.items() if g == 3)
        synonym_only += text not in best_names and not any(
            noun.lower() in text
            for noun in SPEC_BY_KEY[" > ".join(by_id[next(iter(judged))].category_path)].nouns
        )
    assert synonym_only >= 10
    assert sum(len(q.split()) >= 3 for q in texts) > 40  # attribute / brand / use-case queries


def _without_run(raw: bytes, run_id: str) -> dict:
    """An event with its id left out and the run's suffix taken off its session and order ids."""
    event = json.loads(raw)
    del event["event_id"]
    payload = event["payload"]
    for key in ("session_id", "order_id"):
        if payload.get(key) and run_id:
            assert payload[key].endswith(f"-{run_id}"), payload[key]
            payload[key] = payload[key].removesuffix(f"-{run_id}")
    return event


def test_a_run_id_renames_the_ids_and_changes_nothing_else() -> None:
    legacy = _encoded(BUSY, 4000)
    first = _encoded(BUSY.model_copy(update={"run_id": "261126101500-a1b2"}), 4000)
    second = _encoded(BUSY.model_copy(update={"run_id": "261126101501-c3d4"}), 4000)
    assert first == _encoded(BUSY.model_copy(update={"run_id": "261126101500-a1b2"}), 4000)  # (seed, run) fixed
    # The same world: products, users, clicks, orders, times; only the names differ.
    assert [_without_run(b, "261126101500-a1b2") for b in first] == [_without_run(b, "") for b in legacy]
    assert [_without_run(b, "261126101501-c3d4") for b in second] == [_without_run(b, "") for b in legacy]

    def ids(stream: list[bytes]) -> tuple[set[str], set[str], set[str]]:
        events = [json.loads(b) for b in stream]
        return ({e["event_id"] for e in events},
                {e["payload"]["session_id"] for e in events if e["payload"].get("session_id")},
                {e["payload"]["order_id"] for e in events if e["type"] == "order"})

    for a, b in itertools.combinations([ids(legacy), ids(first), ids(second)], 2):
        for kind_a, kind_b in zip(a, b, strict=True):
            assert kind_a and kind_a.isdisjoint(kind_b)
    assert "o0000001" in ids(legacy)[2] and "o0000001-261126101500-a1b2" in ids(first)[2]


def test_run_ids_are_fresh_and_checked() -> None:
    from producers.simulator import new_run_id

    fresh = new_run_id()
    assert re.fullmatch(r"\d{12}-[0-9a-f]{4}", fresh)
    assert SimulatorConfig(run_id=fresh).run_id == fresh
    for bad in ("has space", "-leading-dash", "x" * 41, "ü"):
        with pytest.raises(ValueError, match="run_id"):
            SimulatorConfig(run_id=bad)
