"""Search: the keyword index (BM25F), the fields and weights it ranks, score fusion, and the ranking
policy that turns the legs into one answer (filters, personalisation, stock order)."""

from models.search.bm25 import BM25Index
from models.search.fields import FIELD_WEIGHTS, SEARCH_FIELDS, fts5_weights
from models.search.fusion import (
    FusedHit,
    FuseNormalization,
    Normalization,
    bm25_to_score,
    fuse,
    max_normalize,
    minmax_normalize,
    reciprocal_rank_fusion,
    weighted_sum_fusion,
    zscore_normalize,
)
from models.search.ranking import Filters, Fusion, Mode, RankedHit, affinity_boosts, rank
from models.search.spelling import Correction, corrections

__all__ = [
    "FIELD_WEIGHTS",
    "SEARCH_FIELDS",
    "BM25Index",
    "Correction",
    "Filters",
    "FuseNormalization",
    "FusedHit",
    "Fusion",
    "Mode",
    "Normalization",
    "RankedHit",
    "affinity_boosts",
    "bm25_to_score",
    "corrections",
    "fts5_weights",
    "fuse",
    "max_normalize",
    "minmax_normalize",
    "rank",
    "reciprocal_rank_fusion",
    "weighted_sum_fusion",
    "zscore_normalize",
]
