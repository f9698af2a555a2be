"""Recommendation quality as served, by the protocol of ../shared/EVALUATION.md, in process.

A rating log is replayed in time order (ties in file order) as clicks, after the catalogue. Test
points: every `every`-th event after a `warmup` share of the log whose user has been seen before.
At test point i exactly the events before i have been applied, and the list is the one the API
would serve then: the learner's newest snapshot (taken every `snapshot_every` events) caught up
with the events since by `observe` -- the API's path, `models.reco.serving.serve` with the default
exclusions. HR@10: the item of event i is in the list as served; NDCG@10 = 1/log2(rank+1) on a hit.

Baselines on the same points: random, popularity (all-time counts), trending (decayed) and an
item-kNN retrained from scratch every 1,000 events. A baseline's list is served through the same
path, so it leaves out what the user has seen too.

The suite (`shopstream bench --only reco-served`) replays `ml-latest-small` restricted to its
`top_items` most-rated movies (1,700 by default, about the 1,682 of MovieLens 100k, the usual
shape of a published rating log: ~950 users rating a catalogue they mostly know), so its figures
are the ones to compare with a measurement on such a log. `top_items=0` replays the whole file.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from events import Click, Event, ProductRemoved, ProductUpserted
from infra.config import Settings
from models.reco import Interaction, ItemKNN, OnlineRecommender, Recommendation, Recommender, TrendingPopularity
from models.reco.base import FloatArray, top_k_indices
from models.reco.serving import DEFAULT_EXCLUDE, ExcludePolicy, UserItems, serve
from readmodels.learner.convert import interactions, item_spec
from readmodels.learner.model import LiveModel
from shopstream.bench.reco import DEFAULT_MOVIELENS, movielens_events


class RandomItems(Recommender):
    """Uniformly random listed items (seeded): the floor."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.rng = random.Random(seed)

    def learn_one(self, interaction: Interaction) -> None:
        self.catalog.ensure(interaction.item_id, interaction.ts)

    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        ids = self.catalog.ids
        pool = np.flatnonzero(self._candidate_mask(exclude)).tolist()
        picks = self.rng.sample(pool, min(k, len(pool)))
        return [Recommendation(ids[i], 0.0, "random") for i in picks]


