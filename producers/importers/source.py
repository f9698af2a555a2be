"""Reading a CSV or JSON Lines file as a stream of numbered rows, without loading it into memory.

A row is a dict of column name to value (strings for CSV; whatever JSON holds for JSONL) together with
the line number where it starts in the file, so that every problem can be reported against a line.
Rows that cannot even be read (bad JSON, a CSV row with the wrong number of fields, text that is not
valid in the file's encoding) come out as `BadRow`s with the reason: they are never dropped silently.

>>> import io
>>> src = RowSource.from_lines(io.BytesIO(b"id,name\\n1,Mug\\n\\n2,Cup,extra\\n"), "csv")
>>> src.columns
['id', 'name']
>>> [(r.line, r.values) if isinstance(r, Row) else (r.line, r.reason) for r in src]
[(2, {'id': '1', 'name': 'Mug'}), (4, 'row has 3 fields, the header has 2')]
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, cast

# A CSV field may be a long product description; the csv module's default limit is 128 KiB.
csv.field_size_limit(64 * 1024 * 1024)


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class MappingError(ValueError):
    """A mapped column is not in the file (or the file has no header): a usage error, not a bad row."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    raw: dict[str, Any] | str


def detect_format(path: Path, explicit: FileFormat | str | None = None) -> FileFormat:
    """`explicit` if given, else from the extension (`.csv`/`.tsv`/`.txt` and `.jsonl`/`.ndjson`/`.json`).

    >>> detect_format(Path("ratings.csv")), detect_format(Path("x.ndjson")), detect_format(Path("y"), "jsonl")
    (<FileFormat.CSV: 'csv'>, <FileFormat.JSONL: 'jsonl'>, <FileFormat.JSONL: 'jsonl'>)
    """
    if explicit is not None:
        return FileFormat(explicit)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".csv", ".tsv", ".txt"):
        return FileFormat.CSV
    if ext in (".jsonl", ".ndjson", ".json"):
        return FileFormat.JSONL
    raise MappingError(f"cannot tell the format of {path.name!r} from its extension: pass --format csv|jsonl")


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
    """Numbered rows of a CSV (with a header line) or JSONL (one object per line) file.

    Iterate it once. `columns` is the CSV header, or the keys of the first JSON object (JSONL rows
    may have different keys; the header check is against the first one)."""

    def __init__(
        self,
        stream: IO[bytes],
        fmt: FileFormat,
        encoding: str = "utf-8",
        delimiter: str = ",",
        close: bool = False,
    ) -> None:
        self.format = fmt
        self._stream = stream
        self._close = close
        self._decoder = _Decoder(stream, encoding)
        self._lines = iter(self._decoder)
        self._pending: list[Row | BadRow] = []
        self.columns: list[str] = []
        if fmt is FileFormat.CSV:
            self._reader = csv.reader(self._lines, delimiter=delimiter)
            header = next(self._reader, None)
            if header is None:
                raise MappingError("the file is empty: a CSV file needs a header line with the column names")
            self.columns = [c.strip() for c in header]
        else:
            # Peek at the first object for its keys; keep whatever was read for the iteration.
            for item in self._jsonl():
                self._pending.append(item)
                if isinstance(item, Row):
                    self.columns = list(item.values)
                    break

    @classmethod
    def open(
        cls, path: Path, fmt: FileFormat | str | None = None, encoding: str = "utf-8", delimiter: str | None = None
    ) -> RowSource:
        kind = detect_format(path, fmt)
        if delimiter is None:
            delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        stream = _open_binary(path)
        try:
            return cls(stream, kind, encoding=encoding, delimiter=delimiter, close=True)
        except BaseException:
            stream.close()
            raise

    @classmethod
    def from_lines(cls, stream: IO[bytes] | io.BytesIO, fmt: FileFormat | str, **kw: Any) -> RowSource:
        return cls(stream, FileFormat(fmt), **kw)

    def require(self, wanted: Sequence[tuple[str, str]]) -> None:
        """Raise `MappingError` naming the available columns if a mapped column is missing.

        `wanted` holds (option, column) pairs, e.g. ("--id-col", "movieId")."""
        missing = [(opt, col) for opt, col in wanted if col not in self.columns]
        if not missing:
            return
        what = ", ".join(f"{opt} {col!r}" for opt, col in missing)
        where = "the header" if self.format is FileFormat.CSV else "the first JSON object"
        available = ", ".join(repr(c) for c in self.columns) or "none"
        raise MappingError(f"column not found in {where}: {what}. Available columns: {available}")

    def has(self, column: str) -> bool:
        return column in self.columns

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

    def _csv(self) -> Iterator[Row | BadRow]:
        reader = self._reader
        columns = self.columns
        width = len(columns)
        bad = self._decoder.bad_lines
        end = reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if not fields:  # a blank line is no row
                continue
            if bad and any(n in bad for n in range(start, end + 1)):
                raw: dict[str, Any] = dict(zip(columns, fields, strict=False))
                yield BadRow(start, f"not valid {self._decoder.encoding} text", raw)
            elif len(fields) != width:
                raw = dict(zip(columns, fields, strict=False))
                if len(fields) > width:
                    raw["_extra"] = fields[width:]
                yield BadRow(start, f"row has {len(fields)} fields, the header has {width}", raw)
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
