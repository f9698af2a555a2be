"""Products of the simulated world and the text (names, descriptions) generated for them.

>>> import random
>>> from faker import Faker
>>> fake = Faker("en_US"); fake.seed_instance(1)
>>> factory = ProductFactory(random.Random(1), fake)
>>> p = factory.build("p000001", SPEC_BY_KEY["Electronics > Headphones"])
>>> p.product_id, p.category_path, p.brand in SPEC_BY_KEY[p.key].brands
('p000001', ['Electronics', 'Headphones'], True)
>>> p.attributes["colour"] in p.name
True
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal

from faker import Faker

from events import ProductUpserted
from producers.simulator.specs import SPEC_BY_KEY, SUBCATEGORIES, AttributeSpec, SubcategorySpec

CENT = Decimal("0.01")

_QUALITIES = (
    "well-made",
    "dependable",
    "premium",
    "great-value",
    "thoughtfully designed",
    "best-selling",
    "versatile",
    "popular",
    "highly rated",
    "no-nonsense",
)
_OPENERS = (
    "The {brand} {short} is {a_quality} {noun_text} for {use}.",
    "{A_quality} {noun_text} from {brand}, designed with {use} in mind.",
    "Looking for {a_quality} {noun_text}? {brand} has you covered.",
    "{brand} built {this} {quality} {noun_text} for {use}.",
    "Meet the {short}: {a_quality} {noun_text} by {brand}.",
)
_USE_SENTENCES = (
    "Ideal for {use}.",
    "Perfect for {use} and {use2}.",
    "A great pick for {use}.",
    "Works just as well for {use} as for {use2}.",
    "Shoppers love it for {use}.",
)
_PROSE = {
    "colour": ("Finished in {v}.", "Shown here in {v}.", "This one comes in {v}."),
    "material": ("Made from {v}.", "Crafted from durable {v}.", "Its material: {v}."),
}
_SPACES = re.compile(r"\s{2,}")


def article(phrase: str) -> str:
    """'a' or 'an' for a phrase.

    >>> article("espresso machine"), article("premium kettle"), article("8 mm mat"), article("unisex tee")
    ('an', 'a', 'an', 'a')
    """
    low = phrase.lower()
    if low.startswith(("uni", "use", "one", "eu")):
        return "a"
    return "an" if low[:1] in "aeiou8" or low.startswith(("11 ", "18 ")) else "a"


def is_plural(noun: str) -> bool:
    """A rough test: nouns like 'headphones', 'jeans', 'secateurs' are plural.

    >>> is_plural("running shoes"), is_plural("grass"), is_plural("grinder for beans")
    (True, False, False)
    """
    head = noun.split(" for ")[0].split(" of ")[0]
    return head.endswith("s") and not head.endswith("ss")


def charm_price(value: float, low: float, high: float) -> Decimal:
    """Round a price to a shop-like ending (.99 / .49 / .95) inside [low, high].

    >>> charm_price(123.4, 10, 200), charm_price(3.2, 0.99, 12.99), charm_price(500, 10, 99.99)
    (Decimal('122.99'), Decimal('2.99'), Decimal('98.99'))
    """
    value = min(max(value, low), high)
    whole = math.floor(value)
    if value >= 20:
        cents = 0.99 if whole % 5 else 0.95
        price = whole - 1 + cents if whole - 1 + cents >= low else whole + cents
    else:
        price = whole - 1 + 0.99 if value - whole < 0.49 else whole + 0.49
    price = min(max(price, low), high)
    return Decimal(repr(round(price, 2))).quantize(CENT)


# eq=False: a product is its one object (ids are unique), so equality is identity. The generated
# field-by-field __eq__ made each `list.remove` of a removed product build two 13-field tuples for
# every product it passed.
@dataclass(slots=True, eq=False)
class Product:
    """The simulator's mutable view of one product; `to_payload` gives the event payload."""

    product_id: str
    key: str
    category_path: list[str]
    brand: str
    name: str
    description: str
    attributes: dict[str, str]
    price: Decimal
    stock: int
    quality: float
    alive: bool = True
    units_sold: int = 0
    price_f: float = field(init=False)

    def __post_init__(self) -> None:
        self.price_f = float(self.price)

    def set_price(self, price: Decimal) -> None:
        self.price = price
        self.price_f = float(price)

    def to_payload(self) -> ProductUpserted:
        return ProductUpserted(
            product_id=self.product_id,
            name=self.name,
            description=self.description,
            category_path=list(self.category_path),
            brand=self.brand,
            price=self.price,
            attributes=dict(self.attributes),
            stock=self.stock,
        )


