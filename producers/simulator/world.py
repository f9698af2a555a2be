"""The deterministic simulated shop: catalogue, users with hidden tastes, sessions, orders, stock.

The same config (seed and run id included) always gives the same event sequence, event ids and event
times included: every random choice comes from one `random.Random(seed)` and a Faker seeded with it,
and time is a simulated clock that starts at `config.start_time`.

The run id keeps runs apart: two runs into the same topics never share an event, session or order id,
even with the same seed (whose world -- products, users, tastes, what they click and buy -- is the
same: the run id only names things, it draws nothing from the random stream). Without a run id the ids
are those of a single run (`o0000001`, ...), as benchmarks and tests that compare runs by seed expect;
`shopstream simulate` uses a fresh one per process (`new_run_id`).

>>> sim = Simulator(SimulatorConfig(seed=7, n_products=40, n_users=10))
>>> events = list(sim.events(200))
>>> [e.type.value for e in events[:2]], events[0].event_time.isoformat()
(['product.upserted', 'product.upserted'], '2026-01-01T00:00:00.001000+00:00')
>>> sim.tally.to_dict()["events"], sim.tally.to_dict()["products_alive"] >= 40
(200, True)
>>> [e.event_id for e in Simulator(SimulatorConfig(seed=7, n_products=40, n_users=10)).events(200)] == [
...     e.event_id for e in events]
True
>>> other = list(Simulator(SimulatorConfig(seed=7, n_products=40, n_users=10, run_id="r2")).events(200))
>>> {e.event_id for e in other}.isdisjoint(e.event_id for e in events)
True
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import random
import re
import secrets
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from faker import Faker
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from events import (
    Click,
    ClickSource,
    Event,
    EventType,
    Order,
    ProductRemoved,
    ProductUpserted,
)
from producers.simulator.catalogue import CENT, Product, ProductFactory, charm_price
from producers.simulator.queries import QueryIntent, generate_queries, make_intent
from producers.simulator.specs import SPEC_BY_KEY, SUBCATEGORIES
from producers.simulator.tastes import ProductLike, TasteModel, UserTaste
from producers.simulator.trusted import trusted_click, trusted_event, trusted_order, uuid4_from

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
LivePayload = ProductUpserted | ProductRemoved | Click | Order

_SEARCH_PAGE = 10
_BROWSE_PAGE = 20
_RECO_PAGE = 12
_POSITIONS = tuple((pos, 1.0 / (1.0 + 0.3 * pos)) for pos in range(_BROWSE_PAGE))
"""(position on a page, how likely a shopper looks at a product there)."""
_NOISE_LEVEL = 0.3
_USE = "#use"
_CacheKey = tuple[str, tuple[tuple[str, str], ...], str | None]


def _quality_rank(p: Product) -> tuple[float, str]:
    return (-p.quality, p.product_id)


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def new_run_id() -> str:
    """A fresh run id: the UTC start time to the second and 16 random bits ('261126101500-a1b2').

    Runs started in different seconds never collide; two started in the same second collide with a
    chance of 1 in 65,536.
    """
    return f"{datetime.now(UTC):%y%m%d%H%M%S}-{secrets.token_hex(2)}"


class SimulatorConfig(BaseModel):
    """Options of the simulated world. Rates are probabilities per live step (one step emits one event,
    or a few for an order that sells products out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    run_id: str = ""
    """Names this run: order and session ids end in `-<run id>` and event ids are mixed with it, so that
    runs into the same topics never collide. Empty: the ids of a single run (o0000001, s0000001)."""
    n_products: int = Field(1000, ge=1)
    n_users: int = Field(500, ge=1)
    start_time: datetime = DEFAULT_START
    mean_interarrival_s: float = Field(0.5, gt=0)
    """Mean simulated time between two live events (initial catalogue events are 1 ms apart)."""
    concurrent_sessions: int = Field(8, ge=1)
    mean_session_actions: float = Field(5.0, ge=1)
    max_stock: int = Field(60, ge=1)
    """New products start with up to this many units (2% start sold out); restocks bring up to 4/3 of it."""
    new_product_rate: float = Field(0.002, ge=0, le=1)
    restock_rate: float = Field(0.003, ge=0, le=1)
    price_change_rate: float = Field(0.001, ge=0, le=1)
    remove_rate: float = Field(0.0003, ge=0, le=1)
    taste_drift: float = Field(0.02, ge=0, le=1)
    """Standard deviation of the random walk of a user's weights per session."""
    click_noise: float = Field(0.15, ge=0, le=1)
    """Share of the click decision that ignores taste."""
    order_rate: float = Field(1.0, ge=0, le=2)
    """Multiplier of the probability of ordering a clicked product."""

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        if value and not RUN_ID.fullmatch(value):
            raise ValueError(f"run id {value!r}: use 1 to 40 letters, digits, '.', '_' or '-', "
                             "starting with a letter or a digit")
        return value

    @field_validator("start_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _rates(self) -> SimulatorConfig:
        if self.new_product_rate + self.restock_rate + self.price_change_rate + self.remove_rate > 0.5:
            raise ValueError("catalogue change rates add up to more than 0.5 per step")
        return self


@dataclass
class Tally:
    """Counts of what was emitted, derived from the events alone (so a recount gives the same).

    `products_alive`: distinct product ids upserted and not removed since; `products_sold_out`: alive
    products whose latest upsert had stock 0.
    """

    by_type: dict[str, int] = field(default_factory=lambda: {t.value: 0 for t in EventType})
    clicks_by_source: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in ClickSource})
    orders: int = 0
    order_lines: int = 0
    units_sold: int = 0
    order_total: Decimal = Decimal("0.00")
    alive: set[str] = field(default_factory=set)
    sold_out: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def observe(self, event: Event) -> None:
        payload = event.payload
        self.by_type[payload.type] += 1
        # By the payload's type tag rather than `isinstance`, which for pydantic models goes through
        # `ABCMeta.__instancecheck__`: this runs for every event the simulator emits. A `ClickSource`
        # is a `StrEnum`, equal to its value and hashed as it, so it finds its count without `.value`.
        if payload.type == "click":
            self.clicks_by_source[payload.source] += 1
        elif payload.type == "order":
            self.orders += 1
            self.order_lines += len(payload.lines)
            self.units_sold += sum(line.quantity for line in payload.lines)
            self.order_total += payload.total
        elif payload.type == "product.upserted":
            self.alive.add(payload.product_id)
            self.removed.discard(payload.product_id)
            if payload.stock == 0:
                self.sold_out.add(payload.product_id)
            else:
                self.sold_out.discard(payload.product_id)
        else:
            self.alive.discard(payload.product_id)
            self.sold_out.discard(payload.product_id)
            self.removed.add(payload.product_id)

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Tally:
        tally = cls()
        for event in events:
            tally.observe(event)
        return tally

    @property
    def events(self) -> int:
        return sum(self.by_type.values())

    @property
    def clicks(self) -> int:
        return self.by_type[EventType.CLICK.value]

    def to_dict(self) -> dict[str, Any]:
        """Plain values; `order_total` stays an exact `Decimal` (use `default=str` for JSON)."""
        return {
            "events": self.events,
            "by_type": dict(self.by_type),
            "products_alive": len(self.alive),
            "products_sold_out": len(self.sold_out),
            "products_removed": len(self.removed),
            "clicks": self.clicks,
            "clicks_by_source": dict(self.clicks_by_source),
            "orders": self.orders,
            "order_lines": self.order_lines,
            "units_sold": self.units_sold,
            "order_total": self.order_total,
        }


