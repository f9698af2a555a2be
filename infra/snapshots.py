"""Versioned, atomic snapshots on disk: the one snapshot module, for the vector index and the model.

A snapshot ``N`` of kind ``name`` in a directory is a set of data files and a sidecar:

* data files ``<name>-<N, 12 digits>.<token>.<role>``, one per role (``faiss``, ``state.npz``,
  ...), each written by the caller's writer to a temporary name, fsynced and renamed; the random
  ``token`` keeps two writers that picked the same version from overwriting each other's files;
* the sidecar ``<name>-<N>.json``: the caller's JSON metadata (offsets, log position, format),
  ``created_at``, and the name, size and SHA-256 of every data file. It is written last and
  linked into place exclusively, so it is the commit marker: a snapshot without a readable
  sidecar, or whose files are missing or differ from what it says, is incomplete and skipped.

Only data is written (FAISS's own format, numpy without pickle, JSON): a reader never runs code
that another process wrote.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     store = SnapshotStore(Path(d), "demo", keep=2)
...     for i in range(3):
...         _ = store.save({"txt": lambda p, i=i: p.write_text(f"state {i}")}, {"seq": i})
...     newest = store.load_latest(lambda info: (info.version, info.meta["seq"], info.file("txt").read_text()))
...     [info.version for info in store.complete()], newest
([2, 3], (3, 2, 'state 2'))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Writer = Callable[[Path], object]

_FORMAT = "shopstream.snapshot"
_FORMAT_VERSION = 2


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot's sidecar says."""

    name: str
    version: int
    path: Path  #: the sidecar
    created_at: float
    meta: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def file(self, role: str) -> Path:
        """The data file written for ``role``."""
        return self.path.parent / str(self.files[role]["name"])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # directories cannot be fsynced everywhere
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _tmp_name(directory: Path, final: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{final}.", suffix=".tmp", dir=directory)
    os.close(fd)
    return Path(tmp)


class SnapshotStore:
    """The snapshots of one kind (``name``) in ``directory``; keeps the ``keep`` newest."""

    def __init__(self, directory: Path, name: str, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError("keep must be >= 1")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"snapshot name {name!r}: lower-case letters, digits and _ only")
        self.directory = Path(directory)
        self.name = name
        self.keep = keep
        self._sidecar_re = re.compile(rf"^{name}-(\d{{12}})\.json$")
        self._any_re = re.compile(rf"^{name}-(\d{{12}})\.")

    def _stem(self, version: int) -> str:
        return f"{self.name}-{version:012d}"

    def versions(self) -> list[int]:
        """Versions that have a sidecar (complete or not), oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := self._sidecar_re.match(p.name)))

    # -- writing -------------------------------------------------------------------------------

    def save(self, writers: Mapping[str, Writer], meta: Mapping[str, Any]) -> SnapshotInfo:
        """Write one file per role with its writer, then the sidecar; returns the new snapshot.

        Raises ``FileExistsError`` if another writer committed the same version first (its
        snapshot is kept; this one's files are removed). Prunes old snapshots afterwards.
        """
        meta_json = json.loads(json.dumps(dict(meta)))  # fail before writing anything if not JSON
        self.directory.mkdir(parents=True, exist_ok=True)
        existing = self.versions()
        version = (existing[-1] + 1) if existing else 1
        stem, token = self._stem(version), secrets.token_hex(4)
        written: list[Path] = []
        try:
            files: dict[str, dict[str, Any]] = {}
            for role, write in writers.items():
                final = self.directory / f"{stem}.{token}.{role}"
                tmp = _tmp_name(self.directory, final.name)
                try:
                    write(tmp)
                    _fsync(tmp)
                    os.replace(tmp, final)
                finally:
                    tmp.unlink(missing_ok=True)
                written.append(final)
                files[role] = {"name": final.name, "bytes": final.stat().st_size, "sha256": _sha256(final)}
            doc = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "name": self.name, "version": version,
                   "created_at": time.time(), "meta": meta_json, "files": files}
            sidecar = self.directory / f"{stem}.json"
            tmp = _tmp_name(self.directory, sidecar.name)
            try:
                tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
                _fsync(tmp)
                os.link(tmp, sidecar)  # exclusive: fails if another writer committed this version
            finally:
                tmp.unlink(missing_ok=True)
            _fsync(self.directory)
        except BaseException:
            for p in written:
                p.unlink(missing_ok=True)
            raise
        self.prune()
        return self._info(sidecar, doc)

    # -- reading -------------------------------------------------------------------------------

    def _info(self, sidecar: Path, doc: Mapping[str, Any]) -> SnapshotInfo:
        if doc.get("format") != _FORMAT or doc.get("format_version") != _FORMAT_VERSION or doc.get("name") != self.name:
            raise ValueError(f"{sidecar}: not a {_FORMAT} v{_FORMAT_VERSION} sidecar of {self.name!r}")
        return SnapshotInfo(self.name, int(doc["version"]), sidecar, float(doc["created_at"]),
                            dict(doc.get("meta") or {}), {str(k): dict(v) for k, v in dict(doc["files"]).items()})

    def read(self, version: int, verify: bool = False) -> SnapshotInfo:
        """The sidecar of ``version``, its files checked for size (and, with ``verify``, checksum)."""
        sidecar = self.directory / f"{self._stem(version)}.json"
        info = self._info(sidecar, json.loads(sidecar.read_text(encoding="utf-8")))
        for role, entry in info.files.items():
            path = info.file(role)
            if path.stat().st_size != int(entry["bytes"]):
                raise ValueError(f"{path}: size differs from the sidecar")
            if verify and _sha256(path) != entry["sha256"]:
                raise ValueError(f"{path}: checksum differs from the sidecar")
        return info

    def complete(self) -> list[SnapshotInfo]:
        """Complete snapshots (readable sidecar, files present with the right sizes), oldest first."""
        out = []
        for version in self.versions():
            try:
                out.append(self.read(version))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.debug("skipping incomplete %s snapshot %d: %s", self.name, version, exc)
        return out

    def load_latest(self, loader: Callable[[SnapshotInfo], T], verify: bool = True) -> T | None:
        """``loader`` applied to the newest snapshot that is complete and loads; None if none does."""
        for version in reversed(self.versions()):
            try:
                return loader(self.read(version, verify=verify))
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                log.warning("skipping %s snapshot %d: %s", self.name, version, exc)
        return None

    def prune(self, tmp_max_age_s: float = 3600.0) -> list[Path]:
        """Delete all but the ``keep`` newest complete snapshots, files of older incomplete ones,
        and temporary files older than ``tmp_max_age_s``. Sidecars go first, so a reader never
        sees a half-deleted snapshot as complete. Returns the deleted paths."""
        complete = self.complete()
        if not complete:
            return []
        oldest_kept = complete[-self.keep:][0].version
        kept_files = {info.file(role).name for info in complete[-self.keep:] for role in info.files}
        doomed = [p for p in self.directory.iterdir()
                  if (m := self._any_re.match(p.name)) and int(m.group(1)) < oldest_kept and p.name not in kept_files]
        now = time.time()
        for p in self.directory.glob(f".{self.name}-*.tmp"):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > tmp_max_age_s:
                    doomed.append(p)
        doomed.sort(key=lambda p: (self._sidecar_re.match(p.name) is None, p.name))
        for p in doomed:
            p.unlink(missing_ok=True)
        return doomed
