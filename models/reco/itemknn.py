"""Item-based k-NN, the batch baseline: retrained from scratch on all history every N interactions.

Similarity is cosine between item columns of the binary user-item matrix ``X`` of the last
retraining. A user's score for item ``c`` is the sum of the similarities of ``c`` to the items the
user has (their history is live, the similarities are as stale as the last retraining). With
``Xn = X / sqrt(item counts)`` that sum is ``Xn.T @ (Xn @ x_u)``: two sparse products, no
item-item matrix is ever built. Users with nothing similar get popular items (live counts).

>>> m = ItemKNN(retrain_every=4)
>>> m.add_item("a"); m.add_item("b")
>>> for u, i in [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")]:
...     m.learn_one(Interaction(u, i, "click", 1.0, 0.0))
>>> m.learn_one(Interaction("u3", "a", "click", 1.0, 1.0))
>>> [(r.item_id, r.reason) for r in m.recommend("u3", k=1, exclude={"a"})]
[('b', 'similar to a')]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from models.reco.base import FloatArray, IntArray, Interaction, Recommendation, Recommender, top_k_indices


class ItemKNN(Recommender):
    """Cosine item-item k-NN on the binary user-item matrix, retrained every ``retrain_every``."""

    def __init__(self, retrain_every: int = 1_000) -> None:
        super().__init__()
        if retrain_every <= 0:
            raise ValueError("retrain_every must be > 0")
        self.retrain_every = retrain_every
        self.user_index: dict[str, int] = {}
        self.user_items: list[set[int]] = []
        self._rows: list[int] = []
        self._cols: list[int] = []
        self._counts = np.zeros(1024, dtype=np.float64)
        self._since_retrain = 0
        self.retrained = 0
        # the last retraining: Xn (users x items, CSR) and its transpose (CSR), item count n_items
        self._xn: sp.csr_matrix | None = None
        self._xn_t: sp.csr_matrix | None = None
        self._xn_csc: sp.csc_matrix | None = None
        self._n_items = 0

    def learn_one(self, interaction: Interaction) -> None:
        idx = self.catalog.ensure(interaction.item_id, interaction.ts)
        self._tick(interaction.ts)
        u = self.user_index.get(interaction.user_id)
        if u is None:
            u = self.user_index[interaction.user_id] = len(self.user_items)
            self.user_items.append(set())
        self._ensure_counts(idx + 1)
        self._counts[idx] += interaction.weight
        self._rows.append(u)
        self._cols.append(idx)
        self.user_items[u].add(idx)
        self._since_retrain += 1
        if self._since_retrain >= self.retrain_every:
            self.retrain()

    def _ensure_counts(self, n: int) -> None:
        if n > self._counts.shape[0]:
            grown = np.zeros(max(n, 2 * self._counts.shape[0]), dtype=np.float64)
            grown[: self._counts.shape[0]] = self._counts
            self._counts = grown

    def retrain(self) -> None:
        """Rebuild the similarity model from all history so far."""
        n_users, n_items = len(self.user_items), len(self.catalog)
        x = sp.csr_matrix(
            (np.ones(len(self._rows), dtype=np.float64), (self._rows, self._cols)), shape=(n_users, n_items)
        )
        x.sum_duplicates()
        x.data[:] = 1.0
        item_users = np.asarray(x.sum(axis=0)).ravel()
        inv = np.zeros(n_items, dtype=np.float64)
        nz = item_users > 0
        inv[nz] = 1.0 / np.sqrt(item_users[nz])
        xn = sp.csr_matrix(x @ sp.diags(inv))
        self._xn = xn
        self._xn_t = sp.csr_matrix(xn.T)
        self._xn_csc = sp.csc_matrix(xn)
        self._n_items = n_items
        self._since_retrain = 0
        self.retrained += 1

    def scores(self, user_id: str) -> FloatArray:
        """Sum of similarities to the user's items, for every known item (zeros if none)."""
        n = len(self.catalog)
        out = np.zeros(n, dtype=np.float64)
        u = self.user_index.get(user_id)
        if u is None or self._xn is None or self._xn_t is None:
            return out
        own = [i for i in self.user_items[u] if i < self._n_items]
        if not own:
            return out
        x_u = np.zeros(self._n_items, dtype=np.float64)
        own_arr = np.asarray(own, dtype=np.int64)
        x_u[own_arr] = 1.0
        # (Xn @ x_u) needs x_u scaled like Xn's columns; Xn already carries 1/sqrt(n_j) per column.
        w = self._xn @ x_u
        out[: self._n_items] = self._xn_t @ w
        return out

    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        mask = self._candidate_mask(exclude)
        scores = self.scores(user_id)
        scores[~mask | (scores <= 0)] = -np.inf
        top = top_k_indices(scores, k)
        ids = self.catalog.ids
        reasons = self._reasons(user_id, top)
        out = [Recommendation(ids[i], float(scores[i]), r) for i, r in zip(top.tolist(), reasons, strict=True)]
        if len(out) < k:
            self._ensure_counts(len(ids))
            pop = self._counts[: len(ids)].copy()
            pop[~mask | (pop <= 0)] = -np.inf
            pop[top] = -np.inf
            out += [Recommendation(ids[i], 0.0, "popular now") for i in top_k_indices(pop, k - len(out)).tolist()]
        return out

    def _reasons(self, user_id: str, top: IntArray) -> list[str]:
        """For each recommended item, name the user's item most similar to it."""
        if top.size == 0 or self._xn_csc is None:
            return []
        own = np.asarray(sorted(i for i in self.user_items[self.user_index[user_id]] if i < self._n_items))
        sims = np.asarray((self._xn_csc[:, top].T @ self._xn_csc[:, own]).todense())
        sims[top[:, None] == own[None, :]] = -np.inf
        best = own[np.argmax(sims, axis=1)]
        return [f"similar to {self.catalog.ids[int(j)]}" for j in best.tolist()]
