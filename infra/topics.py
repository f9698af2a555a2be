"""Topic administration: the project's topics, with explicit partitions and configs."""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka import KafkaAdminClient

from events.topics import CLICKS, DEAD_LETTER, ORDERS, PRODUCTS

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    configs: dict[str, str] = field(default_factory=dict)


# products is the catalogue's source of truth: compacted, so the latest state of every product is
# kept forever and a new replica of the read side can rebuild from it. Interaction topics are kept
# (retention -1) so that the learner can be rebuilt from history; dead letters for 30 days.
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(PRODUCTS, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
    TopicSpec(CLICKS, {"cleanup.policy": "delete", "retention.ms": "-1"}),
    TopicSpec(ORDERS, {"cleanup.policy": "delete", "retention.ms": "-1"}),
    TopicSpec(DEAD_LETTER, {"cleanup.policy": "delete", "retention.ms": str(30 * _DAY_MS)}),
)


def ensure_topics(
    bootstrap: str, partitions: int = 3, replication_factor: int = 1, prefix: str = ""
) -> list[str]:
    """Create the project's topics that do not exist yet; returns the names created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="shopstream-admin")
    try:
        existing = set(admin.list_topics())
        wanted = {
            prefix + spec.name: {
                "num_partitions": partitions,
                "replication_factor": replication_factor,
                "configs": spec.configs,
            }
            for spec in TOPICS
            if prefix + spec.name not in existing
        }
        if wanted:
            admin.create_topics(wanted, timeout_ms=30_000, wait_for_metadata=True)
        return sorted(wanted)
    finally:
        admin.close()


def describe_topics(bootstrap: str, prefix: str = "") -> dict[str, int]:
    """Partition count of each of the project's topics that exists."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="shopstream-admin")
    try:
        names = {prefix + spec.name for spec in TOPICS}
        out: dict[str, int] = {}
        for topic in admin.describe_topics([t for t in admin.list_topics() if t in names]):
            out[topic["name"]] = len(topic["partitions"])
        return out
    finally:
        admin.close()
