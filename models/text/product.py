"""Turn a product's fields into one text for embedding (and optionally for full-text search).

The fields are plain Python values so that this module does not depend on the event schemas.

>>> product_text(name="Trail Runner 2", description="Light trail shoe",
...              category_path=["Shoes", "Running"], brand="Acme",
...              attributes={"color": "red", "size": 42}, price=79.0)
'Trail Runner 2. Trail Runner 2. Light trail shoe. Shoes > Running. Acme. color red. size 42. pricetier4'
>>> from models.text import analyze
>>> analyze(price_band(5.0)), analyze(price_band(None))
(['pricetier1'], ['pricetierunknown'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from models.text.analyzer import plain_text

__all__ = ["DEFAULT_PRICE_BANDS", "price_band", "product_text"]

#: Upper bounds of the price bands (currency units); the last band is open-ended.
DEFAULT_PRICE_BANDS: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)

AttributeValue = str | int | float | bool


def price_band(price: float | None, bands: Sequence[float] = DEFAULT_PRICE_BANDS) -> str:
    """One alphanumeric token naming the price band: ``pricetier1`` (cheapest) … ``pricetierN``.

    The token survives :func:`models.text.analyze` unchanged, so it can be embedded and searched.

    >>> [price_band(p) for p in (0, 9.99, 10, 120, 5000)]
    ['pricetier1', 'pricetier1', 'pricetier2', 'pricetier5', 'pricetier8']
    """
    if price is None or price != price or price < 0:  # None, NaN or negative
        return "pricetierunknown"
    for i, upper in enumerate(bands, start=1):
        if price < upper:
            return f"pricetier{i}"
    return f"pricetier{len(bands) + 1}"


def product_text(
    *,
    name: str,
    description: str = "",
    category_path: Sequence[str] | str = (),
    brand: str = "",
    attributes: Mapping[str, AttributeValue] | None = None,
    price: float | None = None,
    name_weight: int = 2,
    bands: Sequence[float] = DEFAULT_PRICE_BANDS,
) -> str:
    """Product text for the embedder: name repeated ``name_weight`` times, description,
    category path, brand, ``key value`` attributes and a :func:`price_band` token; name and
    description without HTML markup (:func:`~models.text.analyzer.plain_text`)."""
    if name_weight < 1:
        raise ValueError("name_weight must be >= 1")
    parts: list[str] = [plain_text(name).strip()] * name_weight
    parts.append(plain_text(description).strip())
    if isinstance(category_path, str):
        parts.append(category_path.strip())
    else:
        parts.append(" > ".join(c.strip() for c in category_path if c.strip()))
    parts.append(brand.strip())
    for key, value in (attributes or {}).items():
        parts.append(f"{key} {value}".strip())
    parts.append(price_band(price, bands))
    return ". ".join(p for p in parts if p)
