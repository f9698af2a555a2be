"""The catalog's live index on a temporary SQLite file: snapshots, catch-up, the refit race."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import numpy as np
import pytest

from infra.sqlite import connect_reader, connect_writer, transaction
from models.embed import HashingEmbedder
from readmodels.catalog import live_index, store
from readmodels.catalog.live_index import LiveIndex, index_gaps, rebuild

DIM = 32


@pytest.fixture
def conn(tmp_path):
    c = connect_writer(tmp_path / "catalog.sqlite3")
    store.setup(c)
    yield c
    c.close()


def _put(conn, n, start=0, t=1.0):
    with transaction(conn):
        for i in range(start, start + n):
            store.upsert_product(
                conn, product_id=f"p{i}", name=f"Product {i} lamp" if i % 2 else f"Product {i} kettle",
                description="a thing", category_path=["home"], brand="acme", price=Decimal("9.99"),
                attributes={}, stock=1, event_time=t, produced_at=None,
            )


@pytest.mark.parametrize("ivf_threshold", [50_000, 10])
def test_snapshot_roundtrip(tmp_path, conn, ivf_threshold):
    _put(conn, 40)
    live = rebuild(conn, "hashing", DIM, ivf_threshold=ivf_threshold)
    with transaction(conn):
        store.remove_product(conn, "p3", 2.0, None)
    live.catch_up(conn)
    version = live.save(tmp_path / "snaps", offsets={"products:0": 41})
    loaded = LiveIndex.load_latest(tmp_path / "snaps")
    assert loaded is not None and loaded.snapshot_version == version == 1
    assert loaded.seq == live.seq and loaded.embedder.version == live.embedder.version
    assert loaded.index.kind == live.index.kind == ("ivf" if ivf_threshold == 10 else "flat")
    assert loaded.index.ids().tolist() == live.index.ids().tolist()
    assert loaded.search("kettle", 3) == live.search("kettle", 3)
    meta = json.loads(next((tmp_path / "snaps").glob("index-*.json")).read_text())["meta"]
    assert meta["offsets"] == {"products:0": 41} and meta["count"] == 39
    assert index_gaps(loaded, conn) == (set(), set())


def test_a_product_written_while_a_refit_runs_is_in_the_index_afterwards(tmp_path, conn, monkeypatch):
    """rebuild() reads the rows and their position in one transaction: a product committed while
    the (slow) fit runs comes after that position, so the next catch-up adds it."""
    _put(conn, 30)
    reader = connect_reader(tmp_path / "catalog.sqlite3")
    fitting, written = threading.Event(), threading.Event()

    class SlowFit(HashingEmbedder):
        def transform(self, texts):
            fitting.set()
            assert written.wait(10)
            return super().transform(texts)

    def writer():
        assert fitting.wait(10)
        _put(conn, 5, start=100, t=2.0)
        written.set()

    monkeypatch.setattr(live_index, "build_embedder", lambda kind, dims, texts=None: SlowFit(dim=dims))
    thread = threading.Thread(target=writer)
    thread.start()
    live = rebuild(reader, "hashing", DIM)
    thread.join()
    assert len(live.index) == 30  # built from the state it read
    assert index_gaps(live, conn)[0] == {store.get_product(conn, f"p{i}").doc_id for i in range(100, 105)}
    assert live.catch_up(reader) == 5
    assert index_gaps(live, conn) == (set(), set())
    reader.close()


def test_neighbours_use_the_stored_vector(conn):
    _put(conn, 10)
    live = rebuild(conn, "hashing", DIM)
    doc = store.get_product(conn, "p4").doc_id
    found = live.neighbours(doc, 3)
    assert found[0][0] == doc and np.isclose(found[0][1], 1.0, atol=1e-5)
    assert live.neighbours(10_000, 3) == []
