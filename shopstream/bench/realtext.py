"""Offline search-relevance suites on real text, and the evaluation of a ranking over them.

Two suites, built with the project's pure parts only (no Kafka, no SQLite): the keyword leg is
:class:`models.search.bm25.BM25Index` over :func:`models.text.analyzed_text` fields, the vector leg
an :class:`models.embed.Embedder` with exact inner-product search (what FAISS's flat index returns
below the inverted-file threshold), fused with :func:`models.search.fuse` as ``/search`` does.

**Real-text suite** (:func:`build_realtext_suites`) from MovieLens ``ml-latest-small``
(``movies.csv``, ``tags.csv``; GroupLens licence: research use, no commercial use, no implied
endorsement; cite Harper & Konstan 2015; the data is read from ``shared/``, never copied into the
repository):

* products are the 9,742 movies, imported as ``shopstream import products`` does with
  ``--category-mode first``: name = title (with its year), category = first genre, the other genres
  kept in the attribute ``categories``, price 0, no brand; description = the movie's user tags
  (distinct case-insensitively, in order of first application) **except held-out tags**;
* a tag is identified by its analysed terms (``"post-apocalyptic"`` = ``"post apocalyptic"``);
  the candidate queries are the tags applied to at least ``min_movies`` (3) distinct movies, less
  the tags that only name genres (their terms are all genre terms: ``comedy``, ``sci-fi``: the
  category already finds them and the tag judgements would be badly incomplete) and a short
  documented list of tags that describe the tagger rather than the movie (``in netflix queue``,
  ``overrated``, ...: :data:`EXCLUDED_TAGS`);
* the candidate queries are shuffled with ``seed`` and dealt into ``folds`` folds; fold *f* is one
  suite: its queries are the fold's tags and **none of the fold's tags appears in any product's
  description** (they remain only where they are part of a title or a genre, as real catalogue
  text would have them), while every other tag stays in the descriptions. Each candidate tag is a
  query exactly once over the folds; the folds' catalogues differ only in their descriptions;
* query text = the tag's most used surface form, lower-cased; judged products = every movie that
  any user tagged with it; grade 4 when two or more distinct users applied it, 3 when one did
  (grades 1-2 do not occur: grade 1 has zero gain and unjudged products count as irrelevant, so
  judging negatives would not change NDCG).

**Known-item suites** (:func:`build_known_item_suites`, same files): for each movie tagged by at
least two users, one user (drawn with ``seed``, a different one per fold) is held out; that
user's tags on the movie, joined by spaces, are the query ("darth vader luke skywalker space opera"),
and the movie, described by the *other* users' tags only, is the one judged product (grade 4):
people describing the same product in their own words, as a shopper and a seller do.

The tag suites are hard and their judgements incomplete (a movie nobody tagged "atmospheric" may
well be atmospheric), so every figure on them is low and differences of a few thousandths are
noise; compare systems with :func:`paired_difference` over the same queries. ``visible_fraction``
> 0 gives a "mixed" variant where part of each query tag's movies keep it in their text: there BM25
finds those exactly and any vector weight mostly adds unjudged neighbours, so it favours BM25 by
construction and is only a check that fusion does no harm where the words do match.

**Simulator suite** (:func:`build_simulator_suite`): the catalogue and queries of
``shopstream bench --only relevance`` (3,000 products seed 11, 300 queries seed 2), its grades 1..3
shifted to 2..4 so that the gain is the same as the bench's.

Metrics as in ``shared/EVALUATION.md``: NDCG@10 with gain ``2**(grade-1) - 1``, the ideal over the
judged products, averaged over queries; recall@10 and MRR@10 count grade >= 3 as relevant.

>>> suite = Suite("toy", (Product("a", "Red running shoe"), Product("b", "Coffee grinder")),
...               (Query("running shoes", {"a": 4}),))
>>> bm25 = keyword_leg(suite)
>>> evaluate(suite, fuse_legs(bm25, [[]], 0.6)).ndcg
1.0
"""

