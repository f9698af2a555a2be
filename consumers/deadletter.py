"""The dead-letter topic: bad records keep their bytes, and headers say where they came from and why."""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaProducer

from events import DEAD_LETTER, DecodeError

log = logging.getLogger(__name__)


class DeadLetterSink:
    def __init__(self, bootstrap: str, topic_prefix: str = "") -> None:
        self._topic = topic_prefix + DEAD_LETTER
        self._bootstrap = bootstrap
        self._producer: KafkaProducer | None = None  # created on first use: most batches are clean
        self._failed: list[BaseException] = []

    def send(self, msg: Any, error: DecodeError) -> None:
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True, linger_ms=5
            )
        headers = [
            ("original.topic", msg.topic.encode()),
            ("original.partition", str(msg.partition).encode()),
            ("original.offset", str(msg.offset).encode()),
            ("original.timestamp", str(msg.timestamp).encode()),
            ("error.kind", error.kind.encode()),
            ("error.reason", error.reason.encode("utf-8", "replace")),
        ]
        log.warning(
            "dead-letter %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, error.reason[:200]
        )
        future = self._producer.send(self._topic, key=msg.key, value=msg.value, headers=headers)
        future.add_errback(self._failed.append)

    def flush(self) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=60)
        if self._failed:
            err, self._failed = self._failed[0], []
            # Failing here aborts the batch before its offsets are stored: it will be retried.
            raise RuntimeError(f"could not write to the dead-letter topic: {err}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
