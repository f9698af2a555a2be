"""The search side of the catalog: an embedder, a FAISS index and a BM25F keyword index, kept
current from SQLite.

Both the `catalog` consumer (which writes snapshots) and the API (which reads them) hold one: they
load the newest snapshot, then `catch_up` applies the products changed after the snapshot's `seq`.
So a new product is searchable long before the next snapshot. Snapshots go through
`infra.snapshots` (FAISS's own format and the embedder's arrays; never pickle), with
the Kafka offsets and the change `seq` they include.

Embedding happens once per product change, in the `catalog` consumer, which stores each vector in
SQLite beside its row (`store.put_vectors`). Catching up indexes those stored vectors; only an index
that `embeds_rows` (the consumer's) embeds a row whose stored vector is missing or was made by
another embedder (after a refit). A reader's index (the API's) never embeds a product: at such a row
it stops and says which embedder it is `waiting_for`, and its owner loads the newer snapshot.

Invariant (checked by `index_gaps`, the tests and the benchmarks): once caught up, the vector
index holds exactly the live products of the catalogue.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from infra.snapshots import SnapshotInfo, SnapshotStore
from models.embed import Embedder, HashingEmbedder, LsaEmbedder, MiniLMEmbedder, WordLlamaEmbedder
from models.index import VectorIndex
from models.search import FIELD_WEIGHTS, SEARCH_FIELDS, BM25Index
from readmodels.catalog import store
from readmodels.catalog.store import IndexChange

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "index"
# /2: an inverted file replaced HNSW (no labels file); a /1 snapshot is refused and the consumer
# rebuilds its index from the vectors stored in SQLite.
SNAPSHOT_FORMAT = "shopstream.catalog-index/2"


class LiveIndex:
    def __init__(
        self, embedder: Embedder, index: VectorIndex, seq: int = 0, snapshot_version: int | None = None,
        *, embeds_rows: bool = False,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.seq = seq
        self.snapshot_version = snapshot_version
        # Whether catch-up may embed a product whose stored vector it cannot use (the consumer's index).
        self.embeds_rows = embeds_rows
        # A reader stopped at a vector by this embedder: it needs a newer snapshot to go on.
        self.waiting_for: str | None = None
        # The in-memory keyword index; built on the first catch-up after a load (readers only).
        self.keywords: BM25Index | None = None
        self._lock = threading.Lock()  # one catch-up at a time; searches go through the index's own lock

    @classmethod
    def empty(cls, embedder: Embedder, *, embeds_rows: bool = False, **index_params: Any) -> LiveIndex:
        return cls(embedder, VectorIndex(embedder.dim, **index_params), embeds_rows=embeds_rows)

    # -- snapshots -----------------------------------------------------------------------------

    def save(self, directory: Path, offsets: dict[str, Any], keep: int = 3,
             checks: dict[str, int] | None = None) -> int:
        """Write a snapshot with the Kafka offsets and the change `seq` it includes; its version.
        `checks` (the invariant's figures when it was taken) are stored in its meta."""
        raw = self.index.export()
        arrays, embedder_meta = self.embedder.state()
        writers: dict[str, Any] = {
            "faiss": lambda p: faiss.write_index(raw, str(p)),
            "embedder.npz": lambda p: _write_npz(p, arrays),
        }
        meta = {
            "format": SNAPSHOT_FORMAT, "seq": self.seq, "offsets": offsets, "count": len(self.index),
            "dim": self.index.dim, "index_kind": self.index.kind, "index_settings": self.index.settings(),
            "embedder": embedder_meta, "checks": checks or {},
        }
        info = SnapshotStore(directory, SNAPSHOT_NAME, keep).save(writers, meta)
        self.snapshot_version = info.version
        return info.version

    @classmethod
    def from_snapshot(cls, info: SnapshotInfo) -> LiveIndex:
        meta = info.meta
        if meta.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{info.path}: not a {SNAPSHOT_FORMAT} snapshot")
        with np.load(info.file("embedder.npz"), allow_pickle=False) as data:
            embedder = Embedder.from_state({k: data[k] for k in data.files}, meta["embedder"])
        index = VectorIndex.from_export(faiss.read_index(str(info.file("faiss"))), **meta["index_settings"])
        if index.dim != embedder.dim or len(index) != int(meta["count"]):
            raise ValueError(f"{info.path}: the index does not match its sidecar")
        return cls(embedder, index, int(meta["seq"]), info.version)

    @classmethod
    def load_latest(cls, directory: Path) -> LiveIndex | None:
        return SnapshotStore(directory, SNAPSHOT_NAME).load_latest(cls.from_snapshot)

    # -- following SQLite ----------------------------------------------------------------------

    def enable_keywords(self, conn: sqlite3.Connection) -> None:
        """Build the in-memory keyword index from the analysed text of every product in SQLite."""
        with self._lock:
            keywords = BM25Index(FIELD_WEIGHTS)
            for row in store.changes_since(conn, 0):
                if not row.removed and row.analysed is not None:
                    keywords.add(row.doc_id, dict(zip(SEARCH_FIELDS, (t.split() for t in row.analysed), strict=True)))
            keywords.compact()
            self.keywords = keywords

    def usable(self, change: IndexChange) -> bool:
        """Whether the stored vector of a changed product can go into this index as it is."""
        return change.vector is not None and change.embedder == self.embedder.version

    def catch_up(self, conn: sqlite3.Connection) -> int:
        """Apply every product change after `self.seq`; returns how many.

        A reader stops before the first product whose vector it cannot use (see `waiting_for`)."""
        with self._lock:
            changed: list[IndexChange] = []
            self.waiting_for = None
            for change in store.index_changes(conn, self.seq, analysed=self.keywords is not None):
                if not change.removed and not self.embeds_rows and not self.usable(change):
                    self.waiting_for = change.embedder or "(no stored vector)"
                    break
                changed.append(change)
            if not changed:
                return 0
            self._apply(conn, changed)
            self.seq = changed[-1].seq
            return len(changed)

    def _apply(self, conn: sqlite3.Connection, changes: list[IndexChange]) -> None:
        latest: dict[int, IndexChange] = {}
        for change in changes:
            latest[change.doc_id] = change
        live = [c for c in latest.values() if not c.removed]
        gone = [c.doc_id for c in latest.values() if c.removed]
        if gone:
            self.index.remove(gone)
        if self.keywords is not None:
            for doc in gone:
                self.keywords.remove(doc)
            for c in live:
                if c.analysed is not None:
                    self.keywords.add(c.doc_id, dict(zip(SEARCH_FIELDS, (t.split() for t in c.analysed), strict=True)))
        # A stored vector older than this index's position is in it already (only the stock changed, say).
        stored = [c for c in live if self.usable(c) and (c.vector_seq > self.seq or c.doc_id not in self.index)]
        if stored:
            vectors = store.decode_vectors([c.vector for c in stored if c.vector is not None], self.embedder.dim)
            self.index.add([c.doc_id for c in stored], vectors)
        if self.embeds_rows:
            texts = store.embed_texts(conn, [c.doc_id for c in live if not self.usable(c)])
            if texts:
                self.index.add(list(texts), self.embedder.transform(list(texts.values())))

    def search(self, text: str, k: int) -> list[tuple[int, float]]:
        if len(self.index) == 0 or k <= 0:
            return []
        query = self.embedder.transform([text])
        if not query.any():
            return []  # no known term: a zero vector would match everything equally
        ids, scores = self.index.search(query[0], k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]


    def neighbours(self, doc_id: int, k: int) -> list[tuple[int, float]]:
        """The products nearest to an indexed one, by its stored vector (nothing is embedded)."""
        if doc_id not in self.index or k <= 0:
            return []
        ids, scores = self.index.search(self.index.get_vectors([doc_id])[0], k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]


def _write_npz(path: Path, arrays: dict[str, Any]) -> None:
    with path.open("wb") as f:
        np.savez(f, **arrays)



def embed_and_store(conn: sqlite3.Connection, embedder: Embedder, written: Sequence[store.Written]) -> int:
    """Embed the written products whose text changed (in one call) and store their vectors beside
    their rows, in the caller's transaction; returns how many were embedded."""
    hashes = [store.text_hash(w.embed_text) for w in written]
    kept = store.stored_text_hashes(conn, [w.doc_id for w in written], embedder.version)
    todo = [(w, h) for w, h in zip(written, hashes, strict=True) if kept.get(w.doc_id) != h]
    if todo:
        vectors = embedder.transform([w.embed_text for w, _ in todo])
        store.put_vectors(conn, embedder.version, [(w.doc_id, w.seq, h) for w, h in todo], vectors)
    return len(todo)


def build_embedder(kind: str, dims: int, texts: list[str] | None = None) -> Embedder:
    """An embedder of `kind`, fitted on the catalogue's `texts` when it learns from them."""
    if kind == "wordllama":  # pretrained static token embeddings (64, 128 or 256 dims); no fit
        return WordLlamaEmbedder(dim=dims)
    if kind == "hashing":
        return HashingEmbedder(dim=dims)
    if kind == "lsa":
        return LsaEmbedder(dims=dims).fit(texts or [])
    if kind == "minilm":  # pretrained, 384 dims; ~30-45 ms a product on one core
        return MiniLMEmbedder()
    raise ValueError(f"unknown embedder {kind!r}: choose wordllama, lsa, hashing or minilm")


def learns_from_catalogue(kind: str) -> bool:
    """Whether an embedder of `kind` is fitted on the catalogue (so it needs products to exist)."""
    return kind == "lsa"


def matches(embedder: Embedder, kind: str, dims: int) -> bool:
    """Whether `embedder` is what the settings ask for (MiniLM has one size)."""
    return embedder.kind == kind and (kind == "minilm" or embedder.dim == dims)


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Several SELECTs that see one state of the file (WAL readers keep their snapshot)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def rebuild(conn: sqlite3.Connection, kind: str, dims: int, *, chunk: int = 20_000,
            **index_params: Any) -> LiveIndex:
    """A new index of every live product, with a new embedder of `kind` (fitted on the whole
    catalogue if it learns from it). Stored vectors by the same embedder are used as they are; only
    the other products are embedded. The result `embeds_rows` (it is the consumer's).

    The rows and the change `seq` are read in one transaction, so the index's position is exactly
    the state it was built from: a product committed while the (slow) fit runs has a later `seq`
    and is applied by the next `catch_up`, never skipped.
    """
    fixed = None if learns_from_catalogue(kind) else build_embedder(kind, dims)
    ids: list[int] = []
    to_embed: dict[int, str] = {}
    stored: list[tuple[list[int], np.ndarray[Any, Any]]] = []
    with read_transaction(conn):
        seq = store.current_seq(conn)
        pending: list[IndexChange] = []
        for change in store.index_changes(conn, 0):
            if change.removed:
                continue
            if fixed is not None and change.vector is not None and change.embedder == fixed.version:
                pending.append(change)
                if len(pending) >= chunk:
                    stored.append(_decoded(pending, fixed.dim))
                    pending = []
            else:
                ids.append(change.doc_id)
        if pending:
            stored.append(_decoded(pending, fixed.dim if fixed is not None else dims))
        if ids:
            to_embed = store.embed_texts(conn, ids)
    embedder = fixed if fixed is not None else build_embedder(kind, dims, list(to_embed.values()))
    live = LiveIndex.empty(embedder, embeds_rows=True, **index_params)
    for doc_ids, vectors in stored:
        live.index.add(doc_ids, vectors)
    docs = list(to_embed)
    for i in range(0, len(docs), chunk):
        part = docs[i:i + chunk]
        live.index.add(part, embedder.transform([to_embed[d] for d in part]))
    live.seq = seq
    return live


def _decoded(changes: list[IndexChange], dim: int) -> tuple[list[int], np.ndarray[Any, Any]]:
    return [c.doc_id for c in changes], store.decode_vectors([c.vector for c in changes if c.vector], dim)


def index_gaps(live: LiveIndex, conn: sqlite3.Connection) -> tuple[set[int], set[int]]:
    """(live products missing from the vector index, indexed ids that are not live products)."""
    with read_transaction(conn):
        catalogue = store.live_doc_ids(conn)
    indexed = {int(i) for i in live.index.ids().tolist()}
    return catalogue - indexed, indexed - catalogue