class Simulator:
    """The world. `events()` gives the stream: the initial catalogue first, then live events."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = cfg = config or SimulatorConfig()
        self._rng = rng = random.Random(cfg.seed)
        self._fake = Faker("en_US")
        self._fake.seed_instance(cfg.seed)
        self.tally = Tally()
        self._clock_us = 0
        # Events are built without validation (`trusted_event`): make sure their time is aware, as the
        # envelope's validator would (a config made with `model_construct` may hold a naive time).
        self._start = cfg.start_time if cfg.start_time.tzinfo else cfg.start_time.replace(tzinfo=UTC)
        self._factory = ProductFactory(rng, self._fake)
        self.products: dict[str, Product] = {}
        self._by_key: dict[str, list[Product]] = {spec.key: [] for spec in SUBCATEGORIES}
        self._index: dict[tuple[str, str, str], list[Product]] = {}
        """(subcategory key, attribute or "brand", value) -> alive products, best quality first (then
        by id): the shop's search index."""
        self._by_quality: dict[str, list[Product]] = {spec.key: [] for spec in SUBCATEGORIES}
        self._alive: list[Product] = []
        self._sold_out: deque[str] = deque()
        self._steps = 0
        self._version: dict[str, int] = {spec.key: 0 for spec in SUBCATEGORIES}
        """Bumped when a subcategory's products come or go: invalidates its cached result pages."""
        self._search_cache: dict[_CacheKey, tuple[int, list[Product]]] = {}
        self._bestsellers: dict[str, tuple[int, int, list[Product]]] = {}
        self._quality: dict[str, float] = {}
        self._spec_weights = list(itertools.accumulate(rng.uniform(0.4, 1.6) for _ in SUBCATEGORIES))
        self._next_session = 1
        self._next_order = 1
        self._id_suffix = f"-{cfg.run_id}" if cfg.run_id else ""
        # XORed into the random event ids: a run id changes every id without drawing from the rng.
        self._event_id_mask = (
            int.from_bytes(hashlib.blake2b(cfg.run_id.encode(), digest_size=16).digest()) if cfg.run_id else 0
        )
        for _ in range(cfg.n_products):
            self._add_product()
        users = {f"u{i:05d}": self._make_user() for i in range(1, cfg.n_users + 1)}
        self.tastes = TasteModel(users, {s.key: s.price for s in SUBCATEGORIES}, quality=self._quality)
        self.user_ids: list[str] = list(users)
        self._user_cum = list(itertools.accumulate(rng.lognormvariate(0.0, 1.0) for _ in self.user_ids))
        self._catalogue_iter = self._catalogue_stream(list(self._alive))
        self._live_iter = self._live_stream()

    # ------------------------------------------------------------------ public API

    @property
    def now(self) -> datetime:
        """The simulated time of the latest event."""
        return self.config.start_time + timedelta(microseconds=self._clock_us)

    def initial_catalogue(self) -> Iterator[Event]:
        """The initial products (not yet emitted ones); `events()` starts with these too."""
        return self._catalogue_iter

    def events(self, count: int | None = None) -> Iterator[Event]:
        """The next `count` events of the stream (all of it if None); calls continue where the last
        one stopped."""
        return itertools.islice(itertools.chain(self._catalogue_iter, self._live_iter), count)

    def taste_score(self, user_id: str, product: ProductLike) -> float:
        """The simulator's own click propensity of `user_id` for `product`, with current tastes."""
        return self.tastes.score(user_id, product)

    def write_tastes(self, path: str | os.PathLike[str]) -> Path:
        """Write the users' current hidden tastes as JSON; `load_tastes` gives the same scores."""
        self.tastes.as_of = self.now.isoformat()
        return self.tastes.write(path)

    def catalogue(self) -> list[ProductUpserted]:
        """The current state of every product that is not removed."""
        return [p.to_payload() for p in self._alive]

    def generate_queries(self, n: int, seed: int = 0) -> list[tuple[str, dict[str, int]]]:
        """Queries with graded judgements over the current catalogue (see `queries.generate_queries`)."""
        return generate_queries(self._alive, n, seed)

    # ------------------------------------------------------------------ emission

    def _emit(self, payload: LivePayload, step_us: int) -> Event:
        self._clock_us += step_us
        event = trusted_event(
            payload,
            self._start + timedelta(0, 0, self._clock_us),  # positional: keywords cost a third more
            uuid4_from(self._rng.getrandbits(128) ^ self._event_id_mask),
        )
        self.tally.observe(event)
        return event

    def _catalogue_stream(self, initial: list[Product]) -> Iterator[Event]:
        for product in initial:
            yield self._emit(product.to_payload(), 1000)

    def _live_stream(self) -> Iterator[Event]:
        cfg, rng = self.config, self._rng
        t_new = cfg.new_product_rate
        t_restock = t_new + cfg.restock_rate
        t_price = t_restock + cfg.price_change_rate
        t_remove = t_price + cfg.remove_rate
        lambd = 1.0 / (cfg.mean_interarrival_s * 1e6)
        sessions: list[tuple[str, Iterator[list[LivePayload]]]] = []
        active: set[str] = set()
        random, expovariate, emit = rng.random, rng.expovariate, self._emit
        while True:
            self._steps += 1
            r = random()
            payloads: list[LivePayload]
            if r < t_new or not self._alive:
                payloads = [self._add_product().to_payload()]
            elif r < t_restock:
                payloads = self._restock()
            elif r < t_price:
                payloads = self._change_price()
            elif r < t_remove:
                payloads = self._remove()
            else:
                while len(sessions) < cfg.concurrent_sessions:
                    user_id = self._pick_user(active)
                    active.add(user_id)
                    sessions.append((user_id, self._session(user_id)))
                i = rng.randrange(len(sessions))
                step = next(sessions[i][1], None)
                if step is None:
                    active.discard(sessions.pop(i)[0])
                    continue
                payloads = step
            for payload in payloads:
                yield emit(payload, 1 + int(expovariate(lambd)))

    # ------------------------------------------------------------------ catalogue changes

    def _add_product(self) -> Product:
        spec = SUBCATEGORIES[bisect.bisect(self._spec_weights, self._rng.random() * self._spec_weights[-1])]
        product = self._factory.build(f"p{len(self.products) + 1:06d}", spec, self.config.max_stock)
        self.products[product.product_id] = product
        self._by_key[product.key].append(product)
        self._version[product.key] += 1
        for term in self._terms(product):  # in quality order, as _rank wants them
            bisect.insort(self._index.setdefault(term, []), product, key=_quality_rank)
        bisect.insort(self._by_quality[product.key], product, key=_quality_rank)
        self._alive.append(product)
        self._quality[product.product_id] = product.quality
        if product.stock == 0:
            self._sold_out.append(product.product_id)
        return product

    @staticmethod
    def _terms(product: Product) -> list[tuple[str, str, str]]:
        """Index terms: brand, attribute values and the use cases the description mentions."""
        key = product.key
        text = product.description.lower()
        terms = [(key, "brand", product.brand)] + [(key, k, v) for k, v in product.attributes.items()]
        terms.extend((key, _USE, use) for use in SPEC_BY_KEY[key].uses if use.lower() in text)
        return terms

    def _restock(self) -> list[LivePayload]:
        while self._sold_out:
            product = self.products[self._sold_out.popleft()]
            if product.alive and product.stock == 0:
                top = self.config.max_stock
                product.stock = self._rng.randint(max(1, top // 6), top + top // 3)
                return [product.to_payload()]
        return []

    def _change_price(self) -> list[LivePayload]:
        product = self._rng.choice(self._alive)
        low, high = SPEC_BY_KEY[product.key].price
        price = charm_price(product.price_f * self._rng.uniform(0.8, 1.2), low, high)
        if price == product.price:
            return []
        product.set_price(price)
        return [product.to_payload()]

    def _remove(self) -> list[LivePayload]:
        if len(self._alive) <= max(1, self.config.n_products // 2):
            return []
        product = self._rng.choice(self._alive)
        product.alive = False
        self._alive.remove(product)
        self._by_key[product.key].remove(product)
        self._version[product.key] += 1
        for term in self._terms(product):
            self._index[term].remove(product)
        self._by_quality[product.key].remove(product)
        return [ProductRemoved(product_id=product.product_id)]

    # ------------------------------------------------------------------ users

    def _make_user(self) -> UserTaste:
        rng = self._rng
        keys = [spec.key for spec in SUBCATEGORIES]
        first = rng.choice(keys)
        siblings = [k for k in keys if k != first and k.split(" > ")[0] == first.split(" > ")[0]]
        favourites = [first]
        want = rng.choice((2, 3, 3, 4))
        while len(favourites) < want:
            candidate = rng.choice(siblings) if siblings and rng.random() < 0.5 else rng.choice(keys)
            if candidate not in favourites:
                favourites.append(candidate)
        categories = {
            k: (1.0 if i == 0 else round(rng.uniform(0.35, 0.9), 3)) for i, k in enumerate(favourites)
        }
        brands: dict[str, float] = {}
        for _ in range(rng.choice((1, 2, 3))):
            spec = SPEC_BY_KEY[rng.choice(favourites)]
            brands[rng.choice(spec.brands)] = round(rng.uniform(0.4, 1.0), 3)
        return UserTaste(
            categories=categories,
            brands=brands,
            price_position=rng.betavariate(2.0, 2.0),
            price_tolerance=rng.uniform(0.15, 0.4),
        )

    def _pick_user(self, active: set[str]) -> str:
        rng = self._rng
        for _ in range(8):
            user_id = self.user_ids[bisect.bisect(self._user_cum, rng.random() * self._user_cum[-1])]
            if user_id not in active:
                return user_id
        return user_id

    def _drift(self, user: UserTaste) -> None:
        d = self.config.taste_drift
        if d <= 0:
            return
        rng = self._rng
        gauss, categories, brands = rng.gauss, user.categories, user.brands
        # min(1.0, max(low, w)) as comparisons, without two builtin calls a weight.
        for key, weight in categories.items():
            w = weight + gauss(0.0, d)
            categories[key] = 1.0 if w >= 1.0 else w if w > 0.05 else 0.05
        for brand, weight in brands.items():
            w = weight + gauss(0.0, d)
            brands[brand] = 1.0 if w >= 1.0 else w if w > 0.0 else 0.0
        user.price_position = min(1.0, max(0.0, user.price_position + rng.gauss(0.0, d / 2)))
        if rng.random() < d:  # a new interest appears, the weakest one fades out
            key = rng.choice(SUBCATEGORIES).key
            if key not in user.categories:
                if len(user.categories) >= 5:
                    del user.categories[user.favourites()[-1]]
                user.categories[key] = 0.3
        user.refresh()

    # ------------------------------------------------------------------ sessions

    def _pick_key(self, favourites: tuple[list[str], list[float]]) -> str:
        """A favourite subcategory (by weight) most of the time, else one at random by catalogue size."""
        rng = self._rng
        if rng.random() < 0.8:
            keys, cum = favourites
            return keys[bisect.bisect(cum, rng.random() * cum[-1])]
        return rng.choice(self._alive).key

    def _search(
        self, user: UserTaste, favourites: tuple[list[str], list[float]]
    ) -> tuple[list[Product], str] | None:
        """A query from the user's interests and the shop's (deterministic, cached) first page for it."""
        rng = self._rng
        key = self._pick_key(favourites)
        candidates = self._by_key[key]
        if not candidates:
            return None
        spec = SPEC_BY_KEY[key]
        liked = [b for b in user.brands if b in spec.brands]
        brand = rng.choice(liked) if liked and rng.random() < 0.5 else None
        example = rng.choice(candidates)
        intent: QueryIntent = make_intent(rng, spec, example, style="brand" if brand else None, brand=brand)
        version = self._version[key]
        cache_key = (key, intent.constraints, intent.use)  # the ranking does not depend on wording
        cached = self._search_cache.get(cache_key)
        if cached is not None and cached[0] == version:
            return cached[1], intent.text
        page = self._rank(key, intent)
        if len(self._search_cache) > 50_000:
            self._search_cache.clear()
        self._search_cache[cache_key] = (version, page)
        return page, intent.text

    def _rank(self, key: str, intent: QueryIntent) -> list[Product]:
        """The first result page: by `intent.grade` (from the index, without scanning the subcategory),
        then quality, then id."""
        if len(intent.constraints) == 1:  # every hit meets the one constraint: quality order
            ranked = self._index.get((key, *intent.constraints[0]), [])
        elif intent.constraints:
            hits: dict[str, int] = {}
            found: dict[str, Product] = {}
            for attr, value in intent.constraints:
                for p in self._index.get((key, attr, value), ()):
                    hits[p.product_id] = hits.get(p.product_id, 0) + 1
                    found[p.product_id] = p
            ranked = sorted(found.values(), key=lambda p: (-hits[p.product_id], -p.quality, p.product_id))
        elif intent.use is not None:
            ranked = self._index.get((key, _USE, intent.use), [])
        else:
            ranked = []
        page = ranked[:_SEARCH_PAGE]
        if len(page) < _SEARCH_PAGE:
            chosen = {p.product_id for p in page}
            for p in self._by_quality[key]:
                if p.product_id not in chosen:
                    page.append(p)
                    if len(page) == _SEARCH_PAGE:
                        break
        return page

    def _browse(self, favourites: tuple[list[str], list[float]]) -> list[Product]:
        """A category page: bestsellers (first or second page) or newest arrivals."""
        rng = self._rng
        key = self._pick_key(favourites)
        r = rng.random()
        if r < 0.2:
            return self._by_key[key][: -_BROWSE_PAGE - 1 : -1]
        cached = self._bestsellers.get(key)
        if cached is None or cached[0] != self._version[key] or cached[1] + 2000 < self._steps:
            ranked = sorted(self._by_key[key], key=lambda p: (-p.units_sold - 3.0 * p.quality, p.product_id))
            cached = (self._version[key], self._steps, ranked[: 2 * _BROWSE_PAGE])
            self._bestsellers[key] = cached
        return cached[2][_BROWSE_PAGE:] if r < 0.35 else cached[2][:_BROWSE_PAGE]

    def _recommend(self, favourites: tuple[list[str], list[float]]) -> list[Product]:
        random, choice = self._rng.random, self._rng.choice
        by_key, alive = self._by_key, self._alive
        page: dict[str, Product] = {}
        for _ in range(_RECO_PAGE):
            candidates = (by_key[self._pick_key(favourites)] or alive) if random() < 0.5 else alive
            product = choice(candidates)
            page[product.product_id] = product
        return list(page.values())

    def _session(self, user_id: str) -> Iterator[list[LivePayload]]:
        cfg, rng = self.config, self._rng
        user = self.tastes.users[user_id]
        self._drift(user)
        session_id = f"s{self._next_session:07d}{self._id_suffix}"
        self._next_session += 1
        extra = cfg.mean_session_actions - 1
        n_actions = 1 + (int(rng.expovariate(1.0 / extra)) if extra > 0 else 0)
        keys = list(user.categories)
        favourites = (keys, list(itertools.accumulate(user.categories[k] for k in keys)))
        clicked: dict[str, Product] = {}
        seen: dict[str, float] = {}  # tastes do not change within a session
        score = self.tastes.score_parts
        keep = 1.0 - cfg.click_noise
        noise = cfg.click_noise * _NOISE_LEVEL
        random = rng.random
        for _ in range(n_actions):
            r = random()
            query: str | None = None
            if r < 0.45:
                found = self._search(user, favourites)
                if found is None:
                    continue
                page, query = found
                source = ClickSource.SEARCH
            elif r < 0.8:
                page, source = self._browse(favourites), ClickSource.BROWSE
            else:
                page, source = self._recommend(favourites), ClickSource.RECOMMENDATION
            clicks: list[LivePayload] = []
            # Pages are at most _BROWSE_PAGE long, so zip() stops at the page's end.
            for p, (pos, bias) in zip(page, _POSITIONS, strict=False):
                u = random()
                if u >= bias:
                    continue
                s = seen.get(p.product_id)
                if s is None:
                    s = score(user, p.key, p.category_path[0], p.brand, p.price_f, p.product_id)
                    seen[p.product_id] = s
                if u < bias * (keep * s + noise):
                    clicks.append(trusted_click(user_id, p.product_id, session_id, source, pos, query))
                    clicked.setdefault(p.product_id, p)
                    if random() < 0.5:
                        break
            yield clicks
        order = self._checkout(user_id, session_id, clicked.values(), seen)
        if order:
            yield order

    def _checkout(
        self, user_id: str, session_id: str, clicked: Iterable[Product], scores: dict[str, float]
    ) -> list[LivePayload]:
        """Order some of the clicked products that are still for sale; emit sold-out updates."""
        rng = self._rng
        chosen: list[tuple[Product, int]] = []
        for p in clicked:
            if not p.alive or p.stock <= 0:
                continue
            if rng.random() < self.config.order_rate * (0.02 + 0.2 * scores[p.product_id]):
                r = rng.random()
                quantity = 1 if r < 0.78 else 2 if r < 0.94 else 3
                chosen.append((p, min(quantity, p.stock)))
        if not chosen:
            return []
        lines = [(p.product_id, q, p.price) for p, q in chosen]
        total = sum((p.price * q for p, q in chosen), Decimal("0.00")).quantize(CENT)
        order_id = f"o{self._next_order:07d}{self._id_suffix}"
        out: list[LivePayload] = [trusted_order(order_id, user_id, session_id, lines, total)]
        self._next_order += 1
        for p, q in chosen:
            p.stock -= q
            p.units_sold += q
            if p.stock == 0:  # sold out: tell the catalogue
                self._sold_out.append(p.product_id)
                out.append(p.to_payload())
        return out


World = Simulator
