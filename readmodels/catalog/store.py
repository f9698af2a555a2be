"""The catalog store: writes product events (the `catalog` consumer) and reads for search (the API).

Writes are idempotent and last-writer-wins by event time (`readmodels.upsert`). Each change takes
the next `seq`, so a reader holding a snapshot as of seq N catches up with `changes_since(N)`.
All of the catalog's SQL lives here, the search filters' included; user text reaches FTS5 only
as the quoted, analysed terms that `models.text.fts5_match` builds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from typing import Any

import numpy as np
from numpy.typing import NDArray

from infra.sqlite import transaction
from models.search import Filters, fts5_weights
from models.text import ANALYZER_VERSION, analyzed_text, product_text
from readmodels.upsert import supersedes

SCHEMA = files("readmodels.catalog").joinpath("schema.sql")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductRow:
    doc_id: int
    product_id: str
    name: str
    description: str
    category_path: list[str]
    brand: str
    price: float
    attributes: dict[str, str]
    stock: int
    removed: bool
    seq: int
    updated_at: float
    produced_at: float | None
    # The analysed (stemmed) text of the FTS5 columns: name, description, brand, category.
    analysed: tuple[str, str, str, str] | None = None

    @property
    def category(self) -> str:
        return self.category_path[-1] if self.category_path else ""

    def embed_text(self) -> str:
        """The text the embedder sees: name (weighted), description, category, brand, attributes, price band."""
        return _embed_text(self.name, self.description, self.category_path, self.brand, self.attributes, self.price)

    def to_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "name": self.name,
            "description": self.description,
            "category_path": self.category_path,
            "category": self.category,
            "brand": self.brand,
            "price": self.price,
            "attributes": self.attributes,
            "stock": self.stock,
            "in_stock": self.stock > 0,
        }


COLUMNS = (
    "doc_id, product_id, name, description, category_path, brand, price_cents, attributes, stock, "
    "removed, seq, updated_at, produced_at"
)


_P_COLUMNS = ", ".join("p." + c.strip() for c in COLUMNS.split(","))


def _embed_text(name: str, description: str, category_path: Sequence[str], brand: str,
                attributes: dict[str, str], price: float) -> str:
    """`product_text` of a product as stored (attributes in key order, price in whole cents), so that
    the consumer that writes a row and a reader that reads it back embed the same text."""
    return product_text(name=name, description=description, category_path=list(category_path), brand=brand,
                        attributes=dict(sorted(attributes.items())), price=price)


def row_to_product(row: Sequence[Any]) -> ProductRow:
    analysed = (row[13], row[14], row[15], row[16]) if len(row) >= 17 and row[13] is not None else None
    return ProductRow(
        doc_id=int(row[0]), product_id=row[1], name=row[2], description=row[3],
        category_path=json.loads(row[4]), brand=row[5], price=row[6] / 100.0,
        attributes=json.loads(row[7]), stock=int(row[8]), removed=bool(row[9]), seq=int(row[10]),
        updated_at=float(row[11]), produced_at=None if row[12] is None else float(row[12]),
        analysed=analysed,
    )


def setup(conn: sqlite3.Connection) -> None:
    """Create the tables (idempotent), and re-analyse the stored text if the analyser changed.

    `conn` is a writer in autocommit mode (``isolation_level=None``, as `infra.sqlite.connect_writer`)."""
    conn.executescript(SCHEMA.read_text())
    reanalyse(conn)


def reanalyse(conn: sqlite3.Connection, batch: int = 50_000) -> int:
    """Rewrite every live product's FTS5 text when it was analysed by another `ANALYZER_VERSION`
    (stop words or stemmer changed); return how many products were rewritten.

    Queries are analysed by the running code, so text analysed the old way would no longer match
    them (a kept stop word would be in queries and missing from every document). Each rewritten
    product takes a new `seq`, so that readers (the API's keyword index) re-read it as they catch
    up. Batches are transactions of their own; the version is recorded after the last, so a run
    cut short starts again from the first.
    """
    row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'analyzer'").fetchone()
    if row is not None and row[0] == ANALYZER_VERSION:
        return 0
    total = count_live(conn)
    if total:
        log.info("catalog: the text analyser changed (%s, was %s); re-analysing %d products",
                 ANALYZER_VERSION, row[0] if row else "an unrecorded version", total)
    done, last = 0, 0
    started = time.monotonic()
    while True:
        rows = conn.execute(
            "SELECT doc_id, name, description, brand, category_path, attributes FROM products "
            "WHERE removed = 0 AND doc_id > ? ORDER BY doc_id LIMIT ?", (last, batch),
        ).fetchall()
        if not rows:
            break
        fields = [(d, *_fts_fields(n, desc, b, json.loads(path), json.loads(attrs)))
                  for d, n, desc, b, path, attrs in rows]
        with transaction(conn):
            seq = current_seq(conn)
            conn.executemany("DELETE FROM products_fts WHERE rowid = ?", [(f[0],) for f in fields])
            conn.executemany(
                "INSERT INTO products_fts (rowid, name, description, brand, category) VALUES (?, ?, ?, ?, ?)", fields
            )
            conn.executemany("UPDATE products SET seq = ? WHERE doc_id = ?",
                             [(seq + i, f[0]) for i, f in enumerate(fields, start=1)])
            _set_seq(conn, seq + len(fields))
        done, last = done + len(rows), int(rows[-1][0])
        log.info("catalog: re-analysed %d of %d products (%.0f s)", done, total, time.monotonic() - started)
    conn.execute(
        "INSERT INTO catalog_meta (key, value) VALUES ('analyzer', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (ANALYZER_VERSION,),
    )
    return done


def current_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'seq'").fetchone()
    return int(row[0]) if row else 0


def _next_seq(conn: sqlite3.Connection) -> int:
    seq = current_seq(conn) + 1
    _set_seq(conn, seq)
    return seq


def _set_seq(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        "INSERT INTO catalog_meta (key, value) VALUES ('seq', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(seq),),
    )


def _fts_fields(
    name: str, description: str, brand: str, category_path: Sequence[str], attributes: dict[str, str]
) -> tuple[str, str, str, str]:
    attrs = " ".join(f"{v}" for v in attributes.values())
    return (
        analyzed_text(name),
        analyzed_text(f"{description} {attrs}"),
        analyzed_text(brand),
        analyzed_text(" ".join(category_path)),
    )


@dataclass(frozen=True)
class Written:
    """A product row that a write changed: its ids, its new `seq` and the text to embed for it."""

    doc_id: int
    seq: int
    embed_text: str


def upsert_product(conn: sqlite3.Connection, **product: Any) -> bool:
    """Insert or update (see `write_product`); returns False for an event older than the stored one."""
    return write_product(conn, **product) is not None


def write_product(
    conn: sqlite3.Connection,
    *,
    product_id: str,
    name: str,
    description: str,
    category_path: list[str],
    brand: str,
    price: Decimal,
    attributes: dict[str, str],
    stock: int,
    event_time: float,
    produced_at: float | None,
) -> Written | None:
    """Insert or update; returns None (and changes nothing) for an event older than the stored one."""
    old = conn.execute(
        "SELECT doc_id, updated_at FROM products WHERE product_id = ?", (product_id,)
    ).fetchone()
    if old is not None and not supersedes(event_time, old[1]):
        return None
    seq = _next_seq(conn)
    cents = int((price * 100).to_integral_value())
    values = (
        name, description, json.dumps(category_path), category_path[-1] if category_path else "",
        category_path[0] if category_path else "", brand, cents,
        json.dumps(attributes, sort_keys=True), stock, event_time, produced_at, time.time(), seq,
    )
    if old is None:
        cur = conn.execute(
            "INSERT INTO products (product_id, name, description, category_path, category, top_category, "
            "brand, price_cents, attributes, stock, removed, updated_at, produced_at, applied_at, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (product_id, *values),
        )
        doc_id = int(cur.lastrowid or 0)
    else:
        doc_id = int(old[0])
        conn.execute(
            "UPDATE products SET name = ?, description = ?, category_path = ?, category = ?, top_category = ?, "
            "brand = ?, price_cents = ?, attributes = ?, stock = ?, removed = 0, updated_at = ?, "
            "produced_at = ?, applied_at = ?, seq = ? WHERE doc_id = ?",
            (*values, doc_id),
        )
        conn.execute("DELETE FROM products_fts WHERE rowid = ?", (doc_id,))
    conn.execute(
        "INSERT INTO products_fts (rowid, name, description, brand, category) VALUES (?, ?, ?, ?, ?)",
        (doc_id, *_fts_fields(name, description, brand, category_path, attributes)),
    )
    return Written(doc_id, seq, _embed_text(name, description, category_path, brand, attributes, cents / 100.0))


def remove_product(conn: sqlite3.Connection, product_id: str, event_time: float, produced_at: float | None) -> bool:
    old = conn.execute(
        "SELECT doc_id, updated_at, removed FROM products WHERE product_id = ?", (product_id,)
    ).fetchone()
    if old is None:
        # A tombstone: the listing this removal follows may still arrive, late, and must not
        # bring the product back (last writer wins). Nothing live was removed.
        conn.execute(
            "INSERT INTO products (product_id, name, description, category_path, category, top_category, brand, "
            "price_cents, attributes, stock, removed, updated_at, produced_at, applied_at, seq) "
            "VALUES (?, '', '', '[]', '', '', '', 0, '{}', 0, 1, ?, ?, ?, ?)",
            (product_id, event_time, produced_at, time.time(), _next_seq(conn)),
        )
        return False
    if not supersedes(event_time, old[1]):
        return False
    if old[2]:  # removed already: a later removal still raises the time a late listing must beat
        conn.execute("UPDATE products SET updated_at = ? WHERE doc_id = ?", (event_time, old[0]))
        return False
    conn.execute(
        "UPDATE products SET removed = 1, updated_at = ?, produced_at = ?, applied_at = ?, seq = ? WHERE doc_id = ?",
        (event_time, produced_at, time.time(), _next_seq(conn), old[0]),
    )
    conn.execute("DELETE FROM products_fts WHERE rowid = ?", (old[0],))
    conn.execute("DELETE FROM product_vectors WHERE doc_id = ?", (old[0],))
    return True


def changes_since(conn: sqlite3.Connection, seq: int, batch: int = 5000) -> Iterator[ProductRow]:
    """Every product changed after `seq` (removed ones too), in seq order."""
    while True:
        rows = conn.execute(
            f"SELECT {_P_COLUMNS}, f.name, f.description, f.brand, f.category FROM products p "
            f"LEFT JOIN products_fts f ON f.rowid = p.doc_id WHERE p.seq > ? ORDER BY p.seq LIMIT ?",
            (seq, batch),
        ).fetchall()
        if not rows:
            return
        for row in rows:
            product = row_to_product(row)
            seq = product.seq
            yield product


# -- stored vectors ------------------------------------------------------------------------------

#: How vectors are stored: float16 halves the file (the index holds them as float32, decoded the
#: same way by every reader, so all indexes hold identical vectors).
VECTOR_DTYPE = np.dtype("<f2")


def text_hash(text: str) -> bytes:
    """A digest of an embedded text: an update that leaves it unchanged keeps its vector."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def decode_vectors(blobs: Sequence[bytes], dim: int) -> NDArray[np.float32]:
    """Stored vectors as a float32 matrix (``len(blobs) x dim``)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE)
    if flat.size != len(blobs) * dim:
        raise ValueError(f"stored vectors are not {dim}-dimensional")
    return flat.reshape(len(blobs), dim).astype(np.float32)


def stored_text_hashes(conn: sqlite3.Connection, doc_ids: Sequence[int], embedder: str) -> dict[int, bytes]:
    """For the products among `doc_ids` that have a vector by `embedder`, the hash of its text."""
    if not doc_ids:
        return {}
    marks = ",".join("?" * len(doc_ids))
    rows = conn.execute(
        f"SELECT doc_id, text_hash FROM product_vectors WHERE doc_id IN ({marks}) AND embedder = ?",
        [*doc_ids, embedder],
    ).fetchall()
    return {int(d): bytes(h) for d, h in rows}


def put_vectors(conn: sqlite3.Connection, embedder: str, rows: Sequence[tuple[int, int, bytes]],
                vectors: NDArray[np.float32]) -> None:
    """Store ``vectors[i]`` for ``rows[i] = (doc_id, seq, text_hash)``, made by `embedder`."""
    if len(rows) != len(vectors):
        raise ValueError(f"{len(rows)} rows but {len(vectors)} vectors")
    encoded = np.ascontiguousarray(vectors, dtype=VECTOR_DTYPE)
    conn.executemany(
        "INSERT INTO product_vectors (doc_id, embedder, text_hash, seq, vector) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (doc_id) DO UPDATE SET embedder = excluded.embedder, text_hash = excluded.text_hash, "
        "seq = excluded.seq, vector = excluded.vector",
        [(d, embedder, h, s, encoded[i].tobytes()) for i, (d, s, h) in enumerate(rows)],
    )


@dataclass(frozen=True)
class IndexChange:
    """What an index needs of a changed product: whether it is live, and its stored vector."""

    doc_id: int
    seq: int
    removed: bool
    embedder: str | None  # None: no stored vector
    vector_seq: int  # the seq at which the stored vector was written (0: none)
    vector: bytes | None
    # The analysed (stemmed) text of the FTS5 columns (only when asked for).
    analysed: tuple[str, str, str, str] | None = None


def index_changes(conn: sqlite3.Connection, seq: int, *, analysed: bool = False,
                  batch: int = 5000) -> Iterator[IndexChange]:
    """Every product changed after `seq` (removed ones too), in seq order, with its stored vector."""
    fts = ", f.name, f.description, f.brand, f.category" if analysed else ""
    join = " LEFT JOIN products_fts f ON f.rowid = p.doc_id" if analysed else ""
    while True:
        rows = conn.execute(
            f"SELECT p.doc_id, p.seq, p.removed, v.embedder, v.seq, v.vector{fts} FROM products p "
            f"LEFT JOIN product_vectors v ON v.doc_id = p.doc_id{join} WHERE p.seq > ? ORDER BY p.seq LIMIT ?",
            (seq, batch),
        ).fetchall()
        if not rows:
            return
        for r in rows:
            yield IndexChange(
                int(r[0]), int(r[1]), bool(r[2]), r[3], int(r[4] or 0), r[5],
                (r[6], r[7], r[8], r[9]) if analysed and r[6] is not None else None,
            )
        seq = int(rows[-1][1])


def embed_texts(conn: sqlite3.Connection, doc_ids: Sequence[int], batch: int = 900) -> dict[int, str]:
    """The text to embed of each live product among `doc_ids`."""
    out: dict[int, str] = {}
    for i in range(0, len(doc_ids), batch):
        out.update((d, p.embed_text()) for d, p in get_products(conn, doc_ids[i:i + batch]).items())
    return out


def last_changed(conn: sqlite3.Connection) -> ProductRow | None:
    """The live product changed last (the highest `seq`)."""
    row = conn.execute(f"SELECT {COLUMNS} FROM products WHERE removed = 0 ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else row_to_product(row)


def live_doc_ids(conn: sqlite3.Connection) -> set[int]:
    """The doc ids of every live product."""
    return {int(r[0]) for r in conn.execute("SELECT doc_id FROM products WHERE removed = 0")}


def count_live(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM products WHERE removed = 0").fetchone()[0])


@dataclass(frozen=True)
class Candidate:
    """The few columns that ranking, filters and facets need: cheap to read for hundreds of rows."""

    doc_id: int
    category: str
    top_category: str
    brand: str
    price: float
    stock: int


def get_candidates(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> dict[int, Candidate]:
    if not doc_ids:
        return {}
    marks = ",".join("?" * len(doc_ids))
    rows = conn.execute(
        f"SELECT doc_id, category, top_category, brand, price_cents, stock FROM products "
        f"WHERE doc_id IN ({marks}) AND removed = 0",
        list(doc_ids),
    ).fetchall()
    return {int(r[0]): Candidate(int(r[0]), r[1], r[2], r[3], r[4] / 100.0, int(r[5])) for r in rows}


def get_products(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> dict[int, ProductRow]:
    if not doc_ids:
        return {}
    marks = ",".join("?" * len(doc_ids))
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM products WHERE doc_id IN ({marks}) AND removed = 0", list(doc_ids)
    ).fetchall()
    return {int(r[0]): row_to_product(r) for r in rows}


def get_products_by_id(conn: sqlite3.Connection, product_ids: Sequence[str]) -> dict[str, ProductRow]:
    if not product_ids:
        return {}
    marks = ",".join("?" * len(product_ids))
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM products WHERE product_id IN ({marks}) AND removed = 0", list(product_ids)
    ).fetchall()
    return {r[1]: row_to_product(r) for r in rows}


def get_product(conn: sqlite3.Connection, product_id: str) -> ProductRow | None:
    row = conn.execute(f"SELECT {COLUMNS} FROM products WHERE product_id = ? AND removed = 0", (product_id,)).fetchone()
    return None if row is None else row_to_product(row)


# -- search queries ------------------------------------------------------------------------------


def filter_sql(filters: Filters, alias: str = "p") -> tuple[str, list[Any]]:
    """A WHERE clause (and its parameters) for live products that pass ``filters``."""
    clauses: list[str] = [f"{alias}.removed = 0"]
    args: list[Any] = []
    if filters.category:
        clauses.append(f"({alias}.category = ? COLLATE NOCASE OR {alias}.top_category = ? COLLATE NOCASE)")
        args += [filters.category, filters.category]
    if filters.brand:
        clauses.append(f"{alias}.brand = ? COLLATE NOCASE")
        args.append(filters.brand)
    if filters.min_price is not None:
        clauses.append(f"{alias}.price_cents >= ?")
        args.append(price_to_cents_bound(filters.min_price))
    if filters.max_price is not None:
        clauses.append(f"{alias}.price_cents <= ?")
        args.append(price_to_cents_bound(filters.max_price))
    if filters.in_stock:
        clauses.append(f"{alias}.stock > 0")
    return " AND ".join(clauses), args


# SQLite integers are 64-bit: a price bound beyond any stored price is clamped to this.
_MAX_CENTS = 2**62


def price_to_cents_bound(price: float) -> int:
    """A price bound in cents that SQLite can hold (huge or infinite bounds are clamped).

    >>> price_to_cents_bound(12.345), price_to_cents_bound(1e308), price_to_cents_bound(float("inf"))
    (1234, 4611686018427387904, 4611686018427387904)
    """
    if not price < _MAX_CENTS / 100:  # also catches inf and nan
        return _MAX_CENTS
    return max(round(price * 100), 0)


def keyword_search_fts5(conn: sqlite3.Connection, match: str, filters: Filters, n: int) -> list[tuple[int, float]]:
    """The keyword leg in SQLite: FTS5 ``bm25()`` with the shared field weights, filtered."""
    where, args = filter_sql(filters)
    rows = conn.execute(
        f"SELECT p.doc_id, bm25(products_fts, {fts5_weights()}) AS r FROM products_fts "
        f"JOIN products p ON p.doc_id = products_fts.rowid "
        f"WHERE products_fts MATCH ? AND {where} ORDER BY r LIMIT ?",
        [match, *args, n],
    ).fetchall()
    return [(int(d), -float(r)) for d, r in rows]


def browse(conn: sqlite3.Connection, filters: Filters, n: int) -> list[tuple[int, float]]:
    """Products that pass ``filters`` with no query: in stock first, newest change first."""
    where, args = filter_sql(filters)
    rows = conn.execute(
        f"SELECT doc_id FROM products p WHERE {where} ORDER BY (stock > 0) DESC, updated_at DESC LIMIT ?",
        [*args, n],
    ).fetchall()
    return [(int(r[0]), 1.0 / (i + 1)) for i, r in enumerate(rows)]
