"""Shopper-like search queries and graded relevance judgements over a simulated catalogue.

A query is made from an *intent*: a subcategory plus optional attribute / brand constraints or a use
case. Its text is what a shopper would type ("black running shoes size 10", "sony headphones",
"burr mill for coffee"); synonym queries use words that never appear in product names.

Grades: 3 = right subcategory and every constraint met; 2 = right subcategory, some constraints met
(or a use-case query whose product does not mention the use); 1 = right subcategory with no constraint
met, or a related subcategory (coffee beans for "coffee grinder"); 0 = irrelevant (left out of the
judgement dicts).

>>> from producers.simulator.world import Simulator, SimulatorConfig
>>> sim = Simulator(SimulatorConfig(seed=3, n_products=300, n_users=5))
>>> queries = sim.generate_queries(20, seed=1)
>>> len(queries), all(3 in judged.values() for _, judged in queries)
(20, True)
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from producers.simulator.specs import SPEC_BY_KEY, SPEC_BY_NAME, SubcategorySpec

RELATED: Mapping[str, frozenset[str]] = {
    spec.key: frozenset(SPEC_BY_NAME[name].key for name in spec.related if name in SPEC_BY_NAME)
    for spec in SPEC_BY_KEY.values()
}
STYLES: tuple[str, ...] = ("noun", "attribute", "brand", "synonym", "use")
_STYLE_CUM = (0.2, 0.5, 0.65, 0.85, 1.0)


class CatalogueProduct(Protocol):
    """What judging needs of a product: an `events.ProductUpserted` or the simulator's `Product`."""

    @property
    def product_id(self) -> str: ...

    @property
    def category_path(self) -> Sequence[str]: ...

    @property
    def brand(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, str]: ...

    @property
    def description(self) -> str: ...


@dataclass(frozen=True)
class QueryIntent:
    key: str
    """Subcategory key "Top > Sub"."""
    text: str
    constraints: tuple[tuple[str, str], ...] = ()
    """(attribute, value) pairs; the attribute "brand" means the product's brand."""
    use: str | None = None
    style: str = "noun"

    @property
    def related(self) -> frozenset[str]:
        """Keys of subcategories whose products are somewhat relevant (grade 1)."""
        return RELATED.get(self.key, frozenset())

    def grade(self, product: CatalogueProduct) -> int:
        """Relevance 0..3 of a product for this intent.

        >>> from events import ProductUpserted
        >>> intent = QueryIntent("Electronics > Headphones", "black wireless headphones",
        ...                      (("colour", "Black"), ("connectivity", "Wireless")))
        >>> def hp(colour): return ProductUpserted(
        ...     product_id="p", name="n", price=1, stock=1, category_path=["Electronics", "Headphones"],
        ...     attributes={"colour": colour, "connectivity": "Wireless"})
        >>> intent.grade(hp("Black")), intent.grade(hp("White"))
        (3, 2)
        """
        path = product.category_path
        key = " > ".join(path[:2])
        if key != self.key:
            if key not in self.related:
                return 0
            return 1 if not self.constraints or self.matched(product) else 0
        return self.grade_in_subcategory(product)

    def grade_in_subcategory(self, product: CatalogueProduct) -> int:
        """`grade` for a product already known to be in the intent's subcategory (faster)."""
        if self.constraints:
            return 1 + round(2 * self.matched(product) / len(self.constraints))
        if self.use is not None:
            return 3 if self.use.lower() in product.description.lower() else 2
        return 3

    def matched(self, product: CatalogueProduct) -> int:
        n = 0
        for attr, value in self.constraints:
            have = product.brand if attr == "brand" else product.attributes.get(attr, "")
            n += have.lower() == value.lower()
        return n


def make_intent(
    rng: random.Random,
    spec: SubcategorySpec,
    example: CatalogueProduct,
    style: str | None = None,
    brand: str | None = None,
) -> QueryIntent:
    """An intent whose constraints are taken from `example`, so at least that product is a 3."""
    if style is None:
        style = STYLES[bisect.bisect(_STYLE_CUM, rng.random())]
    if style == "synonym" and not spec.synonyms:
        style = "attribute"
    noun = rng.choice(spec.nouns).lower()
    attrs = [a for a in spec.attributes if a.key in example.attributes]
    mentioned: list[str] = []
    if style == "use":
        text = example.description.lower()
        mentioned = [u for u in spec.uses if u.lower() in text]
    if style == "noun" or (style == "attribute" and not attrs) or (style == "use" and not mentioned):
        return QueryIntent(spec.key, noun, style="noun")
    if style == "use":
        use = rng.choice(mentioned)
        return QueryIntent(spec.key, f"{noun} for {use.lower()}", use=use, style=style)
    if style == "brand":
        chosen = [rng.choice(attrs)] if attrs and rng.random() < 0.3 else []
        brand = brand or example.brand
        constraints = [("brand", brand)]
        head = noun
    elif style == "synonym":
        chosen = [a for a in attrs if not a.suffix]
        chosen = [rng.choice(chosen)] if chosen and rng.random() < 0.4 else []
        constraints = []
        head = rng.choice(spec.synonyms)
    else:
        chosen = rng.sample(attrs, 2) if len(attrs) > 1 and rng.random() < 0.35 else [rng.choice(attrs)]
        constraints = []
        head = noun
    prefix = [a for a in chosen if not a.suffix]
    suffix = [a for a in chosen if a.suffix]
    words = [a.query.format(v=example.attributes[a.key].lower()) for a in prefix]
    if style == "brand":
        words.insert(0, constraints[0][1].lower())
    words.append(head)
    words.extend(a.query.format(v=example.attributes[a.key].lower()) for a in suffix)
    constraints.extend((a.key, example.attributes[a.key]) for a in chosen)
    return QueryIntent(spec.key, " ".join(words), tuple(constraints), style=style)


def generate_queries(
    products: Iterable[CatalogueProduct], n: int, seed: int = 0
) -> list[tuple[str, dict[str, int]]]:
    """`n` distinct queries with judgements {product_id: grade 1..3} (grade 0 is left out).

    Only products whose category path is one of the simulator's subcategories are used.
    """
    by_key: dict[str, list[CatalogueProduct]] = {}
    for product in products:
        key = " > ".join(product.category_path[:2])
        if key in SPEC_BY_KEY:
            by_key.setdefault(key, []).append(product)
    if not by_key:
        return []
    rng = random.Random(seed)
    keys = sorted(by_key)
    seen: set[str] = set()
    out: list[tuple[str, dict[str, int]]] = []
    attempts = 0
    while len(out) < n and attempts < 50 * n + 100:
        attempts += 1
        key = rng.choice(keys)
        intent = make_intent(rng, SPEC_BY_KEY[key], rng.choice(by_key[key]))
        if intent.text in seen:
            continue
        seen.add(intent.text)
        judged: dict[str, int] = {}
        for candidate_key in (key, *sorted(intent.related)):
            for product in by_key.get(candidate_key, ()):
                grade = intent.grade(product)
                if grade:
                    judged[product.product_id] = grade
        out.append((intent.text, judged))
    return out
