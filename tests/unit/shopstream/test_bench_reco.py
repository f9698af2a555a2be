"""The "reco" benchmark suite, end to end on tiny streams: the same code path as `shopstream bench --only reco`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from infra.config import Settings
from shopstream.bench.main import BASELINES
from shopstream.bench.reco import RecoBenchOptions, bench_reco, movielens_events

GENRES = ("Comedy", "Drama", "Horror", "Sci-Fi", "Romance")


def _tiny_movielens(directory: Path, n_movies: int = 40, n_users: int = 12, per_user: int = 15) -> Path:
    """A MovieLens-shaped folder: users who each like one genre and rate mostly movies of it."""
    rng = random.Random(0)
    genre_of = {m: GENRES[m % len(GENRES)] for m in range(1, n_movies + 1)}
    movies = ["movieId,title,genres"]
    movies += [f'{m},"Movie {m} ({1990 + m % 20})",{g}|{GENRES[(m + 1) % len(GENRES)]}' for m, g in genre_of.items()]
    (directory / "movies.csv").write_text("\n".join(movies) + "\n", encoding="utf-8")
    ratings = ["userId,movieId,rating,timestamp"]
    for u in range(1, n_users + 1):
        liked = [m for m, g in genre_of.items() if g == GENRES[u % len(GENRES)]]
        for _ in range(per_user):
            m = rng.choice(liked) if rng.random() < 0.8 else rng.randint(1, n_movies)
            ratings.append(f"{u},{m},{rng.choice((3.0, 4.0, 5.0))},{1_000_000_000 + rng.randint(0, 10**7)}")
    (directory / "ratings.csv").write_text("\n".join(ratings) + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    opts = RecoBenchOptions(
        sim_events=3_000, n_products=300, n_users=100, sim_sample_every=2,
        movielens_dir=_tiny_movielens(tmp_path_factory.mktemp("ml")), ml_sample_every=1,
        batch_retrain_every=500, quiet=True,
    )
    return bench_reco(Settings(), opts)


def test_every_figure_is_there_and_rates_are_rates(figures: dict[str, float]) -> None:
    for key, base in BASELINES["reco"]:
        assert key in figures and base in figures
    for name in ("model", "popularity", "batch", "oracle"):
        for metric in ("hr10", "ndcg10"):
            assert 0.0 <= figures[f"reco.{metric}_{name}"] <= 1.0
            assert figures[f"reco.ndcg10_{name}"] <= figures[f"reco.hr10_{name}"]
    for key in ("reco.ml_hr10_model", "reco.ml_ndcg10_model", "reco.ml_hr10_popularity", "reco.ml_hr10_batch"):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["reco.sim_events"] == 3_000
    assert figures["reco.ml_events"] == 40 + 12 * 15  # every movie and every rating
    assert 0 < figures["reco.evaluated"] <= figures["reco.sim_interactions"] / 2 + 1
    assert figures["reco.model_learn_per_s"] > 0
    assert figures["reco.batch_retrain_every"] == 500


def test_the_online_model_beats_the_baselines_on_the_simulator(figures: dict[str, float]) -> None:
    # HR@10 at this size, simulator seeds 0-5 with every interaction evaluated: model 0.33-0.39,
    # popularity 0.04-0.07, batch 0.19-0.21 (here, seed 1 and 1 in 2: 0.39, 0.05, 0.22).
    assert figures["reco.hr10_model"] >= 2 * figures["reco.hr10_popularity"]
    assert figures["reco.hr10_model"] > figures["reco.hr10_batch"]
    assert figures["reco.hr10_oracle"] > figures["reco.hr10_popularity"]


def test_users_with_one_taste_are_learned_from_movielens_shaped_files(figures: dict[str, float]) -> None:
    assert figures["reco.ml_hr10_model"] > figures["reco.ml_hr10_popularity"]


def test_movielens_goes_through_the_importer_mapping(tmp_path: Path) -> None:
    products, ratings = movielens_events(_tiny_movielens(tmp_path, n_movies=5, n_users=2, per_user=3))
    first = products[0].payload
    assert (first.product_id, first.category_path) == ("ml-1", ["Drama"])
    assert first.attributes == {"categories": "Drama, Horror"} and float(first.price) == 0.0
    assert len(ratings) == 6
    times = [e.event_time for e in ratings]
    assert times == sorted(times)
