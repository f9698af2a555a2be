"""Incremental item-to-item co-occurrence counts, one sparse row per item.

Each row keeps its neighbours in insertion order in numpy arrays (with a dict from neighbour to
slot), so reading a row is a zero-copy view and adding to a pair is O(1). A row that grows past
``2 * max_neighbors`` is pruned to its ``max_neighbors`` heaviest pairs.

>>> t = CoocTable(max_neighbors=2)
>>> t.bump(0, 1, 1.0); t.bump(0, 2, 0.5); t.bump(0, 1, 1.0)
>>> keys, vals = t.row(0)
>>> keys.tolist(), vals.tolist()
([1, 2], [2.0, 0.5])
>>> keys, vals, where = t.gather([5, 0])
>>> keys.tolist(), where.tolist()
([1, 2], [1, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from models.reco.base import FloatArray, IntArray

_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)


class _Row:
    __slots__ = ("keys", "n", "slot", "vals")

    def __init__(self, capacity: int = 8) -> None:
        self.slot: dict[int, int] = {}
        self.keys = np.empty(capacity, dtype=np.int64)
        self.vals = np.empty(capacity, dtype=np.float64)
        self.n = 0


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
        s = row.slot.get(b)
        if s is None:
            if row.n == row.keys.shape[0]:
                self._grow(row)
            s = row.n
            row.slot[b] = s
            row.keys[s] = b
            row.vals[s] = w
            row.n += 1
            if row.n > 2 * self.max_neighbors:
                self._prune(row)
        else:
            row.vals[s] += w

    @staticmethod
    def _grow(row: _Row) -> None:
        cap = 2 * row.keys.shape[0]
        keys = np.empty(cap, dtype=np.int64)
        vals = np.empty(cap, dtype=np.float64)
        keys[: row.n] = row.keys[: row.n]
        vals[: row.n] = row.vals[: row.n]
        row.keys, row.vals = keys, vals

    def _prune(self, row: _Row) -> None:
        keep = np.argsort(-row.vals[: row.n], kind="stable")[: self.max_neighbors]
        self._set(row, row.keys[keep], row.vals[keep])

    @staticmethod
    def _set(row: _Row, keys: npt.NDArray[Any], vals: npt.NDArray[Any]) -> None:
        n = int(keys.shape[0])
        cap = max(8, n * 2)
        row.keys = np.empty(cap, dtype=np.int64)
        row.vals = np.empty(cap, dtype=np.float64)
        row.keys[:n] = keys
        row.vals[:n] = vals
        row.n = n
        row.slot = {int(k): i for i, k in enumerate(keys.tolist())}

    def get(self, a: int, b: int) -> float:
        row = self.rows.get(a)
        if row is None:
            return 0.0
        s = row.slot.get(b)
        return 0.0 if s is None else float(row.vals[s])

    def row(self, a: int) -> tuple[IntArray, FloatArray]:
        """(neighbours, weights) of ``a`` as read-only-by-convention views."""
        row = self.rows.get(a)
        if row is None:
            return _EMPTY_I, _EMPTY_F
        return row.keys[: row.n], row.vals[: row.n]

    def gather(self, sources: Sequence[int]) -> tuple[IntArray, FloatArray, IntArray]:
        """The rows of ``sources`` concatenated: (neighbours, weights, position in ``sources``)."""
        keys: list[IntArray] = []
        vals: list[FloatArray] = []
        pos: list[int] = []
        lens: list[int] = []
        for p, a in enumerate(sources):
            row = self.rows.get(a)
            if row is not None and row.n:
                keys.append(row.keys[: row.n])
                vals.append(row.vals[: row.n])
                pos.append(p)
                lens.append(row.n)
        if not keys:
            return _EMPTY_I, _EMPTY_F, _EMPTY_I
        where = np.repeat(np.asarray(pos, dtype=np.int64), lens)
        return np.concatenate(keys), np.concatenate(vals), where

    # -- parameters as data ------------------------------------------------------------------------
    def state(self) -> dict[str, npt.NDArray[Any]]:
        """CSR-like arrays: row ids, row lengths, then all (neighbour, weight) in slot order."""
        ids = list(self.rows)
        rows = [self.rows[a] for a in ids]
        return {
            "row": np.asarray(ids, dtype=np.int64),
            "len": np.asarray([r.n for r in rows], dtype=np.int64),
            "key": np.concatenate([r.keys[: r.n] for r in rows]) if rows else _EMPTY_I.copy(),
            "val": np.concatenate([r.vals[: r.n] for r in rows]) if rows else _EMPTY_F.copy(),
        }

    @classmethod
    def from_state(cls, max_neighbors: int, arrays: dict[str, npt.NDArray[Any]]) -> CoocTable:
        table = cls(max_neighbors)
        start = 0
        for a, n in zip(arrays["row"].tolist(), arrays["len"].tolist(), strict=True):
            row = _Row()
            cls._set(row, arrays["key"][start : start + n], arrays["val"][start : start + n])
            table.rows[int(a)] = row
            start += n
        return table
