"""The one snapshot module: versions, atomic commit by sidecar, damage detection, pruning."""

from __future__ import annotations

import json

import pytest

from infra.snapshots import SnapshotStore


def _save(store: SnapshotStore, text: str, **meta):
    return store.save({"txt": lambda p: p.write_text(text)}, meta)


def test_save_and_load_latest(tmp_path):
    store = SnapshotStore(tmp_path, "demo")
    info = _save(store, "one", seq=1, offsets={"products:0": 12})
    assert info.version == 1 and info.meta == {"seq": 1, "offsets": {"products:0": 12}}
    assert info.file("txt").read_text() == "one"
    sidecar = json.loads(info.path.read_text())
    assert sidecar["files"]["txt"]["bytes"] == 3 and len(sidecar["files"]["txt"]["sha256"]) == 64
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    _save(store, "two", seq=2)
    assert store.load_latest(lambda i: (i.version, i.file("txt").read_text())) == (2, "two")


def test_load_latest_skips_incomplete_and_damaged(tmp_path):
    store = SnapshotStore(tmp_path, "demo", keep=10)
    for i in range(3):
        _save(store, f"state {i}", seq=i)
    # a crash before the sidecar: data file only
    (tmp_path / "demo-000000000004.abcd1234.txt").write_text("partial")
    # a sidecar whose file was truncated
    info5 = _save(store, "state five")
    info5.file("txt").write_text("state")
    # a sidecar that is not JSON
    (tmp_path / "demo-000000000006.json").write_text("{not json")
    # a same-size corruption, caught by the checksum only
    info7 = _save(store, "state seven")
    info7.file("txt").write_text("state SEVEN")
    assert [i.version for i in store.complete()] == [1, 2, 3, 7]
    assert store.load_latest(lambda i: i.meta["seq"]) == 2


def test_a_version_taken_by_another_writer_is_not_overwritten(tmp_path):
    first, second = SnapshotStore(tmp_path, "demo"), SnapshotStore(tmp_path, "demo")
    _save(first, "a")
    # Both writers picked version 2 (the second one listed the folder before the first committed):
    # the one that links its sidecar first wins.
    second.versions = lambda: [1]  # type: ignore[method-assign]
    _save(first, "b")
    with pytest.raises(FileExistsError):
        _save(second, "c")
    assert first.load_latest(lambda i: (i.version, i.file("txt").read_text())) == (2, "b")
    assert len(list(tmp_path.glob("demo-000000000002*"))) == 2  # the winner's sidecar and file only


def test_meta_must_be_json(tmp_path):
    store = SnapshotStore(tmp_path, "demo")
    with pytest.raises(TypeError):
        _save(store, "x", bad=object())
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_prune_keeps_the_newest(tmp_path):
    store = SnapshotStore(tmp_path, "demo", keep=2)
    for i in range(5):
        _save(store, f"s{i}")
    assert [i.version for i in store.complete()] == [4, 5]
    assert len(list(tmp_path.glob("demo-*"))) == 4  # two sidecars, two data files


def test_empty_or_missing_directory(tmp_path):
    assert SnapshotStore(tmp_path / "nope", "demo").load_latest(lambda i: i) is None
    assert SnapshotStore(tmp_path, "demo").complete() == []
    with pytest.raises(ValueError):
        SnapshotStore(tmp_path, "Bad Name")
