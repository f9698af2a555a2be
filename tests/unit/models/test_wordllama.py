"""WordLlama static embedder: the reference forward pass, norms, batching, dims, persistence, offline.

Needs the ``wordllama`` package (a pinned dependency); skipped only when it is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading

import numpy as np
import pytest

from models.embed import Embedder, WordLlamaEmbedder, WordLlamaUnavailableError
from models.embed.wordllama import wordllama_files


def _available() -> bool:
    try:
        wordllama_files()
    except WordLlamaUnavailableError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _available(), reason="wordllama / tokenizers / safetensors not installed")

TEXTS = ["red running shoe", "Trail Runner 2. Trail Runner 2. Light trail shoe. Shoes > Running. Acme. pricetier4",
         "espresso machine", "Café Crème — ｆｕｌｌ width 🙂", "x"]


@pytest.fixture(scope="module")
def emb() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def _reference(texts: list[str], dim: int) -> np.ndarray:
    """WordLlama's own recipe in float64: tokens without specials, mean of the rows, L2 norm."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights, tok_path = wordllama_files()
    table = load_file(str(weights))["embedding.weight"].astype(np.float64)[:, :dim]
    tok = Tokenizer.from_file(str(tok_path))
    out = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        v = table[ids].mean(axis=0)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_matches_the_reference_forward_pass(emb):
    v = emb.transform(TEXTS)
    assert v.shape == (len(TEXTS), 256) and v.dtype == np.float32 and v.flags["C_CONTIGUOUS"]
    assert np.abs(v - _reference(TEXTS, 256)).max() < 1e-5


@pytest.mark.parametrize("dim", [64, 128])
def test_smaller_dims_are_the_table_prefix(dim):
    small = WordLlamaEmbedder(dim=dim)
    assert small.dim == dim
    assert np.abs(small.transform(TEXTS) - _reference(TEXTS, dim)).max() < 1e-5


def test_norms_empty_and_no_texts(emb):
    v = emb.transform(["red running shoe", "", "espresso"])
    np.testing.assert_allclose(np.linalg.norm(v[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert not v[1].any()  # no token: a zero row, as the other embedders
    assert emb.transform([]).shape == (0, 256)
    assert emb.is_fitted and emb.fit(["anything"]) is emb


def test_batching_does_not_change_embeddings(emb):
    alone = np.stack([emb.transform_one(t) for t in TEXTS])
    assert np.abs(emb.transform(TEXTS) - alone).max() < 1e-6
    assert np.abs(emb.transform(TEXTS[::-1])[::-1] - alone).max() < 1e-6


def test_semantic_neighbours(emb):
    v = emb.transform(["dark comedy", "black comedy", "espresso machine", "coffee maker"])
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 2] + 0.3
    assert sims[2, 3] > sims[2, 1] + 0.3


def test_invalid_dim():
    with pytest.raises(ValueError, match="dim"):
        WordLlamaEmbedder(dim=300)


def test_state_roundtrip(emb):
    arrays, meta = emb.state()
    assert meta["kind"] == "wordllama" and meta["version"] == emb.version and meta["dim"] == 256
    assert arrays == {}  # the weights stay in the installed package
    loaded = Embedder.from_state(arrays, json.loads(json.dumps(meta)))
    assert isinstance(loaded, WordLlamaEmbedder) and loaded.version == emb.version
    assert np.abs(loaded.transform(TEXTS) - emb.transform(TEXTS)).max() < 1e-6
    assert WordLlamaEmbedder(dim=128).version != emb.version


def test_concurrent_first_use_from_threads():
    fresh = WordLlamaEmbedder()
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(fresh.transform(TEXTS))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.abs(r - results[0]).max() < 1e-6 for r in results)


def test_loads_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the WordLlama embedder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    v = WordLlamaEmbedder().transform(["red running shoe"])
    assert v.shape == (1, 256)


def test_missing_package_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "wordllama" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(WordLlamaUnavailableError, match="wordllama"):
        WordLlamaEmbedder()


def test_word_by_word_encoding_is_the_whole_text_encoding():
    """The word cache gives exactly the token ids of encoding each text whole, on catalogue-like text
    and on the cases that must fall back to whole-text encoding."""
    from tokenizers import Tokenizer

    from models.text import product_text

    names = ["Trail Runner 2", "Oral-B iO Series 9 Electric Toothbrush, 3 Modes", "Toy Story (1995)",
             "Dr. Strangelove or: How I Learned to Stop Worrying", "USB-C cable 2m, braided", "L'Oréal Paris"]
    texts = [product_text(name=n, description=f"{d} by {b}.", category_path=["Home & Kitchen", "Mugs"], brand=b,
                          attributes={"colour": "navy-blue", "size": "XL"}, price=price)
             for n in names for d, b in [("A well-made thing", "Acme"), ("Dark comedy, atmospheric", "Zeta Co")]
             for price in (9.99, 120.0)]
    texts += ["naïve café — 日本語 🎧 x", "a\tb\nc", "C++ <b>bold</b> </s>", "", " lead", "trail ", "dou  ble",
              "it's USB-C 2m", "\u2581weird", "Toy Story (1995)", "<s>"]
    fresh = WordLlamaEmbedder()
    _, tok_path = wordllama_files()
    tok = Tokenizer.from_file(str(tok_path))
    expected = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    tokenizer, _table = fresh._load()
    assert fresh._token_ids(tokenizer, texts) == expected
    assert fresh._token_ids(tokenizer, texts[::-1]) == expected[::-1]  # from a warm cache too
