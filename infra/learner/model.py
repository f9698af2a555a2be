"""The recommender as the learner and the API hold it: a model, the log position it includes, and
snapshots of its parameters as data (JSON + numpy .npz, never pickle), written atomically."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from infra.learner.convert import item_spec
from infra.learner.store import LogEntry, read_log
from models.embed.base import atomic_write
from models.reco import Interaction, OnlineRecommender
from models.reco.content import FaissContent

_SNAPSHOT = re.compile(r"^model-(\d{8})\.json$")
OnInteraction = Callable[[Interaction, LogEntry], None]


class LiveModel:
    def __init__(self, model: OnlineRecommender, trained_seq: int = 0, version: int | None = None) -> None:
        self.model = model
        self.trained_seq = trained_seq
        self.version = version
        self.meta: dict[str, Any] = {}

    @classmethod
    def new(cls, seed: int = 0) -> LiveModel:
        from models.reco import OnlineConfig

        return cls(OnlineRecommender(OnlineConfig(seed=seed), content_factory=FaissContent))

    # -- learning from the log -----------------------------------------------------------------

    def apply(self, entry: LogEntry, on_interaction: OnInteraction | None = None) -> None:
        """Apply one log entry: item changes update the catalogue, interactions train."""
        m = self.model
        if entry.kind == "item":
            p = entry.product()
            spec = item_spec(p)
            m.add_item(spec.item_id, spec.category, spec.brand, spec.price, spec.vector, in_stock=p.stock > 0)
        elif entry.kind == "remove":
            m.remove_item(entry.item_id)
        else:
            interaction = entry.interaction()
            if on_interaction is not None:
                on_interaction(interaction, entry)  # evaluates, then learns
            else:
                m.learn_one(interaction)
        self.trained_seq = entry.seq

    def catch_up(self, conn: sqlite3.Connection, on_interaction: OnInteraction | None = None,
                 limit: int | None = None) -> int:
        """Learn every log entry after `trained_seq` (at most `limit`); returns how many."""
        n = 0
        for entry in read_log(conn, self.trained_seq):
            self.apply(entry, on_interaction)
            n += 1
            if limit is not None and n >= limit:
                break
        return n

    # -- snapshots -----------------------------------------------------------------------------

    def save(self, directory: Path, offsets: dict[str, int], extra: dict[str, Any] | None = None,
             keep: int = 3) -> int:
        directory.mkdir(parents=True, exist_ok=True)
        versions = list_versions(directory)
        version = (versions[-1] + 1) if versions else 1
        self.model.flush()
        meta, arrays = self.model.state()
        stem = directory / f"model-{version:08d}"
        doc = {
            "format": "shopstream-reco",
            "version": version,
            "created_at": time.time(),
            "trained_seq": self.trained_seq,
            "events_trained": self.model.events_trained,
            "offsets": offsets,
            "extra": extra or {},
            "model": meta,
        }
        payload: dict[str, Any] = dict(arrays)
        atomic_write(stem.with_suffix(".npz"), lambda f: np.savez(f, **payload))
        atomic_write(stem.with_suffix(".json"), lambda f: f.write(json.dumps(doc).encode()))  # last: marks complete
        for old in versions[: max(len(versions) - (keep - 1), 0)]:
            for suffix in (".json", ".npz"):
                (directory / f"model-{old:08d}{suffix}").unlink(missing_ok=True)
        self.version = version
        self.meta = {k: v for k, v in doc.items() if k != "model"}
        return version

    @classmethod
    def load(cls, directory: Path, version: int) -> LiveModel:
        stem = directory / f"model-{version:08d}"
        doc = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        model = OnlineRecommender.from_state(doc["model"], arrays, content_factory=FaissContent)
        live = cls(model, int(doc["trained_seq"]), version)
        live.meta = {k: v for k, v in doc.items() if k != "model"}
        return live

    @classmethod
    def load_latest(cls, directory: Path) -> LiveModel | None:
        for version in reversed(list_versions(directory)):
            try:
                return cls.load(directory, version)
            except (OSError, ValueError, KeyError):
                continue  # incomplete or damaged: try the one before
        return None


def list_versions(directory: Path) -> list[int]:
    if not directory.exists():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := _SNAPSHOT.match(p.name)))


def snapshot_infos(directory: Path) -> list[dict[str, Any]]:
    """The sidecars of the stored model versions (without the parameters), oldest first."""
    out = []
    for version in list_versions(directory):
        try:
            doc = json.loads((directory / f"model-{version:08d}.json").read_text())
        except (OSError, ValueError):
            continue
        out.append({k: v for k, v in doc.items() if k != "model"})
    return out
