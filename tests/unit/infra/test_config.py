"""Settings that place a node's state and name its consumer groups."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.config import Settings


def test_the_unnamed_node_keeps_the_classic_layout() -> None:
    s = Settings(data_dir=Path("/srv/var"), topic_prefix="p.")
    assert s.sqlite_path("catalog") == Path("/srv/var/catalog.sqlite3")
    assert s.snapshot_dir("learner") == Path("/srv/var/snapshots/learner")
    assert s.group_id("catalog") == "p.catalog"


def test_a_named_node_has_its_own_folder_and_groups() -> None:
    s = Settings(data_dir=Path("/srv/var"), topic_prefix="p.", node="b")
    assert s.sqlite_path("catalog") == Path("/srv/var/nodes/b/catalog.sqlite3")
    assert s.snapshot_dir("learner") == Path("/srv/var/nodes/b/snapshots/learner")
    assert s.group_id("learner") == "p.learner@b"


def test_child_processes_are_the_same_node(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = Settings(data_dir=Path("/srv/var"), topic_prefix="p.", node="b")
    for key, value in parent.child_env().items():
        if key.startswith("SHOPSTREAM_") or key == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.setenv(key, value)
    child = Settings()
    assert child.sqlite_path("store") == parent.sqlite_path("store")
    assert child.group_id("store") == "p.store@b"


def test_node_names_are_checked() -> None:
    with pytest.raises(ValidationError):
        Settings(node="b/../../etc")
