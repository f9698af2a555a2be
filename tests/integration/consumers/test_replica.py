"""A second read replica (SHOPSTREAM_NODE), started after the first against the same topics,
rebuilds from the compacted `products` topic and the retained interaction topics and converges.

Node A (the unnamed node) consumes the simulator's stream live; node B starts only once it has all
been produced, with its own data folder and its own group names, and replays it in bulk. Then:

* the catalogues are equal, field for field, keyed by product id (doc ids are assigned in arrival
  order, which differs: partitions interleave differently on each node);
* each node's vector index holds exactly its live products, and searches agree (not exactly: an
  embedder fitted on the catalogue, LSA, was fitted on what each node had at the time);
* the learner logs hold the same set of entries (their order differs, for the same reason);
* recommendations for a sample of users are of the same quality, measured with the simulator's
  hidden tastes. They are not identical: the online model learns in log order.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition

from api.main import create_app
from consumers.groups import build_loop
from consumers.runtime import ConsumerLoop
from events import CLICKS, ORDERS, PRODUCTS
from infra.config import Settings
from infra.producer import EventSink
from infra.sqlite import connect_reader, load_offsets
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.catalog.live_index import LiveIndex, index_gaps
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.broker

GROUPS = {"catalog": (PRODUCTS,), "learner": (PRODUCTS, CLICKS, ORDERS)}
PRODUCT_COLUMNS = ("product_id, name, description, category_path, brand, price_cents, attributes, stock, "
                   "removed, updated_at")
LOG_COLUMNS = "event_id, line_no, kind, user_id, item_id, weight, ts, session_id, body, vector"


def _log_end(settings: Settings) -> dict[tuple[str, int], int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap)
    try:
        topics = [settings.topic_prefix + t for t in (PRODUCTS, CLICKS, ORDERS)]
        parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return {(tp.topic, tp.partition): int(end) for tp, end in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def _caught_up(settings: Settings, ends: dict[tuple[str, int], int]) -> bool:
    for group, topics in GROUPS.items():
        path = settings.sqlite_path(group)
        if not path.exists():
            return False
        conn = sqlite3.connect(path, timeout=30)
        try:
            stored = load_offsets(conn)
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
        wanted = {settings.topic_prefix + t for t in topics}
        if any(stored.get(tp, 0) < end for tp, end in ends.items() if tp[0] in wanted):
            return False
    return True


def _rows(settings: Settings, group: str, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(settings.sqlite_path(group))
    try:
        return sorted(conn.execute(sql).fetchall(), key=repr)
    finally:
        conn.close()


def _start(settings: Settings) -> tuple[list[ConsumerLoop], list[threading.Thread]]:
    loops = [build_loop(group, settings) for group in GROUPS]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    for t in threads:
        t.start()
    return loops, threads


def _stop(loops: list[ConsumerLoop], threads: list[threading.Thread]) -> None:
    for loop in loops:
        loop.stop()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a consumer loop did not stop"


def test_a_replica_started_later_converges(settings: Settings) -> None:
    node_a = settings.model_copy(update={"snapshot_interval_s": 1.0})
    node_b = node_a.model_copy(update={"node": "b"})
    assert node_b.sqlite_path("catalog") != node_a.sqlite_path("catalog")
    assert node_b.group_id("learner") != node_a.group_id("learner")
    sim = Simulator(SimulatorConfig(seed=3, n_products=300, n_users=120))

    # Node A follows the stream as it is produced.
    loops, threads = _start(node_a)
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        for _ in range(3):
            publish(sink, sim.events(1500), progress=False)
            sink.flush()
    ends = _log_end(settings)
    wait_for(lambda: _caught_up(node_a, ends), timeout_s=180, what="node A to apply the whole stream")
    _stop(loops, threads)

    # Node B starts afterwards and rebuilds from the topics alone.
    assert not node_b.state_dir.exists()
    loops_b = [build_loop(group, node_b) for group in GROUPS]
    threads_b = [threading.Thread(target=lambda lp=lp: lp.run(until_log_end=True), daemon=True) for lp in loops_b]
    for t in threads_b:
        t.start()
    for t in threads_b:
        t.join(180)
        assert not t.is_alive(), "node B did not reach the end of the log"
    assert _caught_up(node_b, ends)

    # The same catalogue, field for field (removed products and price changes included).
    products_a = _rows(node_a, "catalog", f"SELECT {PRODUCT_COLUMNS} FROM products")
    products_b = _rows(node_b, "catalog", f"SELECT {PRODUCT_COLUMNS} FROM products")
    live = sum(1 for r in products_a if not r[8])
    assert live > 300 and len(products_a) > live, "the stream should add and remove products"
    assert products_a == products_b

    # Each node's vector index holds exactly its live products: the same count on both.
    counts = []
    for node in (node_a, node_b):
        index = LiveIndex.load_latest(node.snapshot_dir("catalog"))
        assert index is not None
        conn = connect_reader(node.sqlite_path("catalog"))
        try:
            index.catch_up(conn)
            assert index_gaps(index, conn) == (set(), set())
        finally:
            conn.close()
        counts.append(len(index.index))
    assert counts == [live, live]

    # The same set of learner log entries; the order (seq) differs with the partitions' interleaving.
    log_a = _rows(node_a, "learner", f"SELECT {LOG_COLUMNS} FROM log")
    log_b = _rows(node_b, "learner", f"SELECT {LOG_COLUMNS} FROM log")
    assert len(log_a) > 3000
    assert log_a == log_b

    # Recommendations of the same quality: the users' hidden taste for what each node recommends.
    active = {r[3] for r in log_a}
    users = [u for u in sim.user_ids if u in active][:100]
    assert len(users) >= 60

    queries = [q for q, _ in sim.generate_queries(30, seed=1)]

    def tastes(node: Settings) -> tuple[float, list[list[str]]]:
        lists: list[list[str]] = []
        scores: list[float] = []
        with TestClient(create_app(node)) as client:
            for q in queries:
                resp = client.get("/search", params={"q": q, "k": 10})
                assert resp.status_code == 200, resp.text
                found[node.node].append([r["product_id"] for r in resp.json()["results"]])
            for user in users:
                resp = client.get(f"/recommendations/{user}", params={"k": 10})
                assert resp.status_code == 200, resp.text
                items = [r["product_id"] for r in resp.json()["results"]]
                lists.append(items)
                scores += [sim.taste_score(user, sim.products[i]) for i in items]
        return statistics.fmean(scores), lists

    found: dict[str, list[list[str]]] = {node_a.node: [], node_b.node: []}
    taste_a, lists_a = tastes(node_a)
    taste_b, lists_b = tastes(node_b)
    everything = [p for p in sim.products.values() if p.product_id in {r[0] for r in products_a if not r[8]}]
    chance = statistics.fmean(sim.taste_score(u, p) for u in users for p in everything)
    overlap = statistics.fmean(len(set(a) & set(b)) / 10 for a, b in zip(lists_a, lists_b, strict=True))
    same_search = statistics.fmean(len(set(a) & set(b)) / max(len(a), 1)
                                   for a, b in zip(found[""], found["b"], strict=True))
    print(f"search top-10 overlap {same_search:.2f}; taste of recommendations: "
          f"node A {taste_a:.4f}, node B {taste_b:.4f}, chance {chance:.4f}; "
          f"top-10 overlap {overlap:.2f}")
    # Search: the same products and keyword statistics; the LSA embedder was fitted on the catalogue
    # as each node had it at the time, so the vector leg may differ a little.
    assert same_search >= 0.8
    assert taste_a > 1.5 * chance and taste_b > 1.5 * chance, "both nodes recommend better than chance"
    # The nodes' taste scores differed by 1% to 31% of the better one in 10 runs here (CI at 462671b
    # failed a 25% bound at 26%); in all four gaps over 15%, node A, the one that learnt live, was
    # the lower. The bound asks the lower for 60% of the higher, beside the bound above.
    assert abs(taste_a - taste_b) <= 0.4 * max(taste_a, taste_b), "the two nodes' quality differs"
    # Two lists drawn at random from the live catalogue would share 10 / live of their items (0.03).
    # How much the two models agree depends on the order each learnt in: 0.15 to 0.74 in 19 runs
    # here (median 0.44), so the bound is 3 times chance, not the 5 times (0.16) it was at first.
    assert overlap > 3 * 10 / live, "the two nodes should agree far more than chance"
