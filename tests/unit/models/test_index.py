"""VectorIndex: flat and HNSW with tombstones, rebuilds, export and import."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest

from models.index import VectorIndex

DIM = 16


@pytest.fixture(autouse=True)
def _one_faiss_thread():
    """Keep FAISS single-threaded here: OpenMP spinning on a busy 2-core box costs seconds."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def _vecs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _exact_top(ids: np.ndarray, vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vecs @ q), kind="stable")[:k]
    return ids[order].tolist()


def _hnsw_index(n: int = 600, **kw) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    idx = VectorIndex(DIM, hnsw_threshold=100, min_dead_for_rebuild=10_000, **kw)
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    vecs = _vecs(n)
    idx.add(ids, vecs)
    return idx, ids, vecs


# --- flat ---------------------------------------------------------------------------------------


def test_flat_add_search_exact():
    idx = VectorIndex(DIM)
    ids = np.arange(50, dtype=np.int64) * 7
    vecs = _vecs(50)
    idx.add(ids.tolist(), vecs)
    assert idx.kind == "flat" and len(idx) == 50 and 14 in idx and 15 not in idx
    q = vecs[3]
    got, scores = idx.search(q, 5)
    assert got.tolist() == _exact_top(ids, vecs, q, 5)
    assert got[0] == 21 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(scores) <= 1e-6)


def test_batch_search_shapes_and_padding():
    idx = VectorIndex(DIM)
    idx.add([1, 2, 3], _vecs(3))
    ids, scores = idx.search(_vecs(4, seed=1), 10)
    assert ids.shape == (4, 3) and scores.shape == (4, 3) and ids.dtype == np.int64
    assert set(ids[0].tolist()) == {1, 2, 3}
    empty = VectorIndex(DIM)
    i1, s1 = empty.search(_vecs(1)[0], 5)
    assert i1.shape == (0,) and s1.shape == (0,)
    i2, _ = empty.search(_vecs(2), 5)
    assert i2.shape == (2, 0)


def test_flat_update_replaces_and_remove():
    idx = VectorIndex(DIM)
    vecs = _vecs(10)
    idx.add(range(10), vecs)
    idx.update([4], -vecs[4:5])
    assert len(idx) == 10
    np.testing.assert_allclose(idx.get_vectors([4])[0], -vecs[4])
    assert idx.search(vecs[4], 1)[0][0] != 4
    idx.add([4], vecs[4:5])  # add of an existing id is an upsert
    assert idx.search(vecs[4], 1)[0].tolist() == [4] and len(idx) == 10
    assert idx.remove([4, 5, 999]) == 2
    assert idx.remove([4]) == 0
    assert 4 not in idx and len(idx) == 8
    assert 4 not in idx.search(vecs[4], 10)[0].tolist()
    assert idx.ids().tolist() == [0, 1, 2, 3, 6, 7, 8, 9]
    with pytest.raises(KeyError):
        idx.get_vectors([4])


def test_input_validation():
    idx = VectorIndex(DIM)
    with pytest.raises(ValueError):
        idx.add([1, 2], _vecs(1))
    with pytest.raises(ValueError):
        idx.add([1, 1], _vecs(2))
    with pytest.raises(ValueError):
        idx.add([-1], _vecs(1))
    with pytest.raises(ValueError):
        idx.add([1], np.zeros((1, DIM + 1), np.float32))
    with pytest.raises(ValueError):
        idx.add([1], np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError):
        idx.add([1.5], _vecs(1))
    with pytest.raises(ValueError):
        idx.search(_vecs(1)[0], 0)
    with pytest.raises(ValueError):
        idx.search(np.zeros(DIM + 1, np.float32), 1)
    idx.add([], np.zeros((0, DIM), np.float32))
    assert len(idx) == 0


# --- HNSW -----------------------------------------------------------------------------------------


def test_switches_to_hnsw_past_threshold():
    idx = VectorIndex(DIM, hnsw_threshold=100)
    vecs = _vecs(150)
    idx.add(range(100), vecs[:100])
    assert idx.kind == "flat"
    idx.add(range(100, 150), vecs[100:])
    assert idx.kind == "hnsw" and len(idx) == 150
    got, _ = idx.search(vecs[120], 1)
    assert got.tolist() == [120]
    np.testing.assert_allclose(idx.get_vectors([7, 120]), vecs[[7, 120]], atol=1e-6)


