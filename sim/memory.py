"""Memory handed back to the system between the stages of a run.

A run frees a great deal at once (the chunks of its records once joined, a table once written); glibc's
allocator keeps most of it in the process for later, so the resident size after a stage is its peak, and
the next stage's peak adds to it. :func:`release` asks it to return what is free (``malloc_trim``), so that
peaks do not stack. Elsewhere (no glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _trim() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release() -> None:
    """Return freed memory to the system (a few milliseconds; call between stages, never in a loop): glibc's
    and, if it is in use, Arrow's memory pool (mimalloc keeps freed pages too)."""
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _trim()
    if trim is not None:
        trim(0)
