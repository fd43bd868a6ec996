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

from hightide.engine import rng


def process_key(process: str) -> int:
    """Stable integer for a process name (never Python's salted ``hash``)."""
    return zlib.crc32(process.encode("utf-8"))


def stream_heads(seed: int, *processes: str) -> np.ndarray:
    """Entropy words shared by each process's streams (the seed, padded, and the process key), one
    row per process: with a province and ``month_word`` they key one stream (``rng.stream_start``)."""
    return np.stack([rng.entropy_words(int(seed), (process_key(p),)) for p in processes])


def month_word(month: int) -> np.uint32:
    """The month's word in a stream key (month + 1, so that month 0 is not the zero word)."""
    return np.uint32(int(month) + 1)


def _head(seed: int, process: str) -> np.ndarray:
    return stream_heads(seed, process)[0]


def _blocks(block_start, block_end, month: int):
    starts = np.asarray(block_start, dtype=np.int64)
    counts = np.asarray(block_end, dtype=np.int64) - starts
    return starts, counts, np.arange(starts.size, dtype=np.uint32), np.uint32(int(month) + 1)


def generator(seed: int, process: str, province: int = 0, month: int = 0) -> np.random.Generator:
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(process_key(process), int(province), int(month) + 1))
    return np.random.Generator(np.random.PCG64(ss))


class ProvinceStreams:
    """The generators of one process and month, province by province, as :func:`generator` gives
    them: one bit generator is re-seeded for each province (setting a PCG64 state costs a few
    microseconds; building a SeedSequence and a generator, ~40). Use one province's generator
    before asking for the next."""

    def __init__(self, seed: int, process: str, month: int = 0):
        self._head = _head(seed, process)
        self._month = month_word(month)
        self._bits = np.random.PCG64(0)
        self._generator = np.random.Generator(self._bits)

    def __getitem__(self, province: int) -> np.random.Generator:
        s_hi, s_lo, i_hi, i_lo = rng.stream_start(self._head, int(province), self._month)
        self._bits.state = {"bit_generator": "PCG64",
                            "state": {"state": (int(s_hi) << 64) | int(s_lo), "inc": (int(i_hi) << 64) | int(i_lo)},
                            "has_uint32": 0, "uinteger": 0}
        return self._generator


def by_province(seed: int, process: str, month: int, block_start: np.ndarray, block_end: np.ndarray,
                draw: Callable[[np.random.Generator, slice], np.ndarray], out: np.ndarray) -> np.ndarray:
    """Fill ``out`` block by block, each province from its own stream; returns ``out``."""
    streams = ProvinceStreams(seed, process, month)
    for p in range(len(block_start)):
        sl = slice(int(block_start[p]), int(block_end[p]))
        if sl.stop > sl.start:
            out[sl] = draw(streams[p], sl)
    return out


def uniform(seed: int, process: str, month: int, block_start, block_end) -> np.ndarray:
    """One U(0,1) per household slot (whole capacity), by province stream."""
    out = np.empty(int(block_end[-1]), dtype=np.float64)
    starts, counts, pw, mw = _blocks(block_start, block_end, month)
    rng.fill_blocks(_head(seed, process), pw, mw, starts, counts, out)
    return out


def binomial(seed: int, process: str, month: int, block_start, block_end, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial(n_i, p_i) per slot, by province stream."""
    out = np.zeros(len(n), dtype=np.int64)
    return by_province(seed, process, month, block_start, block_end,
                       lambda g, sl: g.binomial(n[sl], p[sl]), out)


def ranges_uniform(seed: int, process: str, month: int, starts, counts, out: np.ndarray) -> np.ndarray:
    """Fill out[starts[p]:starts[p]+counts[p]] from province p's stream; returns ``out``."""
    starts = np.asarray(starts, dtype=np.int64)
    _, _, pw, mw = _blocks(starts, starts, month)
    rng.fill_blocks(_head(seed, process), pw, mw, starts, np.asarray(counts, dtype=np.int64), out)
    return out


def uniform_at(seed: int, process: str, month: int, block_start, slots: np.ndarray) -> np.ndarray:
    """The U(0,1) draws of the given slots (any order), as ``uniform`` would give them, without an
    array over every slot."""
    slots = np.asarray(slots, dtype=np.int64)
    order = np.argsort(slots, kind="stable")
    out = np.empty(slots.size)
    starts = np.asarray(block_start, dtype=np.int64)
    _, _, pw, mw = _blocks(starts, starts, month)
    rng.draws_at(_head(seed, process), pw, mw, starts, slots[order], out)
    result = np.empty(slots.size)
    result[order] = out
    return result


def used_uniform(seed: int, process: str, month: int, block_start, used, capacity: int) -> np.ndarray:
    """One U(0,1) per used household slot (unused slots get 1.0), by province stream."""
    out = np.ones(capacity, dtype=np.float64)
    starts = np.asarray(block_start, dtype=np.int64)
    _, _, pw, mw = _blocks(starts, starts, month)
    rng.fill_blocks(_head(seed, process), pw, mw, starts, np.asarray(used, dtype=np.int64), out)
    return out


def events(seed: int, process: str, month: int, block_start, used, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Events among ``n`` persons each with monthly probability ``p``: floor(n p + U).

    The mean is exact and, for the rare events of one household in one month (n p << 1), the
    distribution is Binomial(n, p) to first order; it costs one uniform per household.
    """
    out = np.empty(len(n), dtype=np.int64)
    starts = np.asarray(block_start, dtype=np.int64)
    _, _, pw, mw = _blocks(starts, starts, month)
    rng.fill_events(_head(seed, process), pw, mw, starts, np.asarray(used, dtype=np.int64),
                    np.ascontiguousarray(n), np.ascontiguousarray(p, dtype=np.float64), out)
    return out
