"""Text analysis (NLTK, shipped stop words) and FTS5-safe queries run against real SQLite FTS5."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nltk
import pytest

import models.text.analyzer as analyzer
from models.text import (
    ANALYZER_VERSION,
    PRODUCT_WORDS,
    STOPWORDS,
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


def test_stop_words_are_nltks_less_the_words_that_name_products():
    nltk_list = load_stopwords()
    assert PRODUCT_WORDS.issubset(nltk_list)  # each is a word that NLTK's list drops
    assert nltk_list - PRODUCT_WORDS == STOPWORDS
    assert {"the", "a", "with", "for", "and", "of", "is", "it", "you", "s"} <= STOPWORDS


@pytest.mark.parametrize(("query", "terms"), [
    ("trash can with lid", ["trash", "can", "lid"]),
    ("under bed storage", ["under", "bed", "storag"]),
    ("off white rug", ["off", "white", "rug"]),
    ("down comforter", ["down", "comfort"]),
    ("pop up canopy", ["pop", "up", "canopi"]),
    ("over the door hook", ["over", "door", "hook"]),
    ("all in one printer", ["all", "in", "one", "printer"]),
    ("no show socks", ["no", "show", "sock"]),
    ("vitamin d", ["vitamin", "d"]),
])
def test_words_that_tell_products_apart_are_terms(query, terms):
    assert analyze(query) == terms


# Each query's product beside one that the query's other words favour: with NLTK's whole list the
# query loses its telling word and the wrong product comes first.
PHRASE_CATALOGUE = {
    1: "Trash bags, 13 gallon kitchen trash bags",
    2: "Stainless steel trash can",
    3: "Storage bed with drawers, platform bed with storage",
    4: "Under bed storage bin",
    5: "White shag rug, soft white area rug",
    6: "Off white area rug",
    7: "Cotton comforter set, comforter and shams",
    8: "Goose down comforter",
    9: "Bottle opener",
    10: "Electric can opener, stainless",
    11: "Vitamin C tablets, vitamin C 1000 mg",
    12: "Vitamin D 2000 IU softgels",
}
PHRASE_QUERIES = {"trash can": 2, "under bed storage": 4, "off white rug": 6, "down comforter": 8,
                  "can opener": 10, "vitamin d": 12}


def _phrase_ranking(stopwords: frozenset[str]) -> dict[str, int]:
    """The first product FTS5's BM25 ranks for each query, everything analysed with `stopwords`."""
    original = analyzer.STOPWORDS
    analyzer.STOPWORDS = stopwords
    analyzer._term.cache_clear()
    try:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE VIRTUAL TABLE products_fts USING fts5(body)")
        conn.executemany("INSERT INTO products_fts(rowid, body) VALUES (?, ?)",
                         [(pid, analyzed_text(text)) for pid, text in PHRASE_CATALOGUE.items()])
        return {q: conn.execute("SELECT rowid FROM products_fts WHERE products_fts MATCH ? "
                                "ORDER BY bm25(products_fts) LIMIT 1", (fts5_match(q),)).fetchone()[0]
                for q in PHRASE_QUERIES}
    finally:
        analyzer.STOPWORDS = original
        analyzer._term.cache_clear()


def test_the_product_a_phrase_names_comes_first():
    assert _phrase_ranking(STOPWORDS) == PHRASE_QUERIES
    # The same catalogue with NLTK's whole list ranks the other product first for every query.
    assert all(first != PHRASE_QUERIES[q] for q, first in _phrase_ranking(load_stopwords()).items())


def test_either_spelling_finds_the_other():
    assert analyze("16oz") == ["16oz", "16", "oz"] and analyze("16 oz") == ["16", "oz"]
    assert analyze("PS5 controller") == ["ps5", "control"]  # a model name stays whole
    assert analyze("Non-stick") == ["non", "stick", "nonstick"] and analyze("T-Shirt") == ["shirt", "tshirt"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE products_fts USING fts5(body)")
    catalogue = ["Water bottle, 16oz", "Water bottle, 32 oz", "Nonstick frying pan",
                 "Stainless frying pan, steel frying pan", "Cotton T-Shirt", "Cotton shirt, cotton dress shirt"]
    conn.executemany("INSERT INTO products_fts(rowid, body) VALUES (?, ?)",
                     [(i, analyzed_text(text)) for i, text in enumerate(catalogue, start=1)])

    def first(query: str) -> int:
        return int(conn.execute("SELECT rowid FROM products_fts WHERE products_fts MATCH ? "
                                "ORDER BY bm25(products_fts) LIMIT 1", (fts5_match(query),)).fetchone()[0])

    assert [first(q) for q in ("16 oz water bottle", "32oz water bottle", "non-stick frying pan",
                               "cotton tshirt")] == [1, 2, 3, 5]


def test_html_markup_is_no_words_of_the_product():
    page = ('<div class="desc"><p><b>Soft</b> &amp; warm.<br/>Machine&nbsp;wash</p>'
            '<ul><li style="color: red">Cotton</li></ul><!-- sku 12 --></div>')
    assert analyze(page) == analyze("Soft & warm. Machine wash. Cotton") == ["soft", "warm", "machin", "wash", "cotton"]
    assert analyze("2 < 3 > 1, Tea <5 g") == ["2", "3", "1", "tea", "5", "g"]  # no tag there
    embedded = product_text(name="<b>Mug</b>", description="<p>Red &amp; blue</p>")
    assert "<" not in embedded and "&amp;" not in embedded
    assert analyze(embedded) == analyze(product_text(name="Mug", description="Red & blue"))


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
    assert analyze("snake_case-thing") == ["snake", "case", "thing", "caseth"]  # "case-thing" joined too


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
    assert fts5_match(text, max_terms=3) == '"word0" OR "word1" OR "word2"'  # starts with letters: not split


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
