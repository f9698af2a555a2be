"""The learner: clicks, orders and product changes become an ordered log in SQLite (exactly once,
with the offsets); after each commit the model learns the new log entries, test-then-train.

For each interaction: first the evaluator asks for the user's list exactly as the API serves it
(`models.reco.serving`, same exclusions) and scores it, on a sample of entries; then the model
trains on it; then the evaluator's history moves on. Evaluation asks, it never trains. The model's
position in the log travels with its snapshots, so a restart loads the newest snapshot and trains
only on the entries after it: no event is trained on twice, none is skipped. Prequential figures
are stored with the log position they include, so an entry is evaluated once as well. A trending
popularity baseline is evaluated on the same entries.

Under a backlog (the newest record of a batch older than `learner_catch_up_after_s`: a burst
outran the learner, or it starts on a long history) the learner evaluates 1 in
`learner_catch_up_sample_every` entries instead of 1 in `prequential_sample_every`: evaluation asks
the model for a whole list and costs more than training, and training is what users get. What the
model learns does not change (evaluation never trains), only how many entries the prequential
figures are taken on; the learner logs when it falls behind and when it has caught up, and its lag
shows in `shopstream lag` like any group's.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence

from consumers.processor import Processor, Record
from events import CLICKS, ORDERS, PRODUCTS
from infra.config import Settings
from infra.memory import trim_heap
from infra.sqlite import bump_counters, load_offsets, transaction
from models.reco import Interaction, Prequential, TrendingPopularity
from models.reco.evaluate import Tally
from models.reco.serving import UserItems
from readmodels.learner import log as learner_log
from readmodels.learner.log import LogEntry, read_log
from readmodels.learner.model import LiveModel

log = logging.getLogger(__name__)


class LearnerProcessor(Processor):
    group = "learner"
    topics = (PRODUCTS, CLICKS, ORDERS)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.snapshots = settings.snapshot_dir("learner")
        self.sample_every = settings.prequential_sample_every
        self.behind_s = 0.0  # age of the newest record of the last batch
        self.catching_up = False
        self.conn: sqlite3.Connection | None = None
        self.live = self._new_model()
        self.popularity = TrendingPopularity()
        policy = settings.reco_exclude
        self.pq = {name: Prequential(k=10, name=name, policy=policy) for name in ("model", "popularity")}
        self.evaluated_seq = 0
        self.last_snapshot = float("-inf")  # the first trained batch is saved at once (monotonic may start near 0)
        self.trained_since_snapshot = 0

    def _new_model(self) -> LiveModel:
        s = self.settings
        return LiveModel.new(**s.vector_index_params())

    def setup(self, conn: sqlite3.Connection) -> None:
        s = self.settings
        learner_log.setup(conn)
        self.conn = conn
        self.live = LiveModel.load_latest(self.snapshots, **s.vector_index_params()) or self._new_model()
        # Restore the evaluators: each user's items as of the model's position, and the totals.
        history = learner_log.history(conn, self.live.seq)
        saved = learner_log.load_prequential(conn)
        for name, pq in self.pq.items():
            pq.history.users = {u: UserItems(set(items.seen), set(items.bought)) for u, items in history.items()}
            pq.history.items = {i for items in history.values() for i in items.seen}
            if name in saved:
                figs = saved[name]
                pq.report.total = Tally(int(figs["evaluated"]), int(figs["hits"]), float(figs["ndcg_sum"]))
        self.evaluated_seq = min((int(figs["seq"]) for figs in saved.values()), default=0)
        # The baseline is cheap: rebuild it from the log up to the model's position.
        for entry in read_log(conn, 0):
            if entry.seq > self.live.seq:
                break
            self._baseline(entry)
        log.info("learner: model v%s at log seq %d, %d events trained",
                 self.live.version, self.live.seq, self.live.model.events_trained)
        self._train()

    def apply(self, conn: sqlite3.Connection, records: Sequence[Record]) -> dict[str, int]:
        added = learner_log.append_events(conn, [r.event for r in records])
        return {"log_entries": added}

    def after_commit(self, records: Sequence[Record]) -> None:
        self._follow_backlog(records)
        self._train()
        self.on_idle()

    def _follow_backlog(self, records: Sequence[Record]) -> None:
        """Note how far behind the stream the learner is; say so when it falls behind or catches up."""
        newest = max((r.timestamp_ms for r in records), default=-1)
        if newest < 0:
            return
        s = self.settings
        self.behind_s = max(time.time() - newest / 1000, 0.0)
        catching_up = self.behind_s > s.learner_catch_up_after_s
        if catching_up and not self.catching_up:
            log.warning("learner: %.1f s behind the stream; evaluating 1 in %d entries until it has caught up",
                        self.behind_s, s.learner_catch_up_sample_every)
        elif self.catching_up and not catching_up:
            log.info("learner: caught up (%.1f s behind); evaluating 1 in %d entries again",
                     self.behind_s, self.sample_every)
        self.catching_up = catching_up

    @property
    def evaluate_every(self) -> int:
        """Evaluate the log entries whose seq is a multiple of this."""
        return self.settings.learner_catch_up_sample_every if self.catching_up else self.sample_every

    def on_idle(self) -> None:
        s = self.settings
        if self.trained_since_snapshot and (
            time.monotonic() - self.last_snapshot >= s.snapshot_interval_s
            or self.trained_since_snapshot >= s.learner_snapshot_every
        ):
            self.snapshot()

    def _baseline(self, entry: LogEntry) -> None:
        if entry.kind == "item":
            p = entry.product()
            self.popularity.add_item(p.product_id, p.category_path[-1] if p.category_path else None,
                                     in_stock=p.stock > 0)
        elif entry.kind == "remove":
            self.popularity.remove_item(entry.item_id)
        else:
            self.popularity.learn_one(entry.interaction())

    def _learn(self, entry: LogEntry) -> None:
        """Test (on a sample), then train, then observe: one entry."""
        if not entry.is_interaction:
            self.live.apply(entry, train=True)
            self._baseline(entry)
            return
        x: Interaction = entry.interaction()
        if entry.seq > self.evaluated_seq and entry.seq % self.evaluate_every == 0:
            self.pq["model"].test(self.live.model, x)
            self.pq["popularity"].test(self.popularity, x)
        self.live.apply(entry, train=True)
        self._baseline(entry)
        for pq in self.pq.values():
            pq.observe(x)

    def _train(self) -> None:
        assert self.conn is not None
        seq_before = self.live.seq
        failures = 0
        for entry in read_log(self.conn, self.live.seq):
            try:
                self._learn(entry)
            except Exception:  # one entry the model cannot take must not stop the learner
                failures += 1
                self.live.seq = entry.seq
                log.exception("learner: could not learn log entry %d (%s %s); skipped", entry.seq, entry.kind,
                              entry.item_id)
        n = self.live.seq - seq_before
        if n <= 0:
            return
        self.trained_since_snapshot += n
        self.evaluated_seq = max(self.evaluated_seq, self.live.seq)
        with transaction(self.conn):
            if failures:
                bump_counters(self.conn, {"train_failures": failures})
            for name, pq in self.pq.items():
                r = pq.report
                learner_log.save_prequential(
                    self.conn, name, self.live.seq, r.total.n, r.total.hits, r.total.ndcg_sum,
                    r.window_hit_rate if r.total.n else None, r.window_ndcg if r.total.n else None,
                )

    def snapshot(self) -> None:
        assert self.conn is not None
        offsets = {f"{t}:{p}": o for (t, p), o in load_offsets(self.conn).items()}
        metrics = {name: {"evaluated": pq.report.total.n, "hr10": pq.report.hit_rate, "ndcg10": pq.report.ndcg}
                   for name, pq in self.pq.items()}
        try:
            version = self.live.save(self.snapshots, offsets, extra={"prequential": metrics})
        except FileExistsError:  # another process of this group saved the same version first
            return
        self.last_snapshot = time.monotonic()
        self.trained_since_snapshot = 0
        trim_heap()  # the snapshot's arrays were built and dropped: give their pages back
        log.info("model snapshot v%d: %d events trained, log seq %d",
                 version, self.live.model.events_trained, self.live.seq)

    def close(self) -> None:
        if self.trained_since_snapshot:
            self.snapshot()
