"""`shopstream serve`: the API in N worker processes.

The workers share nothing but the files they read: each builds its own app (`api.main:create_app`),
catches its search index and recommender up from the consumers' SQLite files and snapshots on
its own, and competes for the one lag sampler's lock. They accept connections on the one listening
socket that uvicorn opens before starting them, and uvicorn restarts a worker that dies.

`/metrics` stays right across workers: figures about the shared state are read from files at
scrape time, and what each worker measures (request durations) goes through prometheus_client's
multiprocess mode, for which `PROMETHEUS_MULTIPROC_DIR` must be set before any worker starts.

A worker dies with the server process: if that process is killed (SIGKILL, the OOM killer), its
workers would otherwise go on holding the port, and the server that the supervisor starts next
could not listen on it. Each worker asks Linux to send it SIGTERM when its parent dies
(`PR_SET_PDEATHSIG`), and leaves at once if the parent is already gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

SERVER_PID = "SHOPSTREAM_SERVE_PID"  # the server process's pid, for its workers
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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
    # Requests run on a thread pool; glibc gives threads arenas of their own, and a long-running
    # server's memory then grows with fragmentation across them. Two arenas bound that.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    os.environ[SERVER_PID] = str(os.getpid())
    import uvicorn  # after the variables above: prometheus_client reads its one when imported

    try:
        uvicorn.run("shopstream.serve:worker_app", factory=True, host=host, port=port, workers=n, log_level="warning")
    finally:
        if own_dir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(own_dir)


def worker_app() -> FastAPI:
    """A worker's app (uvicorn's factory), tied to the life of the server process."""
    from api.main import create_app

    server = int(os.environ.get(SERVER_PID, "0"))
    if server and server != os.getpid():
        _die_with_parent(server)
    return create_app()


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        # Without prctl the worker may outlive a killed server; nothing else changes.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the server died before the line above took effect
        os._exit(0)
