"""Product events become catalog rows (with FTS5) and their vectors, and the vector index follows them.

Embedding happens here, once per product change, inside the batch's transaction: each changed
product's text is embedded (in one call per batch) and its vector stored beside its row, so the
API and every rebuild index the stored vectors and embed nothing but queries. An update that leaves
the embedded text unchanged (stock, say) keeps its vector.

After the transaction commits, the in-memory index catches up from SQLite and, every
`snapshot_interval_s`, is written as a snapshot with the offsets and `seq` it includes. A fixed
(pretrained) embedder is never refitted: on a restart without a snapshot the index is rebuilt from
the stored vectors. An embedder that learns from the catalogue (LSA) is refitted when the catalogue
has grown by `refit_growth` since it was fitted: a new embedder is fitted and a whole new index built
beside the old one, in a background thread so that the stream and `/search` go on meanwhile; it then
catches up (embedding what changed meanwhile), replaces the old one and is saved as a snapshot
before any vector it makes is committed, so that a reader meeting such a vector finds the snapshot.
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
from readmodels.catalog.live_index import (
    LiveIndex,
    build_embedder,
    embed_and_store,
    index_gaps,
    learns_from_catalogue,
    matches,
    rebuild,
)

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
        if self.live is None:  # a learned embedder's first products: fit it on them
            s = self.settings
            embedder = build_embedder(s.embedder, s.embed_dims, [w.embed_text for w in written])
            self.live = LiveIndex.empty(embedder, embeds_rows=True, **s.vector_index_params())
            self.fitted_on = len(written)
        return embed_and_store(conn, self.live.embedder, written)

    def after_commit(self, records: Sequence[Record]) -> None:
        assert self.conn is not None
        if self.live is None:
            return
        s = self.settings
        n = store.count_live(self.conn)
        if (self._refit is None and self.live.embedder.learns_from_catalogue and n >= s.refit_min_products
                and n >= s.refit_growth * max(self.fitted_on, 1)):
            self.fitted_on = n
            self._refit = threading.Thread(target=self._build_in_background, name="catalog-refit", daemon=True)
            self._refit.start()
        self.dirty |= self.live.catch_up(self.conn) > 0
        if self.live.snapshot_version is None:
            self.last_snapshot = 0.0  # readers need a first snapshot (the embedder) to start from
        self.on_idle()

    def on_idle(self) -> None:
        if self._refitted is not None and self.conn is not None:
            # The new index was built from an older state: catch it up, then swap it in whole and
            # save it before any vector by its embedder is committed.
            self._refitted.catch_up(self.conn)
            self.live, self._refitted, self._refit = self._refitted, None, None
            self.dirty = True
            self.last_snapshot = 0.0
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
        # The invariant, at every snapshot: this process wrote every row it has caught up to.
        missing, extra = index_gaps(self.live, self.conn)
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
