"""Prequential ("test, then train") evaluation of recommenders on an interaction stream.

For each interaction ``(user, item)``: first ask for the user's top ``k`` exactly as it is served
(:func:`models.reco.serving.serve`, by default without the items the user already has) and record
a hit if ``item`` is in it, and NDCG@k (one relevant item: ``1 / log2(rank + 2)`` with rank from
0); then the model learns it. Interactions with an item the user already has cannot be hits (it
is excluded) and are skipped by default (still learned).

Figures come as totals, over a rolling window of the last evaluations, and split by cold users
(no earlier interaction in the stream) / warm users and by cold items (nobody touched it before).

>>> from models.reco.trending import TrendingPopularity
>>> stream = [Interaction("u1", "a", "click", 1.0, 0.0), Interaction("u2", "a", "click", 1.0, 1.0),
...           Interaction("u2", "b", "click", 1.0, 2.0), Interaction("u3", "a", "click", 1.0, 3.0)]
>>> model = TrendingPopularity()
>>> model.add_item("a"); model.add_item("b")
>>> report = run_prequential({"trending": model}, stream, k=1)["trending"]
>>> report.evaluated, report.hits, report.hit_rate, report.cold_users.hits, report.warm_users.n
(4, 2, 0.5, 2, 1)
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.reco.base import Interaction, Recommender
from models.reco.serving import DEFAULT_EXCLUDE, ExcludePolicy, UserItems, serve


@dataclass
class Tally:
    """Evaluations, hits and summed NDCG of one slice of the stream."""

    n: int = 0
    hits: int = 0
    ndcg_sum: float = 0.0

    def add(self, hit: bool, ndcg: float) -> None:
        self.n += 1
        self.hits += int(hit)
        self.ndcg_sum += ndcg

    @property
    def hit_rate(self) -> float:
        return self.hits / self.n if self.n else 0.0

    @property
    def ndcg(self) -> float:
        return self.ndcg_sum / self.n if self.n else 0.0

    def summary(self) -> dict[str, float | int]:
        return {"n": self.n, "hits": self.hits, "hit_rate": self.hit_rate, "ndcg": self.ndcg}


@dataclass(frozen=True)
class Outcome:
    """The result of evaluating one interaction."""

    rank: int | None  # 0-based rank of the item in the answer, None if absent
    cold_user: bool
    cold_item: bool
    k: int

    @property
    def hit(self) -> bool:
        return self.rank is not None and self.rank < self.k

    @property
    def ndcg(self) -> float:
        return 1.0 / math.log2(self.rank + 2) if self.hit and self.rank is not None else 0.0


@dataclass
class PrequentialReport:
    """Running figures for one model. ``curve`` holds (evaluations so far, window hit rate)."""

    model: str
    k: int
    window: int
    total: Tally = field(default_factory=Tally)
    cold_users: Tally = field(default_factory=Tally)
    warm_users: Tally = field(default_factory=Tally)
    cold_items: Tally = field(default_factory=Tally)
    learned: int = 0
    skipped_repeats: int = 0
    learn_seconds: float = 0.0
    recommend_seconds: float = 0.0
    curve: list[tuple[int, float]] = field(default_factory=list)
    _recent: deque[tuple[bool, float]] = field(default_factory=deque, repr=False)
    _recent_hits: int = field(default=0, repr=False)
    _recent_ndcg: float = field(default=0.0, repr=False)

    def record(self, outcome: Outcome) -> None:
        hit, ndcg = outcome.hit, outcome.ndcg
        self.total.add(hit, ndcg)
        (self.cold_users if outcome.cold_user else self.warm_users).add(hit, ndcg)
        if outcome.cold_item:
            self.cold_items.add(hit, ndcg)
        self._recent.append((hit, ndcg))
        self._recent_hits += int(hit)
        self._recent_ndcg += ndcg
        if len(self._recent) > self.window:
            old_hit, old_ndcg = self._recent.popleft()
            self._recent_hits -= int(old_hit)
            self._recent_ndcg -= old_ndcg
        if self.total.n % self.window == 0:
            self.curve.append((self.total.n, self.window_hit_rate))

    @property
    def evaluated(self) -> int:
        return self.total.n

    @property
    def hits(self) -> int:
        return self.total.hits

    @property
    def hit_rate(self) -> float:
        return self.total.hit_rate

    @property
    def ndcg(self) -> float:
        return self.total.ndcg

    @property
    def window_hit_rate(self) -> float:
        return self._recent_hits / len(self._recent) if self._recent else 0.0

    @property
    def window_ndcg(self) -> float:
        return self._recent_ndcg / len(self._recent) if self._recent else 0.0

    @property
    def learn_per_second(self) -> float:
        return self.learned / self.learn_seconds if self.learn_seconds > 0 else 0.0

    @property
    def recommend_ms(self) -> float:
        return 1000.0 * self.recommend_seconds / self.total.n if self.total.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for /metrics and reports)."""
        return {
            "model": self.model,
            "k": self.k,
            "evaluated": self.evaluated,
            "hit_rate": self.hit_rate,
            "ndcg": self.ndcg,
            "window": self.window,
            "window_hit_rate": self.window_hit_rate,
            "window_ndcg": self.window_ndcg,
            "cold_users": self.cold_users.summary(),
            "warm_users": self.warm_users.summary(),
            "cold_items": self.cold_items.summary(),
            "learned": self.learned,
            "skipped_repeats": self.skipped_repeats,
            "learn_per_second": self.learn_per_second,
            "recommend_ms": self.recommend_ms,
            "curve": [list(p) for p in self.curve],
        }


