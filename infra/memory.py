"""Give freed heap memory back to the operating system.

A long-running reader swaps in a whole new model now and then and drops the old one; glibc keeps
the freed pages of its heap mapped, so the process's resident memory ratchets up with every swap
although what it holds does not (found by `make soak`). `malloc_trim(0)` returns the free pages
(those inside the heap too, with `madvise`). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:  # the process's own symbols include libc's (no `find_library`, which runs ldconfig)
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    trim: Callable[[int], int] = fn
    return trim


def trim_heap() -> bool:
    """Return free heap pages to the OS; whether anything was returned (False where unsupported)."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
