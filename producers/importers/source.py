"""Reading a delimited text (CSV) or JSON Lines file as a stream of numbered rows, without loading it
into memory.

A row is a dict of column name to value (strings for delimited text; whatever JSON holds for JSONL)
together with the line number where it starts in the file, so that every problem can be reported
against a line. Rows that cannot even be read (bad JSON, a row with the wrong number of fields, text
that is not valid in the file's encoding) come out as `BadRow`s with the reason: they are never
dropped silently.

Delimited text may use any delimiter (detected when not given, see `layout.sniff_delimiter`) and may
have no header line: then its columns are named by `columns` (`--columns user,item,rating,time`) or,
without names, by position ("1", "2", ...). A mapped column may always be given by its 1-based position.

>>> import io
>>> src = RowSource.from_lines(io.BytesIO(b"id,name\\n1,Mug\\n\\n2,Cup,extra\\n"), "csv")
>>> src.columns
['id', 'name']
>>> [(r.line, r.values) if isinstance(r, Row) else (r.line, r.reason) for r in src]
[(2, {'id': '1', 'name': 'Mug'}), (4, 'row has 3 fields, the header has 2')]
>>> src = RowSource.from_lines(io.BytesIO(b"7\\t31\\t2.5\\t1260759144\\n"), "csv", columns=["u", "i", "r", "t"])
>>> src.delimiter == "\\t", [r.values for r in src]
(True, [{'u': '7', 'i': '31', 'r': '2.5', 't': '1260759144'}])
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, cast

from producers.importers.layout import SNIFF_LINES, FieldReader, LayoutError, resolve, show, sniff_delimiter

# A CSV field may be a long product description; the csv module's default limit is 128 KiB.
csv.field_size_limit(64 * 1024 * 1024)


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class MappingError(ValueError):
    """A mapped column is not in the file, or the file's layout cannot be worked out: a usage error, not
    a bad row."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    raw: dict[str, Any] | str


