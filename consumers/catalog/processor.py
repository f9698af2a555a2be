"""Product events become catalog rows (with FTS5) and their vectors; an indexer thread keeps the
vector index and its snapshots following them.

Embedding happens here, once per product change, inside the batch's transaction: each changed
product's text is embedded (in one call per batch) and its vector stored beside its row, so the
API and every rebuild index the stored vectors and embed nothing but queries. An update that leaves
the embedded text unchanged (stock, say) keeps its vector.

The in-memory index is not on the batch's path: an indexer thread (its own read-only connection)
catches it up from SQLite after each commit and, every `snapshot_interval_s`, writes a snapshot
with the offsets and `seq` it includes, after checking the invariant (`index_gaps`) on the same
read state. So ingestion runs at the speed of SQLite and embedding while the index (the inverted
file's inserts, and its training above 50,000 products) uses the other core.

A fixed (pretrained) embedder is never refitted: on a restart without a snapshot the index is
rebuilt from the stored vectors. An embedder that learns from the catalogue (LSA) is refitted by
the indexer when the catalogue has grown by `refit_growth` since it was fitted: a new embedder is
fitted and a whole new index built beside the old one while the stream and `/search` go on; it
catches up (embedding what changed meanwhile), replaces the old one and is saved as a snapshot, and
only then do new batches embed with it, so that a reader meeting such a vector finds the snapshot.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence

from consumers.processor import Processor, Record
from events import PRODUCTS, ProductRemoved, ProductUpserted
from infra.config import Settings
from infra.sqlite import connect_reader, load_offsets
from models.embed import Embedder
from readmodels.catalog import store
from readmodels.catalog.live_index import (
    LiveIndex,
    build_embedder,
    embed_and_store,
    index_gaps,
    learns_from_catalogue,
    matches,
    read_transaction,
    rebuild,
)

log = logging.getLogger(__name__)


class CatalogProcessor(Processor):
    group = "catalog"
    topics = (PRODUCTS,)

    def __init__(self, settings: Settings, *, indexer_thread: bool = True) -> None:
        """`indexer_thread=False` leaves `index_step` to the caller (tests step it deterministically)."""
        self.settings = settings
        self.indexer_thread = indexer_thread
        self.snapshots = settings.snapshot_dir("catalog")
        self.conn: sqlite3.Connection | None = None
        # What new batches embed with; the indexer replaces it after a refit's snapshot is saved.
        self.embedder: Embedder | None = None
        self.live: LiveIndex | None = None  # the indexer's (set in setup before it starts)
        self.fitted_on = 0  # catalogue size when the embedder was fitted
        self.last_snapshot = float("-inf")  # the first batch is saved at once (monotonic may start near 0)
        self.dirty = False
        self.index_errors = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._indexer: threading.Thread | None = None

    def setup(self, conn: sqlite3.Connection) -> None:
        store.setup(conn)
        self.conn = conn
        s = self.settings
        live = LiveIndex.load_latest(self.snapshots)
        if live is not None and not matches(live.embedder, s.embedder, s.embed_dims):
            log.info("catalog index: the snapshot's embedder %s is not the configured %s-%d; rebuilding",
                     live.embedder.version, s.embedder, s.embed_dims)
            live = None
        if live is not None:
            live.embeds_rows = True
            self.live = live
            self.fitted_on = store.count_live(conn)
            self.dirty = live.catch_up(conn) > 0
            log.info("catalog index: snapshot %s, %d vectors", live.snapshot_version, len(live.index))
        elif not learns_from_catalogue(s.embedder) or store.count_live(conn) > 0:
            started = time.monotonic()
            self.live = rebuild(conn, s.embedder, s.embed_dims, **s.vector_index_params())
            self.fitted_on = len(self.live.index)
            log.info("catalog index: built from SQLite, %d vectors in %.1fs", len(self.live.index),
                     time.monotonic() - started)
            self.dirty = True
        # else: a learned embedder with nothing to learn from yet; the first batch fits it.
        self.embedder = self.live.embedder if self.live is not None else None
        self._stop.clear()
        if self.indexer_thread:
            self._indexer = threading.Thread(target=self._index_loop, name="catalog-indexer", daemon=True)
            self._indexer.start()

    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        upserted = removed = stale = 0
        written: dict[str, store.Written] = {}  # by product id: the last write in the batch
        for record in records:
            event, payload = record.event, record.event.payload
            at = event.event_time.timestamp()
            produced = event.produce_time.timestamp() if event.produce_time else None
            if isinstance(payload, ProductUpserted):
                w = store.write_product(
                    conn, product_id=payload.product_id, name=payload.name, description=payload.description,
                    category_path=list(payload.category_path), brand=payload.brand, price=payload.price,
                    attributes=dict(payload.attributes), stock=payload.stock, event_time=at, produced_at=produced,
                )
                if w is None:
                    stale += 1
                else:
                    upserted += 1
                    written[payload.product_id] = w
            elif isinstance(payload, ProductRemoved) and store.remove_product(conn, payload.product_id, at, produced):
                removed += 1
                written.pop(payload.product_id, None)  # its vector went with it
        embedded = self._store_vectors(conn, list(written.values()))
        return {"products_upserted": upserted, "products_removed": removed, "stale_product_events": stale,
                "products_embedded": embedded}

    def _store_vectors(self, conn: sqlite3.Connection, written: list[store.Written]) -> int:
        """Embed the changed products whose text changed (one call) and store their vectors."""
        if not written:
            return 0
        if self.embedder is None:  # a learned embedder's first products: fit it on them
            s = self.settings
            self.embedder = build_embedder(s.embedder, s.embed_dims, [w.embed_text for w in written])
        return embed_and_store(conn, self.embedder, written)

    def after_commit(self, records: Sequence[Record]) -> None:
        self._wake.set()  # the indexer catches up

    def on_idle(self) -> None:
        if self._indexer is not None and not self._indexer.is_alive() and not self._stop.is_set():
            log.error("the catalog indexer stopped; starting it again")
            self._indexer = threading.Thread(target=self._index_loop, name="catalog-indexer", daemon=True)
            self._indexer.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._indexer is None:
            return
        self._indexer.join(60)
        if self._indexer.is_alive():
            return
        # The thread leaves at its next look at the stop flag, so a batch committed while it was in a
        # step (its wake-up consumed by that step) would wait for the next start: take it into the
        # index and a snapshot now, as the learner saves its model on close.
        conn = connect_reader(self.settings.sqlite_path(self.group))
        try:
            self.index_step(conn, final=True)
        finally:
            conn.close()

    # -- the indexer thread ----------------------------------------------------------------------

    def caught_up(self, conn: sqlite3.Connection) -> bool:
        """Whether the index holds every change committed so far (for benchmarks and tests)."""
        return self.live is not None and self.live.seq >= store.current_seq(conn)

    def _index_loop(self) -> None:
        conn = connect_reader(self.settings.sqlite_path(self.group))
        try:
            while not self._stop.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                try:
                    self.index_step(conn)
                except Exception:  # the stream goes on; the next step tries again
                    self.index_errors += 1
                    log.exception("catalog indexer: a step failed")
                    self._stop.wait(1.0)
        finally:
            conn.close()

    def index_step(self, conn: sqlite3.Connection, final: bool = False) -> None:
        """Catch the index up with SQLite (refitting a learned embedder when due) and snapshot it when due
        (`final`: whenever it changed, as on close)."""
        s = self.settings
        if self.live is None:
            if self.embedder is None:
                return  # nothing embedded yet
            self.live = LiveIndex.empty(self.embedder, embeds_rows=True, **s.vector_index_params())
            self.fitted_on = store.count_live(conn)
        if self.live.embedder.learns_from_catalogue:
            n = store.count_live(conn)
            if n >= s.refit_min_products and n >= s.refit_growth * max(self.fitted_on, 1):
                self._refit(conn, n)
        with read_transaction(conn):  # the index and the invariant's check see one state
            self.dirty |= self.live.catch_up(conn) > 0
            due = final or self.live.snapshot_version is None or (
                time.monotonic() - self.last_snapshot >= s.snapshot_interval_s)
            if self.dirty and due:
                self._snapshot(conn)

    def _refit(self, conn: sqlite3.Connection, n: int) -> None:
        s = self.settings
        started = time.monotonic()
        live = rebuild(conn, s.embedder, s.embed_dims, **s.vector_index_params())
        log.info("fitted %s on %d products and built a new index in %.1fs",
                 live.embedder.version, len(live.index), time.monotonic() - started)
        self.fitted_on = n
        with read_transaction(conn):
            live.catch_up(conn)  # embeds what changed meanwhile
            self.live, self.dirty = live, True
            self._snapshot(conn)
        self.embedder = live.embedder  # new batches embed with it now that its snapshot exists
        self.last_snapshot = float("-inf")  # and the next snapshot covers the batches embedded before this line

    def _snapshot(self, conn: sqlite3.Connection) -> None:
        assert self.live is not None and self.conn is not None
        offsets = {f"{t}:{p}": o for (t, p), o in load_offsets(conn).items()}
        missing, extra = index_gaps(self.live, conn)  # the invariant, at every snapshot
        if missing or extra:
            log.error("catalog index: %d live products missing from the vector index, %d extra",
                      len(missing), len(extra))
        try:
            version = self.live.save(self.snapshots, offsets, checks={"missing": len(missing), "extra": len(extra)})
        except FileExistsError:
            # Another process of this group wrote the same version first: its snapshot is as good.
            return
        self.last_snapshot = time.monotonic()
        self.dirty = False
        log.info("snapshot %d: %d vectors, seq %d", version, len(self.live.index), self.live.seq)
