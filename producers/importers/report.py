"""What an import did with every row: sent, skipped on purpose, or rejected with a line and a reason.

Rejected rows are kept (the first few in memory, to print) and, when a rejects file is given, all of
them are appended to it as JSON lines, so that they can be fixed and imported again.

>>> r = ImportReport()
>>> r.reject(7, "missing id", {"id": "", "name": "Mug"})
>>> r.rejected, r.first_rejects[0].describe()
(1, 'line 7: missing id')
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from events import Event


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    row: dict[str, Any] | str

    def describe(self) -> str:
        return f"line {self.line}: {self.reason}"

    def to_json(self) -> str:
        return json.dumps({"line": self.line, "reason": self.reason, "row": self.row}, ensure_ascii=False, default=str)


@dataclass
class ImportReport:
    """Counters of one import. `rows` counts every row read (blank lines are not rows)."""

    rejects_path: Path | None = None
    keep_first: int = 10
    rows: int = 0
    events: int = 0
    rejected: int = 0
    skipped: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    first_rejects: list[Reject] = field(default_factory=list)
    on_reject: Callable[[Reject], None] | None = field(default=None, repr=False)
    _rejects_file: IO[str] | None = field(default=None, repr=False)

    def reject(self, line: int, reason: str, row: dict[str, Any] | str) -> None:
        self.rejected += 1
        entry = Reject(line, reason, row)
        if len(self.first_rejects) < self.keep_first:
            self.first_rejects.append(entry)
        if self.rejects_path is not None:
            if self._rejects_file is None:
                self.rejects_path.parent.mkdir(parents=True, exist_ok=True)
                self._rejects_file = self.rejects_path.open("a", encoding="utf-8")
            self._rejects_file.write(entry.to_json() + "\n")
        if self.on_reject is not None:
            self.on_reject(entry)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.note(f"skipped: {reason}")

    def note(self, what: str, n: int = 1) -> None:
        self.notes[what] = self.notes.get(what, 0) + n

    def count(self, event: Event) -> None:
        self.events += 1
        kind = event.type.value
        self.by_type[kind] = self.by_type.get(kind, 0) + 1

    @property
    def wrote_rejects(self) -> bool:
        return self._rejects_file is not None

    def close(self) -> None:
        if self._rejects_file is not None:
            self._rejects_file.close()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "events": self.events,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "by_type": dict(sorted(self.by_type.items())),
            "notes": dict(sorted(self.notes.items())),
            "rejects_file": str(self.rejects_path) if self.wrote_rejects else None,
        }
