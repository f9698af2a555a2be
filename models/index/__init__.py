"""FAISS vector index: exact while small, an inverted file (8-bit vectors by default) by size.

Its file (FAISS's own format) is written into versioned snapshots by the catalog read model
(``readmodels.catalog.live_index``) through ``infra.snapshots``.
"""

from models.index.vector_index import IndexKind, Storage, VectorIndex

__all__ = ["IndexKind", "Storage", "VectorIndex"]
