"""The search side of the catalog: an embedder, a FAISS index and a BM25F keyword index, kept
current from SQLite.

Both the `catalog` consumer (which writes snapshots) and the API (which reads them) hold one: they
load the newest snapshot, then `catch_up` applies the products changed after the snapshot's `seq`.
So a new product is searchable long before the next snapshot. Snapshots go through
`infra.snapshots` (FAISS's own format, numpy labels, the embedder's arrays; never pickle), with
the Kafka offsets and the change `seq` they include.

Invariant (checked by `index_gaps`, the tests and the benchmarks): once caught up, the vector
index holds exactly the live products of the catalogue.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from infra.snapshots import SnapshotInfo, SnapshotStore
from models.embed import Embedder, HashingEmbedder, LsaEmbedder, MiniLMEmbedder
from models.index import VectorIndex
from models.search import FIELD_WEIGHTS, SEARCH_FIELDS, BM25Index
from readmodels.catalog.store import ProductRow, changes_since, current_seq

SNAPSHOT_NAME = "index"
SNAPSHOT_FORMAT = "shopstream.catalog-index/1"


class LiveIndex:
    def __init__(
        self, embedder: Embedder, index: VectorIndex, seq: int = 0, snapshot_version: int | None = None
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.seq = seq
        self.snapshot_version = snapshot_version
        # The in-memory keyword index; built on the first catch-up after a load (readers only).
        self.keywords: BM25Index | None = None
        self._lock = threading.Lock()  # one catch-up at a time; searches go through the index's own lock

    @classmethod
    def empty(cls, embedder: Embedder, **index_params: Any) -> LiveIndex:
        return cls(embedder, VectorIndex(embedder.dim, **index_params))

    # -- snapshots -----------------------------------------------------------------------------

    def save(self, directory: Path, offsets: dict[str, Any], keep: int = 3) -> int:
        """Write a snapshot with the Kafka offsets and the change `seq` it includes; its version."""
        raw, labels = self.index.export()
        arrays, embedder_meta = self.embedder.state()
        writers: dict[str, Any] = {
            "faiss": lambda p: faiss.write_index(raw, str(p)),
            "embedder.npz": lambda p: _write_npz(p, arrays),
        }
        if labels is not None:
            writers["labels.npy"] = lambda p: _write_npy(p, labels)
        meta = {
            "format": SNAPSHOT_FORMAT, "seq": self.seq, "offsets": offsets, "count": len(self.index),
            "dim": self.index.dim, "index_kind": self.index.kind, "index_settings": self.index.settings(),
            "embedder": embedder_meta,
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
        labels = np.load(info.file("labels.npy"), allow_pickle=False) if "labels.npy" in info.files else None
        index = VectorIndex.from_export(faiss.read_index(str(info.file("faiss"))), labels, **meta["index_settings"])
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
            for row in changes_since(conn, 0):
                if not row.removed and row.analysed is not None:
                    keywords.add(row.doc_id, dict(zip(SEARCH_FIELDS, (t.split() for t in row.analysed), strict=True)))
            keywords.compact()
            self.keywords = keywords

    def catch_up(self, conn: sqlite3.Connection) -> int:
        """Apply every product change after `self.seq`; returns how many."""
        with self._lock:
            changed = list(changes_since(conn, self.seq))
            if not changed:
                return 0
            self.apply(changed)
            self.seq = changed[-1].seq
            return len(changed)

    def apply(self, rows: list[ProductRow]) -> None:
        latest: dict[int, ProductRow] = {}
        for row in rows:
            latest[row.doc_id] = row
        live = [r for r in latest.values() if not r.removed]
        gone = [r.doc_id for r in latest.values() if r.removed]
        if gone:
            self.index.remove(gone)
        if self.keywords is not None:
            for doc in gone:
                self.keywords.remove(doc)
            for r in live:
                if r.analysed is not None:
                    self.keywords.add(r.doc_id, dict(zip(SEARCH_FIELDS, (t.split() for t in r.analysed), strict=True)))
        if live:
            vectors = self.embedder.transform([r.embed_text() for r in live])
            self.index.add([r.doc_id for r in live], vectors)

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


def _write_npy(path: Path, array: Any) -> None:
    with path.open("wb") as f:
        np.save(f, array, allow_pickle=False)


def build_embedder(kind: str, dims: int, texts: list[str]) -> Embedder:
    """An embedder of `kind`, fitted on the catalogue's texts when it learns from them."""
    if kind == "hashing":
        return HashingEmbedder(dim=dims)
    if kind == "lsa":
        return LsaEmbedder(dims=dims).fit(texts)
    if kind == "minilm":  # pretrained, 384 dims; ~30-45 ms a product on one core
        return MiniLMEmbedder()
    raise ValueError(f"unknown embedder {kind!r}: choose lsa, hashing or minilm")


@contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Several SELECTs that see one state of the file (WAL readers keep their snapshot)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def rebuild(conn: sqlite3.Connection, kind: str, dims: int, **index_params: Any) -> LiveIndex:
    """Fit a new embedder on the whole catalogue and index every live product with it.

    The rows and the change `seq` are read in one transaction, so the index's position is exactly
    the state it was built from: a product committed while the (slow) fit runs has a later `seq`
    and is applied by the next `catch_up`, never skipped.
    """
    with _read_transaction(conn):
        seq = current_seq(conn)
        rows = [r for r in changes_since(conn, 0) if not r.removed]
    texts = [r.embed_text() for r in rows]
    embedder = build_embedder(kind, dims, texts)
    live = LiveIndex.empty(embedder, **index_params)
    if rows:
        live.index.add([r.doc_id for r in rows], embedder.transform(texts))
    live.seq = seq
    return live


def index_gaps(live: LiveIndex, conn: sqlite3.Connection) -> tuple[set[int], set[int]]:
    """(live products missing from the vector index, indexed ids that are not live products)."""
    with _read_transaction(conn):
        catalogue = {int(r[0]) for r in conn.execute("SELECT doc_id FROM products WHERE removed = 0")}
    indexed = {int(i) for i in live.index.ids().tolist()}
    return catalogue - indexed, indexed - catalogue
