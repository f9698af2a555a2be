"""Kafka's view of a group's offsets (`KafkaCommitter`): what the broker refused is committed again
until it is accepted, for the partitions still assigned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError

from consumers.runtime import KafkaCommitter


class Client:
    """What `KafkaCommitter` asks of a KafkaConsumer: its assignment and its two commits. Each async
    commit waits for `answer` to be called with the broker's verdict, as the client's next poll does."""

    def __init__(self, assigned: list[tuple[str, int]]) -> None:
        self.assigned = [TopicPartition(t, p) for t, p in assigned]
        self.pending: list[tuple[dict[TopicPartition, OffsetAndMetadata], Callable[..., None]]] = []
        self.committed: dict[tuple[str, int], int] = {}
        self.refuse_sync = False

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def commit_async(self, offsets: dict[TopicPartition, OffsetAndMetadata], callback: Callable[..., None]) -> None:
        self.pending.append((offsets, callback))

    def answer(self, refused: bool) -> None:
        offsets, callback = self.pending.pop(0)
        if refused:
            callback(offsets, CommitFailedError("the member is not in the current generation"))
            return
        self.committed.update({(tp.topic, tp.partition): m.offset for tp, m in offsets.items()})
        callback(offsets, None)

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata], timeout_ms: int) -> Any:
        if self.refuse_sync:
            raise CommitFailedError("the member is not in the current generation")
        self.committed.update({(tp.topic, tp.partition): m.offset for tp, m in offsets.items()})


def test_accepted_commits_leave_nothing_to_commit_again():
    client = Client([("clicks", 0), ("clicks", 1)])
    committer = KafkaCommitter(client)
    committer.commit({("clicks", 0): 5, ("clicks", 1): 7})
    assert committer.unconfirmed() == {("clicks", 0): 5, ("clicks", 1): 7}  # no answer yet
    client.answer(refused=False)
    assert committer.unconfirmed() == {}


def test_a_refused_last_commit_stays_unconfirmed_until_a_flush_carries_it():
    client = Client([("clicks", 0)])
    committer = KafkaCommitter(client)
    committer.commit({("clicks", 0): 5})
    client.answer(refused=False)
    committer.commit({("clicks", 0): 9})
    client.answer(refused=True)
    assert committer.unconfirmed() == {("clicks", 0): 9}
    client.refuse_sync = True  # still refused (the client is rejoining): kept for the next try
    with pytest.raises(CommitFailedError):
        committer.flush()
    assert committer.unconfirmed() == {("clicks", 0): 9}
    client.refuse_sync = False
    committer.flush()
    assert client.committed == {("clicks", 0): 9}
    assert committer.unconfirmed() == {}


def test_a_late_answer_for_an_older_commit_does_not_undo_a_newer_one():
    client = Client([("clicks", 0)])
    committer = KafkaCommitter(client)
    committer.commit({("clicks", 0): 5})
    committer.commit({("clicks", 0): 9})
    client.answer(refused=True)  # the first is refused after the second was sent
    client.answer(refused=False)
    assert committer.unconfirmed() == {}
    assert committer.confirmed == {("clicks", 0): 9}


def test_offsets_adopted_on_assignment_are_committed_and_unassigned_ones_are_not():
    client = Client([("orders", 2)])
    committer = KafkaCommitter(client)
    committer.adopt({("orders", 2): 40})  # stored in SQLite; Kafka's view is behind after a refused commit
    committer.commit({("orders", 1): 3})  # a partition given away since
    client.answer(refused=True)
    assert committer.unconfirmed() == {("orders", 2): 40}
    committer.flush()
    assert client.committed == {("orders", 2): 40}
