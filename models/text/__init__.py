"""Text preprocessing with NLTK, applied identically to products and queries.

Public API: :func:`analyze` (stems), :func:`analyzed_text` (stems joined, for FTS5 columns),
:func:`fts5_match` (a safe FTS5 MATCH string from user text), :func:`product_text`.
"""

from models.text.analyzer import (
    ANALYZER_VERSION,
    NLTK_DATA_DIR,
    PRODUCT_WORDS,
    STOPWORDS,
    STOPWORDS_DIR,
    analyze,
    analyzed_text,
    load_stopwords,
    normalize,
    plain_text,
    stem,
    tokenize,
)
from models.text.fts import fts5_match, fts5_match_terms, fts5_quote, query_terms
from models.text.product import DEFAULT_PRICE_BANDS, price_band, product_text

__all__ = [
    "ANALYZER_VERSION",
    "DEFAULT_PRICE_BANDS",
    "NLTK_DATA_DIR",
    "PRODUCT_WORDS",
    "STOPWORDS",
    "STOPWORDS_DIR",
    "analyze",
    "analyzed_text",
    "fts5_match",
    "fts5_match_terms",
    "fts5_quote",
    "load_stopwords",
    "normalize",
    "plain_text",
    "price_band",
    "product_text",
    "query_terms",
    "stem",
    "tokenize",
]
