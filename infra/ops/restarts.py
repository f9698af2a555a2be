"""Child restarts, counted by the supervisor and read by the API's `/metrics`
(`shopstream_child_restarts_total{child}`).

The file is `<data dir>/supervisor/restarts.json`, a JSON object {child name: restarts}, written
whole (write then rename) by the one supervisor process; readers take what is there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def restarts_path(data_dir: Path) -> Path:
    return data_dir / "supervisor" / "restarts.json"


def read_restarts(data_dir: Path) -> dict[str, int]:
    """{child: restarts}; {} when nothing was restarted yet (or the file is unreadable)."""
    try:
        raw = json.loads(restarts_path(data_dir).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int | float)}


def record_restart(data_dir: Path, child: str) -> int:
    """Count one more restart of `child`; returns its count.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> record_restart(d, "consumer:store"), record_restart(d, "consumer:store"), read_restarts(d)
    (1, 2, {'consumer:store': 2})
    """
    counts = read_restarts(data_dir)
    counts[child] = counts.get(child, 0) + 1
    path = restarts_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(counts, sort_keys=True))
    os.replace(tmp, path)
    return counts[child]
