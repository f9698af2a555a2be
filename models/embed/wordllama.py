"""WordLlama static token embeddings: pretrained, no fit, thousands of products a second on one core.

The PyPI package ``wordllama`` (pinned ``0.4.0.post1``, MIT) ships in its wheel the token
embedding table ``weights/l2_supercat_256.safetensors`` (32,000 tokens x 256 dims, float16) and its
tokenizer ``tokenizers/l2_supercat_tokenizer_config.json`` (Llama 2's BPE vocabulary).  The model
is WordLlama's forward pass: tokenize without special tokens, average the token vectors, L2
normalise.  This module does that with ``tokenizers``, ``safetensors`` and a sparse
token-count x table product; it reads the two files from the installed package and never imports
``wordllama`` itself (whose loader looks for the tokenizer in a folder the wheel does not have and
then downloads it).  Nothing is downloaded, ever.

``dim`` may be 64, 128 or 256: the table's leading dimensions (WordLlama is trained with
Matryoshka loss, so a prefix is itself an embedding).  Output rows are float32 and L2-normalised; a
text with no token (``""``) gives a zero row.  Averaging and summing differ only by a positive
factor, so the sum is normalised directly.

Persistence stores no weights, only meta: loading needs the package installed.  The version string
hashes the weights and tokenizer files' bytes and ``dim``, so a different model file is caught as a
version mismatch on load.

>>> emb = WordLlamaEmbedder()
>>> v = emb.transform(["dark comedy", "black comedy", "espresso machine"])
>>> v.shape, bool(v[0] @ v[1] > v[0] @ v[2])
((3, 256), True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from models.embed.base import Embedder, FloatMatrix, l2_normalize

__all__ = ["WordLlamaEmbedder", "WordLlamaUnavailableError", "wordllama_files"]

MODEL_PACKAGE = "wordllama"
WEIGHTS_FILE = "weights/l2_supercat_256.safetensors"
TOKENIZER_FILE = "tokenizers/l2_supercat_tokenizer_config.json"
TENSOR_KEY = "embedding.weight"
DIMS = (64, 128, 256)
#: Words whose token ids are kept (a catalogue's vocabulary; emptied when full).
WORD_CACHE_SIZE = 500_000
_REQUIRED_MODULES = ("tokenizers", "safetensors")
_INSTALL_HINT = "the WordLlama embedder needs the packages wordllama==0.4.0.post1, tokenizers and safetensors"


class WordLlamaUnavailableError(ImportError):
    """The ``wordllama`` package (or ``tokenizers`` / ``safetensors``) is not installed."""


def wordllama_files() -> tuple[Path, Path]:
    """``(weights, tokenizer)`` paths inside the installed ``wordllama`` package, found without
    importing it.  Raises :class:`WordLlamaUnavailableError` when a package or file is missing."""
    missing = [m for m in _REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        missing.append(MODEL_PACKAGE)
    if missing:
        raise WordLlamaUnavailableError(f"{_INSTALL_HINT} (missing: {', '.join(missing)})")
    assert spec is not None and spec.submodule_search_locations is not None
    root = Path(next(iter(spec.submodule_search_locations)))
    weights, tokenizer = root / WEIGHTS_FILE, root / TOKENIZER_FILE
    for path in (weights, tokenizer):
        if not path.is_file():
            raise WordLlamaUnavailableError(f"{_INSTALL_HINT} ({path} not found)")
    return weights, tokenizer


def _file_digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class WordLlamaEmbedder(Embedder):
    """WordLlama ``l2_supercat`` token embeddings, average-pooled (``dim`` 64, 128 or 256).

    Pretrained: ``fit`` is a no-op.  The tokenizer and table (32 MB as float32) are loaded on the
    first :meth:`transform`, which may be called from several threads.
    """

    kind: ClassVar[str] = "wordllama"

    def __init__(self, dim: int = 256) -> None:
        if dim not in DIMS:
            raise ValueError(f"dim must be one of {DIMS}")
        self._dim = dim
        self._weights_path, self._tokenizer_path = wordllama_files()
        digest = _file_digest(self._weights_path, self._tokenizer_path)
        self._version = f"wordllama-l2-supercat-d{dim}-{hashlib.sha256(f'{digest}:{dim}'.encode()).hexdigest()[:12]}"
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._table: NDArray[np.float32] | None = None
        self._word_ids: dict[str, list[int]] = {}

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def version(self) -> str:
        return self._version

    def fit(self, texts: Sequence[str]) -> Self:
        """No-op: the model is pretrained."""
        return self

    def transform(self, texts: Sequence[str]) -> FloatMatrix:
        docs = [str(t) for t in texts]
        if not docs:
            return np.zeros((0, self._dim), dtype=np.float32)
        tokenizer, table = self._load()
        token_ids = self._token_ids(tokenizer, docs)
        indptr = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, token_ids), dtype=np.int64, count=len(docs)), out=indptr[1:])
        ids = np.fromiter(itertools.chain.from_iterable(token_ids), dtype=np.int64, count=int(indptr[-1]))
        np.clip(ids, 0, table.shape[0] - 1, out=ids)
        counts = sp.csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr),
                               shape=(len(docs), table.shape[0]))
        return l2_normalize(np.asarray(counts @ table, dtype=np.float32))

    def _token_ids(self, tokenizer: Any, docs: list[str]) -> list[list[int]]:
        """Each text's token ids, as ``tokenizer.encode(text, add_special_tokens=False)`` gives them.

        BPE over a whole text costs ~0.3 ms a product, and catalogues repeat their words: a text whose
        words are separated by single spaces is encoded word by word from a cache. That is exact for
        this vocabulary: its only pieces holding a non-initial "▁" (the space marker) are runs of
        "▁", which single spaces never form, so no merge crosses a word boundary. Other texts
        (double or leading spaces, a literal "▁", "<" that may open a special token) are encoded whole.
        """
        words_of: list[list[str] | None] = []  # None: encode the text whole
        unknown: set[str] = set()
        cache = self._word_ids
        for doc in docs:
            if not doc or "  " in doc or doc[0] == " " or doc[-1] == " " or "\u2581" in doc or "<" in doc:
                words_of.append(None)
                continue
            words = doc.split(" ")
            unknown.update(w for w in words if w not in cache)
            words_of.append(words)
        if unknown:
            if len(cache) + len(unknown) > WORD_CACHE_SIZE:
                cache.clear()  # rare: a bounded cache without bookkeeping per hit
            new = sorted(unknown)
            for word, enc in zip(new, tokenizer.encode_batch_fast(new, add_special_tokens=False), strict=True):
                cache[word] = enc.ids
        whole = [i for i, words in enumerate(words_of) if words is None]
        encoded = dict(zip(whole, tokenizer.encode_batch_fast([docs[i] for i in whole], add_special_tokens=False),
                           strict=True)) if whole else {}
        result: list[list[int]] = []
        for i, maybe_words in enumerate(words_of):
            if maybe_words is None:
                result.append(encoded[i].ids)
                continue
            ids: list[int] = []
            for word in maybe_words:
                got = cache.get(word)
                ids.extend(got if got is not None else tokenizer.encode(word, add_special_tokens=False).ids)
            result.append(ids)
        return result

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """No arrays: the weights stay in the installed ``wordllama`` package."""
        return {}, {"model_package": "wordllama==0.4.0.post1", "params": {"dim": self._dim}}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Self:
        """Rebuild from meta; raises :class:`WordLlamaUnavailableError` if the package is missing."""
        return cls(dim=int(dict(meta.get("params", {})).get("dim", 256)))

    def _load(self) -> tuple[Any, NDArray[np.float32]]:
        with self._lock:
            if self._tokenizer is None or self._table is None:
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                raw = load_file(str(self._weights_path))[TENSOR_KEY]
                if raw.ndim != 2 or raw.shape[1] < self._dim or raw.shape[0] != tokenizer.get_vocab_size():
                    raise ValueError(f"unexpected WordLlama table {raw.shape} for a vocabulary of "
                                     f"{tokenizer.get_vocab_size()}")
                self._table = np.ascontiguousarray(raw[:, : self._dim], dtype=np.float32)
                self._tokenizer = tokenizer
            return self._tokenizer, self._table
