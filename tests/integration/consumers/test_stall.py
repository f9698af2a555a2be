"""A consumer that stops receiving the records waiting on its partitions rejoins its group, and one
whose group join never ends starts a new Kafka client; either goes on from its stored offsets,
without a restart."""

from __future__ import annotations

import itertools

import pytest

from consumers.groups import build_loop
from consumers.runtime import LoopStats
from infra.config import Settings
from infra.producer import EventSink
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig

pytestmark = pytest.mark.broker


def _publish(settings: Settings, seed: int, count: int) -> None:
    events = Simulator(SimulatorConfig(seed=seed, n_products=50, n_users=20)).events()
    with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        assert publish(sink, itertools.islice(events, count), progress=False) == count
        sink.flush()


@pytest.mark.timeout(180)
def test_a_consumer_whose_fetching_stopped_rejoins_and_applies_the_rest(settings):
    _publish(settings, seed=5, count=600)
    loop = build_loop("store", settings.model_copy(update={"batch_max_records": 50, "stall_after_s": 2.0}))

    def stop_fetching(stats: LoopStats) -> None:
        # The client's fetching stops as in kafka-python's fetch-state bugs: every partition is
        # still assigned, none is asked for records again (until the assignment changes).
        if stats.batches == 1:
            loop.consumer.pause(*loop.consumer.assignment())

    stats = loop.run(on_batch=stop_fetching, until_log_end=True)
    assert stats.stalls >= 1
    assert stats.applied == 600


@pytest.mark.timeout(180)
def test_a_consumer_whose_group_join_never_ends_starts_a_new_client_and_applies_the_rest(settings):
    _publish(settings, seed=6, count=600)
    loop = build_loop("store", settings.model_copy(update={"batch_max_records": 50, "stall_after_s": 2.0}))
    stuck: list[object] = []

    def never_end_the_join(stats: LoopStats) -> None:
        # The client's join never gets its answer, as seen in CI: each poll awaits the join in
        # flight and returns nothing; no heartbeat goes out; the coordinator expels the member.
        if stats.batches == 1:
            coordinator = loop.consumer._coordinator

            async def join_forever() -> bytes:
                await coordinator._manager._net.sleep(3_600)
                return b""

            coordinator._do_join_and_sync_async = join_forever
            coordinator.request_rejoin()
            stuck.append(loop.consumer)

    stats = loop.run(on_batch=never_end_the_join, until_log_end=True)
    assert stuck, "the join was never made to hang"
    assert stats.new_clients >= 1
    assert stats.applied == 600
