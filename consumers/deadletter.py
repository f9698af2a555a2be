"""The dead-letter topic: a bad record keeps its bytes, and headers say which group gave up on it,
where it came from and why.

Headers (all UTF-8): `dlq.group`, `original.topic`, `original.partition`, `original.offset`,
`original.timestamp`, `error.kind`, `error.reason`, `error.exception` (when applying it raised),
`dlq.time` (epoch seconds) and, when the value had to be cut to fit the broker's limit,
`value.truncated` (the original size in bytes). `shopstream dead-letter` lists, shows and replays
them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from events import DEAD_LETTER
from infra.producer import new_producer

log = logging.getLogger(__name__)

# Kafka's default record limit is 1 MiB (broker message.max.bytes, producer max.request.size);
# the copy plus its headers stays well below it whatever came in.
MAX_VALUE_BYTES = 256 * 1024
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class DeadLetter:
    """One record given up on by one group."""

    group: str
    topic: str  # as on the broker, prefix included
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    kind: str
    reason: str
    exception: str | None = None

    def headers(self, now: float | None = None) -> list[tuple[str, bytes]]:
        out = [
            ("dlq.group", self.group),
            ("original.topic", self.topic),
            ("original.partition", str(self.partition)),
            ("original.offset", str(self.offset)),
            ("original.timestamp", str(self.timestamp_ms)),
            ("error.kind", self.kind),
            ("error.reason", self.reason[:MAX_REASON_CHARS]),
            ("dlq.time", f"{time.time() if now is None else now:.3f}"),
        ]
        if self.exception is not None:
            out.append(("error.exception", self.exception[:MAX_REASON_CHARS]))
        if self.value is not None and len(self.value) > MAX_VALUE_BYTES:
            out.append(("value.truncated", str(len(self.value))))
        return [(k, v.encode("utf-8", "replace")) for k, v in out]

    def stored_value(self) -> bytes | None:
        """The value as written to the topic: cut to `MAX_VALUE_BYTES` if it was longer."""
        return self.value if self.value is None or len(self.value) <= MAX_VALUE_BYTES else self.value[:MAX_VALUE_BYTES]


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter as read back from the dead-letter topic (:func:`parse` inverts
    :meth:`DeadLetter.headers`)."""

    partition: int  # where it is on the dead-letter topic
    offset: int
    letter: DeadLetter
    time: float  # `dlq.time`: when it was dead-lettered (epoch seconds)
    truncated_from: int | None  # the original value's size when the stored value was cut

    @property
    def id(self) -> str:
        """How the CLI names it: `<partition>:<offset>` on the dead-letter topic."""
        return f"{self.partition}:{self.offset}"

    @property
    def origin(self) -> tuple[str, int, int]:
        """The original record: (topic, partition, offset)."""
        return self.letter.topic, self.letter.partition, self.letter.offset


def parse(partition: int, offset: int, key: bytes | None, value: bytes | None,
          headers: Sequence[tuple[str, bytes | None]] | None, record_time_ms: int = 0) -> StoredLetter:
    """Read one record of the dead-letter topic back. A record without our headers (written by
    hand, or by an older version) still parses, with `?` and -1 where a header is missing."""
    h = {k: (v or b"").decode("utf-8", "replace") for k, v in headers or ()}

    def number(name: str, default: int = -1) -> int:
        try:
            return int(h.get(name, default))
        except ValueError:
            return default

    try:
        at = float(h["dlq.time"])
    except (KeyError, ValueError):
        at = record_time_ms / 1000
    letter = DeadLetter(
        group=h.get("dlq.group", "?"), topic=h.get("original.topic", "?"),
        partition=number("original.partition"), offset=number("original.offset"),
        timestamp_ms=number("original.timestamp", 0), key=key, value=value,
        kind=h.get("error.kind", "unknown"), reason=h.get("error.reason", ""),
        exception=h.get("error.exception"),
    )
    truncated = number("value.truncated") if "value.truncated" in h else None
    return StoredLetter(partition, offset, letter, at, truncated)


class DeadLetterSink:
    """Writes dead letters; `flush` returns only once they are durable, or raises."""

    def __init__(self, bootstrap: str, topic_prefix: str = "") -> None:
        self._topic = topic_prefix + DEAD_LETTER
        self._bootstrap = bootstrap
        self._producer: Any = None  # created on first use: most batches are clean
        self._failed: list[BaseException] = []

    def send(self, letter: DeadLetter) -> None:
        if self._producer is None:
            self._producer = new_producer(self._bootstrap, client_id="shopstream-dead-letter", linger_ms=0)
        log.warning("dead-letter %s[%d]@%d (%s): %s", letter.topic, letter.partition, letter.offset,
                    letter.group, letter.reason[:200])
        future = self._producer.send(self._topic, key=letter.key, value=letter.stored_value(), headers=letter.headers())
        future.add_errback(self._failed.append)

    def flush(self, timeout_s: float = 30.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=timeout_s)
        if self._failed:
            err, self._failed = self._failed[0], []
            # Raising aborts the batch before its offsets are stored: it will be retried.
            raise ConnectionError(f"could not write to the dead-letter topic: {err}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
