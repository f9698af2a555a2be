"""A background loop that keeps a read-side service current: it calls `refresh` every interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class NotReady(RuntimeError):
    """The part this service reads (a consumer's database, a snapshot) does not exist yet."""


class Refresher:
    def __init__(self, name: str, refresh: Callable[[], None], interval_s: float) -> None:
        self.name = name
        self.refresh = refresh
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh()
            except NotReady:
                continue  # normal while the system starts: try again next tick
            except Exception:  # keep serving what we have; log and try again next tick
                log.exception("%s failed", self.name)
