"""Named random streams (STYLE habit 8).

Every draw comes from a generator keyed by (run seed, process name, province, month) through
NumPy's SeedSequence. Adding a process, or changing how much another process draws, never moves
this process's numbers; draws for a province do not depend on how provinces are split across
workers; and two scenarios with the same seed share the same numbers wherever their histories
agree (common random numbers).
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np


def process_key(process: str) -> int:
    """Stable integer for a process name (never Python's salted ``hash``)."""
    return zlib.crc32(process.encode("utf-8"))


def generator(seed: int, process: str, province: int = 0, month: int = 0) -> np.random.Generator:
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(process_key(process), int(province), int(month) + 1))
    return np.random.Generator(np.random.PCG64(ss))


def by_province(seed: int, process: str, month: int, block_start: np.ndarray, block_end: np.ndarray,
                draw: Callable[[np.random.Generator, slice], np.ndarray], out: np.ndarray) -> np.ndarray:
    """Fill ``out`` block by block, each province from its own stream; returns ``out``."""
    for p in range(len(block_start)):
        sl = slice(int(block_start[p]), int(block_end[p]))
        if sl.stop > sl.start:
            out[sl] = draw(generator(seed, process, p, month), sl)
    return out


def uniform(seed: int, process: str, month: int, block_start, block_end) -> np.ndarray:
    """One U(0,1) per household slot (whole capacity), by province stream."""
    out = np.empty(int(block_end[-1]), dtype=np.float64)
    return by_province(seed, process, month, block_start, block_end,
                       lambda g, sl: g.random(sl.stop - sl.start), out)


def binomial(seed: int, process: str, month: int, block_start, block_end, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial(n_i, p_i) per slot, by province stream."""
    out = np.zeros(len(n), dtype=np.int64)
    return by_province(seed, process, month, block_start, block_end,
                       lambda g, sl: g.binomial(n[sl], p[sl]), out)


def used_uniform(seed: int, process: str, month: int, block_start, used, capacity: int) -> np.ndarray:
    """One U(0,1) per used household slot (unused slots get 1.0), by province stream."""
    out = np.ones(capacity, dtype=np.float64)
    for p in range(len(block_start)):
        a, n = int(block_start[p]), int(used[p])
        if n:
            out[a:a + n] = generator(seed, process, p, month).random(n)
    return out


def events(seed: int, process: str, month: int, block_start, used, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Events among ``n`` persons each with monthly probability ``p``: floor(n p + U).

    The mean is exact and, for the rare events of one household in one month (n p << 1), the
    distribution is Binomial(n, p) to first order; it costs one uniform per household.
    """
    u = used_uniform(seed, process, month, block_start, used, len(n))
    return np.minimum(np.floor(n * p + u), n).astype(np.int64)
