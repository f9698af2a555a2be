"""The continuous-learning recommender: candidates from three sources, re-ranked by an online SGD.

Candidates
    (a) item-to-item co-occurrence in users' recent histories (same session counts more; order
        lines of the same user count as "bought together"), normalised by sqrt of the item counts;
    (b) content: the user's profile vector (decayed mean of the vectors of the items they touched)
        against item vectors, through :class:`~models.reco.content.ContentCandidates` -- a new
        item with no interactions can be recommended this way (item cold start);
    (c) trending items, globally and in the user's favourite category; users with no history get
        trending items only (user cold start).

Ranker
    ``SGDClassifier(loss="log_loss")`` trained with ``partial_fit`` on mini-batches of
    (user, item) feature rows (:data:`FEATURES`): the item actually interacted with is a positive,
    items sampled uniformly from (an approximation of) the candidates serving would have built for
    that user are negatives. Rows are built *before* the interaction updates the state, exactly as
    they would have been at serving time, and only when the positive was among those candidates:
    the ranker's job is to order candidates, and a positive it could never have been shown teaches
    it to prefer whatever candidate generation does *not* find. Until the first mini-batch,
    :data:`PRIOR_WEIGHTS` rank.

Item cold start
    The ranker learns from interactions, so it has little reason to rank an item nobody touched:
    when the top ``k`` holds no item listed recently (by event time), its last place goes to the
    new item most similar to the user's profile, if it matches the user better than the item it
    displaces (``OnlineConfig.new_item_*``).

Training and serving
    :meth:`OnlineRecommender.learn_one` trains the ranker and updates the state;
    :meth:`OnlineRecommender.observe` only updates the state, for a copy that serves but must not
    train (only the learner trains).

Everything is parameters-as-data: :meth:`OnlineRecommender.state` returns a JSON-able dict and a
dict of numpy arrays, and :meth:`OnlineRecommender.from_state` rebuilds an identical model.

>>> m = OnlineRecommender(seed=1)
>>> m.add_item("tent", category="camping", brand="acme", price=120.0, vector=[1.0, 0.0])
>>> m.add_item("stove", category="cooking", brand="blaze", price=40.0, vector=[0.0, 1.0])
>>> m.add_item("lamp", category="camping", price=20.0, vector=[0.9, 0.1])
>>> m.learn_one(Interaction("u1", "tent", "order", 1.0, ts=0.0, session_id="s1"))
>>> m.learn_one(Interaction("u1", "stove", "order", 1.0, ts=1.0, session_id="s1"))
>>> m.learn_one(Interaction("u2", "tent", "click", 1.0, ts=2.0))
>>> [(r.item_id, r.reason) for r in m.recommend("u2", k=2, exclude={"tent"})]
[('lamp', 'matches your interest in camping'), ('stove', 'bought together with tent')]
>>> [(r.item_id, r.reason) for r in m.recommend("u3", k=3)]
[('tent', 'popular now'), ('stove', 'popular now')]
>>> m.profile("u1")["top_categories"]
[['cooking', 0.5], ['camping', 0.5]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import SGDClassifier

from models.reco.base import (
    DENSE_BELOW,
    CandidateFilter,
    FloatArray,
    IntArray,
    Interaction,
    ItemCatalog,
    Recommendation,
    Recommender,
    sorted_contains,
    top_k_among,
    top_k_indices,
)
from models.reco.content import BruteForceContent, ContentCandidates
from models.reco.cooc import CoocTable, SparseScores
from models.reco.decay import DecayedCounts

STATE_FORMAT = "shopstream.reco.online"
STATE_VERSION = 1

FEATURES: tuple[str, ...] = (
    "cooc",  # co-occurrence with the user's recent items, normalised
    "bought_together",  # same, counting only order-order pairs
    "profile_sim",  # cosine(user profile vector, item vector)
    "session_sim",  # cosine(last item's vector, item vector)
    "trending",  # log decayed popularity, scaled by the current maximum
    "popularity",  # log all-time interaction count, scaled by the maximum
    "category_affinity",  # share of the user's decayed weight in the item's category
    "brand_affinity",  # same for the brand
    "price_fit",  # exp(-z^2/2) of log price against the user's decayed log-price band
    "freshness",  # 2^(-age / freshness_half_life) since the item was first known
    "recency",  # 2^(-time since anyone last touched the item / trend_half_life)
    "seen",  # the user already interacted with the item
    "cold_item",  # nobody has interacted with the item yet
)
F_INDEX = {name: i for i, name in enumerate(FEATURES)}
_TRENDING = F_INDEX["trending"]
_FRESHNESS = F_INDEX["freshness"]
assert F_INDEX["popularity"] == _TRENDING + 1 and F_INDEX["recency"] == _FRESHNESS + 1
# Used until the ranker has seen its first mini-batch.
PRIOR_WEIGHTS: dict[str, float] = {
    "cooc": 3.0,
    "bought_together": 2.0,
    "profile_sim": 2.0,
    "session_sim": 1.0,
    "trending": 1.0,
    "popularity": 0.5,
    "category_affinity": 2.0,
    "brand_affinity": 0.5,
    "price_fit": 0.5,
    "freshness": 0.2,
    "recency": 0.2,
    "seen": -1.0,
    "cold_item": 0.0,
}
_REASON_GROUPS: dict[str, tuple[int, ...]] = {
    "cooc": (F_INDEX["cooc"], F_INDEX["bought_together"]),
    "content": tuple(
        F_INDEX[f] for f in ("profile_sim", "session_sim", "category_affinity", "brand_affinity", "price_fit")
    ),
    "trend": (F_INDEX["trending"], F_INDEX["popularity"], F_INDEX["recency"]),
    "fresh": (F_INDEX["freshness"], F_INDEX["cold_item"]),
}
_MAX_EXPONENT = 200.0


@dataclass(frozen=True)
class OnlineConfig:
    """Hyper-parameters; times are seconds of event time."""

    seed: int = 0
    trend_half_life: float = 86_400.0
    user_half_life: float = 7 * 86_400.0
    freshness_half_life: float = 7 * 86_400.0
    history_size: int = 10  # recent items kept per user: co-occurrence pairs and candidates
    cooc_query_items: int = 10  # most recent distinct items used to find co-occurrence candidates
    cooc_recency_decay: float = 0.85  # weight of the r-th most recent item: decay ** r
    cross_session_weight: float = 0.5  # pair weight when the two items are not in the same session
    max_neighbors: int = 100  # co-occurrence neighbours kept per item (pruned to this at 2x)
    n_cooc_candidates: int = 50
    n_content_candidates: int = 50
    n_trending_candidates: int = 30
    n_category_trending: int = 10
    negatives: int = 6  # per positive, sampled from (an approximation of) the user's candidates
    content_negative_pool: int = 256  # random items whose best matches stand in for content candidates
    train_on_repeats: bool = False  # learn the ranker from items the user already had (see notes)
    reachable_positives_only: bool = True  # learn only when the item was among the candidates
    new_item_slot: bool = True  # give the last place to a new item matching the profile (see recommend)
    new_item_max_age: float = 3 * 86_400.0  # "new": listed at most this long before the clock
    new_item_min_similarity: float = 0.5  # cosine with the user's profile vector
    batch_size: int = 64  # interactions per partial_fit call
    alpha: float = 1e-4
    learning_rate: str = "optimal"
    eta0: float = 0.01


class _User:
    """Per-user state. Decayed sums are stored scaled by exp(rate * (t - t_ref)); every quantity
    read from them is a ratio (shares, means, a normalised vector), so no decay is needed on read."""

    __slots__ = (
        "brands",
        "cats",
        "items",
        "last_ts",
        "n",
        "price",
        "recent",
        "t_ref",
        "vec",
    )

    def __init__(self, t_ref: float, dim: int) -> None:
        self.t_ref = t_ref
        self.last_ts = t_ref
        self.n = 0
        self.vec = np.zeros(dim, dtype=np.float64)
        self.cats: dict[int, float] = {}
        self.brands: dict[int, float] = {}
        self.price = np.zeros(3, dtype=np.float64)  # sum w, sum w*logp, sum w*logp^2
        self.recent: list[tuple[int, float, bool, str | None]] = []  # (item, ts, is_order, session)
        self.items: set[int] = set()


# Read-only placeholders of an incomplete context (shared: a context is built per event).
_NO_SCORES = SparseScores(np.zeros(0, dtype=np.int64), np.zeros(0))
_NO_SHARES: FloatArray = np.zeros(1)
_NO_SCORES.keys.flags.writeable = False
_NO_SCORES.vals.flags.writeable = False
_NO_SHARES.flags.writeable = False


@dataclass
class _Context:
    """What candidate generation and feature building need to know about one user, once."""

    user: _User
    sources: list[int]  # the user's most recent distinct items, newest first
    source_weight: FloatArray
    cooc: SparseScores
    profile: npt.NDArray[np.float32] | None
    # filled in by OnlineRecommender._complete (training skips it when it can)
    complete: bool = False
    bought: SparseScores = field(default_factory=lambda: _NO_SCORES)
    last_vec: npt.NDArray[np.float32] | None = None
    cat_share: FloatArray = field(default_factory=lambda: _NO_SHARES)
    brand_share: FloatArray = field(default_factory=lambda: _NO_SHARES)
    price_band: tuple[float, float] | None = None
    top_category: int = -1


class OnlineRecommender(Recommender):
    """Co-occurrence + content + trending candidates, ranked by an online logistic regression."""

    # An answer in a catalogue of this many items or more filters and merges its candidates without
    # an array the catalogue's size (see `models.reco.base.DENSE_BELOW`); the answers are the same.
    dense_below: int = DENSE_BELOW

    def __init__(
        self,
        config: OnlineConfig | None = None,
        *,
        seed: int | None = None,
        dim: int | None = None,
        content_factory: Callable[[int], ContentCandidates] = BruteForceContent,
    ) -> None:
        super().__init__(dim=dim)
        cfg = config or OnlineConfig()
        if seed is not None:
            cfg = OnlineConfig(**{**asdict(cfg), "seed": seed})
        self.config = cfg
        self.content_factory = content_factory
        self.content: ContentCandidates | None = None
        self.events_trained = 0  # interactions the ranker was trained on (learn_one)
        self.events_seen = 0  # interactions in the state (learn_one and observe)
        self.rng = np.random.default_rng(cfg.seed)
        self.trend = DecayedCounts(cfg.trend_half_life)
        self._user_rate = math.log(2.0) / cfg.user_half_life
        self._age_rates = -math.log(2.0) / np.array([cfg.freshness_half_life, cfg.trend_half_life])
        self._count = np.zeros(1024, dtype=np.float64)
        # sqrt(max(count, 1)) per item, the normaliser of co-occurrence scores: kept up to date by
        # _update_state (one item a step) instead of recomputed over every gathered pair per event
        self._sqrt_count = np.ones(1024, dtype=np.float64)
        self._last_seen = np.full(1024, np.nan, dtype=np.float64)
        self._count_max = 0.0
        # decay ** r of the r-th most recent source item, one array per number of sources (each
        # computed exactly as a per-event `decay ** arange(n)` would be)
        self._recency = [cfg.cooc_recency_decay ** np.arange(n, dtype=np.float64)
                         for n in range(cfg.cooc_query_items + 1)]
        self.users: dict[str, _User] = {}
        self.cooc = CoocTable(cfg.max_neighbors)
        self.bought = CoocTable(cfg.max_neighbors)
        self._trend_cache = np.empty(0, dtype=np.int64)  # top trending items, refreshed per batch
        self._pending_x: list[FloatArray] = []
        self._pending_y: list[npt.NDArray[np.int64]] = []
        self._pending_events = 0
        self.ranker = self._new_ranker()
        self.fitted = False

    def _new_ranker(self) -> SGDClassifier:
        c = self.config
        return SGDClassifier(
            loss="log_loss",
            alpha=c.alpha,
            learning_rate=c.learning_rate,
            eta0=c.eta0,
            random_state=c.seed,
        )

    # -- items -------------------------------------------------------------------------------------
    def _ensure_item_arrays(self, n: int) -> None:
        if n > self._count.shape[0]:
            cap = self._count.shape[0]
            while cap < n:
                cap *= 2
            count = np.zeros(cap, dtype=np.float64)
            count[: self._count.shape[0]] = self._count
            last = np.full(cap, np.nan, dtype=np.float64)
            last[: self._last_seen.shape[0]] = self._last_seen
            sqrt_count = np.ones(cap, dtype=np.float64)
            sqrt_count[: self._sqrt_count.shape[0]] = self._sqrt_count
            self._count, self._last_seen, self._sqrt_count = count, last, sqrt_count

    def _item_changed(self, idx: int) -> None:
        cat = self.catalog
        self._ensure_item_arrays(idx + 1)
        if self.content is None and cat.dim:
            self.content = self.content_factory(cat.dim)
        if self.content is None:
            return
        item_id = cat.ids[idx]
        if cat.is_available(idx) and cat.has_vector[idx]:
            self.content.add(item_id, cat.vectors[idx])
        else:
            self.content.remove(item_id)

    # -- learning ----------------------------------------------------------------------------------
    def learn_one(self, interaction: Interaction) -> None:
        """Train the ranker on ``interaction`` (feature rows as of before it), then :meth:`observe` it."""
        idx = self._register(interaction)
        self._add_training_rows(self.users.get(interaction.user_id), idx)
        self._update_state(interaction, idx)
        self.events_trained += 1

    def observe(self, interaction: Interaction) -> None:
        """Update what serving reads -- the item's counts and trend, co-occurrence, the user's
        recent items and profile -- without training the ranker. A copy that only serves (the
        API) follows the learner this way between the learner's snapshots: its state equals the
        learner's at the same log position, only the ranker's weights are the snapshot's."""
        self._update_state(interaction, self._register(interaction))

    def _register(self, x: Interaction) -> int:
        cat = self.catalog
        is_new_item = x.item_id not in cat.index
        idx = cat.ensure(x.item_id, x.ts)
        if is_new_item:
            self._item_changed(idx)
        self._tick(x.ts)
        return idx

    def _update_state(self, x: Interaction, idx: int) -> None:
        # item-side state
        count = float(self._count[idx]) + 1.0
        self._count[idx] = count
        self._sqrt_count[idx] = math.sqrt(count)  # count >= 1 here: sqrt(max(count, 1))
        self._count_max = max(self._count_max, count)
        self.trend.add(idx, x.weight, x.ts)
        if not self._last_seen[idx] >= x.ts:
            self._last_seen[idx] = x.ts

        # user-side state
        user = self.users.get(x.user_id)
        if user is None:
            user = _User(x.ts, self.catalog.dim or 0)
            self.users[x.user_id] = user
        is_order = x.kind == "order"
        self._update_cooc(user, idx, is_order, x.session_id)
        self._update_user(user, idx, x, is_order)
        self.events_seen += 1

    def _update_cooc(self, user: _User, idx: int, is_order: bool, session: str | None) -> None:
        cross = self.config.cross_session_weight
        seen: set[int] = {idx}
        pairs: list[int] = []
        weights: list[float] = []
        bought: list[int] = []
        for j, _, j_order, j_session in reversed(user.recent):
            if j in seen:
                continue
            seen.add(j)
            pairs.append(j)
            weights.append(1.0 if session is not None and j_session == session else cross)
            if is_order and j_order:
                bought.append(j)
        # Each row sees its bumps in the order the pairs were found: the two tables are apart
        self.cooc.bump_pairs(idx, pairs, weights)
        if bought:
            self.bought.bump_pairs(idx, bought, [1.0] * len(bought))

    def _update_user(self, user: _User, idx: int, x: Interaction, is_order: bool) -> None:
        cat = self.catalog
        exponent = self._user_rate * (x.ts - user.t_ref)
        if exponent > _MAX_EXPONENT:
            f = math.exp(-exponent)
            user.vec *= f
            user.price *= f
            user.cats = {k: v * f for k, v in user.cats.items()}
            user.brands = {k: v * f for k, v in user.brands.items()}
            user.t_ref = x.ts
            exponent = 0.0
        w = x.weight * math.exp(exponent)
        if cat.has_vector[idx]:
            if user.vec.shape[0] != cat.vectors.shape[1]:
                user.vec = np.zeros(cat.vectors.shape[1], dtype=np.float64)
            user.vec += w * cat.vectors[idx].astype(np.float64)  # float32 overflows past e^88 of decay
        c = int(cat.category[idx])
        if c >= 0:
            user.cats[c] = user.cats.get(c, 0.0) + w
        b = int(cat.brand[idx])
        if b >= 0:
            user.brands[b] = user.brands.get(b, 0.0) + w
        lp = float(cat.log_price[idx])
        if not math.isnan(lp):
            user.price += (w, w * lp, w * lp * lp)
        user.recent.append((idx, x.ts, is_order, x.session_id))
        if len(user.recent) > self.config.history_size:
            del user.recent[0]
        user.items.add(idx)
        user.n += 1
        if x.ts > user.last_ts:
            user.last_ts = x.ts

    def _add_training_rows(self, user: _User | None, pos: int) -> None:
        """Feature rows for the positive ``pos`` and sampled negatives, as of before the update.

        The ranker only ever ranks a warm user's candidates, so it learns from warm users, and
        its negatives are drawn uniformly from an approximation of the candidate set that serving
        would have built, without running the full content search on every event: the top
        co-occurrence candidates (exact), the best profile matches within a random pool (standing
        for the content candidates) and the trending items (refreshed once per mini-batch). Each
        source is picked in proportion to the number of candidates it contributes at serving.
        Items the user already has are not negatives: serving excludes them.
        """
        cfg = self.config
        if user is None or user.n == 0 or cfg.negatives <= 0:
            return
        if pos in user.items and not cfg.train_on_repeats:
            return
        cat = self.catalog
        n_items = len(cat)
        self._ensure_item_arrays(n_items)
        profile = self._profile_of(user)
        n_pool = cfg.content_negative_pool if profile is not None else 0
        u = self.rng.random(n_pool + cfg.negatives)
        # (b) the pool's share of the top n_content_candidates of the whole catalog
        content: list[int] = []
        content_reach = False
        if n_pool and n_items and profile is not None:
            pool = (u[:n_pool] * n_items).astype(np.int64)
            pool = pool[cat.has_vector[pool]]
            if pool.size:
                m = max(1, min(pool.size, round(pool.size * cfg.n_content_candidates / n_items)))
                sims = cat.vectors[pool] @ profile
                top = np.argpartition(-sims, m - 1)[:m]
                content = pool[top].tolist()
                if cat.has_vector[pos]:
                    content_reach = float(cat.vectors[pos] @ profile) >= float(sims[top].min())
        # (c) trending
        if self._trend_cache.size == 0 and self.trend.max_raw > 0:
            self._refresh_trend_cache()
        trend = self._trend_cache.tolist()
        trend_reach = pos in trend
        # (a) the top co-occurrence candidates, in no particular order. About half the positives
        # are reached by no source and teach nothing: when content and trending miss one and no
        # recent item's row even holds it, it cannot be a co-occurrence candidate, and the dense
        # scores (the costly part) are not needed to know it.
        sources, src_weight = self._sources(user)
        if (cfg.reachable_positives_only and not content_reach and not trend_reach
                and not self.cooc.holds_any(sources, pos)):
            return
        ctx = _Context(user, sources, src_weight, self._cooc_scores(self.cooc, sources, src_weight), profile)
        co = ctx.cooc.keys
        if co.size > cfg.n_cooc_candidates:
            co = co[np.argpartition(-ctx.cooc.vals, cfg.n_cooc_candidates - 1)[: cfg.n_cooc_candidates]]
        co_list = co.tolist()
        reachable = (ctx.cooc.of(pos) > 0 and pos in co_list) or content_reach or trend_reach
        if not reachable and cfg.reachable_positives_only:
            return
        n_content = cfg.n_content_candidates if content else 0
        total = len(co_list) + n_content + len(trend)
        if total == 0:
            return
        available, owned = cat.is_available, ctx.user.items
        rows = [pos]
        for r in u[n_pool:].tolist():
            j = int(r * total)
            if j < len(co_list):
                item = co_list[j]
            elif j < len(co_list) + n_content:
                item = content[(j - len(co_list)) * len(content) // n_content]
            else:
                item = trend[min(j - len(co_list) - n_content, len(trend) - 1)]
            if item != pos and item not in owned and available(item):
                rows.append(item)
        if len(rows) == 1:
            return
        self._complete(ctx)
        self._pending_x.append(self._features(ctx, np.asarray(rows, dtype=np.int64)))
        y = np.zeros(len(rows), dtype=np.int64)
        y[0] = 1
        self._pending_y.append(y)
        self._pending_events += 1
        if self._pending_events >= cfg.batch_size:
            self._fit_pending()

    def _refresh_trend_cache(self) -> None:
        raw = self.trend.raw(len(self.catalog))
        touched = self.trend.touched()  # every item outside it scores 0
        vals = raw[touched]
        k = min(self.config.n_trending_candidates, int(np.count_nonzero(vals)))
        positive = (vals > 0) & np.isfinite(vals)
        if int(np.count_nonzero(positive)) >= k:  # the k-th best is above 0: no other item can take part
            self._trend_cache = top_k_among(touched[positive], vals[positive], k)
        else:
            self._trend_cache = top_k_indices(raw, k)

    def _fit_pending(self) -> None:
        if not self._pending_x:
            return
        x = np.vstack(self._pending_x)
        y = np.concatenate(self._pending_y)
        self._pending_x, self._pending_y, self._pending_events = [], [], 0
        self._refresh_trend_cache()
        if self.fitted:
            self.ranker.partial_fit(x, y)
        else:
            self.ranker.partial_fit(x, y, classes=np.array([0, 1]))
            self.fitted = True

    def flush(self) -> None:
        """Train on the rows still waiting for a full mini-batch (e.g. before a snapshot)."""
        self._fit_pending()

    # -- per-user context, candidates and features --------------------------------------------------
    def _sources(self, user: _User) -> tuple[list[int], FloatArray]:
        """The user's most recent distinct items, newest first, and their co-occurrence weights."""
        limit = self.config.cooc_query_items
        sources: list[int] = []
        for j, _, _, _ in reversed(user.recent):
            if j not in sources:
                sources.append(j)
                if len(sources) >= limit:
                    break
        src_weight = self._recency[len(sources)] / self._sqrt_count[sources]
        return sources, src_weight

    @staticmethod
    def _profile_of(user: _User) -> npt.NDArray[np.float32] | None:
        norm = math.sqrt(float(user.vec @ user.vec)) if user.vec.size else 0.0
        return (user.vec / norm).astype(np.float32) if norm > 0 else None

    def _context(self, user: _User) -> _Context:
        """What candidates and features need to know about ``user`` (training builds its own from
        the same parts, and completes it only for the events it learns from)."""
        sources, src_weight = self._sources(user)
        ctx = _Context(user, sources, src_weight, self._cooc_scores(self.cooc, sources, src_weight),
                       self._profile_of(user))
        self._complete(ctx)
        return ctx

    def _complete(self, ctx: _Context) -> None:
        cat = self.catalog
        user = ctx.user
        ctx.bought = self._cooc_scores(self.bought, ctx.sources, ctx.source_weight)
        if user.recent:
            last = user.recent[-1][0]
            if cat.has_vector[last]:
                ctx.last_vec = cat.vectors[last]
        ctx.cat_share = self._shares(user.cats, len(cat.categories))
        ctx.brand_share = self._shares(user.brands, len(cat.brands))
        pw, ps, pq = user.price.tolist()
        if pw > 0:
            mu = ps / pw
            var = max(pq / pw - mu * mu, 0.0)
            ctx.price_band = (mu, max(math.sqrt(var), 0.25))
        if user.cats:
            ctx.top_category = max(user.cats.items(), key=lambda kv: kv[1])[0]
        ctx.complete = True

    def _cooc_scores(self, table: CoocTable, sources: list[int], src_weight: FloatArray) -> SparseScores:
        """Co-occurrence score of every item against the user's recent items (the few non-zero ones)."""
        keys, vals, weights = table.gather_weighted(sources, src_weight)
        if not keys.size:
            return _NO_SCORES
        contrib = weights * vals / self._sqrt_count[keys]
        return SparseScores.sum_by_key(keys, contrib, len(self.catalog))

    def _best_source(self, table: CoocTable, ctx: _Context, item: int) -> int:
        """The recent item that contributed most to ``item``'s score in ``table`` (the newest of
        equals), -1 if none did: a reason's "with ...", worked out only for the items shown with one.
        The same products and divisions as :meth:`_cooc_scores`, so the same comparisons."""
        best, best_contrib = -1, 0.0
        norm = float(self._sqrt_count[item])
        for src, w in zip(ctx.sources, ctx.source_weight.tolist(), strict=True):
            val = table.get_or_none(src, item)
            if val is not None:
                contrib = w * val / norm
                if best < 0 or contrib > best_contrib:
                    best, best_contrib = src, contrib
        return best

    @staticmethod
    def _shares(weights: dict[int, float], size: int) -> FloatArray:
        """Dense shares with one extra trailing zero slot, so that index -1 (unknown) reads 0."""
        out = np.zeros(size + 1, dtype=np.float64)
        if weights:
            total = sum(weights.values())
            if total > 0:
                keys = np.fromiter(weights.keys(), dtype=np.int64, count=len(weights))
                vals = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
                out[keys] = vals / total
        return out

    def _trending(self, mask: CandidateFilter) -> tuple[IntArray, FloatArray]:
        """The items with a trend score (positive, finite) that ``mask`` lets through, ascending, and
        their raw scores; read from the items ever interacted with, not the whole catalogue."""
        touched = self.trend.touched()
        raw = self.trend.raw(len(self.catalog))[touched]
        keep = mask[touched] & (raw > 0) & np.isfinite(raw)
        return touched[keep], raw[keep]

    def _warm_candidates(self, ctx: _Context, mask: CandidateFilter, k: int) -> IntArray:
        """Union of co-occurrence, content and trending candidates, filtered by ``mask``."""
        cfg = self.config
        parts: list[IntArray] = []
        positive = ctx.cooc.vals > 0
        keep = positive & mask[ctx.cooc.keys]
        co, co_scores = ctx.cooc.keys[keep], ctx.cooc.vals[keep]
        if co.size > cfg.n_cooc_candidates:
            co = co[top_k_indices(co_scores, cfg.n_cooc_candidates)]
        parts.append(co)
        if ctx.profile is not None and self.content is not None and len(self.content):
            want = cfg.n_content_candidates
            overfetch = want + min(len(ctx.user.items), 1000)
            index = self.catalog.index
            found = [index[i] for i, _ in self.content.search(ctx.profile, overfetch)]
            content = np.asarray(found, dtype=np.int64)
            if content.size:
                content = content[mask[content]]
            parts.append(content[:want])
        # Trending, overall and in the user's top category
        trending, trend = self._trending(mask)
        parts.append(top_k_among(trending, trend, max(cfg.n_trending_candidates, k)))
        if ctx.top_category >= 0 and cfg.n_category_trending:
            in_top = self.catalog.category[trending] == ctx.top_category
            parts.append(top_k_among(trending[in_top], trend[in_top], cfg.n_category_trending))
        # The union, sorted: a flag per catalogue item, or in a large catalogue the few hundred sorted
        if len(self.catalog) >= self.dense_below:
            return np.unique(np.concatenate(parts)).astype(np.int64, copy=False)
        union = np.zeros(len(self.catalog), dtype=np.bool_)
        for part in parts:
            union[part] = True
        return np.flatnonzero(union)

    def _features(self, ctx: _Context | None, items: IntArray) -> FloatArray:
        cat = self.catalog
        now = self.clock if self.clock is not None else 0.0
        out = np.zeros((items.size, len(FEATURES)), dtype=np.float64)
        count = self._count[items]
        # trending and popularity: log scaled by the current maxima (adjacent columns)
        trend_f = self.trend.factor_at(now)
        trend_max = self.trend.max_raw * trend_f
        pop = out[:, _TRENDING : _TRENDING + 2]
        pop[:, 0] = self.trend.raw(len(cat))[items]
        pop[:, 0] *= trend_f
        pop[:, 1] = count
        np.log1p(pop, out=pop)
        pop *= (
            1.0 / math.log1p(trend_max) if trend_max > 0 else 0.0,
            1.0 / math.log1p(self._count_max) if self._count_max > 0 else 0.0,
        )
        # freshness and recency: exponential decay of ages (adjacent columns); unknown -> 0
        ages = out[:, _FRESHNESS : _FRESHNESS + 2]
        ages[:, 0] = cat.added_ts[items]
        ages[:, 1] = self._last_seen[items]
        np.subtract(now, ages, out=ages)
        np.maximum(ages, 0.0, out=ages)
        ages *= self._age_rates
        np.exp(ages, out=ages)
        ages[np.isnan(ages)] = 0.0
        out[:, F_INDEX["cold_item"]] = count == 0
        if ctx is None:
            return out
        out[:, F_INDEX["cooc"]] = ctx.cooc.at(items)
        out[:, F_INDEX["bought_together"]] = ctx.bought.at(items)
        if ctx.profile is not None or ctx.last_vec is not None:
            vecs = cat.vectors[items]
            if ctx.profile is not None:
                out[:, F_INDEX["profile_sim"]] = vecs @ ctx.profile
            if ctx.last_vec is not None:
                out[:, F_INDEX["session_sim"]] = vecs @ ctx.last_vec
        out[:, F_INDEX["category_affinity"]] = ctx.cat_share[cat.category[items]]
        out[:, F_INDEX["brand_affinity"]] = ctx.brand_share[cat.brand[items]]
        if ctx.price_band is not None:
            mu, sd = ctx.price_band
            z = (cat.log_price[items] - mu) / sd
            fit = np.exp(-0.5 * z * z)
            fit[np.isnan(fit)] = 0.0
            out[:, F_INDEX["price_fit"]] = fit
        owned = ctx.user.items
        if owned:  # a set look-up per row: a catalogue-sized flag array costs 1 MB at a million items
            out[:, F_INDEX["seen"]] = np.fromiter((i in owned for i in items.tolist()), dtype=np.bool_,
                                                  count=items.size)
        return out

    def weights(self) -> tuple[FloatArray, float]:
        """The ranker's coefficients and intercept (the prior until the first mini-batch)."""
        if self.fitted:
            return self.ranker.coef_.ravel().astype(np.float64), float(self.ranker.intercept_[0])
        return np.array([PRIOR_WEIGHTS[f] for f in FEATURES], dtype=np.float64), 0.0

    def ranker_weights(self) -> dict[str, float]:
        """Feature name -> weight, for display."""
        w, b = self.weights()
        return {**{f: float(v) for f, v in zip(FEATURES, w, strict=True)}, "intercept": b}

    # -- answering ----------------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int, exclude: set[str] | None = None) -> list[Recommendation]:
        if k <= 0:
            return []
        self._ensure_item_arrays(len(self.catalog))
        mask = self._candidate_filter(exclude, self.dense_below)
        user = self.users.get(user_id)
        ids = self.catalog.ids
        if user is None or user.n == 0:
            trending, trend = self._trending(mask)
            raw = self.trend.raw(len(self.catalog))
            f = self.trend.factor_at(self.clock if self.clock is not None else 0.0)
            return [Recommendation(ids[i], float(raw[i] * f), "popular now")
                    for i in top_k_among(trending, trend, k).tolist()]
        ctx = self._context(user)
        cands = self._warm_candidates(ctx, mask, k)
        if cands.size == 0:
            return []
        x = self._features(ctx, cands)
        w, b = self.weights()
        scores = x @ w + b
        top = top_k_indices(scores, k)
        items = cands[top].tolist()
        groups = _reason_groups(x[top] * w)
        out = [Recommendation(ids[item], score, self._reason(ctx, item, group))
               for item, score, group in zip(items, scores[top].tolist(), groups, strict=True)]
        new = self._new_item_for(ctx, mask, items)
        if new is not None and len(out) == k:
            # It scores no higher than the item it displaces, so the answer stays sorted.
            out[-1] = Recommendation(ids[new], out[-1].score, self._new_reason(new))
        elif new is not None:
            out.append(Recommendation(ids[new], out[-1].score if out else 0.0, self._new_reason(new)))
        return out

    def new_items(self) -> IntArray:
        """Items listed within ``new_item_max_age`` of event time before the clock."""
        cat = self.catalog
        if self.clock is None:
            return np.empty(0, dtype=np.int64)
        return cat.added_since(self.clock - self.config.new_item_max_age)

    def _new_item_for(self, ctx: _Context, mask: CandidateFilter, top: list[int]) -> int | None:
        """Item cold start: the ranker learns from interactions, so it has little reason to rank an
        item nobody has touched yet. When the answer holds no new item (see :meth:`new_items`),
        the new item that best matches the user's profile takes the last place -- only if it
        matches the profile (cosine >= ``new_item_min_similarity``) and matches it better than the
        item it displaces."""
        cfg = self.config
        if not cfg.new_item_slot or ctx.profile is None or not top:
            return None
        new = self.new_items()
        new = new[mask[new] & self.catalog.has_vector[new]]
        if new.size == 0:
            return None
        if sorted_contains(new, np.asarray(top, dtype=np.int64)).any():  # `new` is ascending
            return None
        vectors = self.catalog.vectors
        sims = vectors[new] @ ctx.profile
        best = int(top_k_indices(sims.astype(np.float64), 1)[0])
        displaced = float(vectors[top[-1]] @ ctx.profile)
        if sims[best] < cfg.new_item_min_similarity or not sims[best] > displaced:
            return None
        return int(new[best])

    def _new_reason(self, item: int) -> str:
        cname = self.catalog.category_name(item)
        return f"new in {cname}" if cname is not None else "new arrival"

    def _reason(self, ctx: _Context, item: int, group: str) -> str:
        cat = self.catalog
        cname = cat.category_name(item)
        c = int(cat.category[item])
        if group == "cooc":
            src = self._best_source(self.bought, ctx, item)
            if src >= 0:
                return f"bought together with {cat.ids[src]}"
            src = self._best_source(self.cooc, ctx, item)
            if src >= 0:
                return f"often viewed with {cat.ids[src]}"
        if group == "content":
            if cname is not None and ctx.cat_share[c] > 0:
                return f"matches your interest in {cname}"
            bname = cat.brand_name(item)
            if bname is not None and ctx.brand_share[int(cat.brand[item])] > 0:
                return f"matches your interest in {bname}"
            return "similar to what you viewed"
        if group == "fresh":
            return f"new in {cname}" if cname is not None else "new arrival"
        if cname is not None and ctx.cat_share[c] > 0:
            return f"trending in {cname}"
        return "popular now"

    def profile_vector(self, user_id: str) -> npt.NDArray[np.float32] | None:
        """The user's unit profile vector (decayed mean of their items' vectors), if any."""
        user = self.users.get(user_id)
        if user is None:
            return None
        norm = math.sqrt(float(user.vec @ user.vec)) if user.vec.size else 0.0
        return (user.vec / norm).astype(np.float32) if norm > 0 else None

    def profile(self, user_id: str) -> dict[str, Any]:
        """A JSON-able summary of what the model knows about a user (for ``/users/{id}``)."""
        cat = self.catalog
        user = self.users.get(user_id)
        if user is None:
            return {"user_id": user_id, "known": False, "events": 0}

        def top(weights: dict[int, float], names: list[str], n: int = 5) -> list[list[Any]]:
            total = sum(weights.values()) or 1.0
            best = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
            return [[names[key], round(v / total, 4)] for key, v in best]

        band = None
        pw, ps, pq = (float(v) for v in user.price)
        if pw > 0:
            mu = ps / pw
            sd = math.sqrt(max(pq / pw - mu * mu, 0.0))
            band = {"typical": math.exp(mu), "low": math.exp(mu - sd), "high": math.exp(mu + sd)}
        recent = [cat.ids[i] for i, *_ in reversed(user.recent)]
        return {
            "user_id": user_id,
            "known": True,
            "events": user.n,
            "distinct_items": len(user.items),
            "last_seen": user.last_ts,
            "recent_items": list(dict.fromkeys(recent)),
            "top_categories": top(user.cats, cat.categories),
            "top_brands": top(user.brands, cat.brands),
            "price_band": band,
            "has_profile_vector": bool(np.any(user.vec)),
        }

    # -- parameters as data -------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """(JSON-able dict, numpy arrays) holding everything; no pickle. Pending rows included."""
        cat_meta, cat_arrays = self.catalog.state()
        n = len(self.catalog)
        self._ensure_item_arrays(n)
        trend_meta, trend_values = self.trend.state(n)
        arrays: dict[str, npt.NDArray[Any]] = {f"item_{k}": v for k, v in cat_arrays.items()}
        arrays["item_count"] = self._count[:n].copy()
        arrays["item_last_seen"] = self._last_seen[:n].copy()
        arrays["item_trend"] = trend_values
        for name, table in (("cooc", self.cooc), ("bought", self.bought)):
            arrays.update({f"{name}_{k}": v for k, v in table.state().items()})
        user_ids = list(self.users)
        users = [self.users[u] for u in user_ids]
        dim = self.catalog.dim or 0
        arrays["user_t_ref"] = np.array([u.t_ref for u in users], dtype=np.float64)
        arrays["user_last_ts"] = np.array([u.last_ts for u in users], dtype=np.float64)
        arrays["user_n"] = np.array([u.n for u in users], dtype=np.int64)
        arrays["user_price"] = np.array([u.price for u in users], dtype=np.float64).reshape(-1, 3)
        user_vec = np.zeros((len(users), dim), dtype=np.float64)
        for u_i, u in enumerate(users):
            if u.vec.shape[0] == dim:
                user_vec[u_i] = u.vec
        arrays["user_vec"] = user_vec
        for name in ("cats", "brands"):
            ptr, keys, vals = _dicts_to_csr([getattr(u, name) for u in users])
            arrays[f"user_{name}_ptr"], arrays[f"user_{name}_key"], arrays[f"user_{name}_val"] = ptr, keys, vals
        items_ptr = np.zeros(len(users) + 1, dtype=np.int64)
        items_ptr[1:] = np.cumsum([len(u.items) for u in users])
        arrays["user_items_ptr"] = items_ptr
        arrays["user_items"] = np.array([i for u in users for i in sorted(u.items)], dtype=np.int64)
        sessions: dict[str, int] = {}
        recent = [r for u in users for r in u.recent]
        recent_ptr = np.zeros(len(users) + 1, dtype=np.int64)
        recent_ptr[1:] = np.cumsum([len(u.recent) for u in users])
        arrays["user_recent_ptr"] = recent_ptr
        arrays["user_recent_item"] = np.array([r[0] for r in recent], dtype=np.int64)
        arrays["user_recent_ts"] = np.array([r[1] for r in recent], dtype=np.float64)
        arrays["user_recent_order"] = np.array([r[2] for r in recent], dtype=np.bool_)
        arrays["user_recent_session"] = np.array(
            [-1 if r[3] is None else sessions.setdefault(r[3], len(sessions)) for r in recent], dtype=np.int64
        )
        arrays["trend_cache"] = self._trend_cache.copy()
        if self._pending_x:
            arrays["pending_x"] = np.vstack(self._pending_x)
            arrays["pending_y"] = np.concatenate(self._pending_y)
            arrays["pending_len"] = np.array([len(y) for y in self._pending_y], dtype=np.int64)
        ranker: dict[str, Any] = {"fitted": self.fitted}
        if self.fitted:
            arrays["ranker_coef"] = np.asarray(self.ranker.coef_, dtype=np.float64).copy()
            arrays["ranker_intercept"] = np.asarray(self.ranker.intercept_, dtype=np.float64).copy()
            arrays["ranker_classes"] = np.asarray(self.ranker.classes_).copy()
            ranker["t_"] = float(self.ranker.t_)
        meta: dict[str, Any] = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "events_trained": self.events_trained,
            "events_seen": self.events_seen,
            "features": list(FEATURES),
            "config": asdict(self.config),
            "clock": self.clock,
            "catalog": cat_meta,
            "trend": trend_meta,
            "count_max": self._count_max,
            "users": user_ids,
            "sessions": list(sessions),
            "pending_events": self._pending_events,
            "ranker": ranker,
            "rng": self.rng.bit_generator.state,
        }
        return meta, arrays

    @classmethod
    def from_state(
        cls,
        meta: dict[str, Any],
        arrays: dict[str, npt.NDArray[Any]],
        *,
        content: ContentCandidates | None = None,
        content_factory: Callable[[int], ContentCandidates] = BruteForceContent,
    ) -> OnlineRecommender:
        """Rebuild a model from :meth:`state`. ``content`` is an already loaded index (e.g. FAISS,
        snapshotted separately); without it one is rebuilt from the catalog's vectors."""
        if meta.get("format") != STATE_FORMAT or meta.get("version") != STATE_VERSION:
            raise ValueError(
                f"not an {STATE_FORMAT} v{STATE_VERSION} state: {meta.get('format')} v{meta.get('version')}"
            )
        if list(meta["features"]) != list(FEATURES):
            raise ValueError("state was written with a different feature set")
        known = {f.name for f in fields(OnlineConfig)}
        config = OnlineConfig(**{k: v for k, v in meta["config"].items() if k in known})
        m = cls(config, content_factory=content_factory)
        m.catalog = ItemCatalog.from_state(
            meta["catalog"], {k[5:]: v for k, v in arrays.items() if k.startswith("item_")}
        )
        n = len(m.catalog)
        m.clock = meta["clock"]
        m.events_trained = int(meta["events_trained"])
        m.events_seen = int(meta.get("events_seen", m.events_trained))
        m._ensure_item_arrays(n)
        m._count[:n] = arrays["item_count"]
        m._sqrt_count[:n] = np.sqrt(np.maximum(m._count[:n], 1.0))
        m._last_seen[:n] = arrays["item_last_seen"]
        m._count_max = float(meta["count_max"])
        m.trend = DecayedCounts.from_state(meta["trend"], arrays["item_trend"])
        for name in ("cooc", "bought"):
            table = CoocTable.from_state(config.max_neighbors, {k: arrays[f"{name}_{k}"] for k in CoocTable.FIELDS})
            setattr(m, name, table)
        dim = m.catalog.dim or 0
        sessions: list[str] = list(meta["sessions"])
        cats = _csr_to_dicts(arrays["user_cats_ptr"], arrays["user_cats_key"], arrays["user_cats_val"])
        brands = _csr_to_dicts(arrays["user_brands_ptr"], arrays["user_brands_key"], arrays["user_brands_val"])
        items_ptr, items = arrays["user_items_ptr"], arrays["user_items"]
        r_ptr = arrays["user_recent_ptr"]
        r_item, r_ts = arrays["user_recent_item"].tolist(), arrays["user_recent_ts"].tolist()
        r_order, r_session = arrays["user_recent_order"].tolist(), arrays["user_recent_session"].tolist()
        for u_i, user_id in enumerate(meta["users"]):
            user = _User(float(arrays["user_t_ref"][u_i]), dim)
            user.last_ts = float(arrays["user_last_ts"][u_i])
            user.n = int(arrays["user_n"][u_i])
            user.price = arrays["user_price"][u_i].astype(np.float64).copy()
            user.vec = arrays["user_vec"][u_i].astype(np.float64).copy()
            user.cats, user.brands = cats[u_i], brands[u_i]
            user.items = set(items[items_ptr[u_i] : items_ptr[u_i + 1]].tolist())
            user.recent = [
                (int(r_item[j]), float(r_ts[j]), bool(r_order[j]), None if r_session[j] < 0 else sessions[r_session[j]])
                for j in range(int(r_ptr[u_i]), int(r_ptr[u_i + 1]))
            ]
            m.users[user_id] = user
        m._trend_cache = np.asarray(arrays["trend_cache"], dtype=np.int64).copy()
        if "pending_x" in arrays:
            bounds = np.cumsum(arrays["pending_len"])[:-1]
            m._pending_x = [np.array(a) for a in np.split(arrays["pending_x"], bounds)]
            m._pending_y = [np.array(a) for a in np.split(arrays["pending_y"], bounds)]
        m._pending_events = int(meta["pending_events"])
        if meta["ranker"]["fitted"]:
            r = m.ranker
            r.classes_ = np.asarray(arrays["ranker_classes"]).copy()
            r.coef_ = np.ascontiguousarray(arrays["ranker_coef"], dtype=np.float64).copy()
            r.intercept_ = np.ascontiguousarray(arrays["ranker_intercept"], dtype=np.float64).copy()
            r.t_ = float(meta["ranker"]["t_"])
            r.n_features_in_ = int(r.coef_.shape[1])
            m.fitted = True
        m.rng.bit_generator.state = meta["rng"]
        if content is not None:
            m.content = content
        elif m.catalog.dim:
            m.content = content_factory(m.catalog.dim)
            avail = m.catalog.available & m.catalog.has_vector
            for i in np.flatnonzero(avail).tolist():
                m.content.add(m.catalog.ids[i], m.catalog.vectors[i])
        return m


