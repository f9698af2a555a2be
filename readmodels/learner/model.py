"""The recommender as the learner and the API hold it: a model, the log position it includes, and
snapshots of its parameters as data (JSON + numpy .npz, never pickle) through `infra.snapshots`.

Only the learner trains (`apply(entry, train=True)`). The API loads the learner's newest snapshot
and follows the log with `apply(entry, train=False)`: cheap state updates (counts, trends,
co-occurrence, the user's recent items and profile), never the ranker.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from infra.snapshots import SnapshotInfo, SnapshotStore
from models.reco import OnlineConfig, OnlineRecommender
from models.reco.content import FaissContent
from readmodels.learner.log import LogEntry, read_log

SNAPSHOT_NAME = "model"
SNAPSHOT_FORMAT = "shopstream.reco-model/1"


class LiveModel:
    def __init__(self, model: OnlineRecommender, seq: int = 0, version: int | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.model = model
        self.seq = seq  # the last log entry applied
        self.version = version
        self.meta: dict[str, Any] = meta or {}

    @classmethod
    def new(cls, config: OnlineConfig | None = None, **index_params: Any) -> LiveModel:
        """A model that has learned nothing; `index_params` lay out its content index (`VectorIndex`)."""

        def content(dim: int) -> FaissContent:
            return FaissContent(dim, **index_params)

        return cls(OnlineRecommender(config or OnlineConfig(), content_factory=content))

    # -- following the log -----------------------------------------------------------------------

    def apply(self, entry: LogEntry, train: bool) -> None:
        """Apply one log entry: item changes update the catalogue; an interaction trains the model
        (``train``) or only updates the state that serving reads."""
        m = self.model
        if entry.kind == "item":
            spec = entry.item_spec()
            m.add_item(spec.item_id, spec.category, spec.brand, spec.price, spec.vector,
                       in_stock=entry.product().stock > 0)
        elif entry.kind == "remove":
            m.remove_item(entry.item_id)
        elif train:
            m.learn_one(entry.interaction())
        else:
            m.observe(entry.interaction())
        self.seq = entry.seq

    def follow(self, conn: sqlite3.Connection, limit: int | None = None) -> int:
        """Apply (without training) the log entries after `seq`, at most `limit`; returns how many."""
        n = 0
        for entry in read_log(conn, self.seq, limit=limit):
            self.apply(entry, train=False)
            n += 1
        return n

    # -- snapshots ---------------------------------------------------------------------------------

    def save(self, directory: Path, offsets: dict[str, int], extra: dict[str, Any] | None = None,
             keep: int = 3) -> int:
        # No flush of the rows waiting for a full mini-batch: the state holds them, and training
        # them early would make what the model learns depend on when a snapshot happened to be taken.
        state, arrays = self.model.state()
        meta = {
            "format": SNAPSHOT_FORMAT,
            "seq": self.seq,
            "events_trained": self.model.events_trained,
            "offsets": offsets,
            "extra": extra or {},
        }
        writers = {
            "state.json": lambda p: p.write_text(json.dumps(state)),
            "arrays.npz": lambda p: _write_npz(p, arrays),
        }
        info = SnapshotStore(directory, SNAPSHOT_NAME, keep).save(writers, meta)
        self.version = info.version
        self.meta = {**meta, "version": info.version, "created_at": info.created_at}
        return info.version

    @classmethod
    def from_snapshot(cls, info: SnapshotInfo, **index_params: Any) -> LiveModel:
        if info.meta.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{info.path}: not a {SNAPSHOT_FORMAT} snapshot")
        state = json.loads(info.file("state.json").read_text())
        with np.load(info.file("arrays.npz"), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}

        def content(dim: int) -> FaissContent:
            return FaissContent(dim, **index_params)

        model = OnlineRecommender.from_state(state, arrays, content_factory=content)
        meta = {**info.meta, "version": info.version, "created_at": info.created_at}
        return cls(model, int(info.meta["seq"]), info.version, meta)

    @classmethod
    def load_latest(cls, directory: Path, **index_params: Any) -> LiveModel | None:
        return SnapshotStore(directory, SNAPSHOT_NAME).load_latest(
            lambda info: cls.from_snapshot(info, **index_params))


def _write_npz(path: Path, arrays: dict[str, Any]) -> None:
    with path.open("wb") as f:
        np.savez(f, **arrays)


def snapshot_versions(directory: Path) -> list[int]:
    return SnapshotStore(directory, SNAPSHOT_NAME).versions()


def snapshot_infos(directory: Path) -> list[dict[str, Any]]:
    """What each stored model version says of itself (not its parameters), oldest first."""
    return [{**info.meta, "version": info.version, "created_at": info.created_at}
            for info in SnapshotStore(directory, SNAPSHOT_NAME).complete()]
