"""An event sink whose Kafka producer runs in a child process, for bulk writers (the simulator and
the importers).

kafka-python's `send` is pure Python (partitioner, record batch builder, futures): about as much
work per record as making the event. In one process the two take turns on one core; here the
caller makes and serialises events while a child process, started once, sends them through the
one producer set-up (`infra.producer.EventSink`: idempotent, `acks=all`, failed sends kept in the
failed-events file). Records travel in chunks over a bounded queue, so a slow or absent broker
holds the caller back instead of filling memory.

`flush()` waits until the child has every record acknowledged (or given up on) and raises
`SendFailed` like `EventSink.flush`; `sent`, `acked` and `failed` are as of the last flush. The
child ignores Ctrl-C and SIGTERM (the caller decides when to stop and flushes what it sent) and
leaves when the caller's process is gone.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
from pathlib import Path
from typing import Any

from events import Event, encode, event_key, topic_for
from infra.producer import EventSink, SendFailed

Record = tuple[str, bytes | None, bytes]  # logical topic, key, value
CHUNK = 512  # records per message to the child
DEPTH = 32  # chunks in flight before the caller waits


class ProcessSink:
    """`EventSink`'s interface (`send`, `flush`, `close`, counters), sending from a child process."""

    def __init__(self, bootstrap: str, topic_prefix: str = "", failed_path: Path | None = None,
                 **overrides: Any) -> None:
        context = mp.get_context("spawn")  # no inherited threads or sockets
        self._records: mp.Queue[list[Record] | str] = context.Queue(DEPTH)
        self._replies: mp.Queue[dict[str, Any]] = context.Queue()
        self._child = context.Process(
            target=_sender_main, name="shopstream-sender", daemon=True,
            args=(self._records, self._replies, bootstrap, topic_prefix, failed_path, overrides, os.getpid()))
        self._child.start()
        self._pending: list[Record] = []
        self.failed_path = failed_path
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self._closed = False

    def send(self, event: Event) -> None:
        """Queue `event` (serialised here) for the child to send."""
        self._pending.append((topic_for(event.type.value), event_key(event), encode(event)))
        self.sent += 1
        if len(self._pending) >= CHUNK:
            self._put(self._pending)
            self._pending = []

    def flush(self, timeout_s: float = 120.0) -> None:
        """Wait until everything sent so far is acknowledged; raise `SendFailed` if any send failed."""
        if self._pending:
            self._put(self._pending)
            self._pending = []
        self._put("flush")
        reply = self._reply(timeout_s + 30)
        self.acked, self.failed = int(reply["acked"]), int(reply["failed"])
        if reply.get("error"):
            raise SendFailed(str(reply["error"]))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(SendFailed):
            if self._child.is_alive():
                self._put("close")
                self._reply(60)
        self._child.join(10)
        if self._child.is_alive():
            self._child.kill()
            self._child.join(10)
        # Records still queued have no reader now. Without this, the queue's feeder thread would
        # wait for good at exit to write them into a pipe no one empties (a child that could not
        # reach the broker left `shopstream simulate` hanging after its error).
        self._records.cancel_join_thread()

    def _put(self, item: list[Record] | str) -> None:
        self._check_alive()  # a child that could not start its producer is reported at the next chunk
        while True:
            try:
                self._records.put(item, timeout=1.0)
                return
            except queue.Full:  # the child is waiting for the broker: wait with it, unless it died
                self._check_alive()

    def _reply(self, timeout_s: float) -> dict[str, Any]:
        waited = 0.0
        while True:
            try:
                return self._replies.get(timeout=1.0)
            except queue.Empty:
                self._check_alive()
                waited += 1.0
                if waited > timeout_s:
                    raise SendFailed(f"the sender process did not answer within {timeout_s:.0f} s") from None

    def _check_alive(self) -> None:
        if self._child.is_alive():
            return
        why = f"code {self._child.exitcode}"
        with contextlib.suppress(queue.Empty):
            why = str(self._replies.get_nowait().get("error") or why)
        raise SendFailed(f"the sender process exited ({why}); {self.sent - self.acked} events may not have "
                         "been delivered")

    def __enter__(self) -> ProcessSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sender_main(records: mp.Queue[list[Record] | str], replies: mp.Queue[dict[str, Any]], bootstrap: str,
                 topic_prefix: str, failed_path: Path | None, overrides: dict[str, Any], parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        sink = EventSink(bootstrap, topic_prefix, failed_path=failed_path, **overrides)
    except Exception as exc:  # e.g. no broker at `bootstrap`: the caller reports it
        replies.put({"acked": 0, "failed": 0, "error": f"cannot start a producer for {bootstrap}: {exc!r}"})
        return
    try:
        while True:
            try:
                item = records.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the caller is gone: deliver what came, then leave
                    sink.producer.flush(timeout=120)
                    return
                continue
            if isinstance(item, list):
                for topic, key, value in item:
                    sink.send_encoded(topic, key, value)
                continue
            error = None
            try:
                sink.flush()
            except SendFailed as exc:
                error = str(exc)
            replies.put({"acked": sink.acked, "failed": sink.failed, "error": error})
            if item == "close":
                return
    finally:
        sink.close()
