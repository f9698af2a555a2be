"""Publishing events to Kafka: idempotent, acks=all, retried by the client, failures reported.

A send that still fails after the client's retries is counted, logged and appended to a
`failed-events.jsonl` file so it can be re-sent; it is never silently dropped.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from events import Event, encode, event_key, topic_for

log = logging.getLogger(__name__)


class SendFailed(RuntimeError):
    pass


class EventSink:
    def __init__(
        self,
        bootstrap: str,
        topic_prefix: str = "",
        failed_path: Path | None = None,
        linger_ms: int = 5,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            batch_size=256 * 1024,
            compression_type=None,
            retries=2**31 - 1,
            delivery_timeout_ms=120_000,
            client_id="shopstream-producer",
        )
        self.failed_path = failed_path
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self._lock = threading.Lock()

    def send(self, event: Event) -> None:
        payload = encode(event)
        future = self.producer.send(
            self.topic_prefix + topic_for(event.type.value), key=event_key(event), value=payload)
        self.sent += 1
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error, payload)

    def send_raw(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        """Put arbitrary bytes on a topic (tests, tools); returns (partition, offset) once acked."""
        meta = self.producer.send(self.topic_prefix + topic, key=key, value=value).get(timeout=30)
        return int(meta.partition), int(meta.offset)

    def _on_ack(self, _metadata: Any) -> None:
        with self._lock:
            self.acked += 1

    def _on_error(self, error: BaseException, payload: bytes) -> None:
        with self._lock:
            self.failed += 1
        log.error("send failed after retries: %s", error)
        if self.failed_path is not None:
            self.failed_path.parent.mkdir(parents=True, exist_ok=True)
            with self.failed_path.open("ab") as f:
                f.write(payload + b"\n")

    def flush(self, timeout_s: float = 120.0) -> None:
        self.producer.flush(timeout=timeout_s)
        if self.failed:
            where = f"; written to {self.failed_path}" if self.failed_path else ""
            raise SendFailed(f"{self.failed} of {self.sent} events could not be delivered{where}")

    def close(self) -> None:
        self.producer.close(timeout=30)

    def __enter__(self) -> EventSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