def _reason_groups(contrib: FloatArray) -> list[str]:
    """Per row of feature contributions (weight x feature), the reason group with the largest
    sum (the first of equals), for all the rows shown at once. Each group's columns are added
    left to right, as a Python ``sum`` over them would, so the comparisons are the same."""
    names = list(_REASON_GROUPS)
    totals = np.empty((contrib.shape[0], len(names)), dtype=np.float64)
    for g, cols in enumerate(_REASON_GROUPS.values()):
        total = totals[:, g]
        total[:] = contrib[:, cols[0]]
        for col in cols[1:]:
            total += contrib[:, col]
    if np.isnan(totals).any():  # max() and argmax part ways on NaN: keep max()'s answer
        return [names[max(range(len(names)), key=row.__getitem__)] for row in totals.tolist()]
    return [names[g] for g in np.argmax(totals, axis=1).tolist()]


def _dicts_to_csr(dicts: list[dict[int, float]]) -> tuple[IntArray, IntArray, FloatArray]:
    ptr = np.zeros(len(dicts) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(d) for d in dicts])
    keys = np.array([k for d in dicts for k in d], dtype=np.int64)
    vals = np.array([v for d in dicts for v in d.values()], dtype=np.float64)
    return ptr, keys, vals


def _csr_to_dicts(ptr: npt.NDArray[Any], keys: npt.NDArray[Any], vals: npt.NDArray[Any]) -> list[dict[int, float]]:
    k, v, p = keys.tolist(), vals.tolist(), ptr.tolist()
    return [dict(zip(k[p[i] : p[i + 1]], v[p[i] : p[i + 1]], strict=True)) for i in range(len(p) - 1)]
