"""Replaying a log in the order it happened, as the learner sees it.

Kafka keeps order within a partition only. Clicks and orders are separate topics, and each is keyed by
user over several partitions, so a consumer reads a replayed log's events interleaved across users and
topics: not in the order they happened. The learner trains on what it reads, in the order it reads it
(test-then-train), so a replay that is learned out of order teaches something that never happened.

`ReplayOrder.GLOBAL` (the import default) keeps the log's global order for every consumer group:

- every event goes to the first partition of its topic (`FirstPartition`), so the clicks are read in the
  order they were sent, and so are the orders;
- where the log moves from one topic to the other (a run of clicks, then an order), the import waits
  until the consumer group it replays for (`learner` by default) has committed everything sent before
  (`GroupProgress.wait_consumed`), then sends on (`in_global_order`).

A rating log is all clicks: it is sent at full speed with no wait at all. A log that mixes clicks and
orders waits once per switch (typically a few hundred milliseconds each).

`ReplayOrder.PER_USER` is Kafka's usual keying: each user's events stay in order, users interleave,
several consumer processes can share the replay, and nothing waits.

>>> from datetime import UTC, datetime
>>> from events import Click, ClickSource, Order, OrderLine, make_event
>>> t = datetime(2024, 1, 1, tzinfo=UTC)
>>> click = make_event(Click(user_id="u", product_id="p", session_id="s", source=ClickSource.BROWSE), t)
>>> order = make_event(Order(order_id="o", user_id="u", lines=[OrderLine(product_id="p", quantity=1,
...                                                                        unit_price="1.00")], total="1.00"), t)
>>> waits = []
>>> sent = list(in_global_order([click, click, order, click], lambda *wait: waits.append(wait)))
>>> len(sent), waits
(4, [('clicks', 'orders', 2), ('orders', 'clicks', 3)])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError
from kafka.partitioner import Partitioner
from kafka.protocol.consumer.offsets import OffsetSpec

from events import Event, topic_for

log = logging.getLogger(__name__)


class ReplayOrder(StrEnum):
    GLOBAL = "global"
    PER_USER = "per-user"


class FirstPartition(Partitioner):  # type: ignore[misc]
    """Sends every record to its topic's first partition (the producer's `partitioner` setting)."""

    def partition(self, topic: str, key: Any, serialized_key: Any, value: Any, serialized_value: Any,
                  cluster: Any) -> int:
        return int(min(cluster.partitions_for_topic(topic)))


def in_global_order(events: Iterable[Event], barrier: Callable[[str, str, int], None]) -> Iterator[Event]:
    """Yield `events`; before the first event of a topic that follows another topic's events, call
    `barrier(previous topic, next topic, events yielded so far)`, which returns once those have been
    consumed.

    The caller must send each event before it asks for the next (as `producers.publish.publish` does):
    the barrier runs when the next event is asked for."""
    topic: str | None = None
    for yielded, event in enumerate(events):
        this = topic_for(event.type.value)
        if topic is not None and this != topic:
            barrier(topic, this, yielded)
        topic = this
        yield event


class GroupProgress:
    """How far a consumer group has got on the first partition of a topic: its committed offset."""

    def __init__(self, bootstrap: str, group: str, topic_prefix: str = "",
                 say: Callable[[str], None] = log.info, poll_s: float = 0.05, first_reminder_s: float = 5.0,
                 remind_s: float = 30.0) -> None:
        self.group = group
        self.topic_prefix = topic_prefix
        self.say = say
        self.poll_s = poll_s
        self.first_reminder_s = first_reminder_s
        self.remind_s = remind_s
        self.waits = 0
        self.waited_s = 0.0
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="shopstream-replay")

    def first_partition(self, topic: str) -> TopicPartition:
        return TopicPartition(self.topic_prefix + topic, 0)

    def end_offset(self, topic: str) -> int:
        tp = self.first_partition(topic)
        return int(self._admin.list_partition_offsets({tp: OffsetSpec.LATEST})[tp].offset)

    def committed(self, topic: str) -> int:
        tp = self.first_partition(topic)
        try:
            offsets = self._admin.list_group_offsets({self.group: [tp]}).get(self.group, {})
        except KafkaError as exc:  # e.g. no coordinator yet for a group that never committed
            log.debug("no offsets for %s yet: %s", self.group, exc)
            return 0
        meta = offsets.get(tp)
        return max(int(meta.offset), 0) if meta is not None else 0

    def wait_consumed(self, topic: str, next_topic: str) -> None:
        """Return once the group has committed the first partition of `topic` up to its end."""
        started = time.monotonic()
        end = self.end_offset(topic)
        remind_at = started + self.first_reminder_s
        while (done := self.committed(topic)) < end:
            now = time.monotonic()
            if now >= remind_at:
                remind_at = now + self.remind_s
                self.say(f"waiting for consumer group {self.group!r} to read {topic} up to offset {end} "
                         f"(it is at {done}) before sending {next_topic}, so that it learns the log in order; "
                         f"is `shopstream consume {self.group.removeprefix(self.topic_prefix)}` running? "
                         "(--order per-user does not wait)")
            time.sleep(self.poll_s)
        self.waits += 1
        self.waited_s += time.monotonic() - started

    def close(self) -> None:
        self._admin.close()
