"""The recommender contract and the pieces every implementation shares.

Every recommender learns from one :class:`Interaction` at a time (``learn_one``) and answers
``recommend(user_id, k, exclude)`` with :class:`Recommendation` rows, in the style of River.
Items are made known through ``add_item`` / ``remove_item`` / ``set_in_stock``; the shared
:class:`ItemCatalog` keeps their metadata in numpy arrays and decides availability: a removed or
out-of-stock item is never recommended.

An interaction with an item the recommender has not been told about registers the item implicitly
(a click can overtake the product event: they travel on different topics), so what it teaches is
kept; but the item is not recommended until ``add_item`` lists it: a click on a product id that
does not exist must never make it "popular now".

>>> from models.reco.trending import TrendingPopularity
>>> model = TrendingPopularity(half_life=3600.0)
>>> model.add_item("p1", category="shoes", brand="acme", price=30.0)
>>> model.add_item("p2", category="shoes")
>>> model.learn_one(Interaction("u1", "p1", "click", 1.0, ts=0.0))
>>> model.recommend("u2", k=2)
[Recommendation(item_id='p1', score=1.0, reason='popular now')]
>>> model.set_in_stock("p1", False)
>>> model.recommend("u2", k=2)
[]
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

Kind = Literal["click", "order", "rating"]
KINDS: tuple[str, ...] = get_args(Kind)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Interaction:
    """One thing a user did with an item.

    ``ts`` is the event time in seconds (not the wall clock): every decay is computed from it.
    ``weight`` says how much the interaction counts (the caller decides: e.g. 1 for a click,
    3 x quantity for an order line, the rating for a rating).

    >>> Interaction("u1", "p1", "order", 3.0, ts=10.0, session_id="s1").kind
    'order'
    >>> Interaction("u1", "p1", "like", 1.0, ts=0.0)
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of ('click', 'order', 'rating'), got 'like'
    """

    user_id: str
    item_id: str
    kind: Kind
    weight: float
    ts: float
    session_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not (math.isfinite(self.weight) and self.weight >= 0.0):
            raise ValueError(f"weight must be finite and >= 0, got {self.weight!r}")
        if not math.isfinite(self.ts):
            raise ValueError(f"ts must be finite, got {self.ts!r}")
        if not self.user_id or not self.item_id:
            raise ValueError("user_id and item_id must be non-empty")


@dataclass(frozen=True)
class ItemSpec:
    """An item's metadata as :meth:`Recommender.add_item` takes it (a convenience record)."""

    item_id: str
    category: str | None = None
    brand: str | None = None
    price: float | None = None
    vector: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended item, its score (only comparable within one answer) and why it is there."""

    item_id: str
    score: float
    reason: str


def top_k_indices(scores: FloatArray, k: int) -> IntArray:
    """Indices of the ``k`` largest finite scores, by score descending then index ascending.

    Ties are broken by index so that the answer does not depend on how numpy partitions.

    >>> top_k_indices(np.array([0.5, 2.0, 0.5, -np.inf, 1.0]), 3).tolist()
    [1, 4, 0]
    """
    finite = np.flatnonzero(np.isfinite(scores))
    return top_k_among(finite, scores[finite], k)


def top_k_among(indices: IntArray, vals: FloatArray, k: int) -> IntArray:
    """:func:`top_k_indices` of a sparse set of finite scores: ``vals[i]`` is the score of index
    ``indices[i]``. The answer depends only on the (index, score) pairs, so a caller that knows
    which few entries are candidates skips building and scanning a dense array of -inf.

    >>> top_k_among(np.array([1, 4, 0]), np.array([2.0, 1.0, 0.5]), 2).tolist()
    [1, 4]
    """
    if k <= 0 or indices.size == 0:
        return np.empty(0, dtype=np.int64)
    if indices.size > k:
        threshold = np.partition(vals, indices.size - k)[indices.size - k]
        keep = vals >= threshold
        indices, vals = indices[keep], vals[keep]
    order = np.lexsort((indices, -vals))[:k]
    return indices[order].astype(np.int64, copy=False)


class ItemCatalog:
    """Item ids, metadata and availability, as growable numpy arrays indexed by a dense item index.

    Indices are never reused: a removed item keeps its index (and its learned counts) so that a
    re-listed product carries on where it left. Vectors are stored unit-normalised (float32);
    ``dim`` is fixed by the first vector seen unless given.

    >>> cat = ItemCatalog()
    >>> cat.upsert("a", category="books", brand=None, price=12.0, vector=np.array([3.0, 4.0]))
    0
    >>> cat.vectors[0].tolist(), cat.category_name(0), cat.available.tolist()
    ([0.6000000238418579, 0.800000011920929], 'books', [True])
    >>> cat.remove("a"); cat.available.tolist()
    0
    [False]
    """

    def __init__(self, dim: int | None = None, capacity: int = 1024) -> None:
        self.dim = dim
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.categories: list[str] = []
        self.category_index: dict[str, int] = {}
        self.brands: list[str] = []
        self.brand_index: dict[str, int] = {}
        self._cap = max(1, capacity)
        self._category = np.full(self._cap, -1, dtype=np.int64)
        self._brand = np.full(self._cap, -1, dtype=np.int64)
        self._log_price = np.full(self._cap, np.nan, dtype=np.float64)
        self._in_stock = np.ones(self._cap, dtype=np.bool_)
        self._active = np.zeros(self._cap, dtype=np.bool_)
        self._has_vector = np.zeros(self._cap, dtype=np.bool_)
        self._added_ts = np.full(self._cap, np.nan, dtype=np.float64)
        self._vectors = np.zeros((self._cap, dim or 0), dtype=np.float32)
        # Each item's index in the order its added time was set (once), beside the running maximum
        # of those times: `added_since` reads only the tail past where the maximum reached its time.
        self._added_order = np.zeros(self._cap, dtype=np.int64)
        self._added_max = np.zeros(self._cap, dtype=np.float64)
        self._n_added = 0

    # -- views over the first len(self) rows --------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.index

    @property
    def category(self) -> IntArray:
        """Category index per item, -1 when unknown."""
        return self._category[: len(self.ids)]

    @property
    def brand(self) -> IntArray:
        """Brand index per item, -1 when unknown."""
        return self._brand[: len(self.ids)]

    @property
    def log_price(self) -> FloatArray:
        """log(price) per item, NaN when unknown."""
        return self._log_price[: len(self.ids)]

    @property
    def in_stock(self) -> BoolArray:
        return self._in_stock[: len(self.ids)]

    @property
    def active(self) -> BoolArray:
        """Listed: added with ``upsert`` and not removed since (items only seen in interactions are not)."""
        return self._active[: len(self.ids)]

    @property
    def has_vector(self) -> BoolArray:
        return self._has_vector[: len(self.ids)]

    @property
    def added_ts(self) -> FloatArray:
        """Event time the item was first made known, NaN if unknown."""
        return self._added_ts[: len(self.ids)]

    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """Unit vectors (zeros where an item has none), shape (len, dim)."""
        return self._vectors[: len(self.ids)]

    @property
    def available(self) -> BoolArray:
        """Items that may be recommended: listed and in stock."""
        n = len(self.ids)
        return self._active[:n] & self._in_stock[:n]

    def is_available(self, idx: int) -> bool:
        return bool(self._active[idx] and self._in_stock[idx])

    def category_name(self, idx: int) -> str | None:
        c = int(self._category[idx])
        return self.categories[c] if c >= 0 else None

    def brand_name(self, idx: int) -> str | None:
        b = int(self._brand[idx])
        return self.brands[b] if b >= 0 else None

    # -- mutation -------------------------------------------------------------------------------
    def _grow(self) -> None:
        cap = self._cap * 2

        def grow(arr: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
            out = np.full((cap, *arr.shape[1:]), fill, dtype=arr.dtype)
            out[: self._cap] = arr
            return out

        self._category = grow(self._category, -1)
        self._brand = grow(self._brand, -1)
        self._log_price = grow(self._log_price, np.nan)
        self._in_stock = grow(self._in_stock, True)
        self._active = grow(self._active, False)
        self._has_vector = grow(self._has_vector, False)
        self._added_ts = grow(self._added_ts, np.nan)
        self._vectors = grow(self._vectors, 0.0)
        self._added_order = grow(self._added_order, 0)
        self._added_max = grow(self._added_max, 0.0)
        self._cap = cap

    def ensure(self, item_id: str, ts: float | None = None) -> int:
        """Index of ``item_id``, registering it (not listed, no metadata) if unknown."""
        idx = self.index.get(item_id)
        if idx is not None:
            return idx
        idx = len(self.ids)
        if idx >= self._cap:
            self._grow()
        self.ids.append(item_id)
        self.index[item_id] = idx
        self._active[idx] = False
        self._in_stock[idx] = True
        self._added_ts[idx] = np.nan
        if ts is not None:
            self._set_added(idx, ts)
        return idx

    def _set_added(self, idx: int, ts: float) -> None:
        """Give item ``idx`` (which has none) its added time ``ts``."""
        self._added_ts[idx] = ts
        if math.isnan(ts):
            return
        n = self._n_added  # at most one entry per item, so it fits in the catalog's capacity
        self._added_order[n] = idx
        self._added_max[n] = ts if n == 0 or ts > self._added_max[n - 1] else self._added_max[n - 1]
        self._n_added = n + 1

    def added_since(self, t: float) -> IntArray:
        """Items whose added time is at or after ``t``, ascending: ``flatnonzero(added_ts >= t)``
        without reading every item's time (items mostly arrive in time order, so only the newest are read).

        >>> cat = ItemCatalog()
        >>> for i, ts in enumerate([5.0, 1.0, 7.0, 9.0]): _ = cat.ensure(f"p{i}", ts)
        >>> cat.added_since(6.0).tolist(), cat.added_since(5.0).tolist()
        ([2, 3], [0, 2, 3])
        """
        n = self._n_added
        start = int(np.searchsorted(self._added_max[:n], t, side="left"))
        tail = self._added_order[start:n]
        return np.sort(tail[self._added_ts[tail] >= t])

    def _vocab(self, value: str | None, names: list[str], index: dict[str, int]) -> int:
        if value is None or value == "":
            return -1
        code = index.get(value)
        if code is None:
            code = len(names)
            names.append(value)
            index[value] = code
        return code

    def upsert(
        self,
        item_id: str,
        category: str | None,
        brand: str | None,
        price: float | None,
        vector: npt.ArrayLike | None,
        in_stock: bool | None = None,
        ts: float | None = None,
    ) -> int:
        """Add or update an item (and re-list it if it was removed). Returns its index.

        ``in_stock=None`` leaves the stock flag as it is (a new item starts in stock).
        """
        vec: npt.NDArray[np.float32] | None = None
        if vector is not None:
            vec = np.asarray(vector, dtype=np.float32).ravel()
            if self.dim is None:
                self.dim = int(vec.shape[0])
                self._vectors = np.zeros((self._cap, self.dim), dtype=np.float32)
            if vec.shape[0] != self.dim:
                raise ValueError(f"vector of {item_id!r} has dim {vec.shape[0]}, expected {self.dim}")
        is_new = item_id not in self.index
        idx = self.ensure(item_id, ts)
        if not is_new and np.isnan(self._added_ts[idx]) and ts is not None:
            self._set_added(idx, ts)
        self._active[idx] = True
        if in_stock is not None:
            self._in_stock[idx] = in_stock
        self._category[idx] = self._vocab(category, self.categories, self.category_index)
        self._brand[idx] = self._vocab(brand, self.brands, self.brand_index)
        self._log_price[idx] = math.log(price) if price is not None and price > 0 else np.nan
        if vec is not None:
            norm = float(np.linalg.norm(vec))
            if norm > 0 and math.isfinite(norm):
                self._vectors[idx] = vec / norm
                self._has_vector[idx] = True
            else:
                self._vectors[idx] = 0.0
                self._has_vector[idx] = False
        return idx

    def remove(self, item_id: str) -> int | None:
        idx = self.index.get(item_id)
        if idx is not None:
            self._active[idx] = False
        return idx

    def set_in_stock(self, item_id: str, in_stock: bool) -> int | None:
        idx = self.index.get(item_id)
        if idx is not None:
            self._in_stock[idx] = in_stock
        return idx

    # -- parameters as data ----------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        meta = {
            "dim": self.dim,
            "ids": list(self.ids),
            "categories": list(self.categories),
            "brands": list(self.brands),
        }
        arrays: dict[str, npt.NDArray[Any]] = {
            "category": self.category.copy(),
            "brand": self.brand.copy(),
            "log_price": self.log_price.copy(),
            "in_stock": self.in_stock.copy(),
            "active": self.active.copy(),
            "has_vector": self.has_vector.copy(),
            "added_ts": self.added_ts.copy(),
            "vectors": self.vectors.copy(),
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> ItemCatalog:
        ids: list[str] = list(meta["ids"])
        cat = cls(dim=meta["dim"], capacity=max(1024, len(ids)))
        cat.ids = ids
        cat.index = {item_id: i for i, item_id in enumerate(ids)}
        cat.categories = list(meta["categories"])
        cat.category_index = {c: i for i, c in enumerate(cat.categories)}
        cat.brands = list(meta["brands"])
        cat.brand_index = {b: i for i, b in enumerate(cat.brands)}
        n = len(ids)
        cat._category[:n] = arrays["category"]
        cat._brand[:n] = arrays["brand"]
        cat._log_price[:n] = arrays["log_price"]
        cat._in_stock[:n] = arrays["in_stock"]
        cat._active[:n] = arrays["active"]
        cat._has_vector[:n] = arrays["has_vector"]
        cat._added_ts[:n] = arrays["added_ts"]
        known = np.flatnonzero(~np.isnan(cat._added_ts[:n]))
        order = known[np.argsort(cat._added_ts[known], kind="stable")]
        cat._n_added = order.size
        cat._added_order[: order.size] = order
        cat._added_max[: order.size] = cat._added_ts[order]  # sorted: its own running maximum
        if cat.dim:
            cat._vectors[:n] = arrays["vectors"]
        return cat


# Below this many catalogue items a pass over a dense per-item array (a flag each) costs less than
# working on the few hundred items an answer involves: measured here, about 30 us at 200,000 items
# (200 us at a million) against 30-40 us for the sparse way whatever the size.
DENSE_BELOW = 200_000


class CandidateFilter:
    """Which of some items may be recommended: listed, in stock and not excluded. ``filter[items]``
    is ``mask[items]`` of the dense mask (:meth:`Recommender._candidate_mask`); from ``dense_below``
    catalogue items on it is answered from the catalogue's flags and the excluded items, without
    building the mask (a copy of the catalogue's flags per answer).

    >>> cat = ItemCatalog()
    >>> for item in ("a", "b", "c"): _ = cat.upsert(item, None, None, None, None)
    >>> _ = cat.set_in_stock("b", False)
    >>> [CandidateFilter(cat, [2], dense_below=d)[np.array([2, 1, 0])].tolist() for d in (10, 0)]
    [[False, False, True], [False, False, True]]
    """

    def __init__(self, catalog: ItemCatalog, excluded: list[int], dense_below: int = DENSE_BELOW) -> None:
        self._mask: BoolArray | None = None
        if len(catalog) < dense_below:
            self._mask = catalog.available  # a new array each time: ours to change
            if excluded:
                self._mask[np.asarray(excluded, dtype=np.int64)] = False
            return
        self._active = catalog.active
        self._in_stock = catalog.in_stock
        self._excluded = np.asarray(sorted(set(excluded)), dtype=np.int64)

    def __getitem__(self, items: IntArray) -> BoolArray:
        if self._mask is not None:
            return self._mask[items]
        keep: BoolArray = self._active[items] & self._in_stock[items]
        if self._excluded.size:
            keep &= ~sorted_contains(self._excluded, items)
        return keep


def sorted_contains(keys: IntArray, items: IntArray) -> BoolArray:
    """For each of ``items``, whether ``keys`` (ascending) holds it: a binary search each, where
    ``np.isin`` sorts both sides (about 100 us a call here, on a few hundred items).

    >>> sorted_contains(np.array([2, 5, 9]), np.array([9, 1, 5, 10])).tolist()
    [True, False, True, False]
    """
    if not keys.size:
        return np.zeros(np.shape(items), dtype=np.bool_)
    i = np.searchsorted(keys, items)
    np.minimum(i, keys.size - 1, out=i)
    found: BoolArray = keys[i] == items
    return found


class Recommender(ABC):
    """The one contract every recommender implements.

    Subclasses implement :meth:`learn_one` and :meth:`recommend`; item bookkeeping is shared.
    ``clock`` is the latest event time seen (``learn_one`` never moves it backwards); anything
    "now"-dependent (trending, freshness) is computed at ``clock``, never at the wall clock.
    """

    def __init__(self, dim: int | None = None) -> None:
        self.catalog = ItemCatalog(dim=dim)
        self.clock: float | None = None

    # -- items ------------------------------------------------------------------------------------
    def add_item(
        self,
        item_id: str,
        category: str | None = None,
        brand: str | None = None,
        price: float | None = None,
        vector: npt.ArrayLike | None = None,
        *,
        in_stock: bool | None = None,
    ) -> None:
        """Add or update an item; ``in_stock=None`` keeps the current flag (new items: in stock)."""
        idx = self.catalog.upsert(item_id, category, brand, price, vector, in_stock, ts=self.clock)
        self._item_changed(idx)

    def remove_item(self, item_id: str) -> None:
        """Delist an item: it is never recommended again unless it is added again."""
        idx = self.catalog.remove(item_id)
        if idx is not None:
            self._item_changed(idx)

    def set_in_stock(self, item_id: str, in_stock: bool) -> None:
        idx = self.catalog.set_in_stock(item_id, in_stock)
        if idx is not None:
            self._item_changed(idx)

    def _item_changed(self, idx: int) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Hook: item ``idx`` was added, updated, removed or changed stock."""

    # -- learning and answering --------------------------------------------------------------------
    @abstractmethod
    def learn_one(self, interaction: Interaction) -> None:
        """Update the model with one interaction. Cheap, and deterministic given the seed."""

    def observe(self, interaction: Interaction) -> None:
        """Update the state that serving reads, without training learned parameters. Models whose
        whole state is counts (the baselines) learn and observe alike; see
        :meth:`~models.reco.online.OnlineRecommender.observe` for one that differs."""
        self.learn_one(interaction)

    @abstractmethod
    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        """Up to ``k`` available items not in ``exclude``, best first."""

    def add_items(self, items: Iterable[ItemSpec]) -> None:
        for it in items:
            self.add_item(it.item_id, it.category, it.brand, it.price, it.vector)

    def learn_many(self, interactions: Iterable[Interaction]) -> None:
        for interaction in interactions:
            self.learn_one(interaction)

    # -- helpers for subclasses -------------------------------------------------------------------
    def _tick(self, ts: float) -> None:
        if self.clock is None or ts > self.clock:
            self.clock = ts

    def _candidate_filter(self, exclude: set[str] | None, dense_below: int = DENSE_BELOW) -> CandidateFilter:
        """:meth:`_candidate_mask`, asked of a few items at a time (for answers built from few candidates)."""
        index = self.catalog.index
        excluded = [i for i in (index.get(x) for x in exclude or ()) if i is not None]
        return CandidateFilter(self.catalog, excluded, dense_below)

    def _candidate_mask(self, exclude: set[str] | None) -> BoolArray:
        """Available items minus ``exclude``, as a boolean mask over the catalog."""
        mask = self.catalog.available.copy()
        if exclude:
            index = self.catalog.index
            idx = [i for i in (index.get(x) for x in exclude) if i is not None]
            if idx:
                mask[np.asarray(idx, dtype=np.int64)] = False
        return mask
