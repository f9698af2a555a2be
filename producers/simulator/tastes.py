"""Users' hidden tastes and the click propensity the simulator derives from them.

The same scoring is available from a JSON file (`TasteModel.write` / `load_tastes`) so an evaluation or
an oracle recommender can use it without the simulator and without unpickling anything.

>>> model = TasteModel(
...     users={"u1": UserTaste(categories={"Books > Fiction": 1.0}, brands={"Penguin": 1.0},
...                            price_position=0.5, price_tolerance=0.3)},
...     price_ranges={"Books > Fiction": (5.0, 30.0)},
... )
>>> from decimal import Decimal
>>> from events import ProductUpserted
>>> liked = ProductUpserted(product_id="p1", name="x", category_path=["Books", "Fiction"],
...                         brand="Penguin", price=Decimal("12.25"), stock=1)
>>> other = ProductUpserted(product_id="p2", name="y", category_path=["Grocery", "Tea"],
...                         brand="Lipton", price=Decimal("3.00"), stock=1)
>>> model.score("u1", liked) > 0.8 > 0.1 > model.score("u1", other)
True
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

FORMAT = "shopstream-tastes"
FORMAT_VERSION = 1


class ProductLike(Protocol):
    """What scoring needs of a product: an `events.ProductUpserted` or the simulator's `Product`."""

    @property
    def product_id(self) -> str: ...

    @property
    def category_path(self) -> Sequence[str]: ...

    @property
    def brand(self) -> str: ...

    @property
    def price(self) -> Decimal: ...


@dataclass(frozen=True)
class TasteWeights:
    """Coefficients of the logistic click propensity."""

    bias: float = -3.0
    category: float = 3.5
    sibling: float = 0.25
    """Share of a user's affinity for a top category that spills over to its other subcategories."""
    brand: float = 1.2
    price: float = 1.2
    quality: float = 1.0


@dataclass
class UserTaste:
    """One user's hidden taste. Category keys are "Top > Sub"; weights are in [0, 1]."""

    categories: dict[str, float]
    brands: dict[str, float]
    price_position: float
    """Preferred position inside a subcategory's (log) price range: 0 cheapest, 1 most expensive."""
    price_tolerance: float
    tops: dict[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute derived data after the weights changed."""
        tops: dict[str, float] = {}
        for key, weight in self.categories.items():
            top = key.split(" > ", 1)[0]
            tops[top] = max(tops.get(top, 0.0), weight)
        self.tops = tops

    def favourites(self, n: int | None = None) -> list[str]:
        """Category keys, strongest first."""
        ranked = sorted(self.categories, key=lambda k: (-self.categories[k], k))
        return ranked if n is None else ranked[:n]

    def to_json(self) -> dict[str, Any]:
        return {
            "categories": dict(self.categories),
            "brands": dict(self.brands),
            "price_position": self.price_position,
            "price_tolerance": self.price_tolerance,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserTaste:
        return cls(
            categories={str(k): float(v) for k, v in data["categories"].items()},
            brands={str(k): float(v) for k, v in data["brands"].items()},
            price_position=float(data["price_position"]),
            price_tolerance=float(data["price_tolerance"]),
        )


class TasteModel:
    """Scores (user, product) pairs: the probability-like propensity that the user clicks the product
    when it is shown at the top of a list. Products unknown to the model get neutral quality and price
    fit, so products from a real catalogue can be scored too."""

    def __init__(
        self,
        users: dict[str, UserTaste],
        price_ranges: Mapping[str, tuple[float, float]],
        quality: dict[str, float] | None = None,
        weights: TasteWeights | None = None,
        as_of: str | None = None,
    ) -> None:
        self.users = users
        self.price_ranges: dict[str, tuple[float, float, float]] = {
            k: (lo, hi, math.log(hi / lo)) for k, (lo, hi) in price_ranges.items()
        }
        self.quality = quality if quality is not None else {}
        self.weights = weights or TasteWeights()
        self.as_of = as_of

    def score(self, user_id: str, product: ProductLike) -> float:
        """Click propensity in (0, 1). Raises `KeyError` for an unknown user."""
        path = product.category_path
        key = " > ".join(path[:2])
        top = path[0] if path else ""
        return self.score_parts(
            self.users[user_id], key, top, product.brand, float(product.price), product.product_id
        )

    def score_parts(
        self, user: UserTaste, key: str, top: str, brand: str, price: float, product_id: str
    ) -> float:
        """`score` on already unpacked product fields (the simulator's hot path)."""
        w = self.weights
        cat = user.categories.get(key)
        if cat is None:
            cat = w.sibling * user.tops.get(top, 0.0)
        bounds = self.price_ranges.get(key)
        if bounds is None or price <= 0:
            fit = 0.5
        else:
            lo, _, span = bounds
            pos = math.log(price / lo) / span
            # min(max(pos, 0.0), 1.0) without two builtin calls: this runs for most products a shopper sees
            pos = 0.0 if pos < 0.0 else 1.0 if pos > 1.0 else pos
            z = (pos - user.price_position) / user.price_tolerance
            fit = math.exp(-0.5 * z * z)
        x = (
            w.bias
            + w.category * cat
            + w.brand * user.brands.get(brand, 0.0)
            + w.price * fit
            + w.quality * (self.quality.get(product_id, 0.5) - 0.5)
        )
        return 1.0 / (1.0 + math.exp(-x))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "as_of": self.as_of,
            "weights": asdict(self.weights),
            "price_ranges": {k: [lo, hi] for k, (lo, hi, _) in self.price_ranges.items()},
            "quality": dict(self.quality),
            "users": {uid: u.to_json() for uid, u in self.users.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TasteModel:
        if data.get("format") != FORMAT or int(data.get("version", 0)) > FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} document")
        return cls(
            users={str(uid): UserTaste.from_json(u) for uid, u in data["users"].items()},
            price_ranges={str(k): (float(v[0]), float(v[1])) for k, v in data["price_ranges"].items()},
            quality={str(k): float(v) for k, v in data["quality"].items()},
            weights=TasteWeights(**{k: float(v) for k, v in data["weights"].items()}),
            as_of=data.get("as_of"),
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON atomically (temporary name, then rename)."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(self.to_json(), sort_keys=True), encoding="utf-8")
        tmp.replace(target)
        return target


def load_tastes(path: str | os.PathLike[str]) -> TasteModel:
    """Read a file written by `TasteModel.write` / `Simulator.write_tastes`."""
    return TasteModel.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
