"""The contract of a consumer group's state change, shared by every group.

A :class:`Processor` turns a batch of decoded :class:`Record` s into SQL on the group's own SQLite
file. `apply` runs inside the batch's transaction (see `consumers.checkpoint`), so it must change
nothing but SQLite: whatever it does is undone if the batch is retried or a record in it is
isolated. In-memory work that follows the committed state (an index, a model) goes in
`after_commit`. A record that is well-formed but cannot be applied raises
`readmodels.errors.Rejected`; it is dead-lettered alone and the rest of the batch goes on.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

from events import Event


class Record(NamedTuple):
    """A decoded event and where it came from (``topic`` without the namespace prefix).

    A named tuple rather than a frozen dataclass: one is made for every record consumed, and a frozen
    dataclass's ``__init__`` (an ``object.__setattr__`` a field) costs about twice as much (1.15 us against 0.5 us)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    event: Event
    source_topic: str = ""  # the topic as on the broker (prefix included)
    key: bytes | None = None
    value: bytes | None = None  # the bytes as they came, for a dead letter


class Processor(ABC):
    """A consumer group's state change."""

    group: str
    topics: tuple[str, ...]

    @abstractmethod
    def setup(self, conn: sqlite3.Connection) -> None:
        """Create the group's tables (idempotent) and load what `after_commit` keeps in memory."""

    @abstractmethod
    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        """Apply a batch inside its transaction; return counter increments to store with it."""

    def after_commit(self, records: Sequence[Record]) -> None:  # noqa: B027 - optional hook
        """Called after the batch's transaction committed (e.g. to update an in-memory index)."""

    def on_idle(self) -> None:  # noqa: B027 - optional hook
        """Called when a poll returned nothing: time-based work (snapshots) happens here too."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once when the loop stops, before the SQLite connection closes."""
