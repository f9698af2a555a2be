"""The catalog's SQLite store (products + FTS5) and the live vector index kept from it."""
