"""Exponentially time-decayed counters, decayed lazily by event time.

A value added at time ``t`` with weight ``w`` is worth ``w * 2 ** (-(now - t) / half_life)`` at
``now``. Instead of decaying every counter at every event, each addition is stored scaled up by
``2 ** ((t - t_ref) / half_life)`` against a reference time; reading divides the scale back out.
When the scale gets large the arrays are rescaled and ``t_ref`` moves forward, so long streams
never overflow. Events may arrive out of order: each counts with its own timestamp.

>>> c = DecayedCounts(half_life=10.0)
>>> c.add(0, 1.0, ts=0.0)
>>> c.add(1, 1.0, ts=10.0)
>>> c.values_at(10.0, 2).tolist()
[0.5, 1.0]
>>> c.values_at(20.0, 2).tolist()
[0.25, 0.5]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from models.reco.base import FloatArray, IntArray

# exp(_MAX_EXPONENT) stays far from float64 overflow even after many additions.
_MAX_EXPONENT = 200.0


class DecayedCounts:
    """A growable array of decayed counts, one per dense index (items, for instance)."""

    def __init__(self, half_life: float, capacity: int = 1024) -> None:
        if not half_life > 0:
            raise ValueError("half_life must be > 0")
        self.half_life = float(half_life)
        self.rate = math.log(2.0) / self.half_life
        self.t_ref: float | None = None
        self._values = np.zeros(max(1, capacity), dtype=np.float64)
        self.max_raw = 0.0  # max of the scaled values; every value decays alike, so this stays exact
        # Which indices were ever added to, so that a reader of the few nonzero values need not scan
        # them all: a flag per index, the sorted indices, and those added since they were sorted.
        self._added = np.zeros(self._values.shape[0], dtype=np.bool_)
        self._added_sorted: IntArray = np.empty(0, dtype=np.int64)
        self._added_new: list[int] = []

    def _ensure(self, n: int) -> None:
        if n > self._values.shape[0]:
            cap = self._values.shape[0]
            while cap < n:
                cap *= 2
            out = np.zeros(cap, dtype=np.float64)
            out[: self._values.shape[0]] = self._values
            self._values = out
            added = np.zeros(cap, dtype=np.bool_)
            added[: self._added.shape[0]] = self._added
            self._added = added

    def add(self, idx: int, weight: float, ts: float) -> None:
        if self.t_ref is None:
            self.t_ref = ts
        exponent = self.rate * (ts - self.t_ref)
        if exponent > _MAX_EXPONENT:
            self._rescale(ts)
            exponent = 0.0
        self._ensure(idx + 1)
        if not self._added[idx]:
            self._added[idx] = True
            self._added_new.append(idx)
        v = self._values[idx] + weight * math.exp(exponent)
        self._values[idx] = v
        if v > self.max_raw:
            self.max_raw = v

    def _rescale(self, ts: float) -> None:
        assert self.t_ref is not None
        factor = math.exp(-self.rate * (ts - self.t_ref))
        self._values *= factor
        self.max_raw *= factor
        self.t_ref = ts

    def factor_at(self, now: float) -> float:
        """Multiply a raw value by this to get its decayed value at ``now``."""
        if self.t_ref is None:
            return 1.0
        return math.exp(-self.rate * (now - self.t_ref))

    def raw(self, n: int) -> FloatArray:
        """The scaled values of the first ``n`` indices (a view; only ratios are meaningful)."""
        self._ensure(n)
        return self._values[:n]

    def touched(self) -> IntArray:
        """Every index ever added to, ascending: all those whose value is not zero, and perhaps a few
        whose additions summed to zero. Far fewer than the indices when most items are never touched.

        >>> c = DecayedCounts(half_life=10.0)
        >>> c.add(7, 1.0, ts=0.0); c.add(2, 1.0, ts=1.0); c.add(7, 1.0, ts=2.0)
        >>> c.touched().tolist()
        [2, 7]
        """
        if self._added_new:
            fresh = np.asarray(self._added_new, dtype=np.int64)
            self._added_sorted = np.union1d(self._added_sorted, fresh).astype(np.int64, copy=False)
            self._added_new = []
        return self._added_sorted

    def values_at(self, now: float, n: int) -> FloatArray:
        """Decayed values at ``now`` of the first ``n`` indices (a new array)."""
        return self.raw(n) * self.factor_at(now)

    def max_at(self, now: float) -> float:
        return self.max_raw * self.factor_at(now)

    def state(self, n: int) -> tuple[dict[str, Any], FloatArray]:
        return {"half_life": self.half_life, "t_ref": self.t_ref, "max_raw": self.max_raw}, self.raw(n).copy()

    @classmethod
    def from_state(cls, meta: dict[str, Any], values: npt.NDArray[Any]) -> DecayedCounts:
        out = cls(float(meta["half_life"]), capacity=max(1024, int(values.shape[0])))
        out.t_ref = None if meta["t_ref"] is None else float(meta["t_ref"])
        out.max_raw = float(meta["max_raw"])
        out._values[: values.shape[0]] = values
        nonzero = np.flatnonzero(values != 0)
        out._added[nonzero] = True
        out._added_sorted = nonzero.astype(np.int64)
        return out
