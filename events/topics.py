"""Topic names. Keys: `products` by product id (compacted), `clicks` and `orders` by user id."""

from typing import Final

PRODUCTS: Final = "products"
CLICKS: Final = "clicks"
ORDERS: Final = "orders"
DEAD_LETTER: Final = "dead-letter"

ALL_TOPICS: Final = (PRODUCTS, CLICKS, ORDERS, DEAD_LETTER)

_TOPIC_BY_TYPE: Final = {
    "product.upserted": PRODUCTS,
    "product.removed": PRODUCTS,
    "click": CLICKS,
    "order": ORDERS,
}


def topic_for(event_type: str) -> str:
    """The topic an event of this type is published to.

    >>> topic_for("click")
    'clicks'
    """
    return _TOPIC_BY_TYPE[event_type]
