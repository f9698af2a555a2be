"""The catalog consumer embeds once per product change and stores the vector with the row; readers
(the API's index, a rebuild) index the stored vectors and never embed a product."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from consumers.catalog import CatalogProcessor
from consumers.processor import Record
from events import PRODUCTS, ProductRemoved, ProductUpserted, make_event
from infra.config import Settings
from infra.sqlite import connect_reader, connect_writer, transaction
from models.embed import HashingEmbedder
from readmodels.catalog import store
from readmodels.catalog.live_index import LiveIndex, index_gaps, rebuild

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class CountingEmbedder(HashingEmbedder):
    """Hashing, counting the texts it embeds (the class attribute is shared by every instance)."""

    kind = "counting-hashing"
    embedded: list[str] = []  # noqa: RUF012 - shared on purpose

    def transform(self, texts):
        CountingEmbedder.embedded.extend(texts)
        return super().transform(texts)


def never_embeds(version: str, dim: int) -> HashingEmbedder:
    """An embedder claiming `version` that fails if asked to embed anything."""

    class NeverEmbeds(HashingEmbedder):
        @property
        def version(self):
            return version

        def transform(self, texts):
            raise AssertionError(f"a reader embedded products: {list(texts)[:3]}")

    return NeverEmbeds(dim=dim)


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, embedder="hashing", embed_dims=64, snapshot_interval_s=3600)


@pytest.fixture
def processor(settings, monkeypatch):
    CountingEmbedder.embedded = []
    monkeypatch.setattr("readmodels.catalog.live_index.HashingEmbedder", CountingEmbedder)
    proc = CatalogProcessor(settings, indexer_thread=False)
    conn = connect_writer(settings.sqlite_path("catalog"))
    proc.setup(conn)
    yield proc
    proc.close()
    conn.close()


def _records(*payloads, minutes=0):
    out = []
    for i, p in enumerate(payloads):
        event = make_event(p, event_time=T0 + timedelta(minutes=minutes, seconds=i))
        out.append(Record(PRODUCTS, 0, i, 0, event))
    return out


def _upsert(pid, name, stock=3, price="9.99"):
    return ProductUpserted(product_id=pid, name=name, price=Decimal(price), stock=stock,
                           category_path=["Home", "Kitchen"], attributes={"colour": "red", "size": "M"})


def _batch(proc, records):
    """A batch as the consumer loop runs it, then one step of the indexer (on its own connection)."""
    with transaction(proc.conn):
        counts = proc.apply(proc.conn, records)
    proc.after_commit(records)
    reader = connect_reader(proc.settings.sqlite_path("catalog"))
    proc.index_step(reader)
    assert proc.caught_up(reader)
    reader.close()
    return counts


def _snapshot(proc):
    reader = connect_reader(proc.settings.sqlite_path("catalog"))
    proc._snapshot(reader)
    reader.close()


def _vector_rows(conn):
    return {d: (e, s) for d, e, s in conn.execute("SELECT doc_id, embedder, seq FROM product_vectors")}


def test_vectors_are_stored_with_their_rows_and_embedded_once_per_text_change(processor):
    conn = processor.conn
    counts = _batch(processor, _records(_upsert("a", "Copper kettle"), _upsert("b", "Oak lamp"),
                                        _upsert("a", "Copper kettle large")))
    assert counts["products_upserted"] == 3 and counts["products_embedded"] == 2  # "a" once, its last text
    assert sorted(CountingEmbedder.embedded) == sorted([store.get_product(conn, "a").embed_text(),
                                                        store.get_product(conn, "b").embed_text()])
    rows = _vector_rows(conn)
    assert len(rows) == 2 and {e for e, _ in rows.values()} == {processor.live.embedder.version}

    CountingEmbedder.embedded = []
    counts = _batch(processor, _records(_upsert("b", "Oak lamp", stock=0), minutes=1))  # stock only
    assert counts["products_embedded"] == 0 and CountingEmbedder.embedded == []
    b = store.get_product(conn, "b").doc_id
    assert _vector_rows(conn)[b] == rows[b]  # the same vector, from the same seq

    counts = _batch(processor, _records(_upsert("b", "Oak lamp", price="30.00"), minutes=2))  # price band moves
    assert counts["products_embedded"] == 1

    _batch(processor, _records(ProductRemoved(product_id="a"), minutes=3))
    assert store.get_product(conn, "a") is None and len(_vector_rows(conn)) == 1
    assert index_gaps(processor.live, conn) == (set(), set())


def test_a_product_removed_in_the_batch_that_wrote_it_keeps_no_vector(processor):
    records = _records(_upsert("a", "Copper kettle"), ProductRemoved(product_id="a"), _upsert("b", "Oak lamp"))
    _batch(processor, records)
    assert len(_vector_rows(processor.conn)) == 1
    assert index_gaps(processor.live, processor.conn) == (set(), set())


def test_a_rolled_back_batch_leaves_no_vector(processor):
    conn = processor.conn
    with pytest.raises(RuntimeError), transaction(conn):
        processor.apply(conn, _records(_upsert("a", "Copper kettle")))
        raise RuntimeError("the batch failed")
    assert _vector_rows(conn) == {} and store.get_product(conn, "a") is None


def test_a_reader_indexes_the_stored_vectors_and_never_embeds(processor, settings):
    _batch(processor, _records(*(_upsert(f"p{i}", f"Product {i} kettle") for i in range(20))))
    _snapshot(processor)
    reader = LiveIndex.load_latest(settings.snapshot_dir("catalog"))
    assert reader is not None and not reader.embeds_rows
    reader.embedder = never_embeds(processor.live.embedder.version, 64)  # only a query may be embedded
    _batch(processor, _records(*(_upsert(f"q{i}", f"Product {i} lamp") for i in range(7)), _upsert("p3", "Changed"),
                               ProductRemoved(product_id="p4"), minutes=1))
    conn = connect_reader(settings.sqlite_path("catalog"))
    assert reader.catch_up(conn) == 9 and reader.waiting_for is None
    assert index_gaps(reader, conn) == (set(), set())
    d3 = store.get_product(conn, "p3").doc_id
    assert np.array_equal(reader.index.get_vectors([d3]), processor.live.index.get_vectors([d3]))
    conn.close()


def test_a_reader_waits_at_a_vector_by_another_embedder(processor, settings):
    _batch(processor, _records(*(_upsert(f"p{i}", f"Product {i} kettle") for i in range(5))))
    _snapshot(processor)
    reader = LiveIndex.load_latest(settings.snapshot_dir("catalog"))
    conn = connect_reader(settings.sqlite_path("catalog"))
    refitted = HashingEmbedder(dim=64, seed=99)  # as after a refit
    processor.live, processor.embedder = LiveIndex.empty(refitted, embeds_rows=True), refitted
    before = reader.seq
    _batch(processor, _records(_upsert("n1", "New lamp"), minutes=1))
    assert reader.catch_up(conn) == 0 and reader.waiting_for == processor.live.embedder.version
    assert reader.seq == before
    conn.close()


def test_rebuild_uses_stored_vectors_and_embeds_only_the_rest(processor, settings):
    _batch(processor, _records(*(_upsert(f"p{i}", f"Product {i} kettle") for i in range(30))))
    with transaction(processor.conn):  # a row written without a vector (by an older version, say)
        store.write_product(processor.conn, product_id="old", name="Old mug", description="", category_path=[],
                            brand="", price=Decimal("1"), attributes={}, stock=1, event_time=1.0, produced_at=None)
    CountingEmbedder.embedded = []
    live = rebuild(processor.conn, "hashing", 64)
    assert CountingEmbedder.embedded == [store.get_product(processor.conn, "old").embed_text()]
    assert index_gaps(live, processor.conn) == (set(), set())
    d = store.get_product(processor.conn, "p7").doc_id
    assert np.array_equal(live.index.get_vectors([d]), processor.live.index.get_vectors([d]))


def test_a_restart_without_a_snapshot_builds_from_stored_vectors(settings, monkeypatch, tmp_path):
    CountingEmbedder.embedded = []
    monkeypatch.setattr("readmodels.catalog.live_index.HashingEmbedder", CountingEmbedder)
    first = CatalogProcessor(settings, indexer_thread=False)
    conn = connect_writer(settings.sqlite_path("catalog"))
    first.setup(conn)
    _batch(first, _records(*(_upsert(f"p{i}", f"Product {i} kettle") for i in range(12))))
    CountingEmbedder.embedded = []
    second = CatalogProcessor(settings, indexer_thread=False)  # no snapshot was written (the interval is an hour)
    second.setup(conn)
    assert CountingEmbedder.embedded == [] and len(second.live.index) == 12
    conn.close()


def test_lsa_is_fitted_on_the_first_batch_and_its_vectors_stored(tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="lsa", embed_dims=16, snapshot_interval_s=3600)
    proc = CatalogProcessor(settings, indexer_thread=False)
    conn = connect_writer(settings.sqlite_path("catalog"))
    proc.setup(conn)
    assert proc.live is None
    _batch(proc, _records(*(_upsert(f"p{i}", f"Product {i} {w}") for i, w in enumerate(["kettle", "lamp"] * 10))))
    assert proc.live is not None and proc.live.embedder.kind == "lsa"
    assert {e for e, _ in _vector_rows(conn).values()} == {proc.live.embedder.version}
    assert proc.live.snapshot_version == 1  # written at once: readers need the fitted embedder
    assert index_gaps(proc.live, conn) == (set(), set())
    conn.close()


def test_after_an_lsa_refit_the_api_follows_without_embedding_and_misses_nothing(tmp_path):
    from api.services.catalog import CatalogService

    settings = Settings(data_dir=tmp_path, embedder="lsa", embed_dims=16, snapshot_interval_s=3600,
                        refit_min_products=10, refit_growth=2.0)
    proc = CatalogProcessor(settings, indexer_thread=False)
    conn = connect_writer(settings.sqlite_path("catalog"))
    proc.setup(conn)
    words = ["kettle", "lamp", "chair", "mug"]
    _batch(proc, _records(*(_upsert(f"p{i}", f"Product {i} {words[i % 4]}") for i in range(12))))
    api = CatalogService(settings)
    api.refresh()
    first = api.live.embedder.version
    assert len(api.live.index) == 12

    # The catalogue more than doubles: the indexer refits, saves the new index, then new batches use it.
    _batch(proc, _records(*(_upsert(f"q{i}", f"Item {i} {words[i % 4]} oak") for i in range(20)), minutes=1))
    refitted = proc.live.embedder.version
    assert refitted != first and proc.embedder.version == refitted and proc.live.snapshot_version == 2
    api.refresh()  # meets no vector by the new embedder yet, but finds its snapshot
    _batch(proc, _records(_upsert("r0", "Late steel kettle"), minutes=2))
    _batch(proc, _records(_upsert("r1", "Later walnut chair"), minutes=3))

    api.live.embedder = never_embeds(first, 16)  # the API must not embed a product even now
    api.refresh()
    live = api.ensure_current()
    assert live is not None and live.embedder.version == proc.live.embedder.version and live.waiting_for is None
    assert index_gaps(live, api.conn()) == (set(), set())
    assert len(live.index) == 34
    conn.close()
