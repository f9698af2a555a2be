"""The whole system as `make run` starts it, in a subprocess: for `shopstream chaos` and `shopstream soak`.

`SupervisedRun` starts `shopstream run` with its own data folder, broker, controller and API ports
(so it never meets a `make run` or another engineer's broker), reads the supervisor's status file
to find its children, and stops it with Ctrl-C as a user would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from infra.broker import free_port
from infra.config import CONSUMER_GROUPS, Settings
from infra.supervision import read_status
from shopstream.statecheck import groups_at_log_end

CHILDREN = ("broker", *(f"consumer:{g}" for g in CONSUMER_GROUPS), "api", "simulator")


class RunFailed(RuntimeError):
    """The supervised system did not do what was expected (with where to look)."""


class SupervisedRun:
    """`shopstream run <run_args>` in a subprocess, with its own data folder and ports."""

    def __init__(self, name: str, data_dir: Path, run_args: list[str], extra_env: dict[str, str] | None = None) -> None:
        self.name = name
        self.data_dir = data_dir
        self.run_args = run_args
        self.api_port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        self.env.update(
            SHOPSTREAM_DATA_DIR=str(data_dir), SHOPSTREAM_TOPIC_PREFIX="",
            SHOPSTREAM_BROKER_PORT=str(free_port()), SHOPSTREAM_CONTROLLER_PORT=str(free_port()),
            SHOPSTREAM_API_PORT=str(self.api_port), SHOPSTREAM_API_HOST="127.0.0.1",
            **(extra_env or {}),
        )
        self.settings = Settings(data_dir=data_dir, broker_port=int(self.env["SHOPSTREAM_BROKER_PORT"]),
                                 controller_port=int(self.env["SHOPSTREAM_CONTROLLER_PORT"]))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "supervisor.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "shopstream", "run", *self.run_args],
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

    def status(self) -> dict[str, Any]:
        """The supervisor's children (`infra.supervision` format); raises if the supervisor died."""
        if self.process is not None and self.process.poll() is not None:
            raise RunFailed(f"{self.name}: `shopstream run` exited with {self.process.returncode}; see {self.log}")
        children: dict[str, Any] = (read_status(self.data_dir) or {}).get("children", {})
        return children

    def child(self, name: str) -> dict[str, Any]:
        return dict(self.status().get(name, {}))

    def pid(self, name: str) -> int | None:
        pid = self.child(name).get("pid")
        return int(pid) if pid is not None else None

    def wait(self, predicate: Callable[[], bool], what: str, timeout_s: float, interval_s: float = 0.5) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval_s)
        raise RunFailed(f"{self.name}: timed out after {timeout_s:.0f} s waiting for {what}; see {self.log}")

    def api_answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_up(self, timeout_s: float = 240.0) -> None:
        """Every child running (the simulator may have finished already) and the API answering."""
        self.wait(lambda: all(self.child(n).get("state") in ("running", "finished") for n in CHILDREN),
                  "every child to run", timeout_s)
        self.wait(self.api_answers, "the API", timeout_s)

    def caught_up(self) -> bool:
        """The simulator has finished and every group's offsets in SQLite reach the end of its topics."""
        if self.child("simulator").get("state") != "finished":
            return False
        return groups_at_log_end(self.settings)

    def stop(self, timeout_s: float = 180.0) -> None:
        """Ctrl-C, as a user would; raises unless `shopstream run` stops cleanly."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise RunFailed(f"{self.name}: `shopstream run` did not stop within {timeout_s:.0f} s") from None
        if code != 0:
            raise RunFailed(f"{self.name}: `shopstream run` exited with {code}; see {self.log}")
