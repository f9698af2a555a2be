"""How a delimited text file is laid out: its delimiter, and which names its columns go by.

Files come as they come: comma- or tab-separated, `;` from a spreadsheet in a comma-decimal locale,
`|` (MovieLens-100k `u.item`), `::` (MovieLens-1M `ratings.dat`), with or without a header line.

- `parse_delimiter`: a delimiter as typed on a command line ("tab", "\\t", ";", "::").
- `sniff_delimiter`: the delimiter of a sample of lines, when only one candidate splits every line into
  the same number (at least two) of fields; otherwise it refuses to guess.
- `FieldReader`: the fields of each record, with the line number it starts on; the csv module (quotes,
  fields over several lines) for a one-character delimiter, a plain split for a longer one.
- `select_columns`: a column list as typed (`Action,Comedy`, positions `6,7`, ranges `unknown..Western`
  or `6..24`), resolved against the file's columns.

>>> parse_delimiter("tab") == "\\t", parse_delimiter("::")
(True, '::')
>>> sniff_delimiter(["1::10::5::978300760", "1::11::3::978302109"])
'::'
>>> select_columns("id, 3..5", ["id", "title", "Action", "Comedy", "Drama"], "--flag-cols")
('id', 'Action', 'Comedy', 'Drama')
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

CANDIDATES: tuple[str, ...] = (",", "\t", ";", "|", "::")
"""Delimiters that auto-detection considers (a space is never guessed: names contain spaces)."""
_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "colon": ":"}
_SHOWN = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'", "::": "'::'"}
SNIFF_LINES = 200
"""Lines (from the start of the file, header included) that auto-detection looks at."""
MISFITS = 0.1
"""A candidate may give another field count than the first record's on at most this share of the sampled
records (bad rows happen), or on one record of a short sample."""


class LayoutError(ValueError):
    """A delimiter or column list that cannot be used (a usage error)."""


def show(delimiter: str) -> str:
    """A delimiter for a message: tab as 'tab', others quoted."""
    return _SHOWN.get(delimiter, repr(delimiter))


def parse_delimiter(text: str) -> str:
    """A delimiter as typed: a name (tab, comma, semicolon, pipe, colon), `\\t`, or the characters.

    >>> parse_delimiter("semicolon"), parse_delimiter("|")
    (';', '|')
    """
    delimiter = _NAMES.get(text.strip().lower(), text) if text.strip() else text
    if not delimiter:
        raise LayoutError("the delimiter is empty")
    if any(c in delimiter for c in "\r\n\""):
        raise LayoutError(f"the delimiter {delimiter!r} contains a line break or a quote")
    return delimiter


def split_records(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """Fields of each record of `lines` (without line numbers; see `FieldReader`)."""
    return iter(FieldReader(lines, delimiter))


def _field_counts(lines: Sequence[str], delimiter: str, complete: bool) -> list[int]:
    counts: list[int] = []
    try:
        counts = [len(fields) for fields in split_records(lines, delimiter) if fields]
    except csv.Error:
        return []
    # A sample cut inside a quoted field leaves a last record that is incomplete.
    return counts if complete or len(counts) < 2 else counts[:-1]


def sniff_delimiter(lines: Sequence[str], preferred: str | None = None, complete: bool = False) -> str:
    """The delimiter of the sample `lines`; `preferred` (e.g. tab for .tsv) wins when it fits as well.

    A candidate fits when the first record and all but 10% of the others (or all but one) have the same
    number of fields, at least two. One
    fitting candidate is the answer; none means a one-column file (or a ragged one): ','. Several
    fitting candidates are refused with `LayoutError` unless `preferred` is one of them (or, for '::'
    and ':', the longer one).

    >>> sniff_delimiter(["id;name;price", "1;Mug;2,50", "2;Cup;1,75"])
    ';'
    >>> sniff_delimiter(["a,b|c", "d,e|f"])
    Traceback (most recent call last):
    ...
    producers.importers.layout.LayoutError: cannot tell the delimiter: ',' and '|' both split ...
    """
    sample = [line.rstrip("\r\n") for line in lines if line.strip()]
    fitting: list[str] = []
    for candidate in CANDIDATES:
        counts = _field_counts(sample, candidate, complete)
        if not counts:
            continue
        width, n = Counter(counts).most_common(1)[0]
        # The first record (a header, or the first row) must fit too: it names or shapes the columns.
        if width >= 2 and counts[0] == width and len(counts) - n <= max(1, int(MISFITS * len(counts))):
            fitting.append(candidate)
    if not fitting:
        return preferred or ","
    if len(fitting) == 1:
        return fitting[0]
    if preferred in fitting:
        return preferred
    shown = " and ".join(show(d) for d in fitting)
    raise LayoutError(f"cannot tell the delimiter: {shown} both split every line the same way; "
                      "pass --delimiter")


class FieldReader:
    """Records of a delimited text as lists of fields; `line_num` is the last line read (1-based).

    A one-character delimiter goes through the csv module (quoted fields, quotes doubled, a field over
    several lines); a longer one (such as '::') splits each line, as files that use one have no quoting.
    """

    def __init__(self, lines: Iterable[str], delimiter: str) -> None:
        self.delimiter = delimiter
        self.line_num = 0
        self._lines = iter(lines)
        self._csv = csv.reader(self._lines, delimiter=delimiter) if len(delimiter) == 1 else None

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        if self._csv is not None:
            fields = next(self._csv)
            self.line_num = self._csv.line_num
            return fields
        line = next(self._lines)
        self.line_num += 1
        line = line.rstrip("\r\n")
        return line.split(self.delimiter) if line.strip() else []


def parse_names(text: str) -> list[str]:
    """Column names as typed for --columns: comma-separated, stripped, each non-empty and distinct.

    >>> parse_names("user, item,rating ,time")
    ['user', 'item', 'rating', 'time']
    """
    names = [n.strip() for n in text.split(",")]
    if not names or any(not n for n in names):
        raise LayoutError(f"--columns {text!r}: every column needs a name (comma-separated, none empty)")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise LayoutError(f"--columns {text!r}: {', '.join(repr(n) for n in repeated)} named more than once")
    return names


def resolve(column: str, columns: Sequence[str]) -> str | None:
    """The file's column that `column` refers to: itself if the file has it, else a 1-based position.

    >>> resolve("title", ["id", "title"]), resolve("2", ["id", "title"]), resolve("3", ["id", "title"])
    ('title', 'title', None)
    """
    if column in columns:
        return column
    if column.isdigit() and 1 <= int(column) <= len(columns):
        return columns[int(column) - 1]
    return None


def select_columns(spec: str, columns: Sequence[str], option: str) -> tuple[str, ...]:
    """Columns named by `spec`: comma-separated names or 1-based positions, and `A..B` ranges (both
    ends included, in the file's column order). Raises `LayoutError` naming what is not in the file."""
    chosen: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if ".." in part:
            first, last = (resolve(end.strip(), columns) for end in part.split("..", 1))
            if first is None or last is None:
                raise LayoutError(f"{option} {part!r}: both ends of a range must be columns of the file; "
                                  f"available: {_listed(columns)}")
            i, j = columns.index(first), columns.index(last)
            if i > j:
                raise LayoutError(f"{option} {part!r}: {first!r} comes after {last!r} in the file")
            chosen.extend(columns[i:j + 1])
        else:
            found = resolve(part, columns)
            if found is None:
                raise LayoutError(f"{option} {part!r} is not a column of the file; available: {_listed(columns)}")
            chosen.append(found)
    if not chosen:
        raise LayoutError(f"{option} names no column")
    return tuple(dict.fromkeys(chosen))


def _listed(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "none"
