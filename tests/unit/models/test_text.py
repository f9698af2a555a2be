"""Text analysis (NLTK, shipped stop words) and FTS5-safe queries run against real SQLite FTS5."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nltk
import pytest

from models.text import (
    ANALYZER_VERSION,
    STOPWORDS_DIR,
    analyze,
    analyzed_text,
    fts5_match,
    fts5_quote,
    load_stopwords,
    normalize,
    price_band,
    product_text,
    query_terms,
)

PRODUCTS = {
    1: "Trail Running Shoes — lightweight runner's shoe, waterproof",
    2: "Espresso Coffee Machine with milk frother",
    3: "Café crème mug (ceramic), 350ml",
    4: "USB-C charging cable 2m; fast-charge",
    5: "NEAR-field speaker: AND/OR NOT a \"toy\" * ^ (test)",
    6: "Wireless noise-cancelling headphones",
}

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    '"unbalanced',
    "shoe*",
    "*",
    "-shoe",
    "title:shoe",
    "col:",
    "(shoe OR",
    ")",
    "^shoe",
    "NEAR(shoe coffee, 2)",
    "shoe AND",
    "AND OR NOT NEAR",
    "and or not near",
    "NOT shoe",
    "shoe + coffee",
    "'; DROP TABLE products; --",
    "1' OR '1'='1",
    "Robert'); DELETE FROM products_fts WHERE 1=1; --",
    "🙂🔥👟",
    "shoes 👟 for running 🏃",
    "ｓｈｏｅ",  # full-width
    "caf\u0065\u0301",  # decomposed accent
    "\x00\x01\x02 shoe \u200b\ufeff",
    "\u202e reversed \u202c",
    "日本語の靴",
    "обувь для бега",
    "حذاء",
    "x" * 10_000,
    "shoe " * 2_000,
    "a\"b\"c d'e'f {g} [h] <i> |j| ~k~ @l #m $n %o &p =q ;r ,s .t /u \\v",
    "\n\t\r",
]


def _fts_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE products_fts USING fts5(body)")
    conn.executemany(
        "INSERT INTO products_fts(rowid, body) VALUES (?, ?)",
        [(pid, analyzed_text(text)) for pid, text in PRODUCTS.items()],
    )
    return conn


def _search(conn: sqlite3.Connection, user_text: str) -> list[int]:
    match = fts5_match(user_text)
    if not match:
        return []
    rows = conn.execute(
        "SELECT rowid FROM products_fts WHERE products_fts MATCH ? ORDER BY bm25(products_fts)",
        (match,),
    ).fetchall()
    return [r[0] for r in rows]


# --- stop words -------------------------------------------------------------------------------


def test_stopwords_ship_in_nltk_corpus_format():
    path = STOPWORDS_DIR / "english"
    assert path.is_file()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 179 and lines[0] == "i" and lines[-1] == "wouldn't"
    sw = load_stopwords()
    assert sw == frozenset(lines)
    assert {"the", "and", "not", "don't", "ourselves"} <= sw
    assert "shoe" not in sw


def test_stopwords_loaded_with_nltk_reader_without_download(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("nltk.download must never be called")

    monkeypatch.setattr(nltk, "download", forbidden)
    load_stopwords.cache_clear()
    try:
        reader = nltk.corpus.reader.WordListCorpusReader(str(STOPWORDS_DIR), ["english"])
        assert set(reader.words("english")) == load_stopwords()
    finally:
        load_stopwords.cache_clear()
    assert str(Path(STOPWORDS_DIR).parents[1]) in [str(p) for p in nltk.data.path]


def test_package_data_includes_stopword_file():
    import tomllib

    root = Path(__file__).resolve().parents[3]
    cfg = tomllib.loads((root / "pyproject.toml").read_text())
    assert "english" in cfg["tool"]["setuptools"]["package-data"]["*"]


# --- analysis ---------------------------------------------------------------------------------


def test_analyze_lowercases_stems_and_drops_stopwords():
    assert analyze("The Running SHOES of the runners") == ["run", "shoe", "runner"]
    assert analyze("") == [] and analyze("the and of") == []


def test_same_pipeline_for_products_and_queries():
    assert set(analyze("running shoe")) <= set(analyze(PRODUCTS[1]))
    assert analyze("Headphone") == analyze("headphones")
    assert analyze("CAFÉ") == analyze("cafe") == analyze("caf\u0065\u0301")
    assert analyze("ｓｈｏｅｓ") == analyze("shoes")


def test_normalize_unicode():
    assert normalize("Ｆｕｌｌ ﬁne Straße Ångström") == "full fine strasse angstrom"
    assert normalize("it\u2019s") == "it's"


def test_analyze_handles_emoji_and_symbols_and_other_scripts():
    assert analyze("🙂🔥👟") == []
    assert analyze("shoes 👟!!") == ["shoe"]
    assert analyze("обувь") == ["обувь"]
    assert analyze("snake_case-thing") == ["snake", "case", "thing"]


def test_long_tokens_are_cut():
    (token,) = analyze("y" * 10_000)
    assert len(token) <= 40


def test_analyzer_version_names_the_pipeline():
    assert ANALYZER_VERSION.startswith("nltk-") and "snowball" in ANALYZER_VERSION


def test_product_text_weights_name_and_adds_price_band():
    text = product_text(name="Trail Shoe", description="Grippy", category_path=["Shoes", "Trail"],
                        brand="Acme", attributes={"color": "red", "waterproof": True}, price=120.0,
                        name_weight=3)
    assert text.count("Trail Shoe") == 3
    stems = analyze(text)
    assert stems.count("shoe") == 4 and "acm" in stems and "red" in stems
    assert price_band(120.0) in stems
    assert product_text(name="X") == "X. X. pricetierunknown"
    with pytest.raises(ValueError):
        product_text(name="x", name_weight=0)


def test_price_band_edges():
    assert price_band(-1) == price_band(float("nan")) == "pricetierunknown"
    assert price_band(9.999) == "pricetier1"
    assert price_band(10_000) == "pricetier8"
    assert price_band(3, bands=[1, 2]) == "pricetier3"


# --- FTS5 ---------------------------------------------------------------------------------------


def test_fts5_quote_doubles_quotes():
    assert fts5_quote('a"b') == '"a""b"'
    assert fts5_quote("") == '""'


def test_fts5_match_format():
    assert fts5_match("running shoes") == '"run" OR "shoe"'
    assert fts5_match("running shoes", operator="and") == '"run" AND "shoe"'
    assert fts5_match("shoe shoes SHOE") == '"shoe"'
    assert fts5_match("the of and") == ""
    with pytest.raises(ValueError):
        fts5_match("x", operator="NEAR")
    with pytest.raises(ValueError):
        query_terms("x", max_terms=0)


def test_fts5_match_bounds_term_count():
    text = " ".join(f"word{i}" for i in range(1000))
    assert len(query_terms(text)) == 32
    assert fts5_match(text, max_terms=3) == '"word0" OR "word1" OR "word2"'


@pytest.mark.parametrize("user_text", HOSTILE, ids=lambda s: repr(s[:30]))
def test_hostile_input_gives_valid_match(user_text):
    conn = _fts_db()
    match = fts5_match(user_text)
    assert isinstance(match, str)
    if match:
        # every term is a quoted literal joined by OR: nothing else can reach the parser
        for part in match.split(" OR "):
            assert part.startswith('"') and part.endswith('"')
        conn.execute("SELECT rowid, bm25(products_fts) FROM products_fts WHERE products_fts MATCH ?",
                     (match,)).fetchall()
    else:
        # an empty MATCH is an FTS5 syntax error: the caller must skip the FTS leg
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT rowid FROM products_fts WHERE products_fts MATCH ?", (match,)).fetchall()
    # the table is untouched by SQL-looking input
    assert conn.execute("SELECT count(*) FROM products_fts").fetchone()[0] == len(PRODUCTS)


def test_fts5_finds_inflected_forms_and_ranks_by_bm25():
    conn = _fts_db()
    assert _search(conn, "runner shoes")[0] == 1
    assert _search(conn, "coffee machines") == [2]
    assert _search(conn, "CAFE") == [3]
    assert _search(conn, "usb-c cables") == [4]
    assert _search(conn, "headphone") == [6]
    assert _search(conn, "🙂") == []


def test_fts5_syntax_words_are_plain_text():
    conn = _fts_db()
    assert _search(conn, "NEAR") == [5]
    assert _search(conn, "toy*") == [5]
    # NOT is not an operator here (it is a stop word): both products match
    assert sorted(_search(conn, "shoe NOT coffee")) == [1, 2]
    assert _search(conn, '"toy" -test') == [5]


def test_fts5_query_with_embedded_quote_runs():
    conn = _fts_db()
    # analysis cannot produce a quote, but the quoting itself must hold if one ever appears
    match = fts5_quote('tr"ail') + " OR " + fts5_quote("shoe")
    rows = conn.execute("SELECT rowid FROM products_fts WHERE products_fts MATCH ?", (match,)).fetchall()
    assert [r[0] for r in rows] == [1]


def test_long_input_is_fast_enough():
    import time

    t0 = time.perf_counter()
    match = fts5_match("lorem ipsum dolor sit amet " * 2_000)
    assert time.perf_counter() - t0 < 1.0
    assert match.count(" OR ") <= 31
