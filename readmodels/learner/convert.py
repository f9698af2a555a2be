"""From events to what the recommender learns: interactions, and items with their vectors.

The one place for these rules: the learner's log (`readmodels.learner.log.append`) and the
benchmarks both call them, so a benchmark measures the path production runs. Item vectors come
from a fixed hashing embedder of the product text: it needs no fitting, so an item's vector never
changes under a model that has already learned from it (replay-safe). They are computed once, by
the learner when it logs the product, and stored with the log entry: nobody embeds them again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from events import Click, Event, Order, ProductUpserted
from models.embed import HashingEmbedder
from models.reco import Interaction
from models.reco.base import ItemSpec
from models.text import product_text

CLICK_WEIGHT = 1.0
ORDER_WEIGHT_PER_UNIT = 3.0
ITEM_VECTOR_DIM = 128

_embedder = HashingEmbedder(dim=ITEM_VECTOR_DIM)


def item_vector(p: ProductUpserted) -> NDArray[np.float32]:
    row: NDArray[np.float32] = item_vectors([p])[0]
    return row


def item_vectors(products: Sequence[ProductUpserted]) -> NDArray[np.float32]:
    """The vectors of `products`, one row each, embedded in one call (the embedder's per-call cost
    is much larger than its per-product cost). A row does not depend on the other products."""
    texts = [
        product_text(name=p.name, description=p.description, category_path=p.category_path, brand=p.brand,
                     attributes=p.attributes, price=float(p.price))
        for p in products
    ]
    return np.asarray(_embedder.transform(texts), dtype=np.float32).reshape(len(texts), ITEM_VECTOR_DIM)


def item_spec(p: ProductUpserted, vector: NDArray[np.float32] | None = None) -> ItemSpec:
    """The item as the recommender takes it (the vector is computed unless given)."""
    return ItemSpec(
        item_id=p.product_id,
        category=p.category_path[-1] if p.category_path else None,
        brand=p.brand or None,
        price=float(p.price),
        vector=item_vector(p) if vector is None else vector,
    )


def interactions(event: Event) -> list[Interaction]:
    """A click is one interaction; an order is one per line, weighted by quantity; else none."""
    payload = event.payload
    ts = event.event_time.timestamp()
    if isinstance(payload, Click):
        return [Interaction(payload.user_id, payload.product_id, "click", CLICK_WEIGHT, ts, payload.session_id)]
    if isinstance(payload, Order):
        return [
            Interaction(payload.user_id, line.product_id, "order", ORDER_WEIGHT_PER_UNIT * line.quantity, ts,
                        payload.session_id)
            for line in payload.lines
        ]
    return []
