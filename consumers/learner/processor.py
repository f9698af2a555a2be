"""The learner: clicks, orders and product changes become an ordered log in SQLite (exactly once,
with the offsets); after each commit the model learns the new log entries, test-then-train.

The model's position in the log (`trained_seq`) travels with its snapshots, so a restart loads
the newest snapshot and learns only the entries after it: no event is trained on twice, none is
skipped. Prequential figures are stored with the log position they include, so an entry is
evaluated once as well. A trending-popularity baseline is evaluated on the same entries.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence

from consumers.runtime import Processor, Record
from events import CLICKS, ORDERS, PRODUCTS
from infra.config import Settings
from infra.learner import store
from infra.learner.model import LiveModel
from infra.learner.store import LogEntry, read_log
from infra.sqlite import load_offsets, transaction
from models.reco import Interaction, Prequential, TrendingPopularity
from models.reco.evaluate import Tally

log = logging.getLogger(__name__)


class LearnerProcessor(Processor):
    group = "learner"
    topics = (PRODUCTS, CLICKS, ORDERS)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.snapshots = settings.snapshot_dir("learner")
        self.sample_every = settings.prequential_sample_every
        self.conn: sqlite3.Connection | None = None
        self.live = LiveModel.new()
        self.popularity = TrendingPopularity()
        self.pq = {"model": Prequential(k=10, name="model"), "popularity": Prequential(k=10, name="popularity")}
        self.evaluated_seq = 0
        self.last_snapshot = 0.0  # the first trained batch is saved at once
        self.trained_since_snapshot = 0

    def setup(self, conn: sqlite3.Connection) -> None:
        store.setup(conn)
        self.conn = conn
        self.live = LiveModel.load_latest(self.snapshots) or LiveModel.new()
        # Restore the evaluators: each user's items as of the model's position, and the totals.
        history = store.user_history(conn, self.live.trained_seq)
        saved = store.load_prequential(conn)
        for name, pq in self.pq.items():
            pq.history.users = {u: set(items) for u, items in history.items()}
            pq.history.items = {i for items in history.values() for i in items}
            if name in saved:
                s = saved[name]
                pq.report.total = Tally(int(s["evaluated"]), int(s["hits"]), float(s["ndcg_sum"]))
        self.evaluated_seq = min((int(s["seq"]) for s in saved.values()), default=0)
        # The baseline is cheap: rebuild it from the log up to the model's position.
        for entry in read_log(conn, 0):
            if entry.seq > self.live.trained_seq:
                break
            self._baseline(entry, learn=True)
        log.info("learner: model v%s at log seq %d, %d events trained",
                 self.live.version, self.live.trained_seq, self.live.model.events_trained)
        self._train()

    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        added = sum(store.append(conn, r.event) for r in records)
        return {"log_entries": added}

    def after_commit(self, records: Sequence[Record]) -> None:
        self._train()
        self.on_idle()

    def on_idle(self) -> None:
        s = self.settings
        if self.trained_since_snapshot and (
            time.monotonic() - self.last_snapshot >= s.snapshot_interval_s
            or self.trained_since_snapshot >= s.learner_snapshot_every
        ):
            self.snapshot()

    def _baseline(self, entry: LogEntry, learn: bool) -> None:
        """Item changes for the popularity baseline (interactions are learned via the evaluator)."""
        if entry.kind == "item":
            p = entry.product()
            self.popularity.add_item(p.product_id, p.category_path[-1] if p.category_path else None,
                                     in_stock=p.stock > 0)
        elif entry.kind == "remove":
            self.popularity.remove_item(entry.item_id)
        elif learn:
            self.popularity.learn_one(entry.interaction())

    def _train(self) -> None:
        assert self.conn is not None
        seq_before = self.live.trained_seq

        def on_interaction(interaction: Interaction, entry: LogEntry) -> None:
            evaluate = entry.seq > self.evaluated_seq and entry.seq % self.sample_every == 0
            self.pq["model"].update(self.live.model, interaction, evaluate)
            self.pq["popularity"].update(self.popularity, interaction, evaluate)

        for entry in read_log(self.conn, self.live.trained_seq):
            if entry.kind in ("item", "remove"):
                self._baseline(entry, learn=False)
            self.live.apply(entry, on_interaction)
        n = self.live.trained_seq - seq_before
        if n <= 0:
            return
        self.trained_since_snapshot += n
        self.evaluated_seq = max(self.evaluated_seq, self.live.trained_seq)
        with transaction(self.conn):
            for name, pq in self.pq.items():
                r = pq.report
                store.save_prequential(
                    self.conn, name, self.live.trained_seq, r.total.n, r.total.hits, r.total.ndcg_sum,
                    r.window_hit_rate if r.total.n else None, r.window_ndcg if r.total.n else None,
                )

    def snapshot(self) -> None:
        assert self.conn is not None
        offsets = {f"{t}:{p}": o for (t, p), o in load_offsets(self.conn).items()}
        metrics = {name: {"evaluated": pq.report.total.n, "hr10": pq.report.hit_rate, "ndcg10": pq.report.ndcg}
                   for name, pq in self.pq.items()}
        version = self.live.save(self.snapshots, offsets, extra={"prequential": metrics})
        self.last_snapshot = time.monotonic()
        self.trained_since_snapshot = 0
        log.info("model snapshot v%d: %d events trained, log seq %d",
                 version, self.live.model.events_trained, self.live.trained_seq)

    def close(self) -> None:
        if self.trained_since_snapshot:
            self.snapshot()
