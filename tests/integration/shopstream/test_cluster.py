"""A real 3-broker KRaft cluster (replication factor 3, min.insync.replicas=2): the simulator and every
consumer group run against it through KAFKA_BOOTSTRAP_SERVERS, one broker is SIGKILLed mid-stream,
and the state is exact: what the simulator says it sent, and what an uninterrupted run holds."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from consumers.groups import build_loop
from infra.broker import LocalCluster
from infra.config import CONSUMER_GROUPS, Settings
from infra.topics import ensure_topics
from shopstream.statecheck import differences, groups_at_log_end, side_by_side, summarize
from shopstream.supervisor import Child
from tests.integration.helpers import counter, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.cluster]

EVENTS = 8000
PREFIX = "cluster."


def _leaders(bootstrap: str) -> tuple[Counter[int], str | None]:
    """Partitions led by each broker, and the `min.insync.replicas` the clicks topic runs with."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        topics = [t for t in admin.list_topics() if t.startswith(PREFIX)]
        leaders: Counter[int] = Counter()
        for topic in admin.describe_topics(topics):
            for part in topic["partitions"]:
                assert len(part["replica_nodes"]) == 3, topic
                leaders[int(part["leader_id"])] += 1
        resource = ConfigResource(ConfigResourceType.TOPIC, PREFIX + "clicks")
        configs = admin.describe_configs([resource], config_filter="all")
    finally:
        admin.close()
    return leaders, configs["topic"][PREFIX + "clicks"]["min.insync.replicas"]["value"]


@pytest.mark.timeout(900)
def test_a_three_broker_cluster_loses_a_broker_mid_stream_and_the_state_is_exact(tmp_path: Path):
    with LocalCluster(tmp_path / "cluster", Settings().cache_dir, size=3) as cluster:
        settings = Settings(KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap, topic_prefix=PREFIX,
                            data_dir=tmp_path / "var", partitions=3, replication_factor=3)
        created = ensure_topics(cluster.bootstrap, settings.partitions, settings.replication_factor, PREFIX)
        # The topics are created through one broker; the others learn of them a moment later (CI once
        # found none listed here).
        wait_for(lambda: sum(n for broker, n in _leaders(cluster.bootstrap)[0].items() if broker >= 0)
                 == len(created) * settings.partitions, timeout_s=60, what="every new partition to have a leader")
        leaders, min_insync = _leaders(cluster.bootstrap)
        assert min_insync == "2"
        assert len(leaders) >= 2, leaders  # the leadership is spread: a loss moves partitions

        env = settings.child_env(SHOPSTREAM_SESSION_TIMEOUT_MS="6000")
        logs = tmp_path / "logs"
        simulator = Child("simulator", ["simulate", "--count", str(EVENTS), "--rate", "250", "--seed", "5",
                                        "--products", "300", "--users", "150", "--no-progress"],
                          logs / "simulator.log")
        consumers = [Child(g, ["consume", g], logs / f"{g}.log") for g in CONSUMER_GROUPS]
        for child in [simulator, *consumers]:
            child.start(env)
        try:
            store_db = settings.sqlite_path("store")
            wait_for(lambda: counter(store_db, "events_applied") >= 2000, timeout_s=180, interval_s=0.5,
                     what="the stream to be under way")
            victim, _ = leaders.most_common(1)[0]
            cluster.broker(victim).kill()  # the broker leading the most partitions
            assert simulator.alive(), "the kill must land while the simulator streams"

            assert simulator.process is not None and simulator.process.wait(300) == 0, simulator.log.read_text()[-3000:]
            wait_for(lambda: groups_at_log_end(settings), timeout_s=300, interval_s=1,
                     what="every group to reach the end of its topics")
            for child in consumers:
                assert child.alive(), f"{child.name} exited:\n" + child.log.read_text()[-3000:]
        finally:
            for child in consumers:
                if child.alive() and child.process is not None:
                    child.process.send_signal(signal.SIGTERM)
            codes = {c.name: c.process.wait(60) if c.process is not None else None for c in consumers}
            simulator.stop()
        assert codes == {g: 0 for g in CONSUMER_GROUPS}, codes

        # The same topics read by fresh groups without interruption, on the two brokers left.
        base = settings.model_copy(update={"data_dir": tmp_path / "baseline"})
        for group in CONSUMER_GROUPS:
            build_loop(group, base, group_id=f"{PREFIX}baseline-{group}").run(until_log_end=True)

    tally = json.loads([line for line in simulator.log.read_text().splitlines() if line.startswith("{")][-1])
    got, want = summarize(settings), summarize(base)
    diff = differences(got, want)
    assert not diff, "\n".join(diff) + "\n" + side_by_side(got, want, ("lost a broker", "uninterrupted"))
    # And exactly what the simulator sent: nothing lost, nothing twice.
    store = got["store"]
    assert tally["sent"] == EVENTS == store["events_applied"] == got["learner"]["events_applied"]
    assert store["clicks"] == tally["clicks"] and store["orders"] == tally["orders"]
    assert store["units_sold"] == tally["units_sold"] and store["products_alive"] == tally["products_alive"]
    assert got["catalog"]["vectors_missing"] == got["catalog"]["stale_vectors"] == 0
