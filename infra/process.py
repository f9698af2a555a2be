"""Child-process hygiene: children die with their parent, so nothing is left behind."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """`preexec_fn` for subprocesses: the kernel sends SIGTERM to the child when the parent dies.

    Linux only; a no-op elsewhere. Covers the case where the parent is SIGKILLed and gets no
    chance to stop its children itself.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
