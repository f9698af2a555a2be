"""A FAISS vector index keyed by int64 product ids, with upserts, removals and retraining.

Two layouts, chosen by size:

* ``flat`` — exact inner-product search over float32 vectors, ``IndexIDMap2(IndexFlatIP)``.
* ``ivf`` — an inverted file (``IndexIVFScalarQuantizer``) once the index holds more than
  ``ivf_threshold`` vectors: k-means splits the vectors into ``nlist`` lists, a query scans the
  ``nprobe`` lists nearest to it, and each vector is stored in ``storage`` form — ``"sq8"`` (one
  byte a dimension: a million 256-d vectors in 256 MB instead of 1 GB), ``"fp16"`` or ``"float"``.
  Ids live in the lists and removal is immediate (a hash table maps id → list, so a removed or
  replaced product never comes back and needs no tombstone).  The lists are trained on the vectors
  held when the layout switches, and trained again when the index has grown ``retrain_growth``
  times since, so they follow a catalogue whose content drifts as it grows.

Why not HNSW (used before): on a generated million-product catalogue (templated names, so dense
clusters of near-identical vectors) HNSW with M=32 reached a recall@10 of 0.60 at efSearch 128 —
its greedy walk stops inside a cluster — while this IVF (1,024 lists, 32 probed, 8-bit) reaches
0.999 (ties counted) at ~2 ms a query, builds in seconds instead of minutes, and holds a quarter
of the memory.  ``shopstream bench --only scale`` measures it.

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

__all__ = ["IndexKind", "Storage", "VectorIndex"]

IndexKind = Literal["flat", "ivf"]
Storage = Literal["sq8", "fp16", "float"]

#: The scalar quantizer of each compressed storage ("float" keeps the vectors as they are: IndexIVFFlat).
_QUANTIZER_TYPES: dict[str, int] = {"sq8": faiss.ScalarQuantizer.QT_8bit, "fp16": faiss.ScalarQuantizer.QT_fp16}

#: FAISS's id -> list map kept as a hash table (its stubs do not declare ``DirectMap``).
_HASHTABLE: int = faiss.DirectMap.Hashtable  # type: ignore[attr-defined]

#: k-means needs this many training vectors a list to place its centroids (FAISS warns below 39).
MIN_POINTS_PER_LIST = 39
#: Training uses at most this many vectors a list (a random sample): more adds time, not quality.
MAX_POINTS_PER_LIST = 64

#: Batches (of queries or added vectors) smaller than this run on one OpenMP thread: for small
#: batches FAISS's thread start-up costs more than it saves, and on a busy machine (the consumers,
#: the API and a JVM broker sharing 2 cores) spinning OpenMP threads made a 1-query search ~25x
#: slower.  ``omp_set_num_threads`` only changes the calling thread's setting.
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
    """Inner-product index over ``dim``-dimensional float32 vectors keyed by non-negative int ids.

    Parameters
    ----------
    dim
        Vector dimensions.
    ivf_threshold
        Exact (``flat``) search up to this many vectors, an inverted file above.
    nlist
        Lists of the inverted file (fewer when it is trained on too few vectors to place them).
    nprobe
        Lists scanned per query: recall against latency.
    storage
        How the inverted file stores each vector: ``"sq8"``, ``"fp16"`` or ``"float"``.
    retrain_growth
        Train the lists again once the index holds this many times the vectors they were trained on.
    trained_on
        How many vectors the current lists were trained on (restored from a snapshot's settings).
    kind
        Force a starting layout (``"flat"`` by default; an empty ``"ivf"`` trains on its first add).
    """

    def __init__(
        self,
        dim: int,
        *,
        ivf_threshold: int = 50_000,
        nlist: int = 1024,
        nprobe: int = 32,
        storage: Storage = "sq8",
        retrain_growth: float = 8.0,
        trained_on: int = 0,
        kind: IndexKind | None = None,
    ) -> None:
        if dim < 1:
            raise ValueError("dim must be >= 1")
        if ivf_threshold < 0 or nlist < 1 or nprobe < 1:
            raise ValueError("invalid IVF parameters")
        if storage not in ("sq8", "fp16", "float"):
            raise ValueError(f"unknown vector storage {storage!r}: choose sq8, fp16 or float")
        if retrain_growth <= 1.0:
            raise ValueError("retrain_growth must be > 1")
        self._dim = dim
        self.ivf_threshold = ivf_threshold
        self.nlist = nlist
        self.nprobe = nprobe
        self.storage: Storage = storage
        self.retrain_growth = retrain_growth
        self.trained_on = trained_on
        self._lock = threading.RLock()
        self._live: set[int] = set()
        self._index: Any = None
        self._kind: IndexKind = kind or "flat"
        self._reset(self._kind)

    # --- introspection -------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> IndexKind:
        """``"flat"`` (exact) or ``"ivf"`` (approximate)."""
        return self._kind

    @property
    def lists(self) -> int:
        """The inverted file's lists (0 for ``flat``, or an ``ivf`` not trained yet)."""
        with self._lock:
            return int(self._index.nlist) if self._kind == "ivf" and self._index is not None else 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, int | np.integer) and int(item) in self._live

    def ids(self) -> IdArray:
        """The live ids, sorted."""
        with self._lock:
            return np.array(sorted(self._live), dtype=np.int64)

    def get_vectors(self, ids: Iterable[int]) -> FloatMatrix:
        """The stored vectors of ``ids`` (``KeyError`` for an unknown id); as stored, so an ``sq8``
        or ``fp16`` index gives back its rounded copy."""
        with self._lock:
            keys = np.fromiter((int(i) for i in ids), dtype=np.int64)
            for key in keys.tolist():
                if key not in self._live:
                    raise KeyError(key)
            if len(keys) == 0:
                return np.zeros((0, self._dim), dtype=np.float32)
            return np.asarray(self._index.reconstruct_batch(keys), dtype=np.float32)

    def holds(self, ids: Iterable[int], vectors: ArrayLike) -> NDArray[np.bool_]:
        """Whether each id's stored vector is the row of ``vectors`` as this index stores it.

        An ``ivf`` stores a rounded copy, so each row goes through the same encoding first; and the
        same text embedded with another BLAS kernel may round to a neighbouring code, so one
        rounding step either way is allowed (a changed text moves a vector by far more).
        """
        with self._lock:
            have = self.get_vectors(ids).astype(np.float64)
            want = self._as_vectors(vectors)
            atol: float | NDArray[np.float64] = 1e-4
            if self._kind == "ivf":
                want = self._index.sa_decode(self._index.sa_encode(want))
                if self.storage == "sq8":  # the quantizer's per-dimension step: its range / 255
                    trained = faiss.vector_to_array(self._index.sq.trained).astype(np.float64)
                    atol = 1e-4 + 1.5 * trained[self._dim:] / 255
                elif self.storage == "fp16":  # a half-float step of a residual (|r| < 2): 2 * 2**-11
                    atol = 1e-4 + 2.0**-10
            close = np.isclose(have, np.asarray(want, np.float64), rtol=2e-3, atol=atol)
            return np.asarray(close.all(axis=1), dtype=np.bool_)

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
            present = [k for k in keys.tolist() if k in self._live]
            if present:
                self._remove_locked(present)
            if self._kind == "ivf" and self._index is None:
                self._train_locked(vecs)
            with _omp_threads_for(len(keys)):
                self._index.add_with_ids(vecs, keys)
            self._live.update(keys.tolist())
            self._maybe_relayout_locked()

    def update(self, ids: Sequence[int] | ArrayLike, vectors: ArrayLike) -> None:
        """Replace the vectors of ``ids`` (remove, then add); unknown ids are simply added."""
        self.add(ids, vectors)

    def remove(self, ids: Sequence[int] | ArrayLike) -> int:
        """Remove ids; unknown ids are ignored.  Returns how many were removed."""
        keys = _as_ids(ids)
        with self._lock:
            present = sorted({k for k in keys.tolist() if k in self._live})
            if not present:
                return 0
            self._remove_locked(present)
            self._maybe_relayout_locked()
            return len(present)

    def rebuild(self, kind: IndexKind | None = None) -> None:
        """Rebuild from the live vectors (an ``ivf`` is trained again); ``kind`` forces a layout."""
        with self._lock:
            self._rebuild_locked(kind or ("ivf" if len(self._live) > self.ivf_threshold else "flat"))

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
                scores, ids = self._index.search(q, kk)
            else:
                params = faiss.SearchParametersIVF(nprobe=min(self.nprobe, self._index.nlist))  # type: ignore[call-arg]
                scores, ids = self._index.search(q, kk, params=params)
                ids, scores = _compact(ids, np.asarray(scores, dtype=np.float32))
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
        """An empty index of `kind` (an ``ivf`` is created untrained, by its first add)."""
        self._kind = kind
        self._live = set()
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self._dim)) if kind == "flat" else None

    def _train_locked(self, sample: FloatMatrix) -> None:
        """A new, empty inverted file whose lists are trained on `sample` (a random subset of it)."""
        n = len(sample)
        nlist = max(1, min(self.nlist, n // MIN_POINTS_PER_LIST))
        if n > MAX_POINTS_PER_LIST * nlist:
            rows = np.random.default_rng(n).choice(n, size=MAX_POINTS_PER_LIST * nlist, replace=False)
            sample = np.ascontiguousarray(sample[np.sort(rows)])
        quantizer = faiss.IndexFlatIP(self._dim)
        index: Any
        if self.storage == "float":
            index = faiss.IndexIVFFlat(quantizer, self._dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(quantizer, self._dim, nlist, _QUANTIZER_TYPES[self.storage],
                                                  faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 1234  # the same lists from the same vectors, run after run
        index.train(sample)
        index.set_direct_map_type(_HASHTABLE)  # id -> list: immediate removal, reconstruct
        self._index = index
        self.trained_on = n

    def _remove_locked(self, keys: list[int]) -> None:
        arr = np.asarray(keys, dtype=np.int64)
        if self._kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(arr))
        else:  # the hash-table direct map removes by an IDSelectorArray only
            self._index.remove_ids(faiss.IDSelectorArray(len(arr), faiss.swig_ptr(arr)))
        self._live.difference_update(keys)

    def _maybe_relayout_locked(self) -> None:
        n = len(self._live)
        if self._kind == "flat":
            if n > self.ivf_threshold:
                self._rebuild_locked("ivf")
        elif n <= self.ivf_threshold // 2:
            self._rebuild_locked("flat")
        elif self.trained_on and n >= self.retrain_growth * self.trained_on:
            self._rebuild_locked("ivf")

    def _live_items(self) -> tuple[IdArray, FloatMatrix]:
        ids = np.array(sorted(self._live), dtype=np.int64)
        if len(ids) == 0:
            return ids, np.zeros((0, self._dim), np.float32)
        return ids, np.ascontiguousarray(self._index.reconstruct_batch(ids), dtype=np.float32)

    def _rebuild_locked(self, kind: IndexKind) -> None:
        ids, vecs = self._live_items()
        self._reset(kind)
        if len(ids):
            if kind == "ivf":
                self._train_locked(vecs)
            with _omp_threads_for(len(ids)):
                self._index.add_with_ids(vecs, ids)
            self._live.update(ids.tolist())

    # --- persistence (the snapshot files are written by the caller: readmodels.catalog) ----------

    SETTINGS: tuple[str, ...] = ("ivf_threshold", "nlist", "nprobe", "storage", "retrain_growth", "trained_on")

    def settings(self) -> dict[str, Any]:
        """The constructor parameters, to store beside the files (JSON-able)."""
        with self._lock:
            return {name: getattr(self, name) for name in self.SETTINGS}

    def export(self) -> Any:
        """The FAISS index to write with ``faiss.write_index`` (take it while no other thread mutates).
        An ``ivf`` with nothing in it yet is exported as an empty ``flat`` index."""
        with self._lock:
            return self._index if self._index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(self._dim))

    @classmethod
    def from_export(cls, index: Any, **settings: Any) -> VectorIndex:
        """Rebuild an instance around a FAISS index read from disk (``faiss.read_index``)."""
        out = cls(int(index.d), **{k: v for k, v in settings.items() if k in cls.SETTINGS})
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is None:
            out._reset("flat")
            out._index = index
            ids = faiss.vector_to_array(index.id_map)
        else:
            if ivf.direct_map.type != _HASHTABLE:
                raise ValueError("an IVF index without its id hash table")
            out._reset("ivf")
            out._index = index
            lists = index.invlists
            ids = np.concatenate([np.zeros(0, np.int64)] + [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(index.nlist) if lists.list_size(i)])
        out._live = set(ids.tolist())
        if len(out._live) != index.ntotal:
            raise ValueError("duplicate ids in the stored index")
        return out


def _compact(ids: IdArray, scores: FloatMatrix) -> tuple[IdArray, FloatMatrix]:
    """Move the valid hits of each row to the front (an IVF row is short when its probed lists
    held fewer than k vectors)."""
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
