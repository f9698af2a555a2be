"""A FAISS vector index keyed by int64 product ids, with upserts, removals and rebuilds.

Two layouts, chosen by size:

* ``flat`` — exact inner-product search, ``IndexIDMap2(IndexFlatIP)``; removal is immediate.
* ``hnsw`` — ``IndexHNSWFlat`` (M=32, efSearch=64 by default) once the index holds more than
  ``hnsw_threshold`` vectors.  HNSW cannot remove vectors, so a removed or replaced vector
  becomes a *tombstone*: its slot is marked dead, and searches pass FAISS an
  ``IDSelectorBitmap`` of live slots (and over-fetch with a larger efSearch if a row still came
  back short).  When tombstones exceed ``rebuild_dead_fraction`` of the slots the graph is
  rebuilt from the live vectors (falling back to ``flat`` if it shrank below half the threshold).

Vectors are expected L2-normalised (scores are inner products = cosine similarities).

>>> import numpy as np
>>> idx = VectorIndex(dim=2)
>>> idx.add([10, 20, 30], np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32))
>>> ids, scores = idx.search(np.array([1, 0], dtype=np.float32), k=2)
>>> ids.tolist(), [round(float(s), 2) for s in scores]
([10, 30], [1.0, 0.6])
>>> idx.update([10], np.array([[0, -1]], dtype=np.float32)); idx.remove([30])
1
>>> idx.search(np.array([0, -1], dtype=np.float32), k=5)[0].tolist(), len(idx)
([10, 20], 2)

The instance is thread-safe (one lock around mutations and searches).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["IndexKind", "VectorIndex"]

IndexKind = Literal["flat", "hnsw"]

#: Batches (of queries or added vectors) smaller than this run on one OpenMP thread: for small
#: batches FAISS's thread start-up costs more than it saves, and on a busy machine (the consumers,
#: the API and a JVM broker sharing 2 cores) spinning OpenMP threads made a 1-query HNSW search
#: ~25x slower.  ``omp_set_num_threads`` only changes the calling thread's setting.
SMALL_BATCH = 64


@contextlib.contextmanager
def _omp_threads_for(n_rows: int) -> Iterator[None]:
    if n_rows >= SMALL_BATCH:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
IdArray = NDArray[np.int64]
FloatMatrix = NDArray[np.float32]


class VectorIndex:
    """Inner-product index over ``dim``-dimensional float32 vectors keyed by non-negative int ids."""

    def __init__(
        self,
        dim: int,
        *,
        hnsw_threshold: int = 50_000,
        hnsw_m: int = 32,
        ef_search: int = 64,
        ef_construction: int = 40,
        rebuild_dead_fraction: float = 0.2,
        min_dead_for_rebuild: int = 1_000,
        auto_rebuild: bool = True,
        kind: IndexKind | None = None,
    ) -> None:
        if dim < 1:
            raise ValueError("dim must be >= 1")
        if hnsw_threshold < 0 or hnsw_m < 2 or ef_search < 1 or ef_construction < 1:
            raise ValueError("invalid HNSW parameters")
        if not 0.0 < rebuild_dead_fraction <= 1.0:
            raise ValueError("rebuild_dead_fraction must be in (0, 1]")
        self._dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.ef_construction = ef_construction
        self.rebuild_dead_fraction = rebuild_dead_fraction
        self.min_dead_for_rebuild = min_dead_for_rebuild
        self.auto_rebuild = auto_rebuild
        self._lock = threading.RLock()
        self._live: set[int] = set()
        # flat layout
        self._flat: Any = None
        # hnsw layout: slot -> external id (-1 = tombstone), external id -> slot
        self._hnsw: Any = None
        self._labels: IdArray = np.zeros(0, dtype=np.int64)
        self._slot_of: dict[int, int] = {}
        self._n_dead = 0
        self._selector_cache: tuple[Any, NDArray[np.uint8]] | None = None
        self._kind: IndexKind = kind or "flat"
        self._reset(self._kind)

    # --- introspection -------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> IndexKind:
        """``"flat"`` (exact) or ``"hnsw"`` (approximate)."""
        return self._kind

    @property
    def n_tombstones(self) -> int:
        """Dead HNSW slots awaiting a rebuild (always 0 for ``flat``)."""
        return self._n_dead

    @property
    def needs_rebuild(self) -> bool:
        with self._lock:
            if self._kind != "hnsw" or self._n_dead == 0:
                return False
            total = len(self._labels)
            return (self._n_dead >= self.min_dead_for_rebuild
                    and self._n_dead > self.rebuild_dead_fraction * total)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, int | np.integer) and int(item) in self._live

    def ids(self) -> IdArray:
        """The live ids, sorted."""
        with self._lock:
            return np.array(sorted(self._live), dtype=np.int64)

    def get_vectors(self, ids: Iterable[int]) -> FloatMatrix:
        """The stored vectors of ``ids`` (``KeyError`` for an unknown id)."""
        with self._lock:
            keys = [int(i) for i in ids]
            out = np.zeros((len(keys), self._dim), dtype=np.float32)
            for row, key in enumerate(keys):
                if key not in self._live:
                    raise KeyError(key)
                if self._kind == "flat":
                    out[row] = self._flat.reconstruct(key)
                else:
                    out[row] = self._hnsw.reconstruct(self._slot_of[key])
            return out

    # --- mutation ------------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | ArrayLike, vectors: ArrayLike) -> None:
        """Insert vectors; an id that is already present is replaced (upsert)."""
        keys = _as_ids(ids)
        vecs = self._as_vectors(vectors)
        if len(keys) != len(vecs):
            raise ValueError(f"{len(keys)} ids but {len(vecs)} vectors")
        if len(keys) == 0:
            return
        if len(np.unique(keys)) != len(keys):
            raise ValueError("duplicate ids in one add()")
        with self._lock:
            present = [int(k) for k in keys if int(k) in self._live]
            if present:
                self._remove_locked(present)
            with _omp_threads_for(len(keys)):
                if self._kind == "flat":
                    self._flat.add_with_ids(vecs, keys)
                else:
                    self._hnsw_add(keys, vecs)
            self._live.update(int(k) for k in keys)
            self._maybe_rebuild_locked()

    def update(self, ids: Sequence[int] | ArrayLike, vectors: ArrayLike) -> None:
        """Replace the vectors of ``ids`` (remove, then add); unknown ids are simply added."""
        self.add(ids, vectors)

    def remove(self, ids: Sequence[int] | ArrayLike) -> int:
        """Remove ids; unknown ids are ignored.  Returns how many were removed."""
        keys = _as_ids(ids)
        with self._lock:
            present = sorted({int(k) for k in keys if int(k) in self._live})
            if not present:
                return 0
            self._remove_locked(present)
            self._maybe_rebuild_locked()
            return len(present)

    def rebuild(self, kind: IndexKind | None = None) -> None:
        """Rebuild from the live vectors (drops tombstones); ``kind`` forces a layout."""
        with self._lock:
            self._rebuild_locked(kind or self._choose_kind(len(self._live), rebuilding=True))

    # --- search --------------------------------------------------------------------------------

    def search(self, queries: ArrayLike, k: int) -> tuple[IdArray, FloatMatrix]:
        """The ``k`` best ids and inner-product scores per query, best first.

        A 1-D query gives 1-D arrays holding only the hits found.  A 2-D batch gives arrays of
        shape ``(n_queries, min(k, len(self)))``, padded with id ``-1`` and score ``-inf`` where a
        row has fewer hits.
        """
        if k < 1:
            raise ValueError("k must be >= 1")
        q = np.asarray(queries, dtype=np.float32)
        single = q.ndim == 1
        q = self._as_vectors(q.reshape(1, -1) if single else q)
        with self._lock, _omp_threads_for(len(q)):
            kk = min(k, len(self._live))
            if kk == 0 or len(q) == 0:
                ids = np.full((len(q), 0), -1, dtype=np.int64)
                scores = np.zeros((len(q), 0), dtype=np.float32)
            elif self._kind == "flat":
                scores, ids = self._flat.search(q, kk)
            else:
                ids, scores = self._hnsw_search(q, kk)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        if single:
            valid = ids[0] >= 0
            return ids[0][valid].astype(np.int64), scores[0][valid]
        return ids.astype(np.int64), scores

    # --- internals -----------------------------------------------------------------------------

    def _as_vectors(self, vectors: ArrayLike) -> FloatMatrix:
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if v.ndim != 2 or v.shape[1] != self._dim:
            raise ValueError(f"expected vectors of shape (n, {self._dim}), got {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError("vectors contain NaN or infinity")
        return v

    def _reset(self, kind: IndexKind) -> None:
        self._kind = kind
        self._live = set()
        self._labels = np.zeros(0, dtype=np.int64)
        self._slot_of = {}
        self._n_dead = 0
        self._selector_cache = None
        if kind == "flat":
            self._flat = faiss.IndexIDMap2(faiss.IndexFlatIP(self._dim))
            self._hnsw = None
        else:
            self._flat = None
            self._hnsw = self._new_hnsw()

    def _new_hnsw(self) -> Any:
        index = faiss.IndexHNSWFlat(self._dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = self.ef_search
        index.hnsw.efConstruction = self.ef_construction
        return index

    def _choose_kind(self, n: int, *, rebuilding: bool = False) -> IndexKind:
        if self._kind == "flat":
            return "hnsw" if n > self.hnsw_threshold else "flat"
        if rebuilding and n <= self.hnsw_threshold // 2:
            return "flat"
        return "hnsw"

    def _hnsw_add(self, keys: IdArray, vecs: FloatMatrix) -> None:
        start = len(self._labels)
        self._hnsw.add(vecs)
        self._labels = np.concatenate([self._labels, keys])
        for offset, key in enumerate(keys.tolist()):
            self._slot_of[key] = start + offset
        self._selector_cache = None

    def _remove_locked(self, keys: list[int]) -> None:
        if self._kind == "flat":
            self._flat.remove_ids(faiss.IDSelectorBatch(np.asarray(keys, dtype=np.int64)))
        else:
            slots = np.fromiter((self._slot_of.pop(k) for k in keys), dtype=np.int64, count=len(keys))
            self._labels[slots] = -1
            self._n_dead += len(slots)
            self._selector_cache = None
        self._live.difference_update(keys)

    def _maybe_rebuild_locked(self) -> None:
        n = len(self._live)
        if self._kind == "flat":
            if n > self.hnsw_threshold:
                self._rebuild_locked("hnsw")
        elif self.auto_rebuild and self.needs_rebuild:
            self._rebuild_locked(self._choose_kind(n, rebuilding=True))

    def _live_items(self) -> tuple[IdArray, FloatMatrix]:
        if self._kind == "flat":
            n = self._flat.ntotal
            ids = faiss.vector_to_array(self._flat.id_map).astype(np.int64)
            vecs = self._flat.index.reconstruct_n(0, n) if n else np.zeros((0, self._dim), np.float32)
            return ids, np.asarray(vecs, dtype=np.float32)
        slots = np.flatnonzero(self._labels >= 0)
        n = self._hnsw.ntotal
        allv = self._hnsw.reconstruct_n(0, n) if n else np.zeros((0, self._dim), np.float32)
        return self._labels[slots].copy(), np.ascontiguousarray(allv[slots], dtype=np.float32)

    def _rebuild_locked(self, kind: IndexKind) -> None:
        ids, vecs = self._live_items()
        self._reset(kind)
        if len(ids):
            if kind == "flat":
                self._flat.add_with_ids(vecs, ids)
            else:
                self._hnsw_add(ids, vecs)
            self._live.update(ids.tolist())

    def _selector_params(self, ef: int) -> Any:
        """Search parameters; with tombstones, a bitmap selector of the live slots (cached)."""
        if self._n_dead == 0:
            return faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]
        if self._selector_cache is None:
            bitmap = np.packbits(self._labels >= 0, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(self._labels), faiss.swig_ptr(bitmap))
            self._selector_cache = (selector, bitmap)  # the selector points into bitmap
        return faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            sel=self._selector_cache[0], efSearch=ef)

    def _hnsw_search(self, q: FloatMatrix, k: int) -> tuple[IdArray, FloatMatrix]:
        ef = max(self.ef_search, k)
        max_ef = max(ef, 8 * k, 512)
        while True:
            scores, slots = self._hnsw.search(q, k, params=self._selector_params(ef))
            ids = np.where(slots >= 0, self._labels[np.maximum(slots, 0)], -1)
            short = bool(np.any(ids < 0))
            if not short or ef >= max_ef:
                break
            ef = min(ef * 2, max_ef)  # over-fetch: widen the beam when tombstones starved a row
        return self._compact(ids, np.asarray(scores, dtype=np.float32))

    @staticmethod
    def _compact(ids: IdArray, scores: FloatMatrix) -> tuple[IdArray, FloatMatrix]:
        """Move the valid hits of each row to the front (defensive: a dead slot is never returned)."""
        if not np.any(ids < 0):
            return ids, scores
        out_ids = np.full_like(ids, -1)
        out_scores = np.full_like(scores, -np.inf)
        for r in range(ids.shape[0]):
            valid = ids[r] >= 0
            n = int(valid.sum())
            out_ids[r, :n] = ids[r][valid]
            out_scores[r, :n] = scores[r][valid]
        return out_ids, out_scores

    # --- persistence (the snapshot files are written by the caller: readmodels.catalog) ----------

    SETTINGS: tuple[str, ...] = ("hnsw_threshold", "hnsw_m", "ef_search", "ef_construction",
                                 "rebuild_dead_fraction", "min_dead_for_rebuild", "auto_rebuild")

    def settings(self) -> dict[str, Any]:
        """The constructor parameters, to store beside the files (JSON-able)."""
        return {name: getattr(self, name) for name in self.SETTINGS}

    def export(self) -> tuple[Any, IdArray | None]:
        """The FAISS index to write with ``faiss.write_index`` and, for HNSW, the slot labels
        (``-1`` = tombstone) to write with ``np.save``. Take it while no other thread mutates."""
        with self._lock:
            if self._kind == "flat":
                return self._flat, None
            return self._hnsw, self._labels.copy()

    @classmethod
    def from_export(cls, index: Any, labels: IdArray | None, **settings: Any) -> VectorIndex:
        """Rebuild an instance around a FAISS index read from disk (``faiss.read_index``)."""
        out = cls(int(index.d), **{k: v for k, v in settings.items() if k in cls.SETTINGS})
        if labels is None:
            out._reset("flat")
            out._flat = index
            out._live = {int(i) for i in faiss.vector_to_array(index.id_map).tolist()}
        else:
            if len(labels) != index.ntotal:
                raise ValueError("labels do not match the HNSW index size")
            out._reset("hnsw")
            index.hnsw.efSearch = out.ef_search
            out._hnsw = index
            out._labels = np.asarray(labels, dtype=np.int64).copy()
            live_slots = np.flatnonzero(out._labels >= 0)
            out._slot_of = dict(zip(out._labels[live_slots].tolist(), live_slots.tolist(), strict=True))
            if len(out._slot_of) != len(live_slots):
                raise ValueError("duplicate live ids in HNSW labels")
            out._live = set(out._slot_of)
            out._n_dead = len(out._labels) - len(live_slots)
        return out


def _as_ids(ids: Sequence[int] | ArrayLike) -> IdArray:
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("ids must be a 1-D sequence of integers")
    keys = arr.astype(np.int64)
    if np.any(keys < 0):
        raise ValueError("ids must be >= 0 (-1 marks a missing hit)")
    return np.ascontiguousarray(keys)
