"""The API's copy of the recommender: the learner's newest model snapshot, following the learner's log.

Only the learner trains. A background thread applies the log entries written since the snapshot
(every `refresh_s`) as state updates only -- a user's recent items and profile, item counts,
co-occurrence, trends -- so a click shows in recommendations within a fraction of a second; it
swaps to a newer snapshot (newer ranker weights) once that is loaded and caught up, without
dropping a request: requests use whichever model is current.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from api.services.refresher import NotReady, Refresher
from infra.config import Settings
from infra.memory import trim_heap
from infra.sqlite import connect_reader
from models.reco import Recommendation
from models.reco.serving import ExcludePolicy, serve
from models.search import affinity_boosts
from models.search.ranking import Candidate
from readmodels.learner import log as learner_log
from readmodels.learner.model import LiveModel, snapshot_versions

log = logging.getLogger(__name__)

FOLLOW_SLICE = 500  # log entries applied per turn of the lock, so requests are not held up


class RecoUnavailable(NotReady):
    pass


class RecoService:
    def __init__(self, settings: Settings, refresh_s: float = 0.2) -> None:
        self.settings = settings
        self.db_path: Path = settings.sqlite_path("learner")
        self.snapshot_dir = settings.snapshot_dir("learner")
        self.refresh_s = refresh_s
        self.live: LiveModel | None = None
        self._model_lock = threading.Lock()  # the model is not thread-safe: updates and requests take turns
        self._local = threading.local()
        self._refresher = Refresher("reco-refresh", self.refresh, refresh_s)
        self.caught_up_at = 0.0

    def _db(self) -> sqlite3.Connection:
        """A read-only connection to the learner's file for this thread (opened once, reused)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if not self.db_path.exists():
                raise RecoUnavailable(f"{self.db_path} does not exist yet: is the `learner` consumer running?")
            conn = self._local.conn = connect_reader(self.db_path)
        return conn

    def start(self) -> None:
        self._refresher.start()

    def stop(self) -> None:
        self._refresher.stop()

    def _load_latest(self) -> LiveModel | None:
        s = self.settings
        return LiveModel.load_latest(self.snapshot_dir, **s.vector_index_params())

    def refresh(self) -> None:
        """Swap in a newer snapshot if there is one; apply the log entries since."""
        versions = snapshot_versions(self.snapshot_dir)
        live = self.live
        if versions and (live is None or (live.version or 0) < versions[-1]):
            fresh = self._load_latest()
            if fresh is not None and (live is None or fresh.seq >= live.seq):
                conn = connect_reader(self.db_path)  # its own connection: this may take a while
                try:
                    fresh.follow(conn)
                finally:
                    conn.close()
                with self._model_lock:
                    self.live = fresh
                log.info("recommender: now model v%s", fresh.version)
                live = fresh = None  # the old model goes with the last request that holds it
                trim_heap()  # and its freed pages go back to the OS, not into a growing heap
        live = self.live
        if live is None:
            return
        conn = self._db()
        while True:
            with self._model_lock:
                n = live.follow(conn, limit=FOLLOW_SLICE)
            if n < FOLLOW_SLICE:
                break
        self.caught_up_at = time.time()

    def _require(self) -> LiveModel:
        live = self.live
        if live is None:
            self.refresh()
            live = self.live
        if live is None:
            raise RecoUnavailable("no model snapshot yet: the `learner` consumer writes one after its first events")
        return live

    def recommend(self, user_id: str, k: int, exclude: ExcludePolicy) -> tuple[list[Recommendation], LiveModel]:
        """The user's list as served (the same path the learner's evaluation scores)."""
        live = self._require()
        items = learner_log.user_items(self._db(), user_id)
        with self._model_lock:
            return serve(live.model, user_id, k, exclude, items), live

    def profile(self, user_id: str) -> dict[str, Any]:
        live = self._require()
        with self._model_lock:
            summary = live.model.profile(user_id)
        items = learner_log.user_items(self._db(), user_id)
        summary["bought"] = sorted(items.bought)
        summary["interacted_items"] = len(items.seen)
        return summary

    def boosts(self, user_id: str, candidates: Mapping[int, Candidate]) -> dict[int, float]:
        """The search personaliser: the user's category and brand affinities, in [0, 1]."""
        live = self.live
        if live is None:
            return {}
        with self._model_lock:
            profile = live.model.profile(user_id)
        if not profile.get("known"):
            return {}
        return affinity_boosts(dict(profile.get("top_categories", [])), dict(profile.get("top_brands", [])), candidates)

    def prequential(self) -> dict[str, dict[str, float]]:
        try:
            return learner_log.load_prequential(self._db())
        except (RecoUnavailable, sqlite3.Error):
            return {}
