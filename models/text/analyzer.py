"""Text analysis shared by products and queries: drop markup, normalise, tokenise, drop stop
words, stem. The NLTK pieces need no downloaded data. The steps:

* markup: HTML tags dropped and entities decoded (:func:`plain_text`): catalogue exports often
  carry descriptions as HTML, whose ``<li>``, ``&amp;`` and ``style="..."`` are no words of the product;
* tokenisation: :class:`nltk.tokenize.RegexpTokenizer` (runs of letters/digits);
* stop words: NLTK's English list, shipped in this package under
  ``models/text/nltk_data/corpora/stopwords/english`` and read with NLTK's own
  :class:`nltk.corpus.reader.WordListCorpusReader` (NLTK's downloader is never called), less
  :data:`PRODUCT_WORDS`, the few of its words that name a product in shop text (``trash can``,
  ``under bed storage``, ``off white``, ``down comforter``);
* a number written with its unit also gives its parts (``16oz`` gives ``16oz``, ``16`` and ``oz``;
  ``1080p``, ``4k``, ``2pk`` alike), so that "16 oz" finds "16oz" and the other way round, while
  the whole token still favours products written the same way. A token that starts with letters
  (a model name: ``ps5``, ``wh1000xm4``) stays whole;
* a hyphenated word also gives itself written as one (``non-stick`` gives ``non``, ``stick`` and
  ``nonstick``; ``t-shirt``, ``wi-fi``, ``usb-c`` alike), so that either spelling finds the other;
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
import html
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
    "PRODUCT_WORDS",
    "STOPWORDS",
    "STOPWORDS_DIR",
    "analyze",
    "analyzed_text",
    "load_stopwords",
    "normalize",
    "plain_text",
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
# An HTML tag or comment: "<p>", "</li>", "<br/>", '<span style="x">', "<!-- x -->". A "<" before a
# digit or a space ("< 5 kg", "<3") is no tag.
_TAG = re.compile(r"<(?:[A-Za-z/!?][^<>]*)>")
# A token's runs of letters and of digits.
_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|\d+")
_DIGIT = re.compile(r"\d")
# Words joined by hyphens: "t-shirt", "wi-fi", "non-stick", "usb-c".
_HYPHENATED = re.compile(r"[^\W_]+(?:-[^\W_]+)+")


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


#: Words of NLTK's English stop list that are kept as terms. The list was made for prose, where
#: these are grammar; in product names and shopper queries each is often the word that tells one
#: product from another: "trash can", "can opener", "under bed storage", "over the door hook",
#: "off white", "down comforter", "pop up tent", "slip on shoes", "2 in 1 laptop", "all in one
#: printer", "pull out drawer", "above ground pool", "no show socks", "vitamin d". Dropping them
#: made "trash can" search for "trash", and "under bed storage" for beds. Kept, BM25 weighs them by
#: how rare they are, so where they are grammar ("can be used") they add little. Articles,
#: pronouns, auxiliaries and connectives ("the", "with", "for", "and") stay stop words.
PRODUCT_WORDS: frozenset[str] = frozenset(
    {"above", "all", "can", "d", "down", "in", "no", "off", "on", "out", "over", "under", "up"}
)

#: The stop words :func:`analyze` drops: NLTK's English list less :data:`PRODUCT_WORDS`.
STOPWORDS: frozenset[str] = load_stopwords() - PRODUCT_WORDS


def _stopword_fingerprint() -> str:
    data = "\n".join(sorted(STOPWORDS)).encode()
    return hashlib.sha256(data).hexdigest()[:8]


#: Identifies the analysis pipeline (tokeniser, stop words, stemmer).
ANALYZER_VERSION: str = f"nltk-html-regexp-parts-snowball-en-v2-sw{_stopword_fingerprint()}"


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


def plain_text(text: str) -> str:
    """``text`` without HTML markup: tags become spaces, entities their characters.

    Tags and entities are all an index needs removed (no rendering, no scripts to run), so the
    standard library does it: a pattern for tags, :func:`html.unescape` for entities.

    >>> plain_text('<p>Soft &amp; warm.<br/>Machine&nbsp;wash</p><ul><li style="x">Cotton</li></ul>')
    ' Soft & warm. Machine\xa0wash   Cotton  '
    >>> plain_text("Tea < 5 g, 2 < 3"), plain_text("Home & Kitchen")
    ('Tea < 5 g, 2 < 3', 'Home & Kitchen')
    """
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def tokenize(text: str) -> list[str]:
    """Drop markup, normalise, then split into runs of letters/digits (NLTK ``RegexpTokenizer``).

    >>> tokenize("USB-C cable (2m), don't"), tokenize("<b>Red</b>&nbsp;mug")
    (['usb', 'c', 'cable', '2m', 'don', 't'], ['red', 'mug'])
    """
    return _split(normalize(plain_text(text)))


def _split(text: str) -> list[str]:
    # ASCII text: the same runs as the Unicode-aware pattern, several times faster.
    tokens = _ASCII_TOKENS.findall(text) if text.isascii() else cast(list[str], _TOKENIZER.tokenize(text))
    return [t[:MAX_TOKEN_CHARS] for t in tokens]


def _tokens(text: str) -> list[str]:
    """What :func:`analyze` stems: :func:`tokenize`'s tokens, each number with a unit followed by its
    parts (:func:`_with_parts`), then each hyphenated word written as one.

    >>> _tokens("Non-stick pan, wi-fi, 3-pack")
    ['non', 'stick', 'pan', 'wi', 'fi', '3', 'pack', 'nonstick', 'wifi', '3pack']
    """
    text = normalize(plain_text(text))
    tokens = _split(text)
    if _DIGIT.search(text):
        tokens = _with_parts(tokens)
    if "-" in text:
        # Word by word: the pattern over a whole description cost 45 us a product, 5 us this way.
        tokens.extend(joined.replace("-", "")[:MAX_TOKEN_CHARS]
                      for word in text.split() if "-" in word for joined in _HYPHENATED.findall(word))
    return tokens


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Snowball (Porter 2) English stem of one already-normalised token.

    >>> stem("running"), stem("batteries"), stem("42")
    ('run', 'batteri', '42')
    """
    return cast(str, _STEMMER.stem(token))


