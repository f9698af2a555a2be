"""Text analysis shared by products and queries: normalise, tokenise, drop stop words, stem.

Everything here uses NLTK pieces that need no downloaded data:

* tokenisation: :class:`nltk.tokenize.RegexpTokenizer` (runs of letters/digits);
* stop words: NLTK's English list, shipped in this package under
  ``models/text/nltk_data/corpora/stopwords/english`` and read with NLTK's own
  :class:`nltk.corpus.reader.WordListCorpusReader` (NLTK's downloader is never called);
* stemming: NLTK's Snowball English stemmer (a pure algorithm, no data).

The same :func:`analyze` must be applied to documents and to queries; :data:`ANALYZER_VERSION`
names the pipeline so that stored artefacts (FTS rows, embedder vocabularies) can tell
whether they were built with the same one.

>>> analyze("The Runner's RUNNING shoes, size 42!")
['runner', 'run', 'shoe', 'size', '42']
>>> analyze("Café Crème — ｆｕｌｌ width")
['cafe', 'creme', 'full', 'width']
>>> analyze("🙂 the and of")
[]
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import cast

import nltk.data
from nltk.corpus.reader import WordListCorpusReader
from nltk.stem.snowball import EnglishStemmer
from nltk.tokenize import RegexpTokenizer

__all__ = [
    "ANALYZER_VERSION",
    "MAX_TOKEN_CHARS",
    "NLTK_DATA_DIR",
    "STOPWORDS_DIR",
    "analyze",
    "analyzed_text",
    "load_stopwords",
    "normalize",
    "stem",
    "tokenize",
]

#: Root of the NLTK-format data shipped inside this package.
NLTK_DATA_DIR: Path = Path(__file__).resolve().parent / "nltk_data"
#: Directory of the stop-word corpus (``english`` is one word a line).
STOPWORDS_DIR: Path = NLTK_DATA_DIR / "corpora" / "stopwords"

#: Tokens longer than this are cut to this length (keeps pathological input cheap).
MAX_TOKEN_CHARS = 40

# Runs of letters or digits (unicode aware); "_" and punctuation split tokens.
_TOKENIZER = RegexpTokenizer(r"[^\W_]+")
_ASCII_TOKENS = re.compile(r"[A-Za-z0-9]+")
_STEMMER = EnglishStemmer()
_APOSTROPHES = re.compile("[\u2019\u2018\u02bc\uff07`]")


def _register_nltk_data_dir() -> None:
    """Add the package's ``nltk_data`` to ``nltk.data.path`` (once).

    NLTK's path sentinel (``nltk.pathsec``) only lets corpus readers open files under the
    directories of ``nltk.data.path`` / ``$NLTK_DATA``; appending keeps any user-configured
    data directories first.
    """
    root = str(NLTK_DATA_DIR)
    if root not in nltk.data.path:
        nltk.data.path.append(root)


@lru_cache(maxsize=8)
def load_stopwords(language: str = "english") -> frozenset[str]:
    """Load a stop-word list with NLTK's corpus reader from the package's own ``nltk_data``.

    >>> sw = load_stopwords()
    >>> len(sw), "the" in sw, "shoe" in sw
    (179, True, False)
    """
    _register_nltk_data_dir()
    reader = WordListCorpusReader(str(STOPWORDS_DIR), [language])
    words = cast(list[str], reader.words(language))
    return frozenset(w.strip().lower() for w in words if w.strip())


def _stopword_fingerprint() -> str:
    data = "\n".join(sorted(load_stopwords())).encode()
    return hashlib.sha256(data).hexdigest()[:8]


#: Identifies the analysis pipeline (tokeniser, stop words, stemmer).
ANALYZER_VERSION: str = f"nltk-regexp-snowball-en-v1-sw{_stopword_fingerprint()}"


def normalize(text: str) -> str:
    """Unicode-normalise and case-fold: NFKC compatibility forms, accents removed, lower case.

    >>> normalize("ＡＢＣ Ｃafé ﬁle Straße"), normalize("Don`t STOP")
    ('abc cafe file strasse', "don't stop")
    """
    if text.isascii():  # most catalogue text: the Unicode steps below change nothing but the backtick
        return text.replace("`", "'").lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("'", text)
    return unicodedata.normalize("NFKC", text).casefold()


def tokenize(text: str) -> list[str]:
    """Normalise then split into runs of letters/digits (NLTK ``RegexpTokenizer``).

    >>> tokenize("USB-C cable (2m), don't")
    ['usb', 'c', 'cable', '2m', 'don', 't']
    """
    text = normalize(text)
    # ASCII text: the same runs as the Unicode-aware pattern, several times faster.
    tokens = _ASCII_TOKENS.findall(text) if text.isascii() else cast(list[str], _TOKENIZER.tokenize(text))
    return [t[:MAX_TOKEN_CHARS] for t in tokens]


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Snowball (Porter 2) English stem of one already-normalised token.

    >>> stem("running"), stem("batteries"), stem("42")
    ('run', 'batteri', '42')
    """
    return cast(str, _STEMMER.stem(token))


def analyze(text: str, *, stopwords: Iterable[str] | None = None) -> list[str]:
    """Full pipeline: :func:`tokenize`, drop stop words, :func:`stem`; returns the stems in order.

    Stop words are checked both before and after stemming so that a stem never
    turns into a stop word.  ``stopwords`` overrides the shipped English list.
    """
    if stopwords is None:
        return [t for t in map(_term, tokenize(text)) if t]
    sw = frozenset(stopwords)
    out: list[str] = []
    for token in tokenize(text):
        if token in sw:
            continue
        stemmed = stem(token)
        if stemmed and stemmed not in sw:
            out.append(stemmed)
    return out


@lru_cache(maxsize=200_000)
def _term(token: str) -> str:
    """A token's stem with the shipped stop words, or "" when it is (or stems to) a stop word."""
    sw = load_stopwords()
    if token in sw:
        return ""
    stemmed = stem(token)
    return "" if stemmed in sw else stemmed


def analyzed_text(text: str) -> str:
    """The analysed stems joined by spaces: what to store in an FTS5 column.

    >>> analyzed_text("Wireless Headphones with Noise-Cancelling")
    'wireless headphon nois cancel'
    """
    return " ".join(analyze(text))
