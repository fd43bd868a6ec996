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


@nb.njit(cache=True)
def _unit_index(org, village, province, down, team_size):
    """Dense index of the unit each member belongs to, numbered in (org, village, team) order.

    Members come in ascending slot order, so each province is one contiguous run, and an
    organisation's members all live in its province. Within a province, a two-pass counting sort
    (by village, then stably by organisation) orders members by (org, village, slot); walking that
    order gives team ranks and unit numbers. Returns (units, ok): ok is False if organisations of
    consecutive provinces were not in ascending order (then the numbering is not the sorted one).
    """
    n = org.size
    out = np.empty(n, dtype=np.int64)
    unit = -1
    ok = True
    prev_max_org = -1
    start = 0
    while start < n:
        pv = province[start]
        end = start
        o_lo = org[start]
        o_hi = org[start]
        v_lo = village[start]
        v_hi = village[start]
        while end < n and province[end] == pv:
            o = org[end]
            if o < o_lo:
                o_lo = o
            if o > o_hi:
                o_hi = o
            v = village[end]
            if v < v_lo:
                v_lo = v
            if v > v_hi:
                v_hi = v
            end += 1
        if o_lo <= prev_max_org:
            ok = False
        prev_max_org = o_hi
        m = end - start
        # the village key: -1 (not split) sorts first, then v_lo..v_hi
        n_v = v_hi - v_lo + 2
        vkey = np.empty(m, dtype=np.int64)
        for k in range(m):
            vkey[k] = (village[start + k] - v_lo + 1) if down[start + k] else 0
        count = np.zeros(n_v + 1, dtype=np.int64)
        for k in range(m):
            count[vkey[k] + 1] += 1
        for j in range(n_v):
            count[j + 1] += count[j]
        by_v = np.empty(m, dtype=np.int64)
        for k in range(m):
            by_v[count[vkey[k]]] = k
            count[vkey[k]] += 1
        n_o = o_hi - o_lo + 1
        count_o = np.zeros(n_o + 1, dtype=np.int64)
        for k in range(m):
            count_o[org[start + k] - o_lo + 1] += 1
        for j in range(n_o):
            count_o[j + 1] += count_o[j]
        order = np.empty(m, dtype=np.int64)
        for j in range(m):
            k = by_v[j]
            o = org[start + k] - o_lo
            order[count_o[o]] = k
            count_o[o] += 1
        last_o = -1
        last_v = -1
        last_t = -1
        rank = 0
        for j in range(m):
            k = order[j]
            o = org[start + k]
            v = vkey[k]
            if o != last_o or v != last_v:
                rank = 0
            t = rank // team_size if team_size > 0 else 0
            if o != last_o or v != last_v or t != last_t:
                unit += 1
            out[start + k] = unit
            last_o = o
            last_v = v
            last_t = t
            rank += 1
        start = end
    return out, ok


def unit_index(org: np.ndarray, village: np.ndarray, province: np.ndarray, down: np.ndarray,
               team_size: int) -> np.ndarray | None:
    """Index of each member's unit, keyed by (org, village if ``down`` else none, rank // team_size
    within (org, village) in slot order; team_size 0: no teams), numbered in sorted key order:
    ``np.unique(key, return_inverse=True)[1]``. Members must be in ascending slot order. Returns
    None when organisations are not numbered province by province (the caller then sorts)."""
    units, ok = _unit_index(org, village, province, down, int(team_size))
    return units if ok else None
