"""`trim_heap` gives back heap pages that glibc would otherwise keep resident."""

from __future__ import annotations

import pytest

from infra.memory import _malloc_trim, trim_heap


def _rss_anon_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(_malloc_trim() is None, reason="not glibc: nothing to trim")
def test_pages_freed_below_a_live_block_go_back_to_the_os() -> None:
    blocks = [bytearray(4096) for _ in range(50_000)]  # about 200 MiB of heap
    pin = bytearray(4096)  # above them: the heap cannot shrink from its top
    before_free = _rss_anon_mib()
    del blocks
    freed_but_kept = _rss_anon_mib()
    assert trim_heap()
    after = _rss_anon_mib()
    assert before_free - freed_but_kept < 100  # free() alone kept most of it resident
    assert freed_but_kept - after > 100  # the trim gave it back
    del pin