def analyze(text: str, *, stopwords: Iterable[str] | None = None) -> list[str]:
    """Full pipeline: :func:`tokenize` (with a number's parts and a hyphenated word's joined form),
    drop stop words, :func:`stem`; returns the stems in order.

    Stop words are checked both before and after stemming so that a stem never
    turns into a stop word.  ``stopwords`` overrides :data:`STOPWORDS`.

    >>> analyze("Trash can with lid"), analyze("Under bed storage, off white")
    (['trash', 'can', 'lid'], ['under', 'bed', 'storag', 'off', 'white'])
    >>> analyze("16oz bottle"), analyze("16 oz bottle")
    (['16oz', '16', 'oz', 'bottl'], ['16', 'oz', 'bottl'])
    """
    if stopwords is None:
        return [t for t in map(_term, _tokens(text)) if t]
    sw = frozenset(stopwords)
    out: list[str] = []
    for token in _tokens(text):
        if token in sw:
            continue
        stemmed = stem(token)
        if stemmed and stemmed not in sw:
            out.append(stemmed)
    return out


def _with_parts(tokens: list[str]) -> list[str]:
    """Each token, followed by its runs of digits and of letters when it is a number with a unit
    (starts with a digit and holds a letter).

    >>> _with_parts(["bottle", "16oz", "2x4", "ps5", "42"])
    ['bottle', '16oz', '16', 'oz', '2x4', '2', 'x', '4', 'ps5', '42']
    """
    out: list[str] = []
    for token in tokens:
        out.append(token)
        if token[0].isdigit() and not token.isdigit():
            parts = _LETTERS_OR_DIGITS.findall(token)
            if len(parts) > 1:
                out.extend(parts)
    return out


@lru_cache(maxsize=200_000)
def _term(token: str) -> str:
    """A token's stem, or "" when it is (or stems to) one of :data:`STOPWORDS`."""
    sw = STOPWORDS
    if token in sw:
        return ""
    stemmed = stem(token)
    return "" if stemmed in sw else stemmed


def analyzed_text(text: str) -> str:
    """The analysed stems joined by spaces: what to store in an FTS5 column.

    >>> analyzed_text("Wireless Headphones with Noise-Cancelling")
    'wireless headphon nois cancel noisecancel'
    """
    return " ".join(analyze(text))