@dataclass
class StreamHistory:
    """What the stream has shown so far: each user's items, and the items anyone touched."""

    users: dict[str, UserItems] = field(default_factory=dict)
    items: set[str] = field(default_factory=set)

    def add(self, interaction: Interaction) -> None:
        self.users.setdefault(interaction.user_id, UserItems()).add(interaction)
        self.items.add(interaction.item_id)

    def of(self, user_id: str) -> UserItems:
        return self.users.get(user_id) or UserItems()


def evaluate_one(model: Recommender, interaction: Interaction, k: int, history: StreamHistory,
                 policy: ExcludePolicy = DEFAULT_EXCLUDE) -> tuple[Outcome, float]:
    """Ask ``model`` for the user's list as served (:func:`~models.reco.serving.serve`); return
    the outcome for ``interaction``'s item and the seconds the answer took."""
    owned = history.of(interaction.user_id)
    start = time.perf_counter()
    recs = serve(model, interaction.user_id, k, policy, owned)
    elapsed = time.perf_counter() - start
    rank = next((r for r, rec in enumerate(recs[:k]) if rec.item_id == interaction.item_id), None)
    outcome = Outcome(rank, cold_user=not owned.seen, cold_item=interaction.item_id not in history.items, k=k)
    return outcome, elapsed


class Prequential:
    """Prequential evaluation of one model, fed one interaction at a time (e.g. by the learner).

    Evaluation asks; it does not train. The caller runs test, then train, then observe:

    >>> from models.reco.trending import TrendingPopularity
    >>> p, m = Prequential(k=10), TrendingPopularity()
    >>> m.add_item("a")
    >>> for user in ("u1", "u2"):
    ...     x = Interaction(user, "a", "click", 1.0, 0.0)
    ...     outcome = p.test(m, x)
    ...     m.learn_one(x)
    ...     p.observe(x)
    >>> outcome.hit, p.report.hit_rate
    (True, 0.5)
    """

    def __init__(self, k: int = 10, window: int = 1_000, skip_repeats: bool = True, name: str = "model",
                 policy: ExcludePolicy = DEFAULT_EXCLUDE) -> None:
        self.k = k
        self.skip_repeats = skip_repeats
        self.policy = policy
        self.history = StreamHistory()
        self.report = PrequentialReport(name, k, window)

    def test(self, model: Recommender, interaction: Interaction) -> Outcome | None:
        """Score the list ``model`` serves the user now against ``interaction``'s item (None for
        a repeat of an item the user already has, when repeats are skipped)."""
        return _test(model, interaction, self.k, self.history, self.report, self.skip_repeats, self.policy)

    def observe(self, interaction: Interaction) -> None:
        """Add ``interaction`` to the history that exclusions and cold-start splits read."""
        self.history.add(interaction)


def _test(model: Recommender, interaction: Interaction, k: int, history: StreamHistory, report: PrequentialReport,
          skip_repeats: bool, policy: ExcludePolicy) -> Outcome | None:
    if skip_repeats and interaction.item_id in history.of(interaction.user_id).seen:
        report.skipped_repeats += 1
        return None
    outcome, seconds = evaluate_one(model, interaction, k, history, policy)
    report.recommend_seconds += seconds
    report.record(outcome)
    return outcome


def _learn(model: Recommender, interaction: Interaction, report: PrequentialReport) -> None:
    start = time.perf_counter()
    model.learn_one(interaction)
    report.learn_seconds += time.perf_counter() - start
    report.learned += 1


def run_prequential(
    models: Mapping[str, Recommender],
    interactions: Iterable[Interaction],
    sample_every: int = 1,
    k: int = 10,
    window: int = 1_000,
    skip_repeats: bool = True,
    progress: Callable[[int, dict[str, PrequentialReport]], None] | None = None,
    policy: ExcludePolicy = DEFAULT_EXCLUDE,
    progress_every: int = 10_000,
) -> dict[str, PrequentialReport]:
    """Evaluate several models on the same stream in one pass.

    Every interaction is learned by every model; one in ``sample_every`` is evaluated first.
    ``progress(n_seen, reports)`` is called every ``progress_every`` interactions.
    """
    if sample_every < 1:
        raise ValueError("sample_every must be >= 1")
    history = StreamHistory()
    reports = {name: PrequentialReport(name, k, window) for name in models}
    n = 0
    for n, interaction in enumerate(interactions, start=1):
        evaluate = (n - 1) % sample_every == 0
        for name, model in models.items():
            if evaluate:
                _test(model, interaction, k, history, reports[name], skip_repeats, policy)
            _learn(model, interaction, reports[name])
        history.add(interaction)
        if progress is not None and n % progress_every == 0:
            progress(n, reports)
    if progress is not None and n % progress_every != 0:
        progress(n, reports)
    return reports


def format_reports(reports: Mapping[str, PrequentialReport]) -> str:
    """A plain-text table of the main figures."""
    head = (
        f"{'model':<12} {'eval':>7} {'HR@k':>7} {'NDCG@k':>7} {'HR cold':>8} {'HR warm':>8} "
        f"{'HR newitem':>10} {'learn/s':>9} {'rec ms':>7}"
    )
    lines = [head]
    for name, r in reports.items():
        lines.append(
            f"{name:<12} {r.evaluated:>7} {r.hit_rate:>7.4f} {r.ndcg:>7.4f} {r.cold_users.hit_rate:>8.4f} "
            f"{r.warm_users.hit_rate:>8.4f} {r.cold_items.hit_rate:>10.4f} {r.learn_per_second:>9.0f} "
            f"{r.recommend_ms:>7.3f}"
        )
    return "\n".join(lines)


__all__ = [
    "Outcome",
    "Prequential",
    "PrequentialReport",
    "StreamHistory",
    "Tally",
    "evaluate_one",
    "format_reports",
    "run_prequential",
]
