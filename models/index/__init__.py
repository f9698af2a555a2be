"""FAISS vector index: flat while small, HNSW by size, tombstones and rebuilds.

Its files (FAISS's own format, and numpy labels for HNSW) are written into versioned snapshots by
the catalog read model (``readmodels.catalog.live_index``) through ``infra.snapshots``.
"""

from models.index.vector_index import IndexKind, VectorIndex

__all__ = ["IndexKind", "VectorIndex"]
