"""The supervisor's status file: which child processes run, and how often each was restarted.

`shopstream run` (shopstream/supervisor.py) rewrites `<data dir>/supervisor.json` atomically
whenever a child starts, exits or is restarted, and every few seconds otherwise. Anything may read
it (the API's /metrics, `shopstream chaos`, an operator with `jq`); nothing but the supervisor
writes it. The format, version 1:

    {
      "format": "shopstream.supervisor/1",
      "pid": 4242,                          # the supervisor's pid
      "started_at": 1764540000.0,           # epoch seconds
      "updated_at": 1764540123.4,
      "children": {
        "consumer:store": {
          "pid": 4250,                      # null while waiting to be restarted
          "state": "running",               # starting | running | backoff | finished | stopped
          "restarts": 2,                    # restarts since the supervisor started (a counter)
          "started_at": 1764540100.1,       # this incarnation
          "last_exit_code": -9,             # negative: killed by that signal; null: never exited
          "last_exit_at": 1764540099.0,
          "next_restart_at": null           # epoch seconds, while in backoff
        },
        "broker": {...}, "consumer:catalog": {...}, "consumer:learner": {...}, "api": {...},
        "simulator": {...}
      }
    }

The Prometheus counter `shopstream_child_restarts_total{child="consumer:store"}` is
`children[child].restarts` (it restarts from 0 with the supervisor, as counters do with their process).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATUS_FILE = "supervisor.json"
FORMAT = "shopstream.supervisor/1"


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS_FILE


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    """Replace the status file in one step (a reader sees the old or the new one, never half)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".supervisor.", suffix=".json", dir=data_dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"format": FORMAT, **status}, f, indent=1, sort_keys=True)
        os.replace(tmp, status_path(data_dir))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The status the supervisor last wrote, or None if no supervisor ran with this data folder."""
    try:
        status = json.loads(status_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) and status.get("format") == FORMAT else None


def restart_counts(data_dir: Path) -> dict[str, int]:
    """`{child: restarts}` for `shopstream_child_restarts_total{child}`; empty without a supervisor."""
    status = read_status(data_dir) or {}
    return {name: int(c.get("restarts", 0)) for name, c in sorted(status.get("children", {}).items())}
