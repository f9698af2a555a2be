"""Moved to infra.learner.convert (kept while the benchmark is switched over)."""

from infra.learner.convert import (  # noqa: F401
    CLICK_WEIGHT,
    ITEM_VECTOR_DIM,
    ORDER_WEIGHT_PER_UNIT,
    interactions,
    item_spec,
    item_vector,
)
