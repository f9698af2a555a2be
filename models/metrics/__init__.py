"""Ranking quality metrics: NDCG@k (graded), hit rate@k, recall@k, reciprocal rank / MRR."""

from models.metrics.ranking import (
    dcg_at_k,
    hit_rate_at_k,
    mean,
    mrr,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

__all__ = [
    "dcg_at_k",
    "hit_rate_at_k",
    "mean",
    "mrr",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
]
