"""Numba kernels for grouping and reductions (STYLE habit 2, compiled where NumPy needs temporaries).

Each kernel gives exactly what its NumPy counterpart gives: sums run sequentially in index order,
as ``np.bincount`` does, so replacing one by the other leaves every table bit for bit the same.
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _group_sum(keys, values, n):
    out = np.zeros(n)
    for i in range(keys.size):
        out[keys[i]] += np.float64(values[i])
    return out


@nb.njit(cache=True)
def _group_count(keys, n):
    out = np.zeros(n)
    for i in range(keys.size):
        out[keys[i]] += 1.0
    return out


def group_sum(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(keys, weights=values, minlength=n)`` (n must exceed every key), without
    casting the keys or weights to temporaries."""
    return _group_sum(keys, values, n)


def group_count(keys: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(keys, minlength=n)`` as float64."""
    return _group_count(keys, n)
