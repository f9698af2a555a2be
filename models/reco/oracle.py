"""A ceiling: recommends by an external scoring function (e.g. the simulator's hidden tastes).

>>> tastes = {("u1", "a"): 0.1, ("u1", "b"): 0.9}
>>> m = OracleRecommender(lambda user, item: tastes.get((user, item), 0.0))
>>> m.add_item("a"); m.add_item("b"); m.add_item("c")
>>> [r.item_id for r in m.recommend("u1", k=2)]
['b', 'a']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from models.reco.base import FloatArray, Interaction, Recommendation, Recommender, top_k_indices

ScoreOne = Callable[[str, str], float]
ScoreMany = Callable[[str, Sequence[str]], FloatArray]


class OracleRecommender(Recommender):
    """Ranks every available item by ``score(user_id, item_id)``; learns nothing.

    ``score_many(user_id, item_ids) -> scores``, if given, is used instead of calling ``score``
    once per item (much faster for simulation-sized catalogs).
    """

    def __init__(self, score: ScoreOne, score_many: ScoreMany | None = None) -> None:
        super().__init__()
        self.score = score
        self.score_many = score_many

    def learn_one(self, interaction: Interaction) -> None:
        self.catalog.ensure(interaction.item_id, interaction.ts)
        self._tick(interaction.ts)

    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        mask = self._candidate_mask(exclude)
        idx = np.flatnonzero(mask)
        ids = self.catalog.ids
        names = [ids[i] for i in idx.tolist()]
        if self.score_many is not None:
            vals = np.asarray(self.score_many(user_id, names), dtype=np.float64)
        else:
            vals = np.array([self.score(user_id, name) for name in names], dtype=np.float64)
        top = top_k_indices(vals, k)
        return [Recommendation(names[t], float(vals[t]), "oracle") for t in top.tolist()]
