"""Settings, read from the environment (prefix `SHOPSTREAM_`, plus Kafka's standard variable).

One place for every tunable: the CLI, the consumers and the API all take a `Settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from events import Limits

# The consumer groups, each owning one SQLite file named after it.
CONSUMER_GROUPS: tuple[str, ...] = ("store", "catalog", "learner")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPSTREAM_", extra="ignore")

    # Kafka. When unset, `shopstream run` / `shopstream broker` start a local broker.
    bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SHOPSTREAM_BOOTSTRAP_SERVERS"),
    )
    partitions: int = Field(default=3, ge=1)
    # Prepended to every topic name, so that several environments can share one cluster.
    topic_prefix: str = ""
    replication_factor: int = Field(default=1, ge=1)

    # Where state lives: SQLite files (one per consumer group), snapshots, the local broker.
    data_dir: Path = Path("var")
    # A read replica's name. Each node (catalog + learner + API, and store if run) keeps its state
    # in `data_dir/nodes/<node>/` and consumes under its own group names (`catalog@<node>`), so a
    # node started later rebuilds from the topics by itself. Empty: the single, unnamed node.
    node: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,40}$")
    # Downloaded once and reused: the Kafka jars.
    cache_dir: Path = Path.home() / ".cache" / "shopstream"

    # Local broker ports (used only when a broker is started here).
    broker_port: int = 9092
    controller_port: int = 9093

    # The contract's limits beyond the schema (events.Limits): bigger records, event times further
    # ahead of the wall clock or further back go to the dead-letter topic.
    max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    max_future_skew_s: float = Field(default=300.0, ge=0)
    max_event_age_days: float = Field(default=60 * 365.25, gt=0)

    # Consumer loop.
    batch_max_records: int = Field(default=500, ge=1)
    poll_timeout_ms: int = Field(default=500, ge=1)
    # How soon a crashed consumer's partitions move to a live member of its group.
    session_timeout_ms: int = Field(default=10_000, ge=6_000)
    # An idle consumer whose partitions hold records it has not received checks this often, and
    # rejoins its group if they are still waiting (consumers/stall.py).
    stall_after_s: float = Field(default=30.0, gt=0, le=600)

    # Catalog search: the embedder of the vector leg, FAISS layout, snapshots.
    # The default, WordLlama (pretrained static token embeddings shipped in a PyPI package), matched
    # MiniLM's relevance on real text at ~200x its speed; LSA is fitted on the catalogue (refitted
    # as it grows), hashing needs no fit, MiniLM needs `make semantic`.
    embedder: str = Field(default="wordllama", pattern="^(wordllama|lsa|hashing|minilm)$")
    embed_dims: int = Field(default=256, ge=8, le=1024)
    # Exact search up to `ivf_threshold` products, then an inverted file (models/index): `ivf_nlist`
    # lists, `ivf_nprobe` scanned a query, vectors stored as `vector_storage` (chosen by
    # `shopstream bench --only scale`: recall@10 0.999 at a million products, 256 MB of vectors).
    ivf_threshold: int = Field(default=50_000, ge=0)
    ivf_nlist: int = Field(default=1024, ge=1, le=65_536)
    ivf_nprobe: int = Field(default=32, ge=1, le=65_536)
    vector_storage: Literal["sq8", "fp16", "float"] = "sq8"
    refit_growth: float = Field(default=2.0, gt=1.0)  # refit the embedder when the catalogue grew this much
    refit_min_products: int = Field(default=200, ge=1)
    snapshot_interval_s: float = Field(default=30.0, gt=0)
    search_candidates: int = Field(default=100, ge=10)  # per leg, before fusion
    # Keyword leg: "memory" (numpy BM25F kept from SQLite; fast at 100k+) or "fts5" (SQLite's bm25()).
    keyword_engine: str = Field(default="memory", pattern="^(memory|fts5)$")
    bm25_weight: float = Field(default=0.6, ge=0.0, le=1.0)
    # How the weighted fusion scales the legs: "scaled" = BM25 / its best score, cosines as they are.
    fusion_normalization: Literal["scaled", "minmax", "zscore"] = "scaled"

    # Recommendations: what a list leaves out of what the user has (seen, bought or none); the
    # learner's prequential evaluation scores the same list.
    reco_exclude: Literal["seen", "bought", "none"] = "seen"
    # Learner: evaluate 1 in N interactions (test-then-train); snapshot every N events or interval.
    prequential_sample_every: int = Field(default=5, ge=1)
    # Learner behind the stream (its newest record older than this): evaluate 1 in N entries
    # instead, so that training -- what users get -- catches up first (consumers/learner).
    learner_catch_up_after_s: float = Field(default=5.0, ge=0)
    learner_catch_up_sample_every: int = Field(default=50, ge=1)
    learner_snapshot_every: int = Field(default=20_000, ge=1)

    # Supervisor (`shopstream run`): a child that dies is restarted after a delay that starts at
    # `restart_backoff_initial_s` and doubles up to `restart_backoff_max_s`; it starts over once the
    # child has run `restart_reset_after_s`.
    restart_backoff_initial_s: float = Field(default=1.0, gt=0)
    restart_backoff_max_s: float = Field(default=60.0, gt=0)
    restart_reset_after_s: float = Field(default=60.0, gt=0)

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # The operator's bearer token for writes through the API (clicks without the per-client rate
    # limit). No default: `shopstream serve` refuses to start without a strong one; `shopstream run`
    # (development mode) makes a random one for its run (see `infra/api_token.py`).
    api_token: str | None = None
    # Every request body is at most this big (413 above it).
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Anonymous clicks (the web page's path) per client address, in the `limits` notation.
    click_rate_limit: str = "20/second;600/minute"
    # `shopstream serve` worker processes (0: one per core).
    api_workers: int = Field(default=0, ge=0)

    # Operations: one lag sampler per data folder (elected among the API workers) writes a round
    # every interval to `ops.sqlite3`; Burrow's status looks at the last `lag_window_samples`.
    lag_sample_interval_s: float = Field(default=5.0, gt=0)
    lag_window_samples: int = Field(default=10, ge=2)
    # A consumer process whose heartbeat is older than this is gone (health, STOP).
    consumer_stale_after_s: float = Field(default=20.0, gt=0)
    ops_history_s: float = Field(default=3600.0, gt=0)  # what the dashboard keeps
    freshness_window_s: float = Field(default=60.0, gt=0)  # p50 / p95 over the applies of this window

    @property
    def state_dir(self) -> Path:
        """This node's SQLite files and snapshots: `data_dir`, or `data_dir/nodes/<node>` for a named node."""
        return self.data_dir / "nodes" / self.node if self.node else self.data_dir

    def sqlite_path(self, group: str) -> Path:
        """Each consumer group owns one SQLite file (per node)."""
        return self.state_dir / f"{group}.sqlite3"

    def group_id(self, group: str) -> str:
        """The Kafka consumer group name of `group` on this node (topic prefix, then `@node` if named).

        >>> Settings(topic_prefix="t.", node="b").group_id("catalog")
        't.catalog@b'
        """
        return f"{self.topic_prefix}{group}@{self.node}" if self.node else f"{self.topic_prefix}{group}"

    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment for a child process (`shopstream consume|serve|simulate`) that should see
        the same cluster, topic namespace and data folder as these settings."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SHOPSTREAM_TOPIC_PREFIX": self.topic_prefix,
            "SHOPSTREAM_DATA_DIR": str(self.data_dir),
            **({"SHOPSTREAM_API_TOKEN": self.api_token} if self.api_token else {}),
            "SHOPSTREAM_NODE": self.node,
            **extra,
        }

    def limits(self) -> Limits:
        return Limits(self.max_event_bytes, self.max_future_skew_s, self.max_event_age_days * 86_400)

    def vector_index_params(self) -> dict[str, Any]:
        """The FAISS index's layout parameters (`models.index.VectorIndex` keyword arguments)."""
        return {"ivf_threshold": self.ivf_threshold, "nlist": self.ivf_nlist, "nprobe": self.ivf_nprobe,
                "storage": self.vector_storage}

    def snapshot_dir(self, group: str) -> Path:
        return self.state_dir / "snapshots" / group

    @property
    def bootstrap(self) -> str:
        if not self.bootstrap_servers:
            return f"127.0.0.1:{self.broker_port}"
        return self.bootstrap_servers


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
