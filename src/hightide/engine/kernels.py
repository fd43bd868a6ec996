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


@nb.njit(cache=True)
def _members_of_forms(starts, used, active, org, org_form, forms):
    n = 0
    for p in range(starts.size):
        for i in range(starts[p], starts[p] + used[p]):
            if active[i] and org[i] >= 0 and forms[org_form[org[i]]]:
                n += 1
    out = np.empty(n, dtype=np.int64)
    k = 0
    for p in range(starts.size):
        for i in range(starts[p], starts[p] + used[p]):
            if active[i] and org[i] >= 0 and forms[org_form[org[i]]]:
                out[k] = i
                k += 1
    return out


def members_of_forms(hh, orgs, forms) -> np.ndarray:
    """Slots (ascending) of active households whose organisation has one of ``forms``."""
    mask = np.zeros(8, dtype=np.bool_)
    mask[list(forms)] = True
    return _members_of_forms(hh.block_start, hh.used, hh.active, hh.org, orgs.form, mask)


# --- NumPy's pairwise summation, streamed ------------------------------------------------------
# ``np.sum`` of a contiguous float64 array adds blocks of <= 128 values with eight running sums and
# joins the blocks pairwise (numpy/_core/src/umath/loops_utils.h.src). A kernel that produces its
# values one at a time reproduces that sum exactly, without storing the values, by filling one
# block at a time from a plan made for the count of values:
#
#     leaf_len, leaf_join = pairwise_plan(n)
#     buf, stack = np.empty(PW_BLOCK), np.empty(PW_STACK); pos = leaf = depth = 0
#     ... for each value v:  buf[pos] = v; pos += 1
#                           if pos == leaf_len[leaf]:
#                               depth = pairwise_close(buf, pos, stack, depth, leaf_join[leaf]); leaf += 1; pos = 0
#     total = stack[0] if leaf_len.size else 0.0
#
# (Per-value work stays in the kernel's own loop: calling a compiled function with array arguments
# for every value costs reference counting, ~100 ns a call.)
PW_BLOCK = 128
PW_STACK = 128


@nb.njit(cache=True)
def _plan(n, leaf_len, leaf_join):
    """Leaves of NumPy's pairwise recursion over n values, in order, and for each leaf how many
    pending partial sums join after it (how many subtrees it closes). Returns the leaf count."""
    stack_n = np.empty(256, dtype=np.int64)
    stack_join = np.empty(256, dtype=np.bool_)  # True: both halves done, join them
    depth = 1
    stack_n[0] = n
    stack_join[0] = False
    k = 0
    while depth > 0:
        depth -= 1
        m = stack_n[depth]
        if stack_join[depth]:
            leaf_join[k - 1] += 1
        elif m <= PW_BLOCK:
            leaf_len[k] = m
            leaf_join[k] = 0
            k += 1
        else:
            m2 = m // 2
            m2 -= m2 % 8
            stack_n[depth] = m
            stack_join[depth] = True
            stack_n[depth + 1] = m - m2
            stack_join[depth + 1] = False
            stack_n[depth + 2] = m2
            stack_join[depth + 2] = False
            depth += 3
    return k


@nb.njit(cache=True)
def pairwise_plan(n):
    """(leaf lengths, joins after each leaf) of NumPy's pairwise sum of n values."""
    cap = max(2 * (n // 64) + 2, 2)
    leaf_len = np.zeros(cap, dtype=np.int64)
    leaf_join = np.zeros(cap, dtype=np.int64)
    k = _plan(n, leaf_len, leaf_join) if n > 0 else 0
    return leaf_len[:k].copy(), leaf_join[:k].copy()


@nb.njit(cache=True)
def pairwise_close(buf, n, stack, depth, joins):
    """Sum a full block (NumPy's eight-lane loop) onto the stack and join ``joins`` pending pairs.
    Returns the new stack depth."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += buf[i]
    else:
        r0, r1, r2, r3 = buf[0], buf[1], buf[2], buf[3]
        r4, r5, r6, r7 = buf[4], buf[5], buf[6], buf[7]
        body = n - n % 8
        for i in range(8, body, 8):
            r0 += buf[i]
            r1 += buf[i + 1]
            r2 += buf[i + 2]
            r3 += buf[i + 3]
            r4 += buf[i + 4]
            r5 += buf[i + 5]
            r6 += buf[i + 6]
            r7 += buf[i + 7]
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(body, n):
            res += buf[i]
    stack[depth] = res
    depth += 1
    for _ in range(joins):
        depth -= 1
        stack[depth - 1] = stack[depth - 1] + stack[depth]
    return depth


@nb.njit(cache=True)
def _pairwise_sum(values):
    leaf_len, leaf_join = pairwise_plan(values.size)
    buf = np.empty(PW_BLOCK)
    stack = np.empty(PW_STACK)
    pos = leaf = depth = 0
    for i in range(values.size):
        buf[pos] = values[i]
        pos += 1
        if pos == leaf_len[leaf]:
            depth = pairwise_close(buf, pos, stack, depth, leaf_join[leaf])
            leaf += 1
            pos = 0
    return stack[0] if leaf_len.size else 0.0


def pairwise_sum(values: np.ndarray) -> float:
    """``float(np.sum(values))`` of a float64 array, by the streamed pairwise sum (for tests)."""
    return float(_pairwise_sum(np.ascontiguousarray(values, dtype=np.float64)))


@nb.njit(cache=True)
def _active_count(starts, used, active):
    n = 0
    for p in range(starts.size):
        for i in range(starts[p], starts[p] + used[p]):
            n += active[i]
    return n


def active_count(slots) -> int:
    """Active slots (households or organisations) over the used part of each province block."""
    return int(_active_count(slots.block_start, slots.used, slots.active))
