"""Recommendation quality, measured prequentially (test, then train) in process: no Kafka needed.

Two streams, each replayed once through every model in event order:

- the simulator: product events become items through `readmodels.learner.convert.item_spec` (in stock
  when stock > 0; a removal delists), clicks and orders become interactions through
  `readmodels.learner.convert.interactions` -- exactly what the learner consumes;
- MovieLens (`ml-latest-small`): movies and ratings go through `producers.importers` with the mapping
  `shopstream import` documents for MovieLens (category = first genre, every genre in the attribute
  "categories", price 0; each rating a click of weight 1 at the rating's time, sessions cut at 30 min
  of inactivity), so the events are those the learner would consume after an import; then through the
  same `item_spec` and `interactions`.

Models: the online recommender exactly as the learner builds it (`LiveModel.new()`: default
`OnlineConfig`, FAISS content candidates), time-decayed popularity
(`TrendingPopularity`), batch item-kNN retrained from scratch on all history every
`batch_retrain_every` interactions, and, on the simulator only, an oracle that ranks by the simulator's
hidden tastes as they are at the moment of each evaluation (they drift as the stream advances).

Every interaction is learned by every model; one in `sample_every` is first evaluated: HR@10 and
NDCG@10 of the item against the top 10 for that user, excluding the items the user already interacted
with (an interaction with such an item is a repeat: learned, not evaluated).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
from threadpoolctl import threadpool_limits

from events import Event, ProductRemoved, ProductUpserted
from infra.config import Settings
from models.reco import (
    Interaction,
    ItemKNN,
    OracleRecommender,
    PrequentialReport,
    Recommender,
    TrendingPopularity,
    format_reports,
    run_prequential,
)
from models.reco.base import FloatArray
from producers.importers import (
    CategoryMode,
    ImportReport,
    InteractionLog,
    InteractionMapping,
    ProductMapping,
    RowSource,
    product_events,
)
from producers.simulator.tastes import TasteModel
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.learner.convert import interactions, item_spec
from readmodels.learner.model import LiveModel

DEFAULT_MOVIELENS = Path(
    os.environ.get(
        "SHOPSTREAM_MOVIELENS_DIR", Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-latest-small"
    )
)
# The mappings `shopstream import products|interactions` documents for MovieLens.
MOVIELENS_PRODUCTS = ProductMapping(
    id_col="movieId", name_col="title", category_col="genres", category_sep="|",
    category_mode=CategoryMode.FIRST, id_prefix="ml-",
)
MOVIELENS_RATINGS = InteractionMapping(
    user_col="userId", item_col="movieId", rating_col="rating", time_col="timestamp", item_prefix="ml-"
)


def learner_model() -> Recommender:
    """The online recommender as the learner consumer builds it."""
    return LiveModel.new().model


@dataclass(frozen=True)
class RecoBenchOptions:
    """Sizes of the two replays. Evaluation is a deterministic 1-in-`sample_every` sample of the
    interactions (every one is learned); the defaults keep the whole suite to a few minutes on 2 cores."""

    sim_events: int = 200_000
    sim_seed: int = 1
    n_products: int = 2_000
    n_users: int = 1_000
    sim_sample_every: int = 10
    movielens_dir: Path | None = DEFAULT_MOVIELENS
    ml_sample_every: int = 5
    ml_limit: int | None = None  # only the first N ratings (tests)
    batch_retrain_every: int = 5_000
    k: int = 10
    progress_every: int = 20_000
    quiet: bool = False
    model_factory: Callable[[], Recommender] = learner_model


@dataclass
class StreamCount:
    """What a replay has passed through so far."""

    events: int = 0
    interactions: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def apply_to_catalogs(models: Iterable[Recommender], payload: ProductUpserted | ProductRemoved) -> None:
    """Make a product event known to every model, the way the learner does."""
    if isinstance(payload, ProductRemoved):
        for model in models:
            model.remove_item(payload.product_id)
        return
    spec = item_spec(payload)
    for model in models:
        model.add_item(spec.item_id, spec.category, spec.brand, spec.price, spec.vector, in_stock=payload.stock > 0)


def interaction_stream(
    events: Iterable[Event],
    models: Sequence[Recommender],
    count: StreamCount,
    on_product: Callable[[ProductUpserted | ProductRemoved], None] | None = None,
) -> Iterator[Interaction]:
    """The interactions of `events`, in order. Product events are applied to every model's catalog as
    they pass, so that each interaction meets the catalog as it was at that point of the stream
    (`run_prequential` finishes an interaction with every model before it asks for the next)."""
    for event in events:
        count.events += 1
        payload = event.payload
        if isinstance(payload, ProductUpserted | ProductRemoved):
            apply_to_catalogs(models, payload)
            if on_product is not None:
                on_product(payload)
            continue
        for x in interactions(event):
            count.interactions += 1
            yield x


class LiveTasteScorer:
    """`OracleRecommender`'s scoring over the simulator's live `TasteModel`: each call scores with the
    users' tastes as they are now, and each product as its latest upsert describes it."""

    def __init__(self, tastes: TasteModel) -> None:
        self.tastes = tastes
        # product id -> the arguments of `TasteModel.score_parts` after the user, as `score` builds them
        self.parts: dict[str, tuple[str, str, str, float, str]] = {}

    def observe(self, payload: ProductUpserted | ProductRemoved) -> None:
        if isinstance(payload, ProductUpserted):
            path = payload.category_path
            top = path[0] if path else ""
            self.parts[payload.product_id] = (" > ".join(path[:2]), top, payload.brand, float(payload.price),
                                              payload.product_id)

    def score(self, user_id: str, item_id: str) -> float:
        return self.tastes.score_parts(self.tastes.users[user_id], *self.parts[item_id])

    def score_many(self, user_id: str, item_ids: Sequence[str]) -> FloatArray:
        user, score, parts = self.tastes.users[user_id], self.tastes.score_parts, self.parts
        return np.fromiter((score(user, *parts[i]) for i in item_ids), dtype=np.float64, count=len(item_ids))


