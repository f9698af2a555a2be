"""Product events become catalog rows (with FTS5), and the vector index follows them.

The SQLite transaction holds the rows and offsets; after it commits, the in-memory index catches
up and, every `snapshot_interval_s`, is written as a snapshot with the offsets and `seq` it
includes. An embedder that learns from the catalogue (LSA) is refitted when the catalogue has
grown by `refit_growth` since it was fitted: a new embedder is fitted and a whole new index built
beside the old one, in a background thread so that the stream goes on meanwhile; it then catches
up, replaces the old one and is saved as a snapshot. The API swaps to it in one step, so no query
sees a half-built index. A fixed (pretrained) embedder is never refitted.
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
from readmodels.catalog import store
from readmodels.catalog.live_index import LiveIndex, rebuild

log = logging.getLogger(__name__)


class CatalogProcessor(Processor):
    group = "catalog"
    topics = (PRODUCTS,)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.snapshots = settings.snapshot_dir("catalog")
        self.conn: sqlite3.Connection | None = None
        self.live: LiveIndex | None = None
        self.fitted_on = 0  # catalogue size when the embedder was fitted
        self.last_snapshot = 0.0
        self.dirty = False
        self._refit: threading.Thread | None = None
        self._refitted: LiveIndex | None = None

    def setup(self, conn: sqlite3.Connection) -> None:
        store.setup(conn)
        self.conn = conn
        self.live = LiveIndex.load_latest(self.snapshots)
        if self.live is not None:
            self.fitted_on = int(self._products())
            self.dirty = self.live.catch_up(conn) > 0
            log.info("catalog index: snapshot %s, %d vectors", self.live.snapshot_version, len(self.live.index))

    def _products(self) -> int:
        assert self.conn is not None
        return int(self.conn.execute("SELECT count(*) FROM products WHERE removed = 0").fetchone()[0])

    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        upserted = removed = stale = 0
        for record in records:
            event, payload = record.event, record.event.payload
            at = event.event_time.timestamp()
            produced = event.produce_time.timestamp() if event.produce_time else None
            if isinstance(payload, ProductUpserted):
                changed = store.upsert_product(
                    conn, product_id=payload.product_id, name=payload.name, description=payload.description,
                    category_path=list(payload.category_path), brand=payload.brand, price=payload.price,
                    attributes=dict(payload.attributes), stock=payload.stock, event_time=at, produced_at=produced,
                )
                upserted += changed
                stale += not changed
            elif isinstance(payload, ProductRemoved):
                removed += store.remove_product(conn, payload.product_id, at, produced)
        return {"products_upserted": upserted, "products_removed": removed, "stale_product_events": stale}

    def after_commit(self, records: Sequence[Record]) -> None:
        assert self.conn is not None
        s = self.settings
        n = self._products()
        if self.live is None:
            self.live = rebuild(self.conn, s.embedder, s.embed_dims, **s.vector_index_params())
            self.fitted_on = n
            self._snapshot()
            return
        if (self._refit is None and self.live.embedder.learns_from_catalogue and n >= s.refit_min_products
                and n >= s.refit_growth * max(self.fitted_on, 1)):
            self.fitted_on = n
            self._refit = threading.Thread(target=self._build_in_background, name="catalog-refit", daemon=True)
            self._refit.start()
        self.dirty |= self.live.catch_up(self.conn) > 0
        self.on_idle()

    def on_idle(self) -> None:
        if self._refitted is not None and self.conn is not None:
            # The new index was built from an older state: catch it up, then swap it in whole.
            self._refitted.catch_up(self.conn)
            self.live, self._refitted, self._refit = self._refitted, None, None
            self.dirty = True
            self.last_snapshot = 0.0  # save the new embedder's index right away
        if self.dirty and time.monotonic() - self.last_snapshot >= self.settings.snapshot_interval_s:
            self._snapshot()

    def _build_in_background(self) -> None:
        s = self.settings
        started = time.monotonic()
        conn = connect_reader(s.sqlite_path(self.group))
        try:
            live = rebuild(conn, s.embedder, s.embed_dims, **s.vector_index_params())
        except Exception:  # the old index keeps serving; the next growth step tries again
            log.exception("refitting the embedder failed")
            self._refit = None
            return
        finally:
            conn.close()
        log.info("fitted %s on %d products and built a new index in %.1fs",
                 live.embedder.version, len(live.index), time.monotonic() - started)
        self._refitted = live

    def _snapshot(self) -> None:
        assert self.conn is not None and self.live is not None
        offsets = {f"{t}:{p}": o for (t, p), o in load_offsets(self.conn).items()}
        try:
            version = self.live.save(self.snapshots, offsets)
        except FileExistsError:
            # Another process of this group wrote the same version first: its snapshot is as good.
            return
        self.last_snapshot = time.monotonic()
        self.dirty = False
        log.info("snapshot %d: %d vectors, seq %d", version, len(self.live.index), self.live.seq)
