"""A seeded synthetic shop for tests and benchmarks: users with latent category tastes.

Each item has a category, a brand, a price, a hidden quality (heavy-tailed) and a vector near its
category's centroid. Each user has a Dirichlet taste over categories. The stream is made of
sessions: a session picks a category from the user's taste and mostly stays in it; an item is
picked within the category in proportion to quality; some clicks are followed by an order.
``score(user, item)`` is the probability of the user picking that item at the start of a session,
which :class:`~models.reco.oracle.OracleRecommender` can use as a ceiling.

>>> world = make_world(n_users=20, n_items=50, n_categories=5, n_interactions=200, seed=3)
>>> len(world.items), len(world.interactions), world.interactions[0].kind
(50, 200, 'click')
>>> round(float(world.score_many("u0", [it.item_id for it in world.items]).sum()), 6)
1.0
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.reco.base import FloatArray, IntArray, Interaction, ItemSpec


@dataclass
class SyntheticWorld:
    items: list[ItemSpec]
    interactions: list[Interaction]
    tastes: FloatArray  # users x categories, rows sum to 1
    item_category: IntArray
    pick_prob: FloatArray  # P(item | its category)

    def __post_init__(self) -> None:
        self._item_index = {it.item_id: i for i, it in enumerate(self.items)}
        self._user_index = {f"u{u}": u for u in range(self.tastes.shape[0])}

    def _taste(self, user_id: str) -> FloatArray:
        """A known user's tastes; the average taste for anyone else."""
        u = self._user_index.get(user_id)
        taste: FloatArray = self.tastes.mean(axis=0) if u is None else self.tastes[u]
        return taste

    def score(self, user_id: str, item_id: str) -> float:
        i = self._item_index.get(item_id)
        if i is None:
            return 0.0
        return float(self._taste(user_id)[self.item_category[i]] * self.pick_prob[i])

    def score_many(self, user_id: str, item_ids: Sequence[str]) -> FloatArray:
        idx = np.fromiter((self._item_index.get(i, -1) for i in item_ids), dtype=np.int64, count=len(item_ids))
        known = idx >= 0
        out = np.zeros(len(item_ids), dtype=np.float64)
        out[known] = self._taste(user_id)[self.item_category[idx[known]]] * self.pick_prob[idx[known]]
        return out


def make_world(
    n_users: int = 500,
    n_items: int = 2_000,
    n_categories: int = 20,
    n_brands: int = 40,
    dim: int = 16,
    n_interactions: int = 20_000,
    seed: int = 0,
    concentration: float = 0.1,
    session_length: float = 5.0,
    stay_in_category: float = 0.85,
    order_rate: float = 0.1,
) -> SyntheticWorld:
    """Build a world and a time-ordered stream of ``n_interactions`` interactions."""
    rng = np.random.default_rng(seed)
    item_cat = rng.integers(0, n_categories, n_items)
    centroids = rng.normal(size=(n_categories, dim))
    vectors = centroids[item_cat] + 0.6 * rng.normal(size=(n_items, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    brand = rng.integers(0, n_brands, n_items)
    cat_price = rng.uniform(2.0, 5.0, n_categories)
    price = np.round(np.exp(cat_price[item_cat] + 0.3 * rng.normal(size=n_items)), 2)
    quality = rng.lognormal(0.0, 1.0, n_items)
    cat_quality = np.bincount(item_cat, weights=quality, minlength=n_categories)
    pick_prob = quality / cat_quality[item_cat]
    members = [np.flatnonzero(item_cat == c) for c in range(n_categories)]
    member_p = [quality[m] / quality[m].sum() for m in members]
    tastes = rng.dirichlet(np.full(n_categories, concentration), size=n_users)
    activity = rng.lognormal(0.0, 1.0, n_users)
    activity /= activity.sum()

    items = [
        ItemSpec(f"i{i}", f"cat{item_cat[i]}", f"brand{brand[i]}", float(price[i]), vectors[i].astype(np.float32))
        for i in range(n_items)
    ]
    # inverse-CDF sampling with bisect: much faster than rng.choice(p=...) one draw at a time
    act_cdf = np.cumsum(activity).tolist()
    taste_cdf = [np.cumsum(t).tolist() for t in tastes]
    member_ids = [m.tolist() for m in members]
    member_cdf = [np.cumsum(p).tolist() for p in member_p]
    rand = rng.random

    def draw(cdf: list[float]) -> int:
        return min(bisect.bisect_right(cdf, rand() * cdf[-1]), len(cdf) - 1)

    out: list[Interaction] = []
    ts = 0.0
    session_no = 0
    while len(out) < n_interactions:
        u = draw(act_cdf)
        session_no += 1
        session = f"s{session_no}"
        ts += float(rng.exponential(30.0))
        t = ts
        c = draw(taste_cdf[u])
        length = int(rng.geometric(1.0 / session_length))
        for _ in range(length):
            if rand() > stay_in_category:
                c = draw(taste_cdf[u])
            if not member_ids[c]:
                continue
            i = member_ids[c][draw(member_cdf[c])]
            t += 5.0 + 55.0 * rand()
            out.append(Interaction(f"u{u}", f"i{i}", "click", 1.0, t, session))
            if rand() < order_rate:
                t += 30.0
                out.append(Interaction(f"u{u}", f"i{i}", "order", 3.0, t, session))
    out = sorted(out[:n_interactions], key=lambda x: x.ts)
    return SyntheticWorld(items, out, tastes, item_cat.astype(np.int64), pick_prob)