from __future__ import annotations

import csv
import math
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from models.embed import Embedder
from models.metrics import ndcg_at_k, reciprocal_rank
from models.search import fuse
from models.search.bm25 import BM25Index
from models.text import analyze, analyzed_text, product_text, query_terms

__all__ = [
    "EXCLUDED_TAGS",
    "FIELD_WEIGHTS",
    "Product",
    "Query",
    "Scores",
    "Suite",
    "build_known_item_suites",
    "build_realtext_suites",
    "build_simulator_suite",
    "embed_products",
    "evaluate",
    "evaluate_ranker",
    "fuse_legs",
    "keyword_leg",
    "paired_difference",
    "vector_leg",
]

#: BM25F field weights of the keyword leg (the same as ``infra.catalog.live_index.FIELD_WEIGHTS``).
FIELD_WEIGHTS: Mapping[str, float] = {"name": 4.0, "description": 1.0, "brand": 2.0, "category": 2.0}
#: Candidates per leg before fusion (``Settings.search_candidates``).
CANDIDATES = 100

#: Tags that are not a property of the movie, so not something a shopper searches for: the tagger's
#: own lists, external lists and awards, and bare verdicts on quality. They stay in descriptions.
EXCLUDED_TAGS: tuple[str, ...] = (
    "in netflix queue", "imdb top 250", "06 oscar nominated best movie - animation", "movies",
    "bad", "boring", "overrated", "predictable", "plot holes", "bad plot", "awesome", "interesting",
    "masterpiece", "unique",
)

NO_GENRES = "(no genres listed)"


@dataclass(frozen=True)
class Product:
    """A catalogue product as ``shopstream import products`` would make it."""

    product_id: str
    name: str
    description: str = ""
    category_path: tuple[str, ...] = ()
    brand: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    price: float = 0.0

    def embed_text(self) -> str:
        """What the catalog consumer embeds (``ProductRow.embed_text``)."""
        return product_text(name=self.name, description=self.description, category_path=self.category_path,
                            brand=self.brand, attributes=dict(self.attributes), price=self.price)

    def fields(self) -> dict[str, list[str]]:
        """The analysed keyword fields (``infra.catalog.store._fts_fields``)."""
        attrs = " ".join(str(v) for v in self.attributes.values())
        return {
            "name": analyzed_text(self.name).split(),
            "description": analyzed_text(f"{self.description} {attrs}").split(),
            "brand": analyzed_text(self.brand).split(),
            "category": analyzed_text(" ".join(self.category_path)).split(),
        }


@dataclass(frozen=True)
class Query:
    text: str
    judged: Mapping[str, int]
    """product id -> grade 1..4."""


@dataclass(frozen=True)
class Suite:
    name: str
    products: tuple[Product, ...]
    queries: tuple[Query, ...]

    def __post_init__(self) -> None:
        ids = {p.product_id for p in self.products}
        if len(ids) != len(self.products):
            raise ValueError("duplicate product ids")
        for q in self.queries:
            if not set(q.judged) <= ids:
                raise ValueError(f"query {q.text!r} judges unknown products")


# --- the real-text suite ------------------------------------------------------------------------


