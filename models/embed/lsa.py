"""LSA embedder: TF-IDF over NLTK-analysed text, projected with TruncatedSVD.

Fitting uses scikit-learn (``TfidfVectorizer`` + ``TruncatedSVD``); the fitted model is kept as
plain arrays (vocabulary terms, idf weights, SVD components) and :meth:`LsaEmbedder.transform`
computes ``l2norm(tfidf(text) @ components.T)`` from those arrays alone, so a model reloaded
from ``.npz`` + JSON behaves exactly like the one that was fitted, with no pickle involved.

>>> texts = ["red running shoe", "blue running shoe", "espresso coffee machine",
...          "coffee grinder", "trail running shoe", "coffee beans"]
>>> lsa = LsaEmbedder(dims=4, random_state=0).fit(texts)
>>> v = lsa.transform(["running shoes", "coffee"])
>>> v.shape, v.dtype
((2, 4), dtype('float32'))
>>> bool(v[0] @ lsa.transform_one("red shoe") > v[0] @ lsa.transform_one("coffee grinder"))
True
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from models.embed.base import Embedder, FloatMatrix, l2_normalize
from models.text import ANALYZER_VERSION, analyze

__all__ = ["LsaEmbedder"]

_SMALL_BATCH = 16


class LsaEmbedder(Embedder):
    """TF-IDF (sublinear tf, smooth idf, L2) + TruncatedSVD to ``dims`` dimensions.

    ``dims`` is the output size whatever the corpus: when the corpus supports fewer SVD
    components (few documents or terms) the missing components are zero, so :attr:`dim`
    never changes between refits.
    """

    kind: ClassVar[str] = "lsa"
    learns_from_catalogue: ClassVar[bool] = True

    def __init__(
        self,
        dims: int = 128,
        *,
        min_df: int | float = 1,
        max_df: float = 1.0,
        max_features: int | None = 100_000,
        n_iter: int = 5,
        random_state: int = 0,
    ) -> None:
        if dims < 1:
            raise ValueError("dims must be >= 1")
        self._dims = dims
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.n_iter = n_iter
        self.random_state = random_state
        self._vocab: dict[str, int] = {}
        self._terms: NDArray[np.str_] = np.array([], dtype=np.str_)
        self._idf: NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        # projection stored as (vocabulary, dims), C-contiguous: ``csr @ proj`` then needs no copy
        self._proj: NDArray[np.float32] = np.zeros((0, dims), dtype=np.float32)
        self._fitted = False
        self._version = f"lsa-d{dims}-unfitted"

    # --- Embedder ------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dims

    @property
    def version(self) -> str:
        return self._version

    @property
    def is_fitted(self) -> bool:
        return self._fitted

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    @property
    def n_components(self) -> int:
        """Number of non-zero SVD components actually learnt (``<= dim``)."""
        return int(np.count_nonzero(np.any(self._proj != 0, axis=0)))

    def fit(self, texts: Sequence[str]) -> Self:
        docs = list(texts)
        if not docs:
            raise ValueError("cannot fit on an empty corpus")
        vectorizer = TfidfVectorizer(
            analyzer=analyze,
            sublinear_tf=True,
            smooth_idf=True,
            norm="l2",
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            dtype=np.float32,
        )
        try:
            x = vectorizer.fit_transform(docs)
        except ValueError:  # empty vocabulary: nothing but stop words / symbols
            x = sp.csr_matrix((len(docs), 0), dtype=np.float32)
            vocab: dict[str, int] = {}
            idf = np.zeros(0, dtype=np.float32)
        else:
            vocab = {str(t): int(i) for t, i in vectorizer.vocabulary_.items()}
            idf = np.asarray(vectorizer.idf_, dtype=np.float32)
        components = np.zeros((self._dims, len(vocab)), dtype=np.float32)
        k = min(self._dims, x.shape[0], x.shape[1])
        if k >= 1 and x.shape[1] >= 2 and x.nnz > 0:
            svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=self.n_iter,
                               random_state=self.random_state)
            svd.fit(x)
            learnt = np.asarray(svd.components_, dtype=np.float32)
            components[: learnt.shape[0]] = learnt
        terms = np.empty(len(vocab), dtype=object)
        for term, i in vocab.items():
            terms[i] = term
        self._set_model(terms.astype(np.str_) if len(vocab) else np.array([], dtype=np.str_),
                        idf, components)
        return self

    def transform(self, texts: Sequence[str]) -> FloatMatrix:
        if not self._fitted:
            raise RuntimeError("LsaEmbedder is not fitted; call fit() or load a saved model")
        indptr, idx, data = self._weights(texts)
        n = len(texts)
        if n <= _SMALL_BATCH:
            # a few rows: gather the projection rows directly (scipy overhead would dominate)
            dense = np.zeros((n, self._dims), dtype=np.float32)
            for r in range(n):
                lo, hi = indptr[r], indptr[r + 1]
                if hi > lo:
                    dense[r] = data[lo:hi] @ self._proj[idx[lo:hi]]
        else:
            x = sp.csr_matrix((data, idx, indptr), shape=(n, len(self._vocab)), dtype=np.float32)
            dense = np.asarray(x @ self._proj, dtype=np.float32).reshape(n, self._dims)
        return l2_normalize(dense)

    def tfidf(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF rows (sublinear tf, L2-normalised) of ``texts`` over the fitted vocabulary."""
        indptr, idx, data = self._weights(texts)
        return sp.csr_matrix((data, idx, indptr), shape=(len(texts), len(self._vocab)),
                             dtype=np.float32)

    def _weights(self, texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                       NDArray[np.float32]]:
        """CSR parts ``(indptr, indices, data)`` of the L2-normalised TF-IDF rows."""
        vocab = self._vocab
        indptr = [0]
        indices: list[int] = []
        counts: list[float] = []
        for text in texts:
            c = Counter(vocab[t] for t in analyze(text) if t in vocab)
            indices.extend(c.keys())
            counts.extend(c.values())
            indptr.append(len(indices))
        ptr = np.asarray(indptr, dtype=np.int64)
        idx = np.asarray(indices, dtype=np.int64)
        data = ((1.0 + np.log(np.asarray(counts, dtype=np.float32))) * self._idf[idx]).astype(np.float32)
        if data.size:
            row_of = np.repeat(np.arange(len(texts)), np.diff(ptr))
            sq = np.bincount(row_of, weights=data.astype(np.float64) ** 2, minlength=len(texts))
            norms = np.sqrt(sq)
            norms[norms == 0] = 1.0
            data = (data / norms[row_of]).astype(np.float32)
        return ptr, idx, data

    # --- persistence ---------------------------------------------------------------------------

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        if not self._fitted:
            raise RuntimeError("cannot serialise an unfitted LsaEmbedder")
        arrays: dict[str, NDArray[Any]] = {
            "terms": self._terms,
            "idf": self._idf,
            "components": self._proj.T,  # (dims, vocabulary), as sklearn's components_
        }
        meta = {
            "analyzer_version": ANALYZER_VERSION,
            "params": {
                "dims": self._dims,
                "min_df": self.min_df,
                "max_df": self.max_df,
                "max_features": self.max_features,
                "n_iter": self.n_iter,
                "random_state": self.random_state,
            },
        }
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Self:
        analyzer = meta.get("analyzer_version")
        if analyzer != ANALYZER_VERSION:
            raise ValueError(f"model was built with analyzer {analyzer!r}, this code has "
                             f"{ANALYZER_VERSION!r}: refit instead of loading")
        params = dict(meta["params"])
        model = cls(**params)
        terms = np.asarray(arrays["terms"]).astype(np.str_)
        idf = np.asarray(arrays["idf"], dtype=np.float32)
        components = np.asarray(arrays["components"], dtype=np.float32)
        if components.shape != (model._dims, len(terms)) or idf.shape != (len(terms),):
            raise ValueError("inconsistent LSA arrays")
        model._set_model(terms, idf, components)
        return model

    def _set_model(self, terms: NDArray[np.str_], idf: NDArray[np.float32],
                   components: NDArray[np.float32]) -> None:
        self._terms = terms
        self._vocab = {str(t): i for i, t in enumerate(terms.tolist())}
        self._idf = np.ascontiguousarray(idf, dtype=np.float32)
        self._proj = np.ascontiguousarray(np.asarray(components, dtype=np.float32).T)
        h = hashlib.sha256(ANALYZER_VERSION.encode())
        h.update("\x00".join(terms.tolist()).encode())
        h.update(self._idf.tobytes())
        h.update(np.ascontiguousarray(self._proj.T).tobytes())
        self._version = f"lsa-d{self._dims}-{h.hexdigest()[:12]}"
        self._fitted = True