def _extension(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def detect_format(path: Path, explicit: FileFormat | str | None = None) -> FileFormat:
    """`explicit` if given, else from the extension (`.csv`/`.tsv`/`.txt`/`.dat` and `.jsonl`/`.ndjson`/
    `.json`), else from the content: JSON Lines if the first non-blank character is '{', otherwise
    delimited text (MovieLens' `u.data`, `u.item`).

    >>> detect_format(Path("ratings.csv")), detect_format(Path("x.ndjson")), detect_format(Path("y"), "jsonl")
    (<FileFormat.CSV: 'csv'>, <FileFormat.JSONL: 'jsonl'>, <FileFormat.JSONL: 'jsonl'>)
    """
    if explicit is not None:
        return FileFormat(explicit)
    ext = _extension(path)
    if ext in (".csv", ".tsv", ".txt", ".dat"):
        return FileFormat.CSV
    if ext in (".jsonl", ".ndjson", ".json"):
        return FileFormat.JSONL
    try:
        with _open_binary(path) as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise MappingError(f"cannot read {path.name!r}: {exc}; or pass --format csv|jsonl") from None
    return FileFormat.JSONL if head.startswith(b"{") else FileFormat.CSV


def count_lines(path: Path, chunk: int = 1 << 20) -> int:
    """Number of lines, read in chunks (a 1 GB file takes about a second): a progress bar's total."""
    n = 0
    last = b"\n"
    with _open_binary(path) as f:
        while block := f.read(chunk):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (0 if last == b"\n" else 1)


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        import gzip

        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


class _Decoder:
    """Decodes binary lines one at a time, remembering which lines were not valid text.

    Splitting on b"\\n" before decoding is correct for UTF-8 and every ASCII-compatible encoding."""

    def __init__(self, lines: Iterable[bytes], encoding: str) -> None:
        self._lines = lines
        self.encoding = encoding
        self.bad_lines: set[int] = set()
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self._lines:
            self.line += 1
            if self.line == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
                raw = raw[3:]
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError:
                self.bad_lines.add(self.line)
                yield raw.decode(self.encoding, errors="replace")


class RowSource:
    """Numbered rows of a delimited text (CSV) or JSONL (one object per line) file.

    Iterate it once. `columns` is the header, the names given as `columns`, or positions "1".."N" for a
    file without a header (`header=False`); for JSONL the keys of the first JSON object (JSONL rows may
    have different keys; the column check is against the first one). `delimiter` None: detected from
    the first lines (`preferred` wins a tie, e.g. tab for .tsv). `header` None: a header line unless
    `columns` are given; `header=True` with `columns` skips the file's header and uses the names."""

    def __init__(
        self,
        stream: IO[bytes],
        fmt: FileFormat,
        encoding: str = "utf-8",
        delimiter: str | None = None,
        close: bool = False,
        columns: Sequence[str] | None = None,
        header: bool | None = None,
        preferred: str | None = None,
    ) -> None:
        self.format = fmt
        self._stream = stream
        self._close = close
        self._decoder = _Decoder(stream, encoding)
        self._lines: Iterator[str] = iter(self._decoder)
        self._pending: list[Row | BadRow] = []
        self._first_record: tuple[int, int, list[str]] | None = None
        self.columns: list[str] = []
        self.delimiter = delimiter or ","
        self.named_by = "header"
        self.header_lines = 0
        if fmt is not FileFormat.CSV:
            if columns is not None or header is not None:
                raise MappingError("--columns and --header/--no-header are for delimited text, not JSON Lines")
            # Peek at the first object for its keys; keep whatever was read for the iteration.
            self.named_by = "the first JSON object"
            for item in self._jsonl():
                self._pending.append(item)
                if isinstance(item, Row):
                    self.columns = list(item.values)
                    break
            return
        if delimiter is None:
            head = list(itertools.islice(self._lines, SNIFF_LINES))
            try:
                self.delimiter = sniff_delimiter(head, preferred, complete=len(head) < SNIFF_LINES)
            except LayoutError as exc:
                raise MappingError(str(exc)) from None
            self._lines = itertools.chain(head, self._lines)
        self._reader = FieldReader(self._lines, self.delimiter)
        has_header = header if header is not None else columns is None
        self.header_lines = int(has_header)
        if has_header:
            first = next(self._reader, None)
            if first is None:
                raise MappingError("the file is empty: it needs a header line with the column names "
                                   "(or name the columns with --columns)")
            self.columns = [c.strip() for c in first]
        if columns is not None:
            self.columns = list(columns)
            self.named_by = "--columns"
        elif not has_header:
            self.named_by = "position"
            end = self._reader.line_num
            for fields in self._reader:
                if fields:  # the first record's width numbers the columns
                    self._first_record = (end + 1, self._reader.line_num, fields)
                    self.columns = [str(i) for i in range(1, len(fields) + 1)]
                    break
                end = self._reader.line_num

    @classmethod
    def open(
        cls,
        path: Path,
        fmt: FileFormat | str | None = None,
        encoding: str = "utf-8",
        delimiter: str | None = None,
        columns: Sequence[str] | None = None,
        header: bool | None = None,
    ) -> RowSource:
        """Open `path`; `delimiter` None detects it (tab preferred for .tsv, ',' for .csv)."""
        kind = detect_format(path, fmt)
        preferred = {".tsv": "\t", ".csv": ","}.get(_extension(path))
        stream = _open_binary(path)
        try:
            return cls(stream, kind, encoding=encoding, delimiter=delimiter, close=True, columns=columns,
                       header=header, preferred=preferred)
        except BaseException:
            stream.close()
            raise

    @classmethod
    def from_lines(cls, stream: IO[bytes] | io.BytesIO, fmt: FileFormat | str, **kw: Any) -> RowSource:
        return cls(stream, FileFormat(fmt), **kw)

    def resolve(self, column: str) -> str | None:
        """The file's column that `column` names: itself, or a 1-based position; None if neither."""
        return resolve(column, self.columns)

    def require(self, wanted: Sequence[tuple[str, str]]) -> None:
        """Raise `MappingError` naming the available columns if a mapped column is missing.

        `wanted` holds (option, column) pairs, e.g. ("--id-col", "movieId")."""
        missing = [(opt, col) for opt, col in wanted if self.resolve(col) is None]
        if not missing:
            return
        what = ", ".join(f"{opt} {col!r}" for opt, col in missing)
        where = {"header": " in the header", "--columns": " in --columns", "position": ""}.get(
            self.named_by, f" in {self.named_by}")
        raise MappingError(f"column not found{where}: {what}. {self.columns_hint()}")

    def columns_hint(self) -> str:
        """What the columns are, for an error message."""
        if self.named_by == "position":
            return (f"The file has no header, so its columns are numbered 1 to {len(self.columns)} "
                    "(or name them with --columns)")
        keys = " (the first JSON object's keys)" if self.format is FileFormat.JSONL else ""
        return f"Available columns{keys}: " + (", ".join(repr(c) for c in self.columns) or "none")

    def has(self, column: str) -> bool:
        return self.resolve(column) is not None

    def describe_layout(self) -> str:
        """How the file is read, for a summary: "delimiter tab, columns from --columns"."""
        if self.format is not FileFormat.CSV:
            return "JSON Lines"
        names = {"header": "the header line", "--columns": "--columns", "position": "position (no header)"}
        return f"delimiter {show(self.delimiter)}, columns named by {names[self.named_by]}"

    def __iter__(self) -> Iterator[Row | BadRow]:
        try:
            if self.format is FileFormat.CSV:
                yield from self._csv()
            else:
                yield from self._pending
                self._pending.clear()
                yield from self._jsonl()
        finally:
            self.close()

    def close(self) -> None:
        if self._close:
            self._stream.close()

    def _records(self) -> Iterator[tuple[int, int, list[str]]]:
        """(first line, last line, fields) of each record, blank lines left out."""
        if self._first_record is not None:
            yield self._first_record
            self._first_record = None
        reader = self._reader
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if fields:  # a blank line is no row
                yield start, end, fields

    def _csv(self) -> Iterator[Row | BadRow]:
        columns = self.columns
        width = len(columns)
        bad = self._decoder.bad_lines
        shape = {"header": "the header has", "--columns": "--columns names", "position": "the first row has"}
        for start, end, fields in self._records():
            if bad and any(n in bad for n in range(start, end + 1)):
                raw: dict[str, Any] = dict(zip(columns, fields, strict=False))
                yield BadRow(start, f"not valid {self._decoder.encoding} text", raw)
            elif len(fields) != width:
                raw = dict(zip(columns, fields, strict=False))
                if len(fields) > width:
                    raw["_extra"] = fields[width:]
                yield BadRow(start, f"row has {len(fields)} fields, {shape[self.named_by]} {width}", raw)
            else:
                yield Row(start, dict(zip(columns, fields, strict=True)))

    def _jsonl(self) -> Iterator[Row | BadRow]:
        bad = self._decoder.bad_lines
        for text in self._lines:
            line = self._decoder.line
            if not text.strip():
                continue
            if line in bad:
                yield BadRow(line, f"not valid {self._decoder.encoding} text", text.rstrip("\r\n"))
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield BadRow(line, f"invalid JSON: {exc.msg} (column {exc.colno})", text.rstrip("\r\n"))
                continue
            if not isinstance(obj, dict):
                yield BadRow(line, f"expected a JSON object, got {type(obj).__name__}", text.rstrip("\r\n"))
                continue
            yield Row(line, obj)