def _tag_key(tag: str) -> str:
    # Hyphens as spaces: the analyser adds a hyphenated word's joined form, which would tell
    # "twist-ending" from "twist ending".
    return " ".join(analyze(tag.replace("-", " ")))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def build_realtext_suites(data_dir: str | Path, *, folds: int = 2, seed: int = 0,
                          min_movies: int = 3, visible_fraction: float = 0.0) -> list[Suite]:
    """The MovieLens tag-search suites, one per fold (see the module docstring). Deterministic.

    ``visible_fraction`` > 0 keeps each query tag in the descriptions of that fraction (rounded
    down, drawn with ``seed``) of its judged movies: the "mixed" variant.
    """
    if folds < 2:
        raise ValueError("folds must be >= 2: a fold's query tags are held out of its catalogue")
    if not 0.0 <= visible_fraction < 1.0:
        raise ValueError("visible_fraction must be in [0, 1)")
    data = Path(data_dir)
    movies = _read_csv(data / "movies.csv")
    tags = _read_csv(data / "tags.csv")

    genre_terms: set[str] = set()
    for m in movies:
        for g in m["genres"].split("|"):
            if g != NO_GENRES:
                genre_terms.update(analyze(g))
    excluded = {_tag_key(t) for t in EXCLUDED_TAGS}

    # per movie: its tags in order of first application, distinct case-insensitively
    applications = sorted(tags, key=lambda r: (int(r["movieId"]), int(r["timestamp"]), r["tag"]))
    movie_tags: dict[str, list[tuple[str, str]]] = defaultdict(list)  # movie -> [(surface, key)]
    seen_surface: set[tuple[str, str]] = set()
    users: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # key -> movie -> users
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    for r in applications:
        surface = " ".join(r["tag"].split())
        key = _tag_key(surface)
        if not surface:
            continue
        if (r["movieId"], surface.casefold()) not in seen_surface:
            seen_surface.add((r["movieId"], surface.casefold()))
            movie_tags[r["movieId"]].append((surface, key))
        if key:
            users[key][r["movieId"]].add(r["userId"])
            surfaces[key][surface.casefold()] += 1

    candidates = sorted(
        key for key, by_movie in users.items()
        if len(by_movie) >= min_movies and key not in excluded and not set(key.split()) <= genre_terms
    )
    random.Random(seed).shuffle(candidates)
    fold_keys = [set(candidates[f::folds]) for f in range(folds)]
    # (movie, key) pairs whose tag stays visible although the key is a query of the fold
    rng = random.Random(f"{seed}-visible")
    shown: set[tuple[str, str]] = set()
    for key in sorted(candidates):
        tagged = sorted(users[key], key=int)
        shown.update((mid, key) for mid in rng.sample(tagged, int(visible_fraction * len(tagged))))

    suites = []
    for f, held_out in enumerate(fold_keys):
        products = []
        for m in movies:
            labels = [g for g in m["genres"].split("|") if g and g != NO_GENRES]
            visible = [s for s, key in movie_tags.get(m["movieId"], [])
                       if key not in held_out or (m["movieId"], key) in shown]
            products.append(Product(
                product_id=f"ml-{m['movieId']}", name=m["title"], description=", ".join(visible),
                category_path=tuple(labels[:1]),
                attributes={"categories": ", ".join(labels)} if len(labels) > 1 else {},
            ))
        queries = []
        for key in sorted(held_out):
            text = min(surfaces[key].items(), key=lambda kv: (-kv[1], kv[0]))[0]
            judged = {f"ml-{mid}": 4 if len(who) >= 2 else 3 for mid, who in sorted(users[key].items())}
            queries.append(Query(text, judged))
        variant = f"-visible{round(100 * visible_fraction)}" if visible_fraction else ""
        suites.append(Suite(f"movielens-tags{variant}-fold{f}", tuple(products), tuple(queries)))
    return suites


def _movie_product(m: Mapping[str, str], tags: Sequence[str]) -> Product:
    labels = [g for g in m["genres"].split("|") if g and g != NO_GENRES]
    return Product(
        product_id=f"ml-{m['movieId']}", name=m["title"], description=", ".join(tags),
        category_path=tuple(labels[:1]),
        attributes={"categories": ", ".join(labels)} if len(labels) > 1 else {},
    )


