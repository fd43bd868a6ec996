"""engine/warmup.py: cached kernels are loaded at start-up, before their first call."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from hightide.engine import kernels, warmup


def test_engine_kernels_are_found():
    found = warmup.engine_kernels()
    assert kernels._group_count in found and kernels.masked_pairwise_sum in found


def test_a_fresh_process_loads_cached_kernels_before_calling_them():
    """In a new interpreter, a kernel whose overload is in Numba's disk cache is ready before its
    first call; a second load finds nothing left to load."""
    kernels.group_count(np.zeros(3, dtype=np.int64), 2)  # compiled (and cached) here if it was not
    code = ("from hightide.engine import kernels, warmup\n"
            "assert not kernels._group_count.overloads\n"
            "n = warmup.load_engine_kernels()\n"
            "print(n, len(kernels._group_count.overloads), warmup.load_engine_kernels())\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    loaded, group_count_overloads, again = map(int, out)
    assert loaded >= 1 and group_count_overloads >= 1 and again == 0
