"""Small real implementations of the Checkpoint's own protocols (`DeadLetters`, `OffsetCommitter`)
that record what they are asked, and what SQLite had committed at that moment (read through a
second connection, so they see only what is committed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from consumers.checkpoint import TopicPartition
from consumers.deadletter import DeadLetter
from infra.sqlite import connect_reader, load_offsets


class RecordingDeadLetters:
    """`DeadLetters` that keeps what it is sent and, once flushed, what is durable; `fail` makes
    `flush` raise (and lose what was pending) like a broker that cannot take them. At each flush it
    notes the offsets SQLite has committed."""

    def __init__(self, db: Path, fail: BaseException | None = None) -> None:
        self.db = db
        self.fail = fail
        self.sent: list[DeadLetter] = []
        self.pending: list[DeadLetter] = []
        self.flushed: list[DeadLetter] = []
        self.committed_at_flush: list[dict[TopicPartition, int]] = []

    def send(self, letter: DeadLetter) -> None:
        self.sent.append(letter)
        self.pending.append(letter)

    def flush(self) -> None:
        self.committed_at_flush.append(committed_offsets(self.db))
        pending, self.pending = self.pending, []
        if self.fail is not None:
            raise self.fail
        self.flushed += pending


class RecordingCommitter:
    """`OffsetCommitter` that keeps each commit and what SQLite had committed at that moment."""

    def __init__(self, db: Path, fail: BaseException | None = None) -> None:
        self.db = db
        self.fail = fail
        self.commits: list[dict[TopicPartition, int]] = []
        self.committed_at_commit: list[dict[TopicPartition, int]] = []

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.committed_at_commit.append(committed_offsets(self.db))
        if self.fail is not None:
            raise self.fail
        self.commits.append(dict(offsets))


def committed_offsets(db: Path) -> dict[TopicPartition, int]:
    conn = connect_reader(db)
    try:
        return load_offsets(conn)
    finally:
        conn.close()
