"""Shared fixtures. Integration tests run against a real Kafka broker that the session starts
on free ports in a temporary folder (or the cluster in KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from infra.broker import LocalBroker, free_port
from infra.config import Settings


def _import_anyio_here() -> None:
    """Import every module of anyio now, in the main thread, before any test starts a server thread.

    pytest rewrites the modules of its plugins' distributions (anyio ships one) when they are first
    imported, with `ast.parse`, which CPython 3.11 does not run safely beside compiles in another
    thread. anyio imports its modules lazily, so an app served by uvicorn in a test's thread
    imported `anyio._core._fileio` at its first file response; once in a while that failed with
    "SystemError: AST constructor recursion depth mismatch", the response was lost, and the browser
    waited for /ops until the test timed out (CI, twice). A served app outside pytest imports plain
    bytecode and never meets this.
    """
    for module in pkgutil.walk_packages(anyio.__path__, "anyio."):
        with contextlib.suppress(ImportError):  # a backend whose library is not installed (trio)
            importlib.import_module(module.name)


_import_anyio_here()


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


def make_settings(bootstrap: str, prefix: str, data_dir: Path) -> Settings:
    """Settings for a test: its own topic namespace (created here) and data folder."""
    from infra.topics import ensure_topics

    s = Settings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        topic_prefix=prefix,
        data_dir=data_dir,
        partitions=3,
    )
    ensure_topics(bootstrap, s.partitions, 1, prefix)
    return s


@pytest.fixture
def settings(bootstrap: str, prefix: str, tmp_path: Path) -> Settings:
    return make_settings(bootstrap, prefix, tmp_path / "var")


@pytest.fixture(scope="module")
def module_settings(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like `settings`, shared by the tests of one module."""
    return make_settings(bootstrap, f"m{uuid.uuid4().hex[:10]}.", tmp_path_factory.mktemp("var"))
