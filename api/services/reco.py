"""The API's copy of the recommender: the newest model snapshot, caught up from the learner's log.

A background thread learns the log entries written since the snapshot (every `refresh_s`), so a
click shows in recommendations within a fraction of a second, and swaps to a newer snapshot once
it is loaded and caught up, without dropping a request: requests use whichever model is current.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.services.refresher import NotReady, Refresher
from infra.catalog.store import Candidate
from infra.config import Settings
from infra.learner import store
from infra.learner.model import LiveModel, list_versions
from infra.sqlite import connect_reader
from models.reco import Recommendation

log = logging.getLogger(__name__)


class RecoUnavailable(NotReady):
    pass


class RecoService:
    def __init__(self, settings: Settings, refresh_s: float = 0.2) -> None:
        self.settings = settings
        self.db_path: Path = settings.sqlite_path("learner")
        self.snapshot_dir = settings.snapshot_dir("learner")
        self.refresh_s = refresh_s
        self.live: LiveModel | None = None
        self._model_lock = threading.Lock()  # the model is not thread-safe: learn and recommend take turns
        self._conn: sqlite3.Connection | None = None
        self._refresher = Refresher("reco-refresh", self.refresh, refresh_s)
        self.caught_up_at = 0.0

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            if not self.db_path.exists():
                raise RecoUnavailable(f"{self.db_path} does not exist yet: is the `learner` consumer running?")
            self._conn = connect_reader(self.db_path)
        return self._conn

    def start(self) -> None:
        self._refresher.start()

    def stop(self) -> None:
        self._refresher.stop()

    def refresh(self) -> None:
        """Swap in a newer snapshot if there is one; learn the log entries since."""
        versions = list_versions(self.snapshot_dir)
        live = self.live
        if versions and (live is None or (live.version or 0) < versions[-1]):
            fresh = LiveModel.load_latest(self.snapshot_dir)
            if fresh is not None and (live is None or fresh.trained_seq >= live.trained_seq):
                conn = connect_reader(self.db_path)  # its own connection: this may take a while
                try:
                    fresh.catch_up(conn)
                finally:
                    conn.close()
                with self._model_lock:
                    self.live = fresh
                log.info("recommender: now model v%s", fresh.version)
        live = self.live
        if live is None:
            return
        conn = self._db()
        # Learn in slices so that requests are not held up behind a long catch-up.
        while True:
            with self._model_lock:
                n = live.catch_up(conn, limit=500)
            if n < 500:
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

    def bought(self, user_id: str) -> set[str]:
        return set(store.user_items(self._db(), user_id, ("order",)))

    def recommend(self, user_id: str, k: int, exclude_bought: bool = True) -> tuple[list[Recommendation], LiveModel]:
        live = self._require()
        exclude = self.bought(user_id) if exclude_bought else set()
        with self._model_lock:
            return live.model.recommend(user_id, k, exclude=exclude), live

    def profile(self, user_id: str) -> dict[str, Any]:
        live = self._require()
        with self._model_lock:
            summary = live.model.profile(user_id)
        items = store.user_items(self._db(), user_id)
        summary["bought"] = sorted(self.bought(user_id))
        summary["interacted_items"] = len(items)
        return summary

    def boosts(self, user_id: str, products: Sequence[Candidate]) -> dict[int, float]:
        """The search personaliser: the user's category and brand affinities, in [0, 1]."""
        live = self.live
        if live is None:
            return {}
        with self._model_lock:
            profile = live.model.profile(user_id)
        if not profile.get("known"):
            return {}
        cats = {str(c).casefold(): float(s) for c, s in profile.get("top_categories", [])}
        brands = {str(b).casefold(): float(s) for b, s in profile.get("top_brands", [])}
        out = {}
        for p in products:
            boost = cats.get(p.category.casefold(), 0.0) + 0.5 * brands.get(p.brand.casefold(), 0.0)
            if boost > 0:
                out[p.doc_id] = min(boost, 1.0)
        return out

    def prequential(self) -> dict[str, dict[str, float]]:
        try:
            return store.load_prequential(self._db())
        except (RecoUnavailable, sqlite3.Error):
            return {}