class AllTimePopularity(Recommender):
    """Items by how often anyone interacted with them, ever."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = np.zeros(1024, dtype=np.float64)

    def learn_one(self, interaction: Interaction) -> None:
        idx = self.catalog.ensure(interaction.item_id, interaction.ts)
        if idx >= self.counts.shape[0]:
            self.counts = np.concatenate([self.counts, np.zeros(idx + 1024, dtype=np.float64)])
        self.counts[idx] += 1.0

    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        n = len(self.catalog)
        scores: FloatArray = np.zeros(n, dtype=np.float64)
        m = min(n, self.counts.shape[0])
        scores[:m] = self.counts[:m]
        scores[~self._candidate_mask(exclude) | (scores <= 0)] = -np.inf
        ids = self.catalog.ids
        return [Recommendation(ids[i], float(scores[i]), "popular") for i in top_k_indices(scores, k)]


@dataclass
class Score:
    points: int = 0
    hits: int = 0
    ndcg: float = 0.0

    def add(self, recs: Sequence[Recommendation], item: str, k: int) -> None:
        self.points += 1
        rank = next((r for r, rec in enumerate(recs[:k]) if rec.item_id == item), None)
        if rank is not None:
            self.hits += 1
            self.ndcg += 1.0 / math.log2(rank + 2)

    @property
    def hr(self) -> float:
        return self.hits / self.points if self.points else 0.0


@dataclass
class ServedResult:
    scores: dict[str, Score] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0


def run_served_protocol(
    products: Sequence[Event],
    log: Sequence[Event],
    model_factory: Callable[[], OnlineRecommender],
    *,
    k: int = 10,
    every: int = 50,
    warmup: float = 0.1,
    snapshot_every: int = 2_000,
    knn_retrain_every: int = 1_000,
    policy: ExcludePolicy = DEFAULT_EXCLUDE,
    baselines: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ServedResult:
    started = time.perf_counter()
    learner = model_factory()
    others: dict[str, Recommender] = {}
    if baselines:
        others = {"random": RandomItems(), "popularity": AllTimePopularity(), "trending": TrendingPopularity(),
                  "itemknn": ItemKNN(retrain_every=knn_retrain_every)}
    for event in products:
        payload = event.payload
        if isinstance(payload, ProductUpserted):
            spec = item_spec(payload)
            for m in (learner, *others.values()):
                m.add_item(spec.item_id, spec.category, spec.brand, spec.price, spec.vector,
                           in_stock=payload.stock > 0)
        elif isinstance(payload, ProductRemoved):
            for m in (learner, *others.values()):
                m.remove_item(payload.product_id)
    served = _copy(learner)
    history: dict[str, UserItems] = {}
    result = ServedResult({name: Score() for name in ("model", *others)})
    first_test = int(len(log) * warmup)
    since_snapshot = 0
    for i, event in enumerate(log):
        xs = interactions(event)
        if not xs:
            continue
        x = xs[0]
        if i >= first_test and i % every == 0 and x.user_id in history:
            owned = history[x.user_id]
            result.scores["model"].add(serve(served, x.user_id, k, policy, owned), x.item_id, k)
            for name, m in others.items():
                result.scores[name].add(serve(m, x.user_id, k, policy, owned), x.item_id, k)
        for x in xs:
            learner.learn_one(x)
            served.observe(x)
            for m in others.values():
                m.learn_one(x)
            history.setdefault(x.user_id, UserItems()).add(x)
        since_snapshot += 1
        if since_snapshot >= snapshot_every:
            served, since_snapshot = _copy(learner), 0
        if progress is not None and (i + 1) % 20_000 == 0:
            progress(f"{i + 1:,} events, HR@{k} model {result.scores['model'].hr:.4f}")
    result.events = len(log)
    result.seconds = time.perf_counter() - started
    return result


def _copy(model: OnlineRecommender) -> OnlineRecommender:
    """What the API loads: the learner's state written and read back as data (as a snapshot holds
    it: rows waiting for a mini-batch travel in the state, untrained)."""
    meta, arrays = model.state()
    return OnlineRecommender.from_state(meta, {k: v.copy() for k, v in arrays.items()},
                                        content_factory=model.content_factory)


def bench_served(settings: Settings, directory: Path | None = None, top_items: int = 1_700,
                 quiet: bool = False) -> dict[str, float]:
    """The "reco-served" suite. `settings` is unused: nothing here touches Kafka."""
    del settings
    directory = directory or DEFAULT_MOVIELENS
    if directory is None or not (directory / "ratings.csv").exists():
        if not quiet:
            print(f"  MovieLens not found in {directory}: skipped", flush=True)
        return {}
    products, log = movielens_events(directory)
    if top_items:
        counts = Counter(e.payload.product_id for e in log if isinstance(e.payload, Click))
        keep = {item for item, _ in counts.most_common(top_items)}
        products = [e for e in products if getattr(e.payload, "product_id", None) in keep]
        log = [e for e in log if getattr(e.payload, "product_id", None) in keep]

    def say(line: str) -> None:
        if not quiet:
            print(f"  served: {line}", flush=True)

    with threadpool_limits(1, user_api="blas"):
        result = run_served_protocol(products, log, lambda: LiveModel.new().model, progress=say)
    out: dict[str, float] = {}
    for name, score in result.scores.items():
        out[f"reco.served_hr10_{name}"] = score.hr
        out[f"reco.served_ndcg10_{name}"] = score.ndcg / score.points if score.points else 0.0
    out.update({"reco.served_points": result.scores["model"].points, "reco.served_events": result.events,
                "reco.served_items": len(products), "reco.served_seconds": result.seconds})
    say(" ".join(f"{n} {s.hr:.4f}" for n, s in result.scores.items()) + f" ({result.scores['model'].points} points)")
    return out
