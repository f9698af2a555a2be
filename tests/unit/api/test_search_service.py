"""The search service on a temporary catalog (SQLite file + index snapshot written by the real
`catalog` processor): filters, fusion, stock order, personalisation, the FTS5 fallback for narrow
filters, facets, similar products and queries that are not what a search box expects."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from api.services import search as search_service
from api.services.catalog import CatalogService, CatalogUnavailable
from consumers.catalog.processor import CatalogProcessor
from events import Event
from infra.config import Settings
from infra.sqlite import connect_writer
from models.search import Filters, Mode
from models.search.ranking import Candidate
from models.text import query_terms
from readmodels.catalog import store
from tests.unit.shop_events import apply, product

K = 5


def _catalogue() -> list[Event]:
    lamps = [product(f"lamp-{i}", t=1, name=f"Lamp {i} desk lamp", description="a bright lamp for the desk",
                     category="lamps", top="home", brand="acme", price=f"{10 + i}.00", stock=5) for i in range(50)]
    rare = [product(f"rare-{i}", t=1, name=f"Reading light {i}",
                    description="a small light with a long cable and a clip, it can stand in for a lamp " + "x " * 80,
                    category="lights", top="home", brand="Rare", price="30.00", stock=2) for i in range(3)]
    kettles = [product(f"kettle-{i}", t=1, name=f"Steel kettle {i}", description="boils water fast",
                       category="kettles", top="kitchen", brand="zeta" if i % 2 else "acme", price=f"{20 + 10 * i}.00",
                       stock=0 if i == 0 else 3) for i in range(4)]
    return [*lamps, *rare, *kettles]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalog as the `catalog` consumer leaves it: rows, FTS5 and an index snapshot (built
    once for the module; every test only reads it)."""
    path = tmp_path_factory.mktemp("var")
    settings = _settings(path)
    conn = connect_writer(settings.sqlite_path("catalog"))
    processor = CatalogProcessor(settings)
    processor.setup(conn)
    apply(conn, processor, _catalogue())
    processor.close()
    conn.close()
    return path


def _settings(data_dir: Path, keyword_engine: str = "memory") -> Settings:
    return Settings(data_dir=data_dir, embedder="hashing", embed_dims=64, search_candidates=10,
                    keyword_engine=keyword_engine)


@pytest.fixture
def catalog(data_dir: Path) -> Iterator[CatalogService]:
    service = CatalogService(_settings(data_dir))
    service.refresh()
    yield service


def ids(result: search_service.SearchResult) -> list[str]:
    return [h.product.product_id for h in result.hits]


def test_a_query_finds_its_products_best_first(catalog: CatalogService) -> None:
    result = search_service.search(catalog, "steel kettle", k=K)
    assert ids(result)[:3] and all(i.startswith("kettle-") for i in ids(result)[:3])
    assert result.notes == [] and result.took_ms > 0
    hit = result.hits[0]
    assert {"bm25_score", "vector_score"} <= hit.parts.keys()  # fused from both legs


@pytest.mark.parametrize("mode", ["bm25", "vector"])
def test_one_leg_alone(catalog: CatalogService, mode: Mode) -> None:
    result = search_service.search(catalog, "steel kettle", k=K, mode=mode)
    other = "vector" if mode == "bm25" else "bm25"
    assert result.hits and all(f"{other}_score" not in h.parts for h in result.hits)
    assert all(f"{mode}_score" in h.parts for h in result.hits)


def test_reciprocal_rank_fusion(catalog: CatalogService) -> None:
    weighted = search_service.search(catalog, "steel kettle", k=3)
    rrf = search_service.search(catalog, "steel kettle", k=3, fusion="rrf")
    assert ids(rrf)[0].startswith("kettle-") and ids(weighted)[0].startswith("kettle-")
    # reciprocal ranks, not normalised scores: each score is the sum of its legs' 1 / (60 + rank) terms
    assert any(k.endswith("_norm") for k in weighted.hits[0].parts)
    assert not any(k.endswith("_norm") for h in rrf.hits for k in h.parts)
    for h in rrf.hits:
        assert h.score == pytest.approx(sum(float(v) for k, v in h.parts.items() if k.endswith("_contrib")))
    assert [h.score for h in rrf.hits] == sorted((h.score for h in rrf.hits), reverse=True)


