"""Content-based candidate generation behind a small interface, so FAISS can replace brute force.

The recommender keeps the index in step with availability: it adds an item when the item has a
vector and can be recommended, and removes it when the item is delisted or goes out of stock.

>>> index = BruteForceContent(dim=2)
>>> index.add("a", np.array([1.0, 0.0])); index.add("b", np.array([0.6, 0.8]))
>>> index.add("c", np.array([0.0, 1.0]))
>>> [(i, round(s, 2)) for i, s in index.search(np.array([0.0, 1.0]), k=2)]
[('c', 1.0), ('b', 0.8)]
>>> index.remove("c"); [i for i, _ in index.search(np.array([0.0, 1.0]), k=2)]
['b', 'a']
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


@runtime_checkable
class ContentCandidates(Protocol):
    """Nearest items by inner product. Vectors are unit-normalised by the caller."""

    def add(self, item_id: str, vector: npt.NDArray[np.float32]) -> None:
        """Insert or replace ``item_id``."""

    def remove(self, item_id: str) -> None:
        """Forget ``item_id`` (no error if unknown)."""

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (item_id, score) pairs, best first."""

    def __len__(self) -> int: ...


class BruteForceContent:
    """Exact inner-product search over a dense float32 matrix.

    Rows of removed items are freed and reused. Results are ordered by score, then item id, so the
    answer depends only on the set of (id, vector) pairs, not on the order they were added in.
    """

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._matrix = np.zeros((max(1, capacity), dim), dtype=np.float32)
        self._live = np.zeros(max(1, capacity), dtype=np.bool_)
        self._row_of: dict[str, int] = {}
        self._id_of: list[str | None] = [None] * max(1, capacity)
        self._free: list[int] = []
        self._rows = 0  # rows ever used (high-water mark)

    def __len__(self) -> int:
        return len(self._row_of)

    def add(self, item_id: str, vector: npt.NDArray[np.float32]) -> None:
        vec = np.asarray(vector, dtype=np.float32).ravel()
        if vec.shape[0] != self.dim:
            raise ValueError(f"vector has dim {vec.shape[0]}, expected {self.dim}")
        row = self._row_of.get(item_id)
        if row is None:
            if self._free:
                row = self._free.pop()
            else:
                row = self._rows
                if row >= self._matrix.shape[0]:
                    self._grow()
                self._rows += 1
            self._row_of[item_id] = row
            self._id_of[row] = item_id
            self._live[row] = True
        self._matrix[row] = vec

    def _grow(self) -> None:
        cap = self._matrix.shape[0] * 2
        matrix = np.zeros((cap, self.dim), dtype=np.float32)
        matrix[: self._rows] = self._matrix[: self._rows]
        live = np.zeros(cap, dtype=np.bool_)
        live[: self._rows] = self._live[: self._rows]
        self._matrix, self._live = matrix, live
        self._id_of.extend([None] * (cap - len(self._id_of)))

    def remove(self, item_id: str) -> None:
        row = self._row_of.pop(item_id, None)
        if row is not None:
            self._live[row] = False
            self._id_of[row] = None
            self._matrix[row] = 0.0
            self._free.append(row)

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[str, float]]:
        n = self._rows
        if k <= 0 or not self._row_of:
            return []
        q = np.asarray(vector, dtype=np.float32).ravel()
        scores = self._matrix[:n] @ q
        scores[~self._live[:n]] = -np.inf
        live = len(self._row_of)
        k = min(k, live)
        if k < n:
            threshold = np.partition(scores, n - k)[n - k]
            rows = np.flatnonzero(scores >= threshold)
        else:
            rows = np.flatnonzero(self._live[:n])
        ids = self._id_of
        pairs = [(ids[r] or "", float(scores[r])) for r in rows.tolist()]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        return pairs[:k]


class FaissContent:
    """The same contract over a FAISS index (exact while small, an inverted file when large): for big
    catalogues. ``index_params`` are `models.index.VectorIndex` keyword arguments.

    >>> index = FaissContent(dim=2)
    >>> index.add("a", np.array([1.0, 0.0], dtype=np.float32))
    >>> index.add("b", np.array([0.6, 0.8], dtype=np.float32))
    >>> [i for i, _ in index.search(np.array([0.0, 1.0], dtype=np.float32), k=2)]
    ['b', 'a']
    >>> index.remove("b"); len(index)
    1
    """

    def __init__(self, dim: int, **index_params: Any) -> None:
        from models.index import VectorIndex

        self.dim = dim
        self._index = VectorIndex(dim, **index_params)
        self._key_of: dict[str, int] = {}
        self._id_of: list[str] = []

    def __len__(self) -> int:
        return len(self._index)

    def add(self, item_id: str, vector: npt.NDArray[np.float32]) -> None:
        key = self._key_of.get(item_id)
        if key is None:
            key = self._key_of[item_id] = len(self._id_of)
            self._id_of.append(item_id)
        self._index.add([key], np.asarray(vector, dtype=np.float32).reshape(1, -1))

    def remove(self, item_id: str) -> None:
        key = self._key_of.get(item_id)
        if key is not None:
            self._index.remove([key])

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[str, float]]:
        if k <= 0 or len(self._index) == 0:
            return []
        ids, scores = self._index.search(np.asarray(vector, dtype=np.float32), k)
        id_of = self._id_of
        # One tolist() each rather than an int() and a float() per hit (the same values)
        return [(id_of[i], s) for i, s in zip(ids.tolist(), scores.tolist(), strict=True) if i >= 0]