def build_known_item_suites(data_dir: str | Path, *, folds: int = 2, seed: int = 0,
                            min_tags: int = 2) -> list[Suite]:
    """Known-item suites: one user's description of a movie finds it among other users' descriptions.

    For every movie tagged by at least ``folds`` distinct users, its taggers are shuffled (seeded per
    movie); in fold *f* the *f*-th tagger is held out: that user's tags on that movie (less
    :data:`EXCLUDED_TAGS`, at least ``min_tags`` of them) are the query text, joined by spaces, and
    are removed from that movie's description, which keeps the other users' tags. The movie is the one
    judged product (grade 4). Products otherwise as in :func:`build_realtext_suites`.
    """
    if folds < 1:
        raise ValueError("folds must be >= 1")
    data = Path(data_dir)
    movies = _read_csv(data / "movies.csv")
    tags = sorted(_read_csv(data / "tags.csv"), key=lambda r: (int(r["movieId"]), int(r["timestamp"]), r["tag"]))
    excluded = {_tag_key(t) for t in EXCLUDED_TAGS}
    by_movie: dict[str, list[tuple[str, str]]] = defaultdict(list)  # movie -> [(user, surface)]
    for r in tags:
        surface = " ".join(r["tag"].split())
        if surface:
            by_movie[r["movieId"]].append((r["userId"], surface))
    suites = []
    for f in range(folds):
        held: dict[str, str] = {}  # movie -> held-out user
        for mid in sorted(by_movie, key=int):
            taggers = sorted({u for u, _ in by_movie[mid]}, key=int)
            if len(taggers) >= folds:
                random.Random(f"{seed}-{mid}").shuffle(taggers)
                held[mid] = taggers[f]
        products, queries = [], []
        for m in movies:
            mid = m["movieId"]
            visible: list[str] = []
            query: list[str] = []
            for u, surface in by_movie.get(mid, []):
                target = query if held.get(mid) == u else visible
                if surface.casefold() not in {t.casefold() for t in target}:
                    target.append(surface)
            products.append(_movie_product(m, visible))
            query = [t for t in query if _tag_key(t) not in excluded]
            if len(query) >= min_tags:
                queries.append(Query(" ".join(query).lower(), {f"ml-{mid}": 4}))
        suites.append(Suite(f"movielens-known-item-fold{f}", tuple(products), tuple(queries)))
    return suites


# --- the simulator suite ------------------------------------------------------------------------


def build_simulator_suite(n_products: int = 3000, n_queries: int = 300, *, seed: int = 11,
                          query_seed: int = 2) -> Suite:
    """The catalogue and queries of the relevance bench, grades shifted from 1..3 to 2..4."""
    from producers.simulator.world import Simulator, SimulatorConfig

    sim = Simulator(SimulatorConfig(seed=seed, n_products=n_products, n_users=10))
    products = tuple(
        Product(product_id=p.product_id, name=p.name, description=p.description,
                category_path=tuple(p.category_path), brand=p.brand, attributes=dict(p.attributes),
                price=float(p.price))
        for p in sim.catalogue()
    )
    queries = tuple(Query(text, {pid: g + 1 for pid, g in judged.items()})
                    for text, judged in sim.generate_queries(n_queries, seed=query_seed))
    return Suite(f"simulator-{n_products}", products, queries)


# --- legs, fusion, metrics ----------------------------------------------------------------------

Ranked = list[tuple[int, float]]


def keyword_leg(suite: Suite, candidates: int = CANDIDATES,
                field_weights: Mapping[str, float] = FIELD_WEIGHTS) -> list[Ranked]:
    """BM25F top ``candidates`` per query: ``(product index, score)``, best first."""
    index = BM25Index(field_weights)
    for i, p in enumerate(suite.products):
        index.add(i, p.fields())
    index.compact()
    return [index.search(query_terms(q.text), candidates) for q in suite.queries]


