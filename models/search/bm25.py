"""An in-memory BM25F keyword index over analysed tokens, with numpy scoring.

SQLite FTS5 scores every matching row for `ORDER BY bm25()`; at 100k products a query with a
common term costs tens of milliseconds. This index keeps per-term postings as numpy arrays and
scores a query in one vectorised pass, so the cost is a few microseconds per posting.

Fields are weighted (BM25F): a term's frequency is the weighted sum over fields, and so is the
document length. Updates append postings; a document's older postings are ignored by generation
number, and a term's arrays are compacted when they are read.

>>> idx = BM25Index({"name": 3.0, "body": 1.0})
>>> idx.add(1, {"name": ["red", "shoe"], "body": ["run", "shoe"]})
>>> idx.add(2, {"name": ["blue", "mug"], "body": ["coffe", "mug"]})
>>> idx.add(3, {"name": ["red", "mug"], "body": []})
>>> [d for d, _ in idx.search(["red", "shoe"], 3)]
[1, 3]
>>> idx.remove(1)
>>> [d for d, _ in idx.search(["red", "shoe"], 3)]
[3]
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["BM25Index"]

#: Pending postings are merged into the arrays past this many: as Python lists they cost ~100 bytes
#: each, so building the index of a million products in one go would otherwise peak at gigabytes.
PENDING_LIMIT = 2_000_000


class _Postings:
    __slots__ = ("checked", "docs", "gens", "lens", "tail_docs", "tail_gens", "tail_tfs", "tfs")

    def __init__(self) -> None:
        # int32: 12 bytes a posting with the two float32 columns (a million products hold ~30M postings).
        self.docs: NDArray[np.int32] = np.zeros(0, np.int32)
        self.gens: NDArray[np.int32] = np.zeros(0, np.int32)
        self.tfs: NDArray[np.float32] = np.zeros(0, np.float32)
        # Each posting's document length: fixed for a generation (a re-added document gets new postings).
        self.lens: NDArray[np.float32] = np.zeros(0, np.float32)
        self.checked = -1  # the index's drop count when stale postings were last filtered out
        self.tail_docs: list[int] = []
        self.tail_gens: list[int] = []
        self.tail_tfs: list[float] = []

    def append(self, doc: int, gen: int, tf: float) -> None:
        self.tail_docs.append(doc)
        self.tail_gens.append(gen)
        self.tail_tfs.append(tf)

    def arrays(
        self, doc_gen: NDArray[np.int32], doc_len: NDArray[np.float32], drops: int
    ) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.float32]]:
        """Live postings (docs, weighted tf, doc length); merges the tail and drops stale ones, only
        when something was appended or dropped since the last call."""
        if self.tail_docs:
            tail = np.asarray(self.tail_docs, np.int32)
            self.docs = np.concatenate([self.docs, tail])
            self.gens = np.concatenate([self.gens, np.asarray(self.tail_gens, np.int32)])
            self.tfs = np.concatenate([self.tfs, np.asarray(self.tail_tfs, np.float32)])
            self.lens = np.concatenate([self.lens, doc_len[tail]])
            self.tail_docs, self.tail_gens, self.tail_tfs = [], [], []
            self.checked = -1
        if self.checked != drops:
            live = self.gens == doc_gen[self.docs]
            if not live.all():
                self.docs, self.gens = self.docs[live], self.gens[live]
                self.tfs, self.lens = self.tfs[live], self.lens[live]
            self.checked = drops
        return self.docs, self.tfs, self.lens


class BM25Index:
    def __init__(self, field_weights: Mapping[str, float], k1: float = 1.2, b: float = 0.75) -> None:
        self.field_weights = dict(field_weights)
        self.k1 = k1
        self.b = b
        self._postings: dict[str, _Postings] = {}
        self._gen: NDArray[np.int32] = np.zeros(1024, np.int32)  # per doc id; odd = live
        self._len: NDArray[np.float32] = np.zeros(1024, np.float32)
        self._n = 0
        self._total_len = 0.0
        self._scratch: NDArray[np.float32] = np.zeros(0, np.float32)  # for summing over terms (under the lock)
        self._pending = 0  # postings appended since the last merge (held as Python lists until then)
        self._drops = 0  # documents dropped (removed or re-indexed) so far: postings may be stale
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def _grow(self, doc: int) -> None:
        if doc >= len(self._gen):
            size = max(doc + 1, 2 * len(self._gen))
            self._gen = np.concatenate([self._gen, np.zeros(size - len(self._gen), np.int32)])
            self._len = np.concatenate([self._len, np.zeros(size - len(self._len), np.float32)])

    def _drop(self, doc: int) -> None:
        if self._gen[doc] % 2 == 1:  # live
            self._drops += 1
            self._gen[doc] += 1
            self._n -= 1
            self._total_len -= float(self._len[doc])
            self._len[doc] = 0.0

    def add(self, doc: int, fields: Mapping[str, Sequence[str]]) -> None:
        """Index (or re-index) `doc` from its analysed tokens per field."""
        if doc < 0:
            raise ValueError("doc ids must be >= 0")
        tf: dict[str, float] = {}
        length = 0.0
        for name, tokens in fields.items():
            weight = self.field_weights.get(name, 1.0)
            for token in tokens:
                tf[token] = tf.get(token, 0.0) + weight
            length += weight * len(tokens)
        with self._lock:
            self._grow(doc)
            self._drop(doc)
            self._gen[doc] += 1
            gen = int(self._gen[doc])
            self._len[doc] = length
            self._n += 1
            self._total_len += length
            for term, freq in tf.items():
                postings = self._postings.get(term)
                if postings is None:
                    postings = self._postings[term] = _Postings()
                postings.append(doc, gen, freq)
            self._pending += len(tf)
            if self._pending >= PENDING_LIMIT:
                self._merge_locked()

    def compact(self) -> None:
        """Merge every term's pending postings now, so that first queries do not pay for it."""
        with self._lock:
            self._merge_locked()

    def _merge_locked(self) -> None:
        for postings in self._postings.values():
            postings.arrays(self._gen, self._len, self._drops)
        self._pending = 0

    def remove(self, doc: int) -> None:
        with self._lock:
            if 0 <= doc < len(self._gen):
                self._drop(doc)

    def document_frequency(self, term: str) -> int:
        """How many live documents hold `term`.

        >>> idx = BM25Index({"name": 1.0})
        >>> idx.add(1, {"name": ["mug"]}); idx.add(2, {"name": ["mug"]}); idx.remove(1)
        >>> idx.document_frequency("mug"), idx.document_frequency("cup")
        (1, 0)
        """
        postings = self._postings.get(term)  # most asks are for words no document has: no lock
        if postings is None:
            return 0
        with self._lock:
            return len(postings.arrays(self._gen, self._len, self._drops)[0])

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Top `k` (doc, score) for documents containing any of `terms`, best first."""
        if k <= 0 or not terms:
            return []
        with self._lock:
            if self._n == 0:
                return []
            avg = self._total_len / self._n
            base = self.k1 * (1.0 - self.b)
            per_len = self.k1 * self.b / avg
            parts: list[tuple[NDArray[np.int32], NDArray[np.float32]]] = []
            for term in dict.fromkeys(terms):
                postings = self._postings.get(term)
                if postings is None:
                    continue
                docs, tfs, lens = postings.arrays(self._gen, self._len, self._drops)
                if len(docs) == 0:
                    continue
                idf = math.log(1.0 + (self._n - len(docs) + 0.5) / (len(docs) + 0.5))
                weights = (idf * (self.k1 + 1.0)) * tfs / (tfs + (base + per_len * lens))
                parts.append((docs, np.asarray(weights, np.float32)))
            if not parts:
                return []
            if len(parts) == 1:
                cand, cand_scores = parts[0]  # one term: each document once
            else:
                cand, cand_scores = self._sum(parts, k)
        if len(cand) > k:
            top = np.argpartition(-cand_scores, k - 1)[:k]
            cand, cand_scores = cand[top], cand_scores[top]
        order = np.lexsort((cand, -cand_scores))
        return [(int(cand[i]), float(cand_scores[i])) for i in order]

    def _sum(
        self, parts: list[tuple[NDArray[np.int32], NDArray[np.float32]]], k: int
    ) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """Per-document totals over several terms' postings, visiting only the documents touched
        (a scratch array indexed by doc id, zeroed again after use): enough of the best to hold
        the top `k` documents."""
        if len(self._scratch) < len(self._gen):
            self._scratch = np.zeros(len(self._gen), np.float32)
        scratch = self._scratch
        for docs, weights in parts:
            scratch[docs] += weights  # a term's postings name each document once
        docs = np.concatenate([d for d, _ in parts])
        totals = scratch[docs]
        scratch[docs] = 0.0
        # A document appears once per matching term: the best k * terms entries hold the top k documents.
        keep = k * len(parts)
        if len(docs) > keep:
            top = np.argpartition(-totals, keep - 1)[:keep]
            docs, totals = docs[top], totals[top]
        cand, first = np.unique(docs, return_index=True)
        return cand, totals[first]
