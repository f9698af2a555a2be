"""Safe SQLite FTS5 queries built from untrusted user text.

Contract with the search layer:

* the FTS5 table stores **pre-analysed** text, i.e. :func:`models.text.analyzed_text` of each
  indexed field (stems separated by spaces), with the default ``unicode61`` tokenizer;
* a query is :func:`fts5_match` of the user text, bound as a parameter:
  ``... WHERE products_fts MATCH ? ORDER BY bm25(products_fts)``.

User text never reaches the MATCH expression as syntax: it is analysed into stems (letters and
digits only), and each stem is emitted as an FTS5 string literal (``"..."`` with any ``"``
doubled), so operators (``AND OR NOT NEAR``), column filters (``:``), prefix (``*``), initial
token (``^``), grouping, ``-`` and quotes in the input are plain text.  When nothing searchable
is left the result is ``""``: an empty MATCH is a syntax error in FTS5, so callers must skip the
full-text leg for an empty string (:func:`fts5_match` never returns a non-empty invalid one).

>>> fts5_match('running shoes')
'"run" OR "shoe"'
>>> fts5_match('title:"red" AND NOT (shoe* OR near) ^boots -x')
'"titl" OR "red" OR "shoe" OR "near" OR "boot" OR "x"'
>>> fts5_match("'; DROP TABLE products; --")
'"drop" OR "tabl" OR "product"'
>>> fts5_match("the and 🙂")
''
"""

from __future__ import annotations

from collections.abc import Sequence

from models.text.analyzer import analyze

__all__ = ["DEFAULT_MAX_TERMS", "fts5_match", "fts5_match_terms", "fts5_quote", "query_terms"]

#: Upper bound on distinct terms in a MATCH expression (bounds cost of huge inputs).
DEFAULT_MAX_TERMS = 32


def fts5_quote(term: str) -> str:
    """Quote one term as an FTS5 string literal (double quotes, embedded quotes doubled).

    >>> print(fts5_quote('say "hi" now'))
    "say ""hi"" now"
    """
    return '"' + term.replace('"', '""') + '"'


def query_terms(text: str, *, max_terms: int = DEFAULT_MAX_TERMS) -> list[str]:
    """Distinct analysed terms of ``text`` in first-seen order, at most ``max_terms``.

    >>> query_terms("shoe shoes SHOE boots")
    ['shoe', 'boot']
    """
    if max_terms < 1:
        raise ValueError("max_terms must be >= 1")
    seen: dict[str, None] = {}
    for term in analyze(text):
        if term not in seen:
            seen[term] = None
            if len(seen) >= max_terms:
                break
    return list(seen)


def fts5_match(text: str, *, operator: str = "OR", max_terms: int = DEFAULT_MAX_TERMS) -> str:
    """Build an FTS5 MATCH string from user text: quoted analysed terms joined by ``operator``.

    ``operator`` is ``"OR"`` (any term; BM25 ranks documents with more terms higher) or
    ``"AND"`` (all terms).  Returns ``""`` when the text has no searchable term.

    >>> fts5_match("red running shoes", operator="AND")
    '"red" AND "run" AND "shoe"'
    """
    return fts5_match_terms(query_terms(text, max_terms=max_terms), operator=operator)


def fts5_match_terms(terms: Sequence[str], *, operator: str = "OR") -> str:
    """:func:`fts5_match` of terms already analysed (a query's, after spelling correction, say).

    >>> fts5_match_terms(["stainless", 'say"hi'])
    '"stainless" OR "say""hi"'
    """
    op = operator.upper()
    if op not in ("OR", "AND"):
        raise ValueError(f"operator must be 'OR' or 'AND', not {operator!r}")
    return f" {op} ".join(fts5_quote(t) for t in terms)
