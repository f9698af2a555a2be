"""Dead letters as a tool: read the dead-letter topic back, choose and de-duplicate letters, and
replay chosen records to their original topics once what made them fail is fixed.

Each consumer group dead-letters a bad record on its own (headers name the group, the original
topic, partition and offset, the reason and the time: `consumers/deadletter.py`), so one bad record
on a topic that three groups read is three letters, one per group; a crash between writing a letter
and storing the offsets that skip it can repeat a letter, so listing de-duplicates by group and
origin. A replay sends each chosen original record once, whatever number of groups gave up on
it: every group that reads the topic sees it again, and the consumers count an event id once, so a
group that had applied it counts it once still. `shopstream dead-letter` (`cli_dead_letter.py`) is
the command line over this module.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from consumers.deadletter import StoredLetter, parse
from events import DEAD_LETTER
from infra.producer import new_producer


class NoDeadLetterTopic(LookupError):
    pass


def read_letters(bootstrap: str, topic_prefix: str = "", timeout_s: float = 60.0) -> list[StoredLetter]:
    """Every record of the dead-letter topic, as it is now, oldest first."""
    topic = topic_prefix + DEAD_LETTER
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="shopstream-dead-letter-reader", max_partition_fetch_bytes=4 << 20)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise NoDeadLetterTopic(
                f"there is no topic {topic!r} at {bootstrap}: nothing has been dead-lettered yet, "
                "or SHOPSTREAM_TOPIC_PREFIX / KAFKA_BOOTSTRAP_SERVERS name another environment")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends: dict[TopicPartition, int] = consumer.end_offsets(tps)
        letters: list[StoredLetter] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(letters)} dead letters from {topic} but not the rest "
                                   f"within {timeout_s:g} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                letters += [parse(tp.partition, r.offset, r.key, r.value, r.headers, r.timestamp)
                            for r in records if r.offset < ends[tp]]
        return sorted(letters, key=lambda s: (s.time, s.partition, s.offset))
    finally:
        consumer.close()


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_time(text: str, now: float | None = None) -> float:
    """A moment as epoch seconds: ISO 8601 (`2026-11-30T14:00`, local time without a zone), a
    number of epoch seconds, or a duration before now (`90s`, `15m`, `2h`, `3d`).

    >>> parse_time("2h", now=10_000.0), parse_time("1700000000")
    (2800.0, 1700000000.0)
    """
    now = time.time() if now is None else now
    if m := _RELATIVE.match(text):
        return now - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use ISO 8601 (2026-11-30T14:00), epoch seconds, "
                         "or a duration ago (15m, 2h, 3d)") from None


def _named(value: str, prefix: str) -> str:
    """A group or topic name as the operator says it (without the environment's prefix)."""
    return value[len(prefix):] if prefix and value.startswith(prefix) else value


@dataclass(frozen=True)
class Selection:
    """Which letters: every given criterion must hold (an empty one holds for all)."""

    ids: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    since: float | None = None
    until: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.ids or self.groups or self.kinds or self.topics) and self.since is None and self.until is None

    def matches(self, s: StoredLetter, prefix: str = "") -> bool:
        letter = s.letter
        return (
            (not self.ids or s.id in self.ids)
            and (not self.groups or _named(letter.group, prefix) in self.groups or letter.group in self.groups)
            and (not self.kinds or letter.kind in self.kinds)
            and (not self.topics or _named(letter.topic, prefix) in self.topics or letter.topic in self.topics)
            and (self.since is None or s.time >= self.since)
            and (self.until is None or s.time <= self.until)
        )


def select(letters: Iterable[StoredLetter], selection: Selection, prefix: str = "") -> list[StoredLetter]:
    return [s for s in letters if selection.matches(s, prefix)]


def dedupe(letters: Sequence[StoredLetter]) -> tuple[list[StoredLetter], int]:
    """One letter per group and original record (the first written); and how many repeats were dropped."""
    seen: set[tuple[str, str, int, int]] = set()
    kept: list[StoredLetter] = []
    for s in sorted(letters, key=lambda s: (s.time, s.partition, s.offset)):
        key = (s.letter.group, *s.origin)
        if key not in seen:
            seen.add(key)
            kept.append(s)
    return kept, len(letters) - len(kept)


def counts(letters: Iterable[StoredLetter], prefix: str = "") -> dict[str, dict[str, int]]:
    """How many letters per group and kind."""
    tally: Counter[tuple[str, str]] = Counter((_named(s.letter.group, prefix), s.letter.kind) for s in letters)
    out: dict[str, dict[str, int]] = {}
    for (group, kind), n in sorted(tally.items()):
        out.setdefault(group, {})[kind] = n
    return out


@dataclass
class ReplayPlan:
    """The original records to send again (one per origin, in their original order), and the
    letters that cannot be replayed, with why."""

    send: list[StoredLetter] = field(default_factory=list)
    skipped: list[tuple[StoredLetter, str]] = field(default_factory=list)

    def topics(self, prefix: str = "") -> dict[str, int]:
        return dict(Counter(_named(s.letter.topic, prefix) for s in self.send))


def plan_replay(letters: Iterable[StoredLetter], prefix: str = "") -> ReplayPlan:
    plan = ReplayPlan()
    origins: set[tuple[str, int, int]] = set()
    for s in sorted(letters, key=lambda s: (s.origin, s.time)):
        if s.origin in origins:
            continue  # another group's letter for the same record: it is sent once
        origins.add(s.origin)
        if s.truncated_from is not None:
            plan.skipped.append((s, f"only the first {len(s.letter.value or b'')} of its {s.truncated_from} bytes "
                                    "were kept: the original cannot be rebuilt"))
        elif s.letter.value is None:
            plan.skipped.append((s, "it has no value"))
        elif s.letter.topic == "?" or not s.letter.topic.startswith(prefix) or _named(s.letter.topic, prefix) == \
                DEAD_LETTER:
            plan.skipped.append((s, f"its original topic {s.letter.topic!r} is not one of this environment's"))
        else:
            plan.send.append(s)
    return plan


@dataclass(frozen=True)
class Replayed:
    letter: StoredLetter
    partition: int  # where the record now is on its original topic
    offset: int


def replay(plan: ReplayPlan, bootstrap: str, timeout_s: float = 30.0) -> list[Replayed]:
    """Send every planned record to its original topic with its original key and value; headers
    say which record and which letter it replays. Returns once each is acknowledged."""
    if not plan.send:
        return []
    producer: Any = new_producer(bootstrap, client_id="shopstream-dead-letter-replay", linger_ms=0)
    done: list[Replayed] = []
    try:
        now = f"{time.time():.3f}"
        for s in plan.send:
            topic, partition, offset = s.origin
            headers = [("replay.of", f"{topic}[{partition}]@{offset}".encode()),
                       ("replay.dead-letter", s.id.encode()), ("replay.time", now.encode())]
            meta = producer.send(topic, key=s.letter.key, value=s.letter.value, headers=headers).get(timeout=timeout_s)
            done.append(Replayed(s, int(meta.partition), int(meta.offset)))
    finally:
        producer.close(timeout=10)
    return done
