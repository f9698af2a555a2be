"""`shopstream serve`: the API in N worker processes.

The workers share nothing but the files they read: each builds its own app (`api.main:create_app`),
catches its search index and recommender up from the consumers' SQLite files and snapshots on
its own, and competes for the one lag sampler's lock. They accept connections on the one listening
socket that uvicorn opens before starting them, and uvicorn restarts a worker that dies.

`/metrics` stays right across workers: figures about the shared state are read from files at
scrape time, and what each worker measures (request durations) goes through prometheus_client's
multiprocess mode, for which `PROMETHEUS_MULTIPROC_DIR` must be set before any worker starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from infra.config import Settings


def worker_count(requested: int) -> int:
    """0 means one per core.

    >>> worker_count(3), worker_count(0) == (os.cpu_count() or 1)
    (3, True)
    """
    return requested if requested > 0 else (os.cpu_count() or 1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def metrics_dir(data_dir: Path) -> Path:
    """A fresh folder for this server's per-worker metric files; those of servers that are gone
    are removed."""
    base = data_dir / "run"
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob("prometheus-*"):
        pid = old.name.removeprefix("prometheus-")
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            shutil.rmtree(old, ignore_errors=True)
    mine = base / f"prometheus-{os.getpid()}"
    mine.mkdir()
    return mine


def serve_api(settings: Settings, host: str, port: int, workers: int) -> None:
    n = worker_count(workers)
    own_dir: Path | None = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = metrics_dir(settings.data_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(own_dir.resolve())
    # One BLAS thread per worker (see cli._one_blas_thread): workers are fresh interpreters.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import uvicorn  # after the variables above: prometheus_client reads its one when imported

    try:
        uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=n, log_level="warning")
    finally:
        if own_dir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(own_dir)
