"""The `catalog` consumer group: searchable products (SQLite + FTS5) and FAISS snapshots."""

from consumers.catalog.processor import CatalogProcessor

__all__ = ["CatalogProcessor"]
