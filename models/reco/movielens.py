"""MovieLens (``ml-latest-small`` layout) as items and a time-ordered interaction stream.

Items are movies: category = first listed genre, vector = one-hot genres plus one-hot release
decade (from the year in the title), unit-normalised; no brand, no price. Each rating is an
interaction of kind ``"rating"`` with weight ``rating / 5``, in timestamp order (ties by user,
then movie). Run ``python -m models.reco.movielens DIR`` for a prequential comparison.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path

import numpy as np

from models.reco.base import Interaction, ItemSpec, Recommender
from models.reco.evaluate import format_reports, run_prequential
from models.reco.itemknn import ItemKNN
from models.reco.online import OnlineConfig, OnlineRecommender
from models.reco.trending import TrendingPopularity

_YEAR = re.compile(r"\((\d{4})\)\s*$")
_DECADES = list(range(1900, 2030, 10))
DAY = 86_400.0


def load_items(movies_csv: Path) -> list[ItemSpec]:
    """Movies as items, ids ``m<movieId>``."""
    with movies_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    genres = sorted({g for r in rows for g in r["genres"].split("|") if g and g != "(no genres listed)"})
    g_index = {g: i for i, g in enumerate(genres)}
    dim = len(genres) + len(_DECADES)
    items: list[ItemSpec] = []
    for r in rows:
        listed = [g for g in r["genres"].split("|") if g in g_index]
        vec = np.zeros(dim, dtype=np.float32)
        vec[[g_index[g] for g in listed]] = 1.0
        year = _YEAR.search(r["title"].strip())
        if year:
            decade = min(max(int(year.group(1)) // 10 * 10, _DECADES[0]), _DECADES[-1])
            vec[len(genres) + _DECADES.index(decade)] = 0.5
        items.append(
            ItemSpec(
                f"m{r['movieId']}",
                category=listed[0] if listed else None,
                vector=vec if vec.any() else None,
            )
        )
    return items


def load_interactions(ratings_csv: Path) -> list[Interaction]:
    """Ratings as interactions in timestamp order."""
    with ratings_csv.open(newline="", encoding="utf-8") as f:
        rows = [
            (int(r["timestamp"]), int(r["userId"]), int(r["movieId"]), float(r["rating"])) for r in csv.DictReader(f)
        ]
    rows.sort()
    return [Interaction(f"u{u}", f"m{m}", "rating", rating / 5.0, float(ts)) for ts, u, m, rating in rows]


def default_models() -> dict[str, Recommender]:
    """The three learners with half-lives suited to MovieLens's sparse, years-long timeline."""
    return {
        "trending": TrendingPopularity(half_life=30 * DAY),
        "itemknn": ItemKNN(retrain_every=1_000),
        "online": OnlineRecommender(
            OnlineConfig(trend_half_life=30 * DAY, user_half_life=365 * DAY, freshness_half_life=365 * DAY)
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path, help="folder with movies.csv and ratings.csv")
    parser.add_argument("--sample-every", type=int, default=10)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--limit", type=int, default=0, help="only the first N ratings")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    items = load_items(args.directory / "movies.csv")
    stream = load_interactions(args.directory / "ratings.csv")
    if args.limit:
        stream = stream[: args.limit]
    models = default_models()
    for model in models.values():
        model.add_items(items)
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        reports = run_prequential(
            models,
            stream,
            sample_every=args.sample_every,
            k=args.k,
            progress=lambda n, _: print(f"{n} interactions, {time.perf_counter() - start:.0f} s", file=sys.stderr),
        )
    print(
        f"{len(items)} items, {len(stream)} ratings, evaluated 1 in {args.sample_every}, "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(format_reports(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
