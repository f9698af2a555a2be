"""Embedders: LSA and hashing; shapes, normalisation, similarity sanity, pickle-free round trips."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from models.embed import Embedder, HashingEmbedder, LsaEmbedder, l2_normalize
from models.text import ANALYZER_VERSION, product_text

CORPUS = [
    "red trail running shoe",
    "blue road running shoes for men",
    "lightweight running sneaker",
    "espresso coffee machine with milk frother",
    "burr coffee grinder stainless steel",
    "arabica coffee beans 1kg",
    "wireless noise cancelling headphones",
    "bluetooth over-ear headphones",
    "usb-c charging cable",
    "fast charger for phones",
] * 3


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


@pytest.fixture(scope="module")
def lsa() -> LsaEmbedder:
    return LsaEmbedder(dims=8, random_state=0).fit(CORPUS)


def test_lsa_output_shape_dtype_and_norm(lsa):
    v = lsa.transform(["running shoes", "coffee", "headphones"])
    assert v.shape == (3, 8) and v.dtype == np.float32 and v.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


def test_lsa_similarity_sanity(lsa):
    shoe, coffee = lsa.transform(["running shoe", "coffee machine"])
    assert _cos(shoe, lsa.transform_one("trail runner sneakers")) > _cos(shoe, coffee)
    assert _cos(coffee, lsa.transform_one("espresso grinder")) > _cos(coffee, shoe)


def test_lsa_unknown_text_gives_zero_vector(lsa):
    v = lsa.transform(["zzzqqq", "", "🙂 the"])
    assert np.all(v == 0)


def test_lsa_tfidf_matches_sklearn(lsa):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from models.text import analyze

    ref = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, dtype=np.float32).fit(CORPUS)
    mine = lsa.tfidf(CORPUS[:10]).toarray()
    theirs = ref.transform(CORPUS[:10]).toarray()
    order = [ref.vocabulary_[t] for t in lsa._terms.tolist()]
    np.testing.assert_allclose(mine, theirs[:, order], atol=1e-6)


def test_lsa_dims_fixed_even_for_tiny_corpus():
    tiny = LsaEmbedder(dims=64).fit(["red shoe", "blue shoe"])
    assert tiny.dim == 64 and tiny.n_components <= 2
    v = tiny.transform(["red shoe"])
    assert v.shape == (1, 64)
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-5)


def test_lsa_only_stopwords_corpus_fits():
    m = LsaEmbedder(dims=4).fit(["the and", "of the"])
    assert m.vocabulary_size == 0
    assert np.all(m.transform(["anything"]) == 0)


def test_lsa_unfitted_and_empty():
    m = LsaEmbedder(dims=4)
    assert not m.is_fitted and m.version == "lsa-d4-unfitted"
    with pytest.raises(RuntimeError):
        m.transform(["x"])
    with pytest.raises(RuntimeError):
        m.to_arrays()
    with pytest.raises(ValueError):
        m.fit([])
    with pytest.raises(ValueError):
        LsaEmbedder(dims=0)


def test_lsa_version_identifies_the_fit(lsa):
    same = LsaEmbedder(dims=8, random_state=0).fit(CORPUS)
    other = LsaEmbedder(dims=8, random_state=0).fit([*CORPUS, "garden hose"])
    assert lsa.version == same.version != other.version
    assert lsa.version.startswith("lsa-d8-")


def _through_npz(tmp_path, emb):
    """The state as the snapshot module stores it: arrays in an .npz (loaded without pickle), meta as JSON."""
    arrays, meta = emb.state()
    np.savez(tmp_path / "state.npz", **arrays)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as data:  # would raise if an array needed pickle
        return {k: data[k] for k in data.files}, json.loads(json.dumps(meta))


def test_lsa_state_roundtrip_without_pickle(lsa, tmp_path):
    arrays, meta = _through_npz(tmp_path, lsa)
    assert meta["kind"] == "lsa" and meta["version"] == lsa.version and meta["dim"] == 8
    assert meta["analyzer_version"] == ANALYZER_VERSION
    assert set(arrays) == {"terms", "idf", "components"} and arrays["terms"].dtype.kind == "U"
    with zipfile.ZipFile(tmp_path / "state.npz") as zf:
        assert all(name.endswith(".npy") for name in zf.namelist())
    loaded = Embedder.from_state(arrays, meta)
    assert isinstance(loaded, LsaEmbedder) and loaded.version == lsa.version
    texts = ["running shoes", "coffee beans", "nothing known"]
    np.testing.assert_array_equal(loaded.transform(texts), lsa.transform(texts))
    assert LsaEmbedder.from_state(arrays, meta).version == lsa.version


def test_from_state_rejects_other_analyzer_or_kind(lsa, tmp_path):
    arrays, meta = _through_npz(tmp_path, lsa)
    with pytest.raises(ValueError, match="not 'hashing'"):
        HashingEmbedder.from_state(arrays, meta)
    with pytest.raises(ValueError, match="analyzer"):
        Embedder.from_state(arrays, {**meta, "analyzer_version": "something-else"})
    with pytest.raises(ValueError, match="unknown embedder kind"):
        Embedder.from_state({}, {**meta, "kind": "nope"})


def test_hashing_needs_no_fit_and_is_deterministic():
    a = HashingEmbedder(dim=64)
    b = HashingEmbedder(dim=64).fit(["ignored"])
    texts = ["red running shoes", "coffee grinder", ""]
    va, vb = a.transform(texts), b.transform(texts)
    np.testing.assert_array_equal(va, vb)
    assert a.version == b.version and a.version.startswith("hashing-d64-")
    assert va.shape == (3, 64) and va.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(va[:2], axis=1), 1.0, rtol=1e-5)
    assert np.all(va[2] == 0)
    assert HashingEmbedder(dim=64, seed=1).version != a.version


def test_hashing_similarity_sanity():
    h = HashingEmbedder(dim=128)
    q, near, far = h.transform(["running shoes", "shoe for running, red", "espresso machine"])
    assert _cos(q, near) > 0.5 > _cos(q, far)


def test_hashing_projection_columns_distinct():
    h = HashingEmbedder(dim=16, n_features=4096, nnz_per_feature=4)
    cols = np.sort(h._cols, axis=1)
    assert not np.any(cols[:, 1:] == cols[:, :-1])


def test_hashing_state_roundtrip(tmp_path):
    h = HashingEmbedder(dim=32, n_features=2**12, seed=7)
    loaded = Embedder.from_state(*_through_npz(tmp_path, h))
    assert isinstance(loaded, HashingEmbedder) and loaded.version == h.version
    np.testing.assert_array_equal(loaded.transform(["a b c shoes"]), h.transform(["a b c shoes"]))
    with pytest.raises(ValueError):
        HashingEmbedder(dim=4, nnz_per_feature=5)


def test_embedders_on_product_text():
    texts = [
        product_text(name="Trail Runner", description="grippy trail shoe", category_path=["Shoes"],
                     brand="Acme", attributes={"color": "red"}, price=80),
        product_text(name="Barista Pro", description="espresso machine", category_path=["Kitchen"],
                     brand="Brewco", attributes={"color": "silver"}, price=600),
    ]
    for emb in (LsaEmbedder(dims=4).fit(texts + CORPUS), HashingEmbedder(dim=32)):
        v = emb.transform(texts)
        q = emb.transform_one("trail shoes")
        assert v.shape == (2, emb.dim) and _cos(q, v[0]) > _cos(q, v[1])


def test_l2_normalize_keeps_zero_rows():
    out = l2_normalize(np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert out.dtype == np.float32 and np.all(out[0] == 0)
    np.testing.assert_allclose(np.linalg.norm(out[1]), 1.0, rtol=1e-6)


def test_models_package_never_imports_kafka_or_web():
    import ast
    from pathlib import Path

    import models

    forbidden = {"kafka", "fastapi", "starlette", "uvicorn", "consumers", "api", "infra", "producers",
                 "pickle", "torch"}
    root = Path(models.__file__).parent
    for sub in ("text", "embed", "index", "search", "metrics"):
        for path in (root / sub).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    assert name.split(".")[0] not in forbidden, f"{path}: imports {name}"
