"""The API's view of the catalog: read-only SQLite plus a live vector index that follows it.

A background thread catches the index up from SQLite every `refresh_s` (and a search does so
itself when it finds the index behind), and swaps in a newer snapshot when the consumer has
written one with a new embedder. Swaps replace one reference: a query sees the old index or the
new one, never a half-built one.

The API never embeds a product: catching up indexes the vectors the `catalog` consumer stored with
each row. A row whose vector was made by another embedder (the consumer refitted, or changed its
embedder) stops the catch-up there until the consumer's snapshot with that embedder is loaded.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from api.services.refresher import NotReady, Refresher
from infra.config import Settings
from infra.snapshots import SnapshotStore
from infra.sqlite import connect_reader
from readmodels.catalog.candidates import CandidateTable
from readmodels.catalog.live_index import SNAPSHOT_NAME, LiveIndex
from readmodels.catalog.store import current_seq

log = logging.getLogger(__name__)


class CatalogUnavailable(NotReady):
    pass


class CatalogService:
    def __init__(self, settings: Settings, refresh_s: float = 0.1) -> None:
        self.settings = settings
        self.db_path: Path = settings.sqlite_path("catalog")
        self.snapshot_dir = settings.snapshot_dir("catalog")
        self.refresh_s = refresh_s
        self.live: LiveIndex | None = None
        # Candidate rows for ranking, filters and facets, in memory (follows SQLite like the index).
        self.candidates = CandidateTable()
        self._local = threading.local()
        self._refresher = Refresher("catalog-refresh", self.refresh, refresh_s)
        self._last_snapshot_check = 0.0
        self.refreshed_at = 0.0
        # Told the produce -> searchable delays of the changes each catch-up brought in (metrics).
        self.on_searchable: Callable[[list[float]], None] | None = None

    # -- connections ---------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        """A read-only connection for this thread (opened once, reused)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if not self.db_path.exists():
                raise CatalogUnavailable(
                    f"the catalog database {self.db_path} does not exist yet: is the `catalog` consumer running?"
                )
            conn = connect_reader(self.db_path)
            self._local.conn = conn
        return conn

    # -- keeping current -----------------------------------------------------------------------

    def start(self) -> None:
        self._refresher.start()

    def stop(self) -> None:
        self._refresher.stop()

    def refresh(self) -> None:
        now = time.monotonic()
        if self.live is None or now - self._last_snapshot_check >= 1.0:
            self._last_snapshot_check = now
            self._maybe_swap()
        live = self.live
        if live is not None:
            before = live.seq
            live.catch_up(self.conn())
            self._searchable(before, live.seq)
            if live.waiting_for is not None:
                self._maybe_swap()
        self.candidates.catch_up(self.conn())
        self.refreshed_at = time.time()

    def _maybe_swap(self) -> None:
        infos = SnapshotStore(self.snapshot_dir, SNAPSHOT_NAME).complete()
        if not infos:
            return
        newest = infos[-1]
        live = self.live
        if live is not None and (
            newest.version <= (live.snapshot_version or 0)
            or (newest.meta.get("embedder", {}).get("version") == live.embedder.version
                and not (live.waiting_for is not None and int(newest.meta.get("seq", 0)) > live.seq))
        ):
            return  # same embedder: catching up from SQLite is cheaper than loading the file
        fresh = LiveIndex.load_latest(self.snapshot_dir)
        if fresh is None:
            return
        if self.settings.keyword_engine == "memory":
            if live is not None and live.keywords is not None:
                fresh.keywords = live.keywords  # keywords do not depend on the embedder
            else:
                fresh.enable_keywords(self.conn())
        fresh.catch_up(self.conn())
        self.live = fresh
        log.info("catalog index: now snapshot %s (%s)", fresh.snapshot_version, fresh.embedder.version)

    def ensure_current(self) -> LiveIndex | None:
        """The live index, caught up to the latest committed change (cheap when already current)."""
        live = self.live
        if live is None:
            try:
                self.refresh()
            except CatalogUnavailable:
                return None
            return self.live
        seq = current_seq(self.conn())
        if seq > live.seq and live.waiting_for is None:
            before = live.seq
            live.catch_up(self.conn())
            self._searchable(before, live.seq)
        if seq > self.candidates.seq:
            self.candidates.catch_up(self.conn())
        return live

    def _searchable(self, before: int, after: int) -> None:
        if self.on_searchable is None or after <= before:
            return
        now = time.time()
        rows = self.conn().execute("SELECT produced_at FROM products WHERE seq > ? AND seq <= ? AND "
                                   "produced_at IS NOT NULL", (before, after)).fetchall()
        self.on_searchable([now - float(r[0]) for r in rows])