def _progress(name: str, count: StreamCount, quiet: bool) -> Callable[[int, dict[str, PrequentialReport]], None]:
    def report(_: int, reports: dict[str, PrequentialReport]) -> None:
        if quiet:
            return
        hrs = ", ".join(f"{m} {r.hit_rate:.3f}" for m, r in reports.items())
        print(
            f"  {name}: {count.events:,} events, {count.interactions:,} interactions, "
            f"{count.seconds:.0f} s; HR@10 {hrs}",
            flush=True,
        )

    return report


@contextlib.contextmanager
def _warning_summary(name: str, quiet: bool) -> Iterator[Counter[str]]:
    """Count the warnings raised during a replay and print one line per kind at the end, instead of
    letting a numerical warning in a hot loop repeat thousands of times (scikit-learn resets the
    "once per location" registry on every `partial_fit`)."""
    seen: Counter[str] = Counter()

    def count(
        message: Warning | str, category: type[Warning], filename: str, lineno: int,
        file: TextIO | None = None, line: str | None = None,
    ) -> None:
        seen[f"{Path(filename).name}:{lineno}: {category.__name__}: {message}"] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = count
        yield seen
    if not quiet:
        for what, n in seen.most_common():
            print(f"  {name}: warning x{n:,}: {what}", flush=True)


