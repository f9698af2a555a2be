"""Recommenders that learn one interaction at a time, behind one contract (River style).

- :class:`Recommender` -- the contract: ``learn_one``, ``recommend``, ``add_item`` /
  ``remove_item`` / ``set_in_stock``;
- :class:`TrendingPopularity` -- time-decayed popularity;
- :class:`ItemKNN` -- batch item-item cosine k-NN, retrained every N interactions;
- :class:`OnlineRecommender` -- co-occurrence + content + trending candidates, online SGD ranker;
- :class:`OracleRecommender` -- a ceiling from an external scoring function;
- :func:`run_prequential` / :class:`Prequential` -- test-then-train evaluation.

This package knows nothing of Kafka, HTTP or storage: numpy, scipy and scikit-learn only.
"""

from models.reco.base import Interaction, ItemCatalog, Kind, Recommendation, Recommender, top_k_indices
from models.reco.content import BruteForceContent, ContentCandidates
from models.reco.decay import DecayedCounts
from models.reco.evaluate import Outcome, Prequential, PrequentialReport, format_reports, run_prequential
from models.reco.itemknn import ItemKNN
from models.reco.online import FEATURES, OnlineConfig, OnlineRecommender
from models.reco.oracle import OracleRecommender
from models.reco.trending import TrendingPopularity

__all__ = [
    "FEATURES",
    "BruteForceContent",
    "ContentCandidates",
    "DecayedCounts",
    "Interaction",
    "ItemCatalog",
    "ItemKNN",
    "Kind",
    "OnlineConfig",
    "OnlineRecommender",
    "OracleRecommender",
    "Outcome",
    "Prequential",
    "PrequentialReport",
    "Recommendation",
    "Recommender",
    "TrendingPopularity",
    "format_reports",
    "run_prequential",
    "top_k_indices",
]