def test_hnsw_recall_close_to_exact():
    idx, ids, vecs = _hnsw_index(600)
    assert idx.kind == "hnsw"
    queries = _vecs(20, seed=3)
    got, _ = idx.search(queries, 10)
    recall = np.mean([len(set(got[i]) & set(_exact_top(ids, vecs, q, 10))) / 10
                      for i, q in enumerate(queries)])
    assert recall >= 0.9


def test_hnsw_remove_uses_tombstones_and_never_returns_them():
    idx, ids, vecs = _hnsw_index(600)
    removed = ids[:300]
    assert idx.remove(removed) == 300
    assert idx.n_tombstones == 300 and len(idx) == 300 and idx.kind == "hnsw"
    got, scores = idx.search(vecs[:300], 10)  # queries right on top of removed vectors
    assert not set(got.ravel().tolist()) & set(removed.tolist())
    assert np.all(got >= 0) and np.all(np.isfinite(scores))
    live_ids, live_vecs = ids[300:], vecs[300:]
    recall = np.mean([len(set(got[i]) & set(_exact_top(live_ids, live_vecs, vecs[i], 10))) / 10
                      for i in range(50)])
    assert recall >= 0.85


def test_hnsw_update_replaces_vector():
    idx, ids, vecs = _hnsw_index(300)
    target = int(ids[10])
    new = -vecs[10]
    idx.update([target], new[None, :])
    assert len(idx) == 300 and idx.n_tombstones == 1
    assert idx.search(new, 1)[0].tolist() == [target]
    assert target not in idx.search(vecs[10], 5)[0].tolist()
    np.testing.assert_allclose(idx.get_vectors([target])[0], new, atol=1e-6)


def test_hnsw_rebuild_when_tombstones_grow():
    idx = VectorIndex(DIM, hnsw_threshold=100, min_dead_for_rebuild=50, rebuild_dead_fraction=0.2)
    vecs = _vecs(400)
    idx.add(range(400), vecs)
    idx.remove(range(60))  # 60 dead of 400 slots: 15% < 20%
    assert idx.kind == "hnsw" and idx.n_tombstones == 60
    idx.remove(range(60, 100))  # 100 dead of 400 = 25% -> rebuild
    assert idx.n_tombstones == 0 and len(idx) == 300 and idx.kind == "hnsw"
    assert idx.search(vecs[200], 1)[0].tolist() == [200]
    idx.remove(range(100, 270))  # 170 dead of 300 -> rebuild, 130 live > 50: still hnsw
    assert idx.kind == "hnsw" and idx.n_tombstones == 0 and len(idx) == 130
    idx.remove(range(270, 320))  # 50 dead of 130 -> rebuild with 80 live > 50 -> hnsw
    idx.remove(range(320, 360))  # 40 live <= threshold // 2 -> back to flat on rebuild
    idx.rebuild()
    assert idx.kind == "flat" and len(idx) == 40 and idx.n_tombstones == 0
    assert idx.search(vecs[380], 1)[0].tolist() == [380]


def test_manual_rebuild_and_forced_kind():
    idx, ids, vecs = _hnsw_index(200, auto_rebuild=False)
    idx.remove(ids[:150])
    assert idx.n_tombstones == 150
    idx.rebuild(kind="hnsw")
    assert idx.kind == "hnsw" and idx.n_tombstones == 0 and len(idx) == 50
    idx.rebuild(kind="flat")
    assert idx.kind == "flat" and idx.search(vecs[199], 1)[0].tolist() == [int(ids[199])]


def test_concurrent_add_and_search():
    idx = VectorIndex(DIM, hnsw_threshold=200)
    vecs = _vecs(400)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for start in range(0, 400, 20):
                idx.add(range(start, start + 20), vecs[start:start + 20])
                idx.remove([start])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    while t.is_alive():
        got, scores = idx.search(vecs[:4], 5)
        for row, srow in zip(got, scores, strict=True):
            valid = row[row >= 0]
            assert len(set(valid.tolist())) == len(valid) and np.all((valid >= 0) & (valid < 400))
            assert np.all(np.diff(srow[row >= 0]) <= 1e-5)
    t.join()
    assert not errors and len(idx) == 380 and idx.kind == "hnsw"
    assert not set(range(0, 400, 20)) & set(idx.search(vecs, 20)[0].ravel().tolist())


