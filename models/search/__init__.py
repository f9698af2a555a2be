"""Hybrid search score fusion (BM25 + vector): weighted sum of normalised scores, and RRF."""

from models.search.fusion import (
    FusedHit,
    Normalization,
    bm25_to_score,
    fuse,
    minmax_normalize,
    reciprocal_rank_fusion,
    weighted_sum_fusion,
    zscore_normalize,
)

__all__ = [
    "FusedHit",
    "Normalization",
    "bm25_to_score",
    "fuse",
    "minmax_normalize",
    "reciprocal_rank_fusion",
    "weighted_sum_fusion",
    "zscore_normalize",
]