def _figures(prefix: str, reports: Mapping[str, PrequentialReport], names: Iterable[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        r = reports[name]
        out[f"{prefix}hr10_{name}"] = r.hit_rate
        out[f"{prefix}ndcg10_{name}"] = r.ndcg
    return out


def bench_simulator(opts: RecoBenchOptions) -> dict[str, float]:
    """The simulator's stream through the online model, popularity, batch item-kNN and the oracle."""
    sim = Simulator(SimulatorConfig(seed=opts.sim_seed, n_products=opts.n_products, n_users=opts.n_users))
    scorer = LiveTasteScorer(sim.tastes)
    models: dict[str, Recommender] = {
        "model": opts.model_factory(),
        "popularity": TrendingPopularity(),
        "batch": ItemKNN(retrain_every=opts.batch_retrain_every),
        "oracle": OracleRecommender(scorer.score, scorer.score_many),
    }
    count = StreamCount()
    # Lazily: the simulator's tastes drift as it generates, so the oracle sees the tastes of "now".
    stream = interaction_stream(sim.events(opts.sim_events), list(models.values()), count, scorer.observe)
    with threadpool_limits(1, user_api="blas"), _warning_summary("simulator", opts.quiet):
        reports = run_prequential(
            models, stream, sample_every=opts.sim_sample_every, k=opts.k,
            progress=_progress("simulator", count, opts.quiet), progress_every=opts.progress_every,
        )
    if not opts.quiet:
        print(format_reports(reports), flush=True)
    model = reports["model"]
    return {
        **_figures("reco.", reports, models),
        "reco.sim_events": count.events,
        "reco.sim_interactions": count.interactions,
        "reco.evaluated": model.evaluated,
        "reco.sample_every": opts.sim_sample_every,
        "reco.batch_retrain_every": opts.batch_retrain_every,
        "reco.model_learn_per_s": model.learn_per_second,
        "reco.model_recommend_ms": model.recommend_ms,
        "reco.sim_seconds": count.seconds,
    }


def movielens_events(directory: Path, limit: int | None = None) -> tuple[list[Event], list[Event]]:
    """(movie events, rating events in time order), read as `shopstream import` reads them."""
    report = ImportReport()
    source = RowSource.open(directory / "movies.csv")
    try:
        products = list(product_events(source, MOVIELENS_PRODUCTS, report))
    finally:
        source.close()
    source = RowSource.open(directory / "ratings.csv")
    try:
        log = InteractionLog.load(source, MOVIELENS_RATINGS, report, limit=limit)
    finally:
        source.close()
    if report.rejected:
        print(f"  movielens: {report.rejected} rows rejected, first: {report.first_rejects[0].describe()}", flush=True)
    return products, list(log.events())


def bench_movielens(opts: RecoBenchOptions) -> dict[str, float]:
    """MovieLens ratings through the online model, popularity and batch item-kNN (no oracle)."""
    if opts.movielens_dir is None or not (opts.movielens_dir / "ratings.csv").exists():
        if not opts.quiet:
            print(f"  MovieLens not found in {opts.movielens_dir}: skipped", flush=True)
        return {}
    models: dict[str, Recommender] = {
        "model": opts.model_factory(),
        "popularity": TrendingPopularity(),
        "batch": ItemKNN(retrain_every=opts.batch_retrain_every),
    }
    count = StreamCount()
    products, ratings = movielens_events(opts.movielens_dir, opts.ml_limit)
    # The catalogue first, as after `shopstream import products`, then the ratings in time order.
    stream = interaction_stream([*products, *ratings], list(models.values()), count)
    with threadpool_limits(1, user_api="blas"), _warning_summary("movielens", opts.quiet):
        reports = run_prequential(
            models, stream, sample_every=opts.ml_sample_every, k=opts.k,
            progress=_progress("movielens", count, opts.quiet), progress_every=opts.progress_every,
        )
    if not opts.quiet:
        print(format_reports(reports), flush=True)
    model = reports["model"]
    return {
        **_figures("reco.ml_", reports, models),
        "reco.ml_events": count.events,
        "reco.ml_evaluated": model.evaluated,
        "reco.ml_sample_every": opts.ml_sample_every,
        "reco.ml_model_learn_per_s": model.learn_per_second,
        "reco.ml_model_recommend_ms": model.recommend_ms,
        "reco.ml_seconds": count.seconds,
    }


def bench_reco(settings: Settings, opts: RecoBenchOptions | None = None) -> dict[str, float]:
    """The "reco" suite: both replays. `settings` is unused: nothing here touches Kafka."""
    del settings
    opts = opts or RecoBenchOptions()
    started = time.perf_counter()
    out = bench_simulator(opts)
    out.update(bench_movielens(opts))
    out["reco.seconds"] = time.perf_counter() - started
    return out
