"""Incremental item-to-item co-occurrence counts, one sparse row per item.

Each row keeps its neighbours sorted in two flat C arrays (``array('q')`` keys, ``array('d')``
weights): 16 bytes a pair, where a dict from neighbour to slot cost about 75 more. The table is
held by the learner and by every API worker, and grows with the catalogue, so its size per pair
is what a long-running process's memory grows by. Finding a pair is a binary search (``bisect``,
in C), adding one a short ``memmove``. A row that grows past ``2 * max_neighbors`` is pruned to
its ``max_neighbors`` heaviest pairs (ties: the lower neighbour id).

>>> t = CoocTable(max_neighbors=2)
>>> t.bump(0, 2, 0.5); t.bump(0, 1, 1.0); t.bump(0, 1, 1.0)
>>> keys, vals = t.row(0)
>>> keys.tolist(), vals.tolist()
([1, 2], [2.0, 0.5])
>>> keys, vals, where = t.gather([5, 0])
>>> keys.tolist(), where.tolist()
([1, 2], [1, 1])
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from models.reco.base import FloatArray, IntArray

_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)


class _Row:
    __slots__ = ("keys", "vals")

    def __init__(self, keys: array[int] | None = None, vals: array[float] | None = None) -> None:
        self.keys: array[int] = keys if keys is not None else array("q")
        self.vals: array[float] = vals if vals is not None else array("d")


def _copy_out(arr: array[Any], dtype: type[np.generic]) -> npt.NDArray[Any]:
    # A copy, never a view: a view would pin the array's buffer and the next insert would fail.
    return np.frombuffer(arr, dtype=dtype).copy() if len(arr) else np.empty(0, dtype=dtype)


class SparseScores:
    """Scores of a few items out of a catalogue of ``n``: the ``keys`` with a non-zero score, in
    ascending order, and their ``vals``; every other item scores 0. A user's co-occurrence scores
    touch a few hundred items whatever the catalogue's size, so they are summed and read in that
    size, not as a dense array of the whole catalogue (8 MB an event at a million products).

    >>> s = SparseScores.sum_by_key(np.array([7, 2, 7]), np.array([1.0, 0.5, 2.0]), n=10)
    >>> s.keys.tolist(), s.vals.tolist(), s.at(np.array([2, 3, 7])).tolist()
    ([2, 7], [0.5, 3.0], [0.5, 0.0, 3.0])
    """

    __slots__ = ("keys", "vals")

    # Below this many catalogue items per gathered pair a dense sum over the catalogue is cheaper
    # than sorting the pairs (both give the same sums: see `sum_by_key`).
    DENSE_ITEMS_PER_PAIR = 16

    def __init__(self, keys: IntArray, vals: FloatArray) -> None:
        self.keys = keys
        self.vals = vals

    @classmethod
    def sum_by_key(cls, keys: IntArray, contrib: FloatArray, n: int) -> SparseScores:
        """The sum of ``contrib`` per key (keys < ``n``), zero sums left out.

        ``np.bincount`` adds a bin's weights one by one in input order, from 0.0, whether the bins
        are the catalogue's items or the distinct keys, so the sums are the same floats either way.
        """
        if not keys.size:
            return cls(_EMPTY_I, _EMPTY_F)
        if n <= cls.DENSE_ITEMS_PER_PAIR * keys.size:
            dense = np.bincount(keys, weights=contrib, minlength=n).astype(np.float64, copy=False)
            nz = np.flatnonzero(dense)
            return cls(nz, dense[nz])
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights=contrib, minlength=uniq.size).astype(np.float64, copy=False)
        nz = np.flatnonzero(sums)
        if nz.size == uniq.size:
            return cls(uniq, sums)
        return cls(uniq[nz], sums[nz])

    def at(self, items: IntArray) -> FloatArray:
        """The scores of ``items`` (0 for an item without one)."""
        if not self.keys.size:
            return np.zeros(items.shape, dtype=np.float64)
        i = np.searchsorted(self.keys, items)
        np.minimum(i, self.keys.size - 1, out=i)
        return np.where(self.keys[i] == items, self.vals[i], 0.0)

    def of(self, item: int) -> float:
        """The score of one item."""
        i = int(np.searchsorted(self.keys, item))
        return float(self.vals[i]) if i < self.keys.size and self.keys[i] == item else 0.0


class CoocTable:
    """Sparse symmetric-by-convention co-occurrence weights (the caller bumps both directions)."""

    FIELDS = ("row", "len", "key", "val")

    def __init__(self, max_neighbors: int = 200) -> None:
        self.max_neighbors = max_neighbors
        self.rows: dict[int, _Row] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def bump(self, a: int, b: int, w: float) -> None:
        row = self.rows.get(a)
        if row is None:
            row = self.rows[a] = _Row()
        self._add(row, b, w)

    def bump_pairs(self, a: int, bs: Sequence[int], ws: Sequence[float]) -> None:
        """``bump(a, b, w)`` then ``bump(b, a, w)`` for each ``(b, w)`` in turn (``b != a``): the
        same rows, in the same order, as those calls, with the row of ``a`` looked up once (the
        learner bumps about fifteen pairs an event)."""
        rows = self.rows
        row_a: _Row | None = None
        for b, w in zip(bs, ws, strict=True):
            if row_a is None:
                row_a = rows.get(a)
                if row_a is None:
                    row_a = rows[a] = _Row()
            self._add(row_a, b, w)
            row_b = rows.get(b)
            if row_b is None:
                row_b = rows[b] = _Row()
            self._add(row_b, a, w)

    def _add(self, row: _Row, key: int, w: float) -> None:
        """Add ``w`` to ``key``'s weight in ``row`` (inserted in key order if new; pruned past 2x)."""
        keys = row.keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            row.vals[i] += w
            return
        keys.insert(i, key)
        row.vals.insert(i, w)
        if len(keys) > 2 * self.max_neighbors:
            self._prune(row)

    def _prune(self, row: _Row) -> None:
        keys = np.frombuffer(row.keys, dtype=np.int64)
        vals = np.frombuffer(row.vals, dtype=np.float64)
        keep = np.sort(np.argsort(-vals, kind="stable")[: self.max_neighbors])  # back in key order
        new_keys, new_vals = array("q", keys[keep].tobytes()), array("d", vals[keep].tobytes())
        del keys, vals  # release the views before the arrays are replaced
        row.keys, row.vals = new_keys, new_vals

    def get(self, a: int, b: int) -> float:
        row = self.rows.get(a)
        if row is None:
            return 0.0
        i = bisect_left(row.keys, b)
        return float(row.vals[i]) if i < len(row.keys) and row.keys[i] == b else 0.0

    def get_or_none(self, a: int, b: int) -> float | None:
        """The weight of ``(a, b)``, None when the row of ``a`` does not hold ``b``."""
        row = self.rows.get(a)
        if row is None:
            return None
        keys = row.keys
        i = bisect_left(keys, b)
        return float(row.vals[i]) if i < len(keys) and keys[i] == b else None

    def holds_any(self, sources: Sequence[int], b: int) -> bool:
        """Whether the row of any of ``sources`` holds ``b`` (a binary search each)."""
        rows = self.rows
        for a in sources:
            row = rows.get(a)
            if row is not None:
                keys = row.keys
                i = bisect_left(keys, b)
                if i < len(keys) and keys[i] == b:
                    return True
        return False

    def row(self, a: int) -> tuple[IntArray, FloatArray]:
        """(neighbours, weights) of ``a``, in neighbour order (copies)."""
        row = self.rows.get(a)
        if row is None:
            return _EMPTY_I, _EMPTY_F
        return _copy_out(row.keys, np.int64), _copy_out(row.vals, np.float64)

    def gather(self, sources: Sequence[int]) -> tuple[IntArray, FloatArray, IntArray]:
        """The rows of ``sources`` concatenated: (neighbours, weights, position in ``sources``)."""
        keys = array("q")
        vals = array("d")
        pos: list[int] = []
        lens: list[int] = []
        for p, a in enumerate(sources):
            row = self.rows.get(a)
            if row is not None and row.keys:
                keys.extend(row.keys)
                vals.extend(row.vals)
                pos.append(p)
                lens.append(len(row.keys))
        if not keys:
            return _EMPTY_I, _EMPTY_F, _EMPTY_I
        where = np.repeat(np.asarray(pos, dtype=np.int64), lens)
        return np.frombuffer(keys, dtype=np.int64), np.frombuffer(vals, dtype=np.float64), where

    def gather_weighted(self, sources: Sequence[int], weights: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
        """:meth:`gather` with each pair's source weight (``weights[p]`` for the row of
        ``sources[p]``) in place of the source's position."""
        rows = self.rows
        keys = array("q")
        vals = array("d")
        pos: list[int] = []
        lens: list[int] = []
        for p, a in enumerate(sources):
            row = rows.get(a)
            if row is not None:
                n = len(row.keys)
                if n:
                    keys.extend(row.keys)
                    vals.extend(row.vals)
                    pos.append(p)
                    lens.append(n)
        if not pos:
            return _EMPTY_I, _EMPTY_F, _EMPTY_F
        return (np.frombuffer(keys, dtype=np.int64), np.frombuffer(vals, dtype=np.float64),
                np.repeat(weights[pos], lens))

    # -- parameters as data ------------------------------------------------------------------------
    def state(self) -> dict[str, npt.NDArray[Any]]:
        """CSR-like arrays: row ids, row lengths, then all (neighbour, weight) row by row."""
        ids = list(self.rows)
        rows = [self.rows[a] for a in ids]
        keys, vals, _where = self.gather(ids)
        return {
            "row": np.asarray(ids, dtype=np.int64),
            "len": np.asarray([len(r.keys) for r in rows], dtype=np.int64),
            "key": keys.copy(),
            "val": vals.copy(),
        }

    @classmethod
    def from_state(cls, max_neighbors: int, arrays: dict[str, npt.NDArray[Any]]) -> CoocTable:
        table = cls(max_neighbors)
        all_keys = np.ascontiguousarray(arrays["key"], dtype=np.int64)
        all_vals = np.ascontiguousarray(arrays["val"], dtype=np.float64)
        start = 0
        for a, n in zip(arrays["row"].tolist(), arrays["len"].tolist(), strict=True):
            keys, vals = all_keys[start : start + n], all_vals[start : start + n]
            order = np.argsort(keys, kind="stable")  # snapshots of the earlier format kept insertion order
            table.rows[int(a)] = _Row(array("q", keys[order].tobytes()), array("d", vals[order].tobytes()))
            start += n
        return table