@pytest.mark.parametrize(
    "filters",
    [Filters(category="kettles"), Filters(category="KITCHEN"), Filters(brand="ZETA"), Filters(max_price=30.0),
     Filters(min_price=25.0, in_stock=True), Filters(category="kettles", brand="acme", in_stock=True)],
)
def test_every_hit_passes_the_filters(catalog: CatalogService, filters: Filters) -> None:
    result = search_service.search(catalog, "kettle", k=K, filters=filters)
    assert result.hits
    conn = catalog.conn()
    for hit in result.hits:
        candidate = store.get_candidates(conn, [hit.product.doc_id])[hit.product.doc_id]
        assert filters.matches(candidate), (hit.product.product_id, filters)


def test_products_out_of_stock_come_after_those_in_stock(catalog: CatalogService) -> None:
    for mode in ("bm25", "hybrid"):
        result = search_service.search(catalog, "steel kettle 0", k=30, mode=mode)
        in_stock = [h.product.stock > 0 for h in result.hits]
        assert in_stock == sorted(in_stock, reverse=True) and not in_stock[-1]
        assert ids(result)[-1] == "kettle-0"
        best = max(result.hits, key=lambda h: float(h.parts.get("bm25_score", 0.0)))
        assert best.product.product_id == "kettle-0"  # the best match by its words, but out of stock


class FixedTastes:
    """A `Personalizer`: this user likes one brand fully, nothing else."""

    def __init__(self, user_id: str, brand: str) -> None:
        self.user_id, self.brand = user_id, brand
        self.asked: list[int] = []

    def boosts(self, user_id: str, candidates: Mapping[int, Candidate]) -> dict[int, float]:
        self.asked += list(candidates)
        if user_id != self.user_id:
            return {}
        return {d: 1.0 for d, c in candidates.items() if c.brand == self.brand}


def test_personalisation_moves_the_users_brand_up(catalog: CatalogService) -> None:
    plain = search_service.search(catalog, "steel kettle", k=4)
    tastes = FixedTastes("u1", "zeta")
    personal = search_service.search(catalog, "steel kettle", k=4, user_id="u1", personalizer=tastes)
    zeta = {h.product.product_id for h in personal.hits if h.product.brand == "zeta"}
    assert zeta and tastes.asked
    assert all(h.parts.get("personal_boost") == 1.0 for h in personal.hits if h.product.product_id in zeta)
    # the user's brand ranks at least as high as without personalisation, and first among those in stock
    assert min(ids(personal).index(i) for i in zeta) <= min(ids(plain).index(i) for i in zeta if i in ids(plain))
    assert personal.hits[0].product.brand == "zeta"
    # another user, or no user, gets the plain order
    other = search_service.search(catalog, "steel kettle", k=4, user_id="u2", personalizer=tastes)
    assert ids(other) == ids(plain)


def test_a_narrow_filter_falls_back_to_fts5(catalog: CatalogService) -> None:
    """"lamp" matches 50 lamps by name before three products whose description only mentions it:
    the in-memory keyword leg's candidates hold none of them, so SQLite applies the filter."""
    live = catalog.ensure_current()
    assert live is not None and live.keywords is not None
    rare_docs = {store.get_product(catalog.conn(), f"rare-{i}").doc_id for i in range(3)}
    assert not rare_docs & {d for d, _ in live.keywords.search(query_terms("lamp"), 4 * 10)}
    for mode in ("bm25", "hybrid"):
        result = search_service.search(catalog, "lamp", k=K, filters=Filters(brand="rare"), mode=mode)
        assert sorted(ids(result)) == ["rare-0", "rare-1", "rare-2"], mode
        assert result.facets["brand"] == [{"value": "Rare", "count": 3}]


