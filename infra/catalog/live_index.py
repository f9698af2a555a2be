"""The vector side of the catalog: an embedder and a FAISS index, kept current from SQLite.

Both the `catalog` consumer (which writes snapshots) and the API (which reads them) hold one: they
load the newest snapshot, then `catch_up` embeds the products changed since the snapshot's `seq`.
So a new product is searchable long before the next snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from infra.catalog.store import FTS_FIELDS, ProductRow, changes_since
from models.embed import Embedder, HashingEmbedder, LsaEmbedder, MiniLMEmbedder
from models.index import Snapshot, VectorIndex, load_latest, prune_snapshots, save_snapshot
from models.search.bm25 import BM25Index

# Field weights of the keyword index (BM25F): the same as FTS5's bm25() weights in the search.
FIELD_WEIGHTS = {"name": 4.0, "description": 1.0, "brand": 2.0, "category": 2.0}


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
    def empty(cls, embedder: Embedder, hnsw_threshold: int = 50_000) -> LiveIndex:
        return cls(embedder, VectorIndex(embedder.dim, hnsw_threshold=hnsw_threshold, ef_search=128))

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> LiveIndex:
        if snap.embedder is None:
            raise ValueError(f"snapshot {snap.info.path} has no embedder")
        seq = int(snap.info.extra.get("seq", 0))
        return cls(snap.embedder, snap.index, seq, snap.info.version)

    @classmethod
    def load_latest(cls, directory: Path) -> LiveIndex | None:
        snap = load_latest(directory) if directory.exists() else None
        return None if snap is None else cls.from_snapshot(snap)

    def enable_keywords(self, conn: sqlite3.Connection) -> None:
        """Build the in-memory keyword index from the analysed text of every product in SQLite."""
        with self._lock:
            keywords = BM25Index(FIELD_WEIGHTS)
            for row in changes_since(conn, 0):
                if not row.removed and row.analysed is not None:
                    keywords.add(row.doc_id, dict(zip(FTS_FIELDS, (t.split() for t in row.analysed), strict=True)))
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
                    self.keywords.add(r.doc_id, dict(zip(FTS_FIELDS, (t.split() for t in r.analysed), strict=True)))
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

    def save(self, directory: Path, offsets: dict[str, Any], keep: int = 3) -> int:
        info = save_snapshot(
            self.index, directory, embedder=self.embedder, offsets=offsets, extra={"seq": self.seq}
        )
        prune_snapshots(directory, keep=keep)
        self.snapshot_version = info.version
        return info.version


def build_embedder(kind: str, dims: int, texts: list[str]) -> Embedder:
    """A fitted embedder of `kind` ("lsa" or "hashing") over the catalogue's texts."""
    if kind == "hashing":
        return HashingEmbedder(dim=dims)
    if kind == "lsa":
        return LsaEmbedder(dims=dims).fit(texts)
    if kind == "minilm":  # pretrained, 384 dims; needs `make semantic`; ~45 ms a product on one core
        return MiniLMEmbedder()
    raise ValueError(f"unknown embedder {kind!r}: choose lsa, hashing or minilm")


def rebuild(conn: sqlite3.Connection, kind: str, dims: int, hnsw_threshold: int = 50_000) -> LiveIndex:
    """Fit a new embedder on the whole catalogue and index every product with it."""
    rows = [r for r in changes_since(conn, 0) if not r.removed]
    texts = [r.embed_text() for r in rows]
    embedder = build_embedder(kind, dims, texts)
    live = LiveIndex.empty(embedder, hnsw_threshold)
    if rows:
        live.index.add([r.doc_id for r in rows], embedder.transform(texts))
        live.seq = max(r.seq for r in rows)
    # Removed products after the last live one must not be replayed as changes.
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM products").fetchone()
    live.seq = max(live.seq, int(row[0]))
    return live