def embed_products(embedder: Embedder, suite: Suite, batch: int = 256) -> tuple[NDArray[np.float32], float]:
    """Product vectors (in ``batch``-sized calls, as the consumer embeds a poll's batch) and seconds."""
    texts = [p.embed_text() for p in suite.products]
    started = time.perf_counter()
    parts = [embedder.transform(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    seconds = time.perf_counter() - started
    return (np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)), seconds


def vector_leg(suite: Suite, embedder: Embedder, vectors: NDArray[np.float32],
               candidates: int = CANDIDATES) -> tuple[list[Ranked], list[float]]:
    """Exact inner-product top ``candidates`` per query, and each query's embedding time in ms.

    A query whose vector is all zeros (no known token) gets an empty list, as ``LiveIndex.search``.
    """
    out: list[Ranked] = []
    times: list[float] = []
    for q in suite.queries:
        started = time.perf_counter()
        qv = embedder.transform([q.text])[0]
        times.append((time.perf_counter() - started) * 1000)
        if not qv.any() or len(vectors) == 0:
            out.append([])
            continue
        scores = vectors @ qv
        k = min(candidates, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        out.append([(int(i), float(scores[i])) for i in top])
    return out, times


def fuse_legs(bm25: Sequence[Ranked], vector: Sequence[Ranked], bm25_weight: float, *,
              method: Literal["weighted", "rrf"] = "weighted",
              normalization: Literal["minmax", "zscore"] = "minmax",
              fuser: Callable[[Ranked, Ranked], Sequence[int]] | None = None) -> list[list[int]]:
    """Per query, the fused ranking of product indexes as ``/search`` makes it (one leg alone when the
    other is empty); ``fuser`` replaces :func:`models.search.fuse` for experiments."""
    out = []
    for b, v in zip(bm25, vector, strict=True):
        if b and v:
            if fuser is not None:
                out.append(list(fuser(b, v)))
            else:
                out.append([h.id for h in fuse(b, v, method=method, bm25_weight=bm25_weight,
                                               normalization=normalization)])
        else:
            out.append([d for d, _ in (b or v)])
    return out


@dataclass(frozen=True)
class Scores:
    ndcg: float
    recall: float
    mrr: float
    per_query: tuple[float, ...]
    """NDCG@k of each query, in the suite's order (for paired comparisons)."""


def evaluate(suite: Suite, rankings: Sequence[Sequence[int]], k: int = 10) -> Scores:
    """NDCG@k (gain ``2**(grade-1) - 1``), recall@k and MRR@k (grade >= 3 relevant) of
    ``rankings[i]`` (product indexes, best first) for ``suite.queries[i]``."""
    if len(rankings) != len(suite.queries):
        raise ValueError("one ranking per query")
    ndcgs, recalls, rrs = [], [], []
    for q, ranking in zip(suite.queries, rankings, strict=True):
        ids = [suite.products[i].product_id for i in ranking[:k]]
        rel = {pid: g - 1 for pid, g in q.judged.items()}
        relevant = {pid for pid, g in q.judged.items() if g >= 3}
        ndcgs.append(ndcg_at_k(ids, rel, k))
        recalls.append(len(relevant & set(ids)) / len(relevant) if relevant else 0.0)
        rrs.append(reciprocal_rank(ids, relevant, k))
    return Scores(_mean(ndcgs), _mean(recalls), _mean(rrs), tuple(ndcgs))


def evaluate_ranker(suite: Suite, rank: Callable[[str], Sequence[str]], k: int = 10) -> Scores:
    """:func:`evaluate` for any ranking function ``query text -> product ids, best first``."""
    position = {p.product_id: i for i, p in enumerate(suite.products)}
    return evaluate(suite, [[position[pid] for pid in rank(q.text)[:k]] for q in suite.queries], k)


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean of ``a - b`` over the same queries and its standard error (noise: |mean| < 2 s.e.)."""
    if len(a) != len(b) or not a:
        raise ValueError("need two non-empty per-query lists of the same length")
    d = [x - y for x, y in zip(a, b, strict=True)]
    se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else math.inf
    return statistics.fmean(d), se


def _mean(values: Iterable[float]) -> float:
    v = list(values)
    return statistics.fmean(v) if v else 0.0
