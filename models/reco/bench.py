"""Throughput of a recommender on a synthetic shop: learn rate and recommend latency.

``python -m models.reco.bench --items 10000 --dim 64`` (BLAS is limited to one thread: on small
matrix-vector products a multi-threaded BLAS mostly waits for its threads).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from models.reco.base import Recommender
from models.reco.online import OnlineRecommender
from models.reco.synthetic import make_world


@dataclass(frozen=True)
class BenchResult:
    learn_per_second: float
    recommend_p50_ms: float
    recommend_p99_ms: float
    n_items: int
    n_interactions: int


def bench(
    model: Recommender,
    n_items: int = 10_000,
    dim: int = 64,
    n_users: int = 5_000,
    n_interactions: int = 30_000,
    n_queries: int = 1_000,
    seed: int = 0,
) -> BenchResult:
    """Learn a synthetic stream, then time ``recommend(k=10)`` for recent users, excluding their items."""
    world = make_world(n_users=n_users, n_items=n_items, dim=dim, n_interactions=n_interactions, seed=seed)
    model.add_items(world.items)
    owned: dict[str, set[str]] = {}
    for x in world.interactions:
        owned.setdefault(x.user_id, set()).add(x.item_id)
    with threadpool_limits(1, user_api="blas"):
        start = time.perf_counter()
        model.learn_many(world.interactions)
        learn_seconds = time.perf_counter() - start
        users = [x.user_id for x in world.interactions[-n_queries:]]
        latencies = np.empty(len(users), dtype=np.float64)
        for i, user in enumerate(users):
            t = time.perf_counter()
            model.recommend(user, 10, exclude=owned[user])
            latencies[i] = time.perf_counter() - t
    return BenchResult(
        learn_per_second=n_interactions / learn_seconds,
        recommend_p50_ms=float(np.percentile(latencies, 50) * 1e3),
        recommend_p99_ms=float(np.percentile(latencies, 99) * 1e3),
        n_items=n_items,
        n_interactions=n_interactions,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--interactions", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    r = bench(OnlineRecommender(seed=args.seed), args.items, args.dim, args.users, args.interactions, seed=args.seed)
    print(
        f"OnlineRecommender, {r.n_items} items x {args.dim} dims, {r.n_interactions} interactions: "
        f"learn {r.learn_per_second:,.0f}/s, recommend p50 {r.recommend_p50_ms:.2f} ms "
        f"p99 {r.recommend_p99_ms:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
