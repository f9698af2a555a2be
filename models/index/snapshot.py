"""Versioned, atomic snapshots of a :class:`~models.index.VectorIndex` (and optionally its embedder).

A snapshot ``N`` in a directory is a set of files sharing the stem ``index-<N, 12 digits>``:

* ``.faiss`` — the FAISS index in FAISS's own format (``faiss.write_index``);
* ``.labels.npy`` — HNSW only: slot → product id, ``-1`` for a tombstone (``np.save``, no pickle);
* ``.embedder.npz`` / ``.embedder.json`` — optional, the embedder that made the vectors;
* ``.json`` — the sidecar: format, version, created_at, embedder_version, dim, count, index
  kind and settings, the caller's ``offsets`` (e.g. Kafka offsets included), free ``extra``, and
  the name, size and SHA-256 of every data file.

Every file is written to a temporary name in the same directory, fsynced and ``os.replace``-d;
the sidecar is written last, so it is the commit marker: a snapshot without a readable sidecar,
or whose files are missing or differ from what the sidecar says, is incomplete and ignored by
:func:`load_latest`.  Nothing is ever pickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from models.embed import Embedder
from models.index.vector_index import VectorIndex

__all__ = [
    "Snapshot",
    "SnapshotInfo",
    "list_snapshots",
    "load_latest",
    "load_snapshot",
    "prune_snapshots",
    "save_snapshot",
]

log = logging.getLogger(__name__)

FORMAT = "shopstream.vector_index"
FORMAT_VERSION = 1
_SIDECAR_RE = re.compile(r"^index-(\d{12})\.json$")
_ANY_FILE_RE = re.compile(r"^index-(\d{12})\.")
_SETTINGS = ("hnsw_threshold", "hnsw_m", "ef_search", "ef_construction",
             "rebuild_dead_fraction", "min_dead_for_rebuild", "auto_rebuild")


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot's sidecar says."""

    version: int
    path: Path  #: the sidecar (``index-<N>.json``)
    created_at: str
    embedder_version: str
    dim: int
    count: int
    index_kind: str
    offsets: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, path: Path, meta: Mapping[str, Any]) -> SnapshotInfo:
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} sidecar")
        return cls(
            version=int(meta["version"]),
            path=path,
            created_at=str(meta["created_at"]),
            embedder_version=str(meta["embedder_version"]),
            dim=int(meta["dim"]),
            count=int(meta["count"]),
            index_kind=str(meta["index_kind"]),
            offsets=dict(meta.get("offsets") or {}),
            extra=dict(meta.get("extra") or {}),
            files={str(k): dict(v) for k, v in dict(meta["files"]).items()},
            settings=dict(meta.get("settings") or {}),
        )


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot."""

    index: VectorIndex
    info: SnapshotInfo
    embedder: Embedder | None = None


def _stem(version: int) -> str:
    return f"index-{version:012d}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every platform/filesystem
        _fsync_file(directory)


def _tmp_name(directory: Path, final: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{final}.", suffix=".tmp", dir=directory)
    os.close(fd)
    return Path(tmp)


def _file_entry(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _versions(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    out = []
    for p in directory.iterdir():
        m = _SIDECAR_RE.match(p.name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


def save_snapshot(
    index: VectorIndex,
    directory: str | os.PathLike[str],
    *,
    embedder_version: str | None = None,
    offsets: Mapping[str, Any] | None = None,
    embedder: Embedder | None = None,
    version: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> SnapshotInfo:
    """Write ``index`` as snapshot ``version`` (default: newest in ``directory`` + 1).

    ``offsets`` is stored as given (it must be JSON-serialisable), typically the Kafka offsets
    whose effects the index includes.  ``embedder_version`` names the embedder that produced the
    vectors; pass ``embedder`` instead to store the embedder in the snapshot as well.
    """
    if embedder is not None:
        if embedder_version is not None and embedder_version != embedder.version:
            raise ValueError("embedder_version does not match embedder.version")
        embedder_version = embedder.version
        if embedder.dim != index.dim:
            raise ValueError(f"embedder dim {embedder.dim} != index dim {index.dim}")
    if embedder_version is None:
        raise ValueError("embedder_version (or embedder) is required")
    # Fail before writing anything if the caller's metadata is not JSON.
    offsets_json = json.loads(json.dumps(dict(offsets or {})))
    extra_json = json.loads(json.dumps(dict(extra or {})))

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    if version is None:
        existing = _versions(root)
        version = (existing[-1] + 1) if existing else 1
    if version < 0:
        raise ValueError("version must be >= 0")
    stem = _stem(version)
    sidecar = root / f"{stem}.json"
    if sidecar.exists():
        raise FileExistsError(f"snapshot {version} already exists in {root}")

    files: dict[str, dict[str, Any]] = {}
    written: list[Path] = []
    try:
        with index._lock:
            faiss_index, labels = index._export()
            count, kind, dim = len(index), index.kind, index.dim
            settings = {name: getattr(index, name) for name in _SETTINGS}

            faiss_path = root / f"{stem}.faiss"
            tmp = _tmp_name(root, faiss_path.name)
            try:
                faiss.write_index(faiss_index, str(tmp))
                _fsync_file(tmp)
                os.replace(tmp, faiss_path)
            finally:
                tmp.unlink(missing_ok=True)
            written.append(faiss_path)
            files["faiss"] = _file_entry(faiss_path)

            if labels is not None:
                labels_path = root / f"{stem}.labels.npy"
                tmp = _tmp_name(root, labels_path.name)
                try:
                    with tmp.open("wb") as f:
                        np.save(f, labels, allow_pickle=False)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, labels_path)
                finally:
                    tmp.unlink(missing_ok=True)
                written.append(labels_path)
                files["labels"] = _file_entry(labels_path)

        if embedder is not None:
            npz_path, json_path = embedder.save(root / f"{stem}.embedder")
            written += [npz_path, json_path]
            files["embedder_npz"] = _file_entry(npz_path)
            files["embedder_json"] = _file_entry(json_path)

        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "embedder_version": embedder_version,
            "dim": dim,
            "count": count,
            "index_kind": kind,
            "settings": settings,
            "offsets": offsets_json,
            "extra": extra_json,
            "files": files,
        }
        tmp = _tmp_name(root, sidecar.name)
        try:
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(meta, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, sidecar)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(root)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return SnapshotInfo.from_json(sidecar, meta)


def _read_info(sidecar: Path) -> SnapshotInfo:
    return SnapshotInfo.from_json(sidecar, json.loads(sidecar.read_text(encoding="utf-8")))


def _check_files(info: SnapshotInfo, *, verify_hash: bool) -> None:
    required = {"faiss"} | ({"labels"} if info.index_kind == "hnsw" else set())
    missing = required - set(info.files)
    if missing:
        raise ValueError(f"{info.path}: sidecar lists no {sorted(missing)}")
    for entry in info.files.values():
        p = info.path.parent / str(entry["name"])
        if not p.is_file():
            raise FileNotFoundError(p)
        if p.stat().st_size != int(entry["bytes"]):
            raise ValueError(f"{p}: size differs from the sidecar")
        if verify_hash and _sha256(p) != entry["sha256"]:
            raise ValueError(f"{p}: checksum differs from the sidecar")


def list_snapshots(directory: str | os.PathLike[str]) -> list[SnapshotInfo]:
    """Complete snapshots in ``directory`` (readable sidecar, files present with the right sizes),
    oldest first.  Checksums are not verified here."""
    root = Path(directory)
    out = []
    for v in _versions(root):
        sidecar = root / f"{_stem(v)}.json"
        try:
            info = _read_info(sidecar)
            _check_files(info, verify_hash=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("skipping incomplete snapshot %s: %s", sidecar, exc)
            continue
        out.append(info)
    return out


def load_snapshot(sidecar: str | os.PathLike[str], *, verify: bool = True) -> Snapshot:
    """Load the snapshot whose sidecar is ``sidecar``; ``verify`` checks the SHA-256 of each file."""
    info = _read_info(Path(sidecar))
    _check_files(info, verify_hash=verify)
    root = info.path.parent
    raw = faiss.read_index(str(root / info.files["faiss"]["name"]))
    labels = None
    if info.index_kind == "hnsw":
        labels = np.load(root / info.files["labels"]["name"], allow_pickle=False)
    settings = {k: v for k, v in info.settings.items() if k in _SETTINGS}
    index = VectorIndex._from_export(raw, labels, **settings)
    if index.dim != info.dim or len(index) != info.count or index.kind != info.index_kind:
        raise ValueError(f"{info.path}: index does not match its sidecar")
    embedder = None
    if "embedder_json" in info.files:
        embedder = Embedder.load(root / f"{_stem(info.version)}.embedder")
        if embedder.version != info.embedder_version:
            raise ValueError(f"{info.path}: stored embedder is {embedder.version}, "
                             f"sidecar says {info.embedder_version}")
    return Snapshot(index=index, info=info, embedder=embedder)


def load_latest(directory: str | os.PathLike[str], *, verify: bool = True) -> Snapshot | None:
    """The newest snapshot in ``directory`` that is complete and loads; ``None`` if there is none."""
    root = Path(directory)
    for v in reversed(_versions(root)):
        sidecar = root / f"{_stem(v)}.json"
        try:
            return load_snapshot(sidecar, verify=verify)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            log.warning("skipping snapshot %s: %s", sidecar, exc)
    return None


def prune_snapshots(directory: str | os.PathLike[str], *, keep: int = 3,
                    tmp_max_age_s: float = 3600.0) -> list[Path]:
    """Delete all but the ``keep`` newest complete snapshots, plus incomplete snapshots older
    than the oldest kept one and temporary files older than ``tmp_max_age_s``.  Returns the
    deleted paths.  Sidecars are deleted first so a reader never sees a half-deleted snapshot
    as complete."""
    if keep < 1:
        raise ValueError("keep must be >= 1")
    root = Path(directory)
    complete = list_snapshots(root)
    if not complete:
        return []
    oldest_kept = complete[-keep:][0].version
    deleted: list[Path] = []
    for p in root.glob("index-*"):
        m = _ANY_FILE_RE.match(p.name)
        if m and int(m.group(1)) < oldest_kept:
            deleted.append(p)
    now = time.time()
    for p in root.glob(".index-*.tmp"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > tmp_max_age_s:
                deleted.append(p)
    # sidecars first: once it is gone a snapshot is incomplete, never half-deleted-but-complete
    deleted.sort(key=lambda p: (_SIDECAR_RE.match(p.name) is None, p.name))
    for p in deleted:
        p.unlink(missing_ok=True)
    _fsync_dir(root)
    return deleted
