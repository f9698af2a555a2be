"""Hashing embedder: ``HashingVectorizer`` over NLTK-analysed text + a fixed sparse random projection.

It needs no fit (``fit`` is a no-op), so it can embed products from the first event on, before
there is a corpus to fit :class:`~models.embed.lsa.LsaEmbedder` on.  Texts sharing stems get
similar vectors; there is no notion of synonyms.

The projection is a sparse random matrix (each hashed feature maps to ``nnz_per_feature``
output dimensions with random signs, an Achlioptas/count-sketch style projection).  It is drawn
from ``seed`` once and stored in the saved arrays, so a reloaded model is identical even if
numpy's random streams change between versions.

>>> emb = HashingEmbedder(dim=32)
>>> v = emb.transform(["red running shoes", "running shoe, red", "coffee grinder"])
>>> v.shape, bool(abs(float(v[0] @ v[1]) - 1.0) < 1e-5), bool(v[0] @ v[2] < 0.5)
((3, 32), True, True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import HashingVectorizer

from models.embed.base import Embedder, FloatMatrix, l2_normalize
from models.text import ANALYZER_VERSION, analyze

__all__ = ["HashingEmbedder"]


class HashingEmbedder(Embedder):
    """Feature hashing (``n_features`` buckets, sublinear tf, L2) projected to ``dim``."""

    kind: ClassVar[str] = "hashing"

    def __init__(
        self,
        dim: int = 128,
        *,
        n_features: int = 2**18,
        nnz_per_feature: int = 4,
        seed: int = 0,
        _projection: tuple[NDArray[np.integer[Any]], NDArray[np.integer[Any]]] | None = None,
    ) -> None:
        if dim < 1 or n_features < 1 or not 1 <= nnz_per_feature <= dim:
            raise ValueError("need dim >= 1, n_features >= 1 and 1 <= nnz_per_feature <= dim")
        self._dim = dim
        self.n_features = n_features
        self.nnz_per_feature = nnz_per_feature
        self.seed = seed
        self._vectorizer = HashingVectorizer(
            analyzer=analyze, n_features=n_features, alternate_sign=False, norm=None,
            dtype=np.float32,
        )
        if _projection is None:
            rng = np.random.default_rng(seed)
            cols_in: NDArray[Any] = _draw_columns(rng, n_features, dim, nnz_per_feature)
            signs_in: NDArray[Any] = rng.integers(0, 2, size=(n_features, nnz_per_feature),
                                                  dtype=np.int8) * 2 - 1
        else:
            cols_in, signs_in = _projection
        cols = np.asarray(cols_in, dtype=np.int32)
        signs = np.asarray(signs_in, dtype=np.int8)
        if cols.shape != (n_features, nnz_per_feature) or signs.shape != cols.shape:
            raise ValueError("projection arrays have the wrong shape")
        if cols.size and (cols.min() < 0 or cols.max() >= dim):
            raise ValueError("projection columns out of range")
        self._cols = cols
        self._signs = signs
        indptr = np.arange(0, cols.size + 1, nnz_per_feature, dtype=np.int64)
        values = signs.astype(np.float32).ravel() / np.float32(np.sqrt(nnz_per_feature))
        self._projection = sp.csr_matrix((values, cols.ravel(), indptr), shape=(n_features, dim))
        h = hashlib.sha256(ANALYZER_VERSION.encode())
        h.update(cols.tobytes())
        h.update(signs.tobytes())
        self._version = f"hashing-d{dim}-f{n_features}-{h.hexdigest()[:12]}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def version(self) -> str:
        return self._version

    def fit(self, texts: Sequence[str]) -> Self:
        """No-op: the hashing embedder has nothing to learn."""
        return self

    def transform(self, texts: Sequence[str]) -> FloatMatrix:
        x = sp.csr_matrix(self._vectorizer.transform(list(texts)), dtype=np.float32)
        if x.nnz:
            x.data = 1.0 + np.log(x.data)
        dense = np.asarray((x @ self._projection).toarray(), dtype=np.float32)
        return l2_normalize(dense.reshape(len(texts), self._dim))

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        arrays: dict[str, NDArray[Any]] = {"cols": self._cols, "signs": self._signs}
        meta = {
            "analyzer_version": ANALYZER_VERSION,
            "params": {"dim": self._dim, "n_features": self.n_features,
                       "nnz_per_feature": self.nnz_per_feature, "seed": self.seed},
        }
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Self:
        analyzer = meta.get("analyzer_version")
        if analyzer != ANALYZER_VERSION:
            raise ValueError(f"model was built with analyzer {analyzer!r}, this code has "
                             f"{ANALYZER_VERSION!r}")
        params = dict(meta["params"])
        return cls(**params, _projection=(np.asarray(arrays["cols"]), np.asarray(arrays["signs"])))


def _draw_columns(rng: np.random.Generator, n_features: int, dim: int, nnz: int) -> NDArray[np.int32]:
    """``nnz`` distinct random output columns for each feature (rows with a repeat are redrawn)."""
    cols = rng.integers(0, dim, size=(n_features, nnz), dtype=np.int32)
    rows = np.arange(n_features)
    while nnz > 1 and rows.size:
        s = np.sort(cols[rows], axis=1)
        rows = rows[np.any(s[:, 1:] == s[:, :-1], axis=1)]
        cols[rows] = rng.integers(0, dim, size=(rows.size, nnz), dtype=np.int32)
    return cols
