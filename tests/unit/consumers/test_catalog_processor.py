"""The `catalog` group's processor on a temporary SQLite file: rows and counters inside the batch,
the vector index following them after the commit, snapshots, and a restart from one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.catalog.processor import CatalogProcessor
from events import Event
from infra.config import Settings
from infra.sqlite import connect_writer
from readmodels.catalog import store
from readmodels.catalog.live_index import LiveIndex, index_gaps
from tests.unit.shop_events import apply, product, removal


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", embedder="hashing", embed_dims=32, snapshot_interval_s=3600)


@pytest.fixture
def conn(settings: Settings) -> Iterator[sqlite3.Connection]:
    c = connect_writer(settings.sqlite_path("catalog"))
    yield c
    c.close()


def _started(settings: Settings, conn: sqlite3.Connection) -> CatalogProcessor:
    p = CatalogProcessor(settings, indexer_thread=False)  # the test steps the indexer itself
    p.setup(conn)
    return p


def _indexed(conn: sqlite3.Connection, p: CatalogProcessor, events: list[Event]) -> None:
    """Apply a batch, then one step of the indexer (what its thread does after a commit)."""
    apply(conn, p, events)
    p.index_step(conn)


def _live(p: CatalogProcessor) -> LiveIndex:
    assert p.live is not None
    return p.live


def test_counters_follow_the_rows(settings: Settings, conn: sqlite3.Connection) -> None:
    p = _started(settings, conn)
    counters = apply(conn, p, [product("a", t=10), product("b", t=10), product("a", t=5), removal("b", t=20),
                               removal("b", t=21), removal("c", t=20), product("c", t=10)])
    # "b" went in the same batch, so only "a" was embedded.
    assert counters == {"products_upserted": 2, "products_removed": 1, "stale_product_events": 2,
                        "products_embedded": 1}
    assert {r.product_id for r in store.changes_since(conn, 0) if not r.removed} == {"a"}


def test_the_vector_index_follows_every_commit(settings: Settings, conn: sqlite3.Connection) -> None:
    p = _started(settings, conn)
    assert p.live is None or len(p.live.index) == 0  # nothing to index yet
    _indexed(conn, p, [product(f"p{i}", t=1, name=f"lamp {i}") for i in range(6)])
    assert index_gaps(_live(p), conn) == (set(), set()) and len(_live(p).index) == 6
    _indexed(conn, p, [removal("p2", t=2), product("p9", t=2, name="kettle"), removal("ghost", t=2),
                    product("ghost", t=1, name="ghost lamp")])
    assert index_gaps(_live(p), conn) == (set(), set()) and len(_live(p).index) == 6
    doc = store.get_product(conn, "p9")
    assert doc is not None and _live(p).search("kettle", 1)[0][0] == doc.doc_id


def test_the_same_event_twice_changes_nothing(settings: Settings, conn: sqlite3.Connection) -> None:
    p = _started(settings, conn)
    e = product("a", t=10, name="desk lamp")
    _indexed(conn, p, [e])
    before = store.get_product(conn, "a")
    _indexed(conn, p, [e, e])
    after = store.get_product(conn, "a")
    assert before is not None and after is not None
    assert (after.doc_id, after.name, after.price, after.stock) == (before.doc_id, before.name, before.price,
                                                                    before.stock)
    assert len(_live(p).index) == 1 and index_gaps(_live(p), conn) == (set(), set())


def test_a_restart_loads_the_snapshot_and_catches_up(settings: Settings, conn: sqlite3.Connection) -> None:
    first = _started(settings, conn)
    _indexed(conn, first, [product(f"p{i}", t=1, name=f"lamp {i}") for i in range(5)])
    assert _live(first).snapshot_version == 1  # the first index is saved at once
    _indexed(conn, first, [product("late", t=2, name="kettle"), removal("p0", t=2)])  # after the snapshot
    second = _started(settings, conn)
    live = _live(second)
    assert live.snapshot_version == 1 and live.seq == store.current_seq(conn)
    assert index_gaps(live, conn) == (set(), set())
    second.close()