class ProductFactory:
    """Makes products with names and descriptions from the per-subcategory templates.

    Each (subcategory, brand) has a hidden price tier, so a brand is consistently cheap or premium.
    """

    def __init__(self, rng: random.Random, fake: Faker) -> None:
        self._rng = rng
        self._fake = fake
        self.brand_tier: dict[tuple[str, str], float] = {
            (spec.key, brand): rng.betavariate(2.0, 2.0) for spec in SUBCATEGORIES for brand in spec.brands
        }

    def build(self, product_id: str, spec: SubcategorySpec, max_stock: int = 60) -> Product:
        rng = self._rng
        brand = rng.choice(spec.brands)
        attributes = {attr.key: rng.choice(attr.values) for attr in spec.attributes}
        if spec.has_author:
            attributes["author"] = self._fake.name()
        fill: dict[str, str] = {"brand": brand, **attributes}
        if spec.models:  # each brand keeps to one model family
            family = spec.models[(spec.brands.index(brand) + rng.randrange(2)) % len(spec.models)]
            fill["model"] = self._fake.bothify(family.replace("#", "%", 1))  # % is a digit 1-9
        else:
            fill["model"] = ""
        fill["title"] = self._title(spec) if spec.title_templates else ""
        noun = rng.choice(spec.nouns)
        fill["noun"] = noun
        template = rng.choice(spec.name_templates)
        name = _SPACES.sub(" ", template.format_map(fill)).strip(" ,-")
        used = {k for k in attributes if "{" + k + "}" in template}
        description = self._describe(spec, fill, noun, attributes, used)
        low, high = spec.price
        position = min(max(self.brand_tier[(spec.key, brand)] + rng.gauss(0.0, 0.12), 0.0), 1.0)
        price = charm_price(low * (high / low) ** position, low, high)
        stock = 0 if rng.random() < 0.02 else rng.randint(min(3, max_stock), max_stock)
        return Product(
            product_id=product_id,
            key=spec.key,
            category_path=spec.path,
            brand=brand,
            name=name,
            description=description,
            attributes=attributes,
            price=price,
            stock=stock,
            quality=rng.betavariate(2.0, 2.0),
        )

    def _title(self, spec: SubcategorySpec) -> str:
        words = {k: self._rng.choice(v) for k, v in spec.title_words.items()}
        words["name"] = self._fake.first_name()
        return self._rng.choice(spec.title_templates).format_map(words)

    def _describe(
        self,
        spec: SubcategorySpec,
        fill: dict[str, str],
        noun: str,
        attributes: dict[str, str],
        used_in_name: set[str],
    ) -> str:
        rng = self._rng
        use_synonym = bool(spec.synonyms) and rng.random() < 0.35
        noun_text = rng.choice(spec.synonyms) if use_synonym else noun.lower()
        quality = rng.choice(spec.qualities or _QUALITIES)
        plural = spec.mass or is_plural(noun_text)
        a_quality = quality if plural else f"{article(quality)} {quality}"
        use, use2 = rng.sample(spec.uses, 2)
        words = {
            **fill,
            "short": fill["model"] or noun,
            "noun_text": noun_text,
            "quality": quality,
            "a_quality": a_quality,
            "A_quality": a_quality[:1].upper() + a_quality[1:],
            "this": "these" if plural and not spec.mass else "this",
            "use": use,
            "use2": use2,
        }
        opener = rng.choice(spec.openers or _OPENERS)
        if not fill["model"] and "{short}" in opener:
            opener = _OPENERS[1]
        sentences = [opener.format_map(words)]
        missing = [a for a in spec.attributes if a.key not in used_in_name]
        n_benefits = 1 if missing else rng.choice((1, 2))
        sentences.extend(rng.sample(spec.benefits, n_benefits))
        if missing:
            sentences.append(_details(missing, attributes, rng))
        elif rng.random() < 0.5:
            sentences.append(rng.choice(_USE_SENTENCES).format_map(words))
        else:
            prose = [a for a in spec.attributes if a.key in _PROSE]
            if prose:
                attr = rng.choice(prose)
                sentences.append(
                    rng.choice(_PROSE[attr.key]).format(v=_text_value(attr, attributes[attr.key]))
                )
        return " ".join(sentences[:4])


def _text_value(attr: AttributeSpec, value: str) -> str:
    return value.lower() if attr.lower and not value.isupper() else value


def _details(missing: list[AttributeSpec], attributes: dict[str, str], rng: random.Random) -> str:
    if len(missing) == 1 and missing[0].key in _PROSE:
        attr = missing[0]
        return rng.choice(_PROSE[attr.key]).format(v=_text_value(attr, attributes[attr.key]))
    parts = [f"{a.key.replace('_', ' ')}: {attributes[a.key]}" for a in missing]
    return "Key specs - " + ", ".join(parts) + "."


def spec_of(category_path: list[str]) -> SubcategorySpec | None:
    """The template a product was made from, by its category path (None for foreign products)."""
    return SPEC_BY_KEY.get(" > ".join(category_path[:2]))
