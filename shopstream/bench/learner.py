"""The learner in the pipeline: its throughput with training on, beside a bare consumer over the same
topics in the same run, and how soon a click shows in that user's recommendations."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import httpx
import numpy as np
from threadpoolctl import threadpool_limits

from consumers.groups import build_loop
from consumers.learner.processor import LearnerProcessor
from consumers.processor import Processor, Record
from events import Click, ClickSource, make_event
from infra.config import Settings
from infra.producer import EventSink
from models.reco import Interaction
from producers.publish import publish
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.learner.model import LiveModel
from shopstream.bench.harness import (
    api_server,
    background_load,
    bare_consumer_rate,
    consumers,
    isolated,
    percentile,
    run_until_applied,
)


class _Untrained(LearnerProcessor):
    """The learner's pipeline without its model: every event appended to the log exactly once with its
    offset, nothing trained. How close to the bare consumer the design could come if learning cost
    nothing."""

    def after_commit(self, records: Sequence[Record]) -> None:
        return None


def _learner_rate(settings: Settings, group: str, n: int, processor: Processor | None = None) -> float:
    """Events/s of a `learner` consumer (a group of its own) from its first record to the n-th."""
    stats = run_until_applied(build_loop("learner", settings, group_id=group, processor=processor), n)
    assert stats.first_record_at is not None
    return stats.applied / (time.monotonic() - stats.first_record_at)


def bench_learner_throughput(base: Settings, n: int = 20_000) -> dict[str, float]:
    """The learner over a backlog of `n` events, beside a bare consumer of the same topics.

    Two figures, since the learner evaluates less while it is behind (1 in
    `learner_catch_up_sample_every` entries instead of 1 in `prequential_sample_every`): draining
    a backlog older than `learner_catch_up_after_s` (the ratio's figure: a burst that outran it),
    and the same events with catching up switched off (every 5th entry evaluated, as at live pace).
    Without the wait, the mode depended on how long the set-up took, and so did the figure (3,000
    or 6,000 events/s from one run to the next).
    """
    sim = Simulator(SimulatorConfig(seed=21, n_products=2000, n_users=1000))
    with isolated(base, "learner") as settings:
        with EventSink(settings.bootstrap, settings.topic_prefix) as sink:
            publish(sink, sim.events(n), total=n, desc="bench: learner stream")
            sink.flush()
        produced = time.time()
        bare = bare_consumer_rate(settings, f"{settings.topic_prefix}bare", n)
        time.sleep(max(0.0, produced + settings.learner_catch_up_after_s + 1.0 - time.time()))
        prefix = settings.topic_prefix
        behind = _learner_rate(settings.model_copy(update={"data_dir": settings.data_dir / "behind"}),
                               f"{prefix}learner-behind", n)
        live = _learner_rate(settings.model_copy(update={"data_dir": settings.data_dir / "live",
                                                         "learner_catch_up_after_s": 1e9}),
                             f"{prefix}learner-live", n)
        untrained_settings = settings.model_copy(update={"data_dir": settings.data_dir / "untrained"})
        untrained = _learner_rate(untrained_settings, f"{prefix}learner-untrained", n,
                                  _Untrained(untrained_settings))
    return {
        "reco.learner_events_per_s": behind,
        "reco.learner_live_events_per_s": live,
        "reco.bare_consumer_events_per_s": bare,
        "reco.learner_ratio": behind / bare,
        "reco.learner_untrained_events_per_s": untrained,
        "reco.learner_untrained_ratio": untrained / bare,
    }


def bench_learning_freshness(base: Settings, samples: int = 15, load_rate: float = 200.0) -> dict[str, float]:
    """Click a product for a user; poll until the served model has learned it and the list changed."""
    delays: list[float] = []
    sim = Simulator(SimulatorConfig(seed=8, n_products=1000, n_users=300))
    with isolated(base, "reco-freshness") as settings, consumers(settings, "learner", "catalog"), \
            EventSink(settings.bootstrap, settings.topic_prefix) as sink:
        publish(sink, sim.events(5000), progress=False)  # some history first
        sink.flush()
        with api_server(settings) as url, background_load(settings, sim, load_rate):
            client = httpx.Client(base_url=url, timeout=10)
            deadline = time.monotonic() + 120
            while client.get("/recommendations/u00001").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("no model was served within 120 s")
                time.sleep(0.5)
            products = [p.product_id for p in sim.catalogue()]
            for i in range(samples):
                user = f"u{(i * 17) % 300 + 1:05d}"
                before = [r["product_id"] for r in client.get(f"/recommendations/{user}").json()["results"]]
                item = next(p for p in products[(i * 37) % len(products):] if p not in before)
                started = time.monotonic()
                sink.send(make_event(Click(user_id=user, product_id=item, session_id=f"bench-{i}",
                                           source=ClickSource.BROWSE)))
                sink.producer.flush()
                while time.monotonic() - started < 30:
                    profile = client.get(f"/users/{user}").json()
                    if item in profile.get("recent_items", []):
                        now = [r["product_id"] for r in client.get(f"/recommendations/{user}").json()["results"]]
                        if now != before:
                            delays.append(time.monotonic() - started)
                            break
                    time.sleep(0.02)
    if not delays:
        raise RuntimeError("no click became visible in recommendations within 30 s")
    return {
        "reco.freshness_p50_s": statistics.median(delays),
        "reco.freshness_p95_s": percentile(delays, 0.95),
        "reco.freshness_samples": float(len(delays)),
    }


def _model_cost_at(n_items: int, active: int = 2_000, warm: int = 10_000, timed: int = 3_000,
                   users: int = 300) -> tuple[float, float]:
    """(µs a `learn_one`, ms a `recommend`) of the learner's model over a catalogue of `n_items`
    (random unit vectors, 200 categories) after `warm` interactions. The interactions are the same
    whatever the catalogue's size (5,000 users, sessions of 50 events, items drawn from the first
    `active` with a Zipf-like popular head), so only the catalogue's size differs."""
    rng = np.random.default_rng(0)
    model = LiveModel.new().model
    vectors = rng.standard_normal((n_items, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for i in range(n_items):
        model.add_item(f"p{i}", f"c{i % 200}", f"b{i % 500}", float(1 + i % 300), vectors[i], in_stock=True)
    stream_rng = np.random.default_rng(1)  # apart from the vectors', so the stream does not depend on n_items
    items = ((stream_rng.zipf(1.3, warm + timed) - 1) % active).tolist()
    who = stream_rng.integers(0, 5_000, warm + timed).tolist()
    stream = [Interaction(f"u{u}", f"p{i}", "click", 1.0, 1.7e9 + k, f"s{u}-{k // 50}")
              for k, (u, i) in enumerate(zip(who, items, strict=True))]
    with threadpool_limits(1):
        for x in stream[:warm]:
            model.learn_one(x)
        started = time.perf_counter()
        for x in stream[warm:]:
            model.learn_one(x)
        learn_us = (time.perf_counter() - started) / timed * 1e6
        started = time.perf_counter()
        for u in range(users):
            model.recommend(f"u{u}", 10)
        recommend_ms = (time.perf_counter() - started) / users * 1e3
    return learn_us, recommend_ms


def bench_learner_catalogue_size(base: Settings, small: int = 2_000, large: int = 200_000) -> dict[str, float]:
    """What the learner's model costs an event, and the API a recommendation, at a shop's catalogue
    size against a small one: the same interactions, over the small catalogue's items (in process, no
    Kafka). A cost that grows with the catalogue (a dense array per event) shows as a ratio far above 1."""
    del base
    learn_small, rec_small = _model_cost_at(small, active=small)
    learn_large, rec_large = _model_cost_at(large, active=small)
    return {
        "reco.learn_one_us_small_catalogue": learn_small,
        "reco.learn_one_us_large_catalogue": learn_large,
        "reco.learn_one_large_to_small": learn_large / learn_small,
        "reco.recommend_ms_small_catalogue": rec_small,
        "reco.recommend_ms_large_catalogue": rec_large,
        "reco.large_catalogue_items": float(large),
    }
