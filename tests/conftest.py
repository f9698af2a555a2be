"""Shared fixtures. Integration tests run against a real Kafka broker that the session starts
on free ports in a temporary folder (or the cluster in KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.broker import LocalBroker, free_port
from infra.config import Settings


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = LocalBroker(
        tmp_path_factory.mktemp("kafka"),
        Settings().cache_dir,
        port=free_port(),
        controller_port=free_port(),
    )
    with broker:
        yield broker.bootstrap


@pytest.fixture
def prefix() -> str:
    """A fresh topic namespace per test: tests share the broker, never each other's data."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def settings(bootstrap: str, prefix: str, tmp_path: Path) -> Settings:
    from infra.topics import ensure_topics

    s = Settings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        topic_prefix=prefix,
        data_dir=tmp_path / "var",
        partitions=3,
    )
    ensure_topics(bootstrap, s.partitions, 1, prefix)
    return s
