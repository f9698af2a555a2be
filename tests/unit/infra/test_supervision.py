"""The supervisor's status file: what /metrics reads as shopstream_child_restarts_total{child}."""

from __future__ import annotations

from infra.supervision import read_status, restart_counts, status_path, write_status


def test_restart_counts_round_trip(tmp_path):
    assert read_status(tmp_path) is None and restart_counts(tmp_path) == {}
    write_status(tmp_path, {"pid": 1, "children": {"consumer:store": {"restarts": 2, "state": "running"},
                                                    "api": {"restarts": 0, "state": "backoff"}}})
    assert restart_counts(tmp_path) == {"api": 0, "consumer:store": 2}
    status = read_status(tmp_path)
    assert status is not None and status["children"]["api"]["state"] == "backoff"
    assert [p.name for p in tmp_path.iterdir()] == ["supervisor.json"]  # no temporary file left behind


def test_a_foreign_or_broken_file_reads_as_no_supervisor(tmp_path):
    status_path(tmp_path).write_text("{not json")
    assert read_status(tmp_path) is None
    status_path(tmp_path).write_text('{"children": {"x": {"restarts": 3}}}')  # no format marker
    assert restart_counts(tmp_path) == {}