def test_the_fts5_engine_finds_what_the_memory_engine_finds(data_dir: Path, catalog: CatalogService) -> None:
    fts5 = CatalogService(_settings(data_dir, keyword_engine="fts5"))
    fts5.refresh()
    for q in ("steel kettle", "desk lamp 7", "reading light"):
        a = search_service.search(catalog, q, k=K, mode="bm25")
        b = search_service.search(fts5, q, k=K, mode="bm25")
        assert ids(a)[:1] == ids(b)[:1], q


def test_facets_count_what_the_words_matched(catalog: CatalogService) -> None:
    result = search_service.search(catalog, "kettle", k=2)
    assert result.facets["category"] == [{"value": "kettles", "count": 4}]
    assert {f["value"]: f["count"] for f in result.facets["brand"]} == {"acme": 2, "zeta": 2}
    assert sum(f["count"] for f in result.facets["price"]) == 4


@pytest.mark.parametrize("q", ["", "   "])
def test_no_query_browses_the_filters(catalog: CatalogService, q: str) -> None:
    result = search_service.search(catalog, q, k=K, filters=Filters(category="kettles"))
    assert set(ids(result)) == {"kettle-0", "kettle-1", "kettle-2", "kettle-3"}
    assert ids(result)[-1] == "kettle-0" and result.notes == []  # out of stock last


def test_a_query_without_searchable_words_says_so(catalog: CatalogService) -> None:
    result = search_service.search(catalog, "the and of !!!", k=K, filters=Filters(brand="zeta"))
    assert result.notes == ["the query has no searchable words; showing products that match the filters"]
    assert set(ids(result)) == {"kettle-1", "kettle-3"}


@pytest.mark.parametrize("q", ['"', 'kettle" OR "lamp', "kettle*", "NEAR(kettle lamp)", "-kettle", "name:kettle",
                               "kettle AND", "'; DROP TABLE products; --", "ケトル", "kettle " * 300, "\x00kettle"])
def test_queries_a_search_box_does_not_expect_do_not_fail(catalog: CatalogService, q: str) -> None:
    result = search_service.search(catalog, q, k=K)
    assert len(result.hits) <= K
    assert catalog.conn().execute("SELECT count(*) FROM products").fetchone()[0] == 57


def test_unknown_words_find_nothing(catalog: CatalogService) -> None:
    assert search_service.search(catalog, "zzyzzx", k=K, mode="bm25").hits == []


def test_similar_products(catalog: CatalogService) -> None:
    assert search_service.similar(catalog, "no-such-product") is None
    similar = search_service.similar(catalog, "kettle-1", k=3)
    assert similar is not None and len(similar) == 3
    assert "kettle-1" not in [h.product.product_id for h in similar]
    assert all(h.product.product_id.startswith("kettle-") for h in similar)
    assert [h.product.stock > 0 for h in similar] == sorted((h.product.stock > 0 for h in similar), reverse=True)


def test_no_catalog_yet_is_said_plainly(tmp_path: Path) -> None:
    service = CatalogService(_settings(tmp_path))
    with pytest.raises(CatalogUnavailable, match="catalog"):
        search_service.search(service, "kettle")
    assert service.ensure_current() is None


def test_a_product_written_after_the_snapshot_is_found(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    conn: sqlite3.Connection = connect_writer(settings.sqlite_path("catalog"))
    processor = CatalogProcessor(settings)
    processor.setup(conn)
    apply(conn, processor, _catalogue()[:5])
    service = CatalogService(settings)
    service.refresh()
    apply(conn, processor, [product("new-1", t=2, name="Copper kettle", category="kettles", top="kitchen")])
    assert ids(search_service.search(service, "copper kettle", k=1)) == ["new-1"]
    conn.close()
