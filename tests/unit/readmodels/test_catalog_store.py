"""The catalog store (`readmodels.catalog.store`) on a temporary SQLite file: last-writer-wins
upserts and removals with a change `seq`, catching up by `seq`, the search filters and the FTS5
keyword leg (user text only ever as quoted, analysed terms)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from infra.sqlite import connect_writer, transaction
from models.search import Filters
from models.text import ANALYZER_VERSION, fts5_match
from readmodels.catalog import store


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect_writer(tmp_path / "catalog.sqlite3")
    store.setup(c)
    yield c
    c.close()


def upsert(conn: sqlite3.Connection, product_id: str, t: float = 1.0, *, name: str = "desk lamp",
           description: str = "", category: tuple[str, ...] = ("home", "lamps"), brand: str = "acme",
           price: str = "10.00", stock: int = 3) -> bool:
    with transaction(conn):
        return store.upsert_product(
            conn, product_id=product_id, name=name, description=description, category_path=list(category),
            brand=brand, price=Decimal(price), attributes={"colour": "red"}, stock=stock, event_time=t,
            produced_at=t - 0.5,
        )


def remove(conn: sqlite3.Connection, product_id: str, t: float) -> bool:
    with transaction(conn):
        return store.remove_product(conn, product_id, t, None)


def live_ids(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT product_id FROM products WHERE removed = 0")}


def test_upserts_are_last_writer_wins_and_each_change_takes_the_next_seq(conn: sqlite3.Connection) -> None:
    assert upsert(conn, "p1", 10, name="first")
    doc = store.get_product(conn, "p1").doc_id
    assert store.current_seq(conn) == 1
    assert not upsert(conn, "p1", 5, name="older")  # late and older: nothing changes, no new seq
    assert store.current_seq(conn) == 1 and store.get_product(conn, "p1").name == "first"
    assert upsert(conn, "p1", 10, name="tie")  # a tie: the one applied later wins
    assert upsert(conn, "p1", 20, name="newer", price="12.34", stock=0)
    row = store.get_product(conn, "p1")
    assert (row.doc_id, row.name, row.price, row.stock, row.seq, row.updated_at) == (doc, "newer", 12.34, 0, 3, 20.0)
    assert row.to_dict()["in_stock"] is False


def test_the_same_event_twice_leaves_the_same_row(conn: sqlite3.Connection) -> None:
    upsert(conn, "p1", 10)
    first = store.get_product(conn, "p1")
    upsert(conn, "p1", 10)
    second = store.get_product(conn, "p1")
    assert (second.doc_id, second.name, second.price, second.stock) == (first.doc_id, first.name, first.price,
                                                                        first.stock)
    assert conn.execute("SELECT count(*) FROM products_fts").fetchone()[0] == 1


def test_removals_are_last_writer_wins(conn: sqlite3.Connection) -> None:
    upsert(conn, "p1", 10)
    assert not remove(conn, "p1", 5)
    assert live_ids(conn) == {"p1"}
    assert remove(conn, "p1", 15)
    assert live_ids(conn) == set() and store.get_product(conn, "p1") is None
    assert conn.execute("SELECT count(*) FROM products_fts").fetchone()[0] == 0
    assert not upsert(conn, "p1", 12)  # older than the removal
    assert not remove(conn, "p1", 30)  # removed already; but a listing must now beat t=30
    assert not upsert(conn, "p1", 20)
    assert live_ids(conn) == set()
    assert upsert(conn, "p1", 40)  # listed again, same doc id, searchable again
    assert live_ids(conn) == {"p1"}
    found = store.keyword_search_fts5(conn, fts5_match("lamp"), Filters(), 5)
    assert [d for d, _ in found] == [store.get_product(conn, "p1").doc_id]


def test_a_removal_before_the_listing_it_follows_holds(conn: sqlite3.Connection) -> None:
    assert not remove(conn, "p1", 20)  # nothing live was removed ...
    assert not upsert(conn, "p1", 10)  # ... but the late, older listing does not bring it back
    assert live_ids(conn) == set()
    assert [r.product_id for r in store.changes_since(conn, 0) if not r.removed] == []
    assert upsert(conn, "p1", 30)
    assert live_ids(conn) == {"p1"}


def _fts_name(conn: sqlite3.Connection, product_id: str) -> str:
    return str(conn.execute("SELECT f.name FROM products_fts f JOIN products p ON p.doc_id = f.rowid "
                            "WHERE p.product_id = ?", (product_id,)).fetchone()[0])


def test_a_new_file_records_its_analyser(conn: sqlite3.Connection) -> None:
    assert conn.execute("SELECT value FROM catalog_meta WHERE key = 'analyzer'").fetchone() == (ANALYZER_VERSION,)
    assert store.reanalyse(conn) == 0


@pytest.mark.parametrize("recorded", ["nltk-regexp-snowball-en-v1-sw00000000", None])  # None: before versions
def test_text_analysed_by_another_analyser_is_rewritten_and_readers_catch_up(
        conn: sqlite3.Connection, recorded: str | None) -> None:
    upsert(conn, "p1", name="Stainless steel trash can")
    upsert(conn, "p2", name="Trash bags")
    upsert(conn, "p3", name="Can opener")
    remove(conn, "p3", 2.0)
    # As an analyser that dropped "can" left the file.
    conn.execute("UPDATE products_fts SET name = 'stainless steel trash' WHERE name = 'stainless steel trash can'")
    conn.execute("DELETE FROM catalog_meta WHERE key = 'analyzer'")
    if recorded is not None:
        conn.execute("INSERT INTO catalog_meta (key, value) VALUES ('analyzer', ?)", (recorded,))
    seq = store.current_seq(conn)

    assert store.reanalyse(conn, batch=1) == 2  # the live products, one transaction each
    assert _fts_name(conn, "p1") == "stainless steel trash can" and _fts_name(conn, "p2") == "trash bag"
    assert [c.product_id for c in store.changes_since(conn, seq)] == ["p1", "p2"]
    assert store.current_seq(conn) == seq + 2
    assert store.keyword_search_fts5(conn, fts5_match("trash can"), Filters(), 10)[0][0] == \
        store.get_product(conn, "p1").doc_id
    assert store.reanalyse(conn) == 0  # recorded now


def test_changes_since_gives_every_change_after_a_seq_in_order(conn: sqlite3.Connection) -> None:
    for i in range(5):
        upsert(conn, f"p{i}", 1.0, name=f"lamp number {i}")
    remove(conn, "p1", 2.0)
    upsert(conn, "p3", 3.0, name="renamed lamp")
    changes = list(store.changes_since(conn, 2, batch=2))  # pages of 2 rows
    assert [(r.product_id, r.seq, r.removed) for r in changes] == [
        ("p2", 3, False), ("p4", 5, False), ("p1", 6, True), ("p3", 7, False)]
    assert changes[-1].analysed is not None and changes[-1].analysed[0] == "renam lamp"
    assert changes[2].analysed is None  # a removed product has no FTS row
    assert list(store.changes_since(conn, store.current_seq(conn))) == []


@pytest.fixture
def shop(conn: sqlite3.Connection) -> sqlite3.Connection:
    upsert(conn, "lamp-cheap", 1, name="Desk lamp", price="5.00", brand="Acme")
    upsert(conn, "lamp-dear", 2, name="Floor lamp", price="80.00", brand="Lumo")
    upsert(conn, "lamp-gone", 3, name="Wall lamp", price="20.00", brand="Acme", stock=0)
    upsert(conn, "kettle", 4, name="Steel kettle", description="boils water, not a lamp", price="20.00",
           category=("kitchen", "kettles"), brand="Acme")
    return conn


def _ids(conn: sqlite3.Connection, hits: list[tuple[int, float]]) -> list[str]:
    rows = store.get_products(conn, [d for d, _ in hits])
    return [rows[d].product_id for d, _ in hits]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), {"lamp-cheap", "lamp-dear", "lamp-gone", "kettle"}),
        (Filters(category="LAMPS"), {"lamp-cheap", "lamp-dear", "lamp-gone"}),  # the leaf, any case
        (Filters(category="kitchen"), {"kettle"}),  # or the top level
        (Filters(brand="acme"), {"lamp-cheap", "lamp-gone", "kettle"}),
        (Filters(min_price=20.0), {"lamp-dear", "lamp-gone", "kettle"}),  # bounds are inclusive
        (Filters(max_price=20.0), {"lamp-cheap", "lamp-gone", "kettle"}),
        (Filters(min_price=20.0, max_price=20.0, in_stock=True), {"kettle"}),
        (Filters(min_price=1e308), set()),
        (Filters(brand="nobody"), set()),
    ],
)
def test_browse_applies_the_filters(shop: sqlite3.Connection, filters: Filters, expected: set[str]) -> None:
    assert set(_ids(shop, store.browse(shop, filters, 10))) == expected


def test_browse_puts_products_in_stock_first_then_newest(shop: sqlite3.Connection) -> None:
    assert _ids(shop, store.browse(shop, Filters(), 10)) == ["kettle", "lamp-dear", "lamp-cheap", "lamp-gone"]


def test_fts5_keyword_leg_ranks_by_the_field_weights_and_filters(shop: sqlite3.Connection) -> None:
    hits = store.keyword_search_fts5(shop, fts5_match("lamp"), Filters(), 10)
    ids = _ids(shop, hits)
    assert set(ids) == {"lamp-cheap", "lamp-dear", "lamp-gone", "kettle"}
    assert ids[-1] == "kettle"  # "lamp" only in its description: name weighs more
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    filtered = store.keyword_search_fts5(shop, fts5_match("lamp"), Filters(brand="acme", in_stock=True), 10)
    assert _ids(shop, filtered) == ["lamp-cheap", "kettle"]


@pytest.mark.parametrize("text", ['"', 'lamp" OR "kettle', "lamp*", "NEAR(lamp kettle)", "-lamp", "name:lamp",
                                  "lamp AND", "^lamp", "'; DROP TABLE products; --", "{name}: lamp"])
def test_user_text_reaches_fts5_only_as_quoted_terms(shop: sqlite3.Connection, text: str) -> None:
    match = fts5_match(text)
    hits = store.keyword_search_fts5(shop, match, Filters(), 10) if match else []
    assert all(isinstance(d, int) for d, _ in hits)
    assert shop.execute("SELECT count(*) FROM products").fetchone()[0] == 4


def test_readers_never_see_removed_products(shop: sqlite3.Connection) -> None:
    doc = store.get_product(shop, "lamp-dear").doc_id
    remove(shop, "lamp-dear", 10)
    assert store.get_candidates(shop, [doc]) == {} and store.get_products(shop, [doc]) == {}
    assert store.get_products_by_id(shop, ["lamp-dear", "kettle"]).keys() == {"kettle"}
    assert "lamp-dear" not in _ids(shop, store.browse(shop, Filters(), 10))


def test_candidates_carry_what_ranking_needs(shop: sqlite3.Connection) -> None:
    doc = store.get_product(shop, "kettle").doc_id
    c = store.get_candidates(shop, [doc])[doc]
    assert (c.category, c.top_category, c.brand, c.price, c.stock) == ("kettles", "kitchen", "Acme", 20.0, 3)
