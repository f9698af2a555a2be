"""The consumer groups this project runs, by name."""

from __future__ import annotations

from collections.abc import Callable

from consumers.catalog import CatalogProcessor
from consumers.learner.processor import LearnerProcessor
from consumers.processor import Processor
from consumers.runtime import ConsumerLoop
from consumers.store import StoreProcessor
from infra.config import Settings

GROUPS: dict[str, Callable[[Settings], Processor]] = {
    "store": lambda _settings: StoreProcessor(),
    "catalog": CatalogProcessor,
    "learner": LearnerProcessor,
}


def build_loop(name: str, settings: Settings, group_id: str | None = None,
               processor: Processor | None = None) -> ConsumerLoop:
    """The consumer loop of group `name`, writing to the group's own SQLite file, under this node's
    Kafka group name (`Settings.group_id`) unless `group_id` is given, with the group's processor
    unless `processor` is given (the benchmarks measure the pipeline with parts of it left out)."""
    try:
        factory = GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown consumer group {name!r}; choose one of: {', '.join(GROUPS)}") from None
    processor = processor or factory(settings)
    return ConsumerLoop(
        processor,
        settings.bootstrap,
        settings.sqlite_path(name),
        batch_max_records=settings.batch_max_records,
        poll_timeout_ms=settings.poll_timeout_ms,
        topic_prefix=settings.topic_prefix,
        group_id=group_id or settings.group_id(name),
        session_timeout_ms=settings.session_timeout_ms,
        limits=settings.limits(),
        stall_after_s=settings.stall_after_s,
    )
