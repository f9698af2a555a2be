"""Time-decayed popularity: the baseline, and the answer for users with no history.

>>> m = TrendingPopularity(half_life=60.0)
>>> m.add_item("a"); m.add_item("b")
>>> for item, ts in [("a", 0.0), ("a", 1.0), ("b", 120.0)]:
...     m.learn_one(Interaction("u1", item, "click", 1.0, ts))
>>> [(r.item_id, round(r.score, 3)) for r in m.recommend("u9", k=5)]
[('b', 1.0), ('a', 0.503)]
>>> [r.item_id for r in m.recommend("u9", k=5, exclude={"b"})]
['a']
"""

from __future__ import annotations

import numpy as np

from models.reco.base import FloatArray, Interaction, Recommendation, Recommender, top_k_among
from models.reco.decay import DecayedCounts


class TrendingPopularity(Recommender):
    """Recommends the items with the highest decayed interaction weight at the latest event time.

    ``half_life`` is in seconds of event time (default one day).
    """

    def __init__(self, half_life: float = 86_400.0) -> None:
        super().__init__()
        self.counts = DecayedCounts(half_life)

    def learn_one(self, interaction: Interaction) -> None:
        idx = self.catalog.ensure(interaction.item_id, interaction.ts)
        self._tick(interaction.ts)
        self.counts.add(idx, interaction.weight, interaction.ts)

    def scores(self) -> FloatArray:
        """Decayed popularity of every known item at the current clock."""
        return self.counts.values_at(self._now(), len(self.catalog))

    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        # The items ever interacted with, not the whole catalogue: the learner asks this baseline for
        # a list at every evaluated event, and a shop's catalogue is mostly items nobody touched.
        items = self.counts.touched()
        scores = self.counts.raw(len(self.catalog))[items] * self.counts.factor_at(self._now())
        keep = self._candidate_filter(exclude)[items] & (scores > 0) & np.isfinite(scores)
        items, scores = items[keep], scores[keep]
        order = top_k_among(np.arange(items.size), scores, k)  # positions; ties: the lower item first
        ids = self.catalog.ids
        return [Recommendation(ids[i], s, "popular now")
                for i, s in zip(items[order].tolist(), scores[order].tolist(), strict=True)]

    def _now(self) -> float:
        return self.clock if self.clock is not None else 0.0
