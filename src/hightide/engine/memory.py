"""Allocator tuning and memory estimates.

NumPy temporaries of a few MB are allocated and freed many times a month. By default glibc returns
each to the OS (mmap/munmap), which costs page faults on every reuse; raising the mmap and trim
thresholds keeps them in the heap. Harmless elsewhere: only applied on glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_allocator(threshold: int = 32 * 1024 * 1024) -> bool:
    """Keep allocations up to ``threshold`` bytes in the heap (glibc). Returns True when applied."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 4 * threshold) == 1
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok
