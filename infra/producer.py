"""The one Kafka producer set-up: every writer of the project (the simulator, the importers, the
API's click route, the dead-letter path) builds its producer here, so they share one tuning.

Idempotent with `acks=all` and retried by the client for as long as `delivery_timeout_ms`; a send
that still fails is counted, logged and, when the sink has a `failed_path`, appended to a JSONL
file so it can be re-sent: it is never silently dropped.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from kafka import KafkaProducer

from events import Event, encode, event_key, topic_for

log = logging.getLogger(__name__)

# Measured (DESIGN.md): linger and large batches raise a bare producer from 12k to 15k records/s.
DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "compression_type": None,
    "retries": 2**31 - 1,
    "delivery_timeout_ms": 120_000,
}


def new_producer(bootstrap: str, client_id: str = "shopstream-producer", **overrides: Any) -> KafkaProducer:
    """A KafkaProducer with the project's settings; `overrides` replace single settings."""
    return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, **{**DEFAULTS, **overrides})


class SendFailed(RuntimeError):
    pass


class Sink(Protocol):
    """What a writer of events needs (`EventSink`, or `infra.sender.ProcessSink` for bulk writers)."""

    sent: int
    failed: int

    @property
    def acked(self) -> int: ...

    def send(self, event: Event) -> Any: ...

    def flush(self, timeout_s: float = 120.0) -> None: ...

    def close(self) -> None: ...


class EventSink:
    """Sends events to their topics (chosen by type, keyed by product or user id)."""

    def __init__(
        self,
        bootstrap: str,
        topic_prefix: str = "",
        failed_path: Path | None = None,
        **overrides: Any,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.producer = new_producer(bootstrap, **overrides)
        self.failed_path = failed_path
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()

    def send(self, event: Event) -> Any:
        """Queue `event`; returns the client's future (acknowledged or failed later)."""
        return self.send_encoded(topic_for(event.type.value), event_key(event), encode(event))

    def send_encoded(self, topic: str, key: bytes | None, payload: bytes) -> Any:
        """Queue an event already serialised (`events.encode`) to its logical topic."""
        future = self.producer.send(self.topic_prefix + topic, key=key, value=payload)
        self.sent += 1
        # Only failures get a callback: an acknowledgement is every send that did not fail once
        # `flush` has waited for all (`acked`), and a callback a record costs the sender process as
        # much as a tenth of kafka-python's own `send`.
        future.add_errback(self._on_error, payload)
        return future

    @property
    def acked(self) -> int:
        """Events acknowledged, once `flush` has returned (before that, the sends not failed yet)."""
        with self._lock:
            return self.sent - self.failed

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None,
                 headers: list[tuple[str, bytes]] | None = None, partition: int | None = None) -> tuple[int, int]:
        """Put arbitrary bytes on a topic (tests, tools); returns (partition, offset) once acked."""
        meta = self.producer.send(
            self.topic_prefix + topic, key=key, value=value, headers=headers, partition=partition
        ).get(timeout=30)
        return int(meta.partition), int(meta.offset)

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
