"""The soak's memory figure covers a process and the processes below it (an API's workers)."""

from __future__ import annotations

import os
import subprocess
import sys

from shopstream.soak import _descendants, rss_mb


def test_memory_counts_the_children_of_a_process() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; x = bytearray(64 << 20); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )
    try:
        # Measured once the child holds its memory: just after Popen returns it may still be
        # starting, and its status then shows no resident memory at all (seen on a loaded machine).
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert child.pid in _descendants(os.getpid())
        child_rss = rss_mb(child.pid)
        total = rss_mb(os.getpid())  # after the child's figure: a growing child only adds
        assert child_rss is not None and total is not None
        assert total >= child_rss > 0
    finally:
        child.kill()
        child.wait()
    assert rss_mb(child.pid) is None  # gone
