"""Numba kernels for grouping and reductions (STYLE habit 2, compiled where NumPy needs temporaries).

Each kernel gives exactly what its NumPy counterpart gives: sums run sequentially in index order,
as ``np.bincount`` does, so replacing one by the other leaves every table bit for bit the same.
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


#: households handled together by a process that needs per-household temporaries (~40 x 8 bytes
#: each at most): bounds a month's memory at any scale; chunks are whole provinces (grouped up to
#: the largest province's size where that is more, ``province_chunks``), the harvest's parts at most this
CHUNK_SLOTS = 1 << 22


def province_chunks(slots, provinces=None, limit: int | None = None, largest_times: int = 1) -> list[np.ndarray]:
    """Consecutive provinces (all, or those given, ascending) grouped up to ``limit`` used slots;
    a province is never split, so per-province results do not depend on the grouping. By default
    the limit is ``CHUNK_SLOTS`` or ``largest_times`` x the largest province's used slots if more:
    that province is a chunk of its own at 1, so no chunk is larger, and the others go together in
    twos and threes, whose per-province passes (a province's sums are one thread's) then run on
    every thread at full scale, where one province fills ``CHUNK_SLOTS``. A process whose arrays
    per slot are a fraction of the largest (vital events') may take ``largest_times`` 2 (``LIGHT_CHUNKS``):
    each chunk then holds two or more provinces, which the threads share (``deal_runs``)."""
    if limit is None:
        largest = int(np.max(slots.used)) if len(slots.used) else 0
        limit = max(CHUNK_SLOTS, largest_times * largest)
    provinces = range(len(slots.block_start)) if provinces is None else provinces
    out, cur, size = [], [], 0
    for pv in provinces:
        n = int(slots.used[pv])
        if cur and size + n > limit:
            out.append(np.array(cur, dtype=np.int64))
            cur, size = [], 0
        cur.append(int(pv))
        size += n
    if cur:
        out.append(np.array(cur, dtype=np.int64))
    return out


#: ``largest_times`` of the processes whose arrays per slot are about a fifth of vital events'
#: (consumption's and effort's members and units, ~25 B a slot against 116: memory.CHUNK_BYTES_PER_SLOT),
#: so chunks twice the largest province keep under the peak the vital events set
LIGHT_CHUNKS = 2


#: the threads ``slot_pieces`` deals pieces to unless told (Numba's, as the run's governor set them)
thread_count = nb.get_num_threads

#: the most slots in one piece (``slot_pieces``), and the fewest unless a province has fewer
PIECE_SLOTS = 1 << 16
MIN_PIECE_SLOTS = 1 << 14


def slot_pieces(slots, provinces=None, threads: int | None = None, whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The used slots of ``provinces`` (all, or those given, ascending) cut into pieces for the
    threads: each province's slots in ceil(used / size) near-equal ranges, the size at most
    ``PIECE_SLOTS`` and about an eighth of a thread's share (at least ``MIN_PIECE_SLOTS``), and the
    pieces dealt in contiguous runs of about equal slots, one run per thread (``threads``, default
    Numba's). Returns (pieces, bounds): ``pieces[k]`` = (province, first slot, end slot), ascending;
    thread t takes pieces ``bounds[t]:bounds[t + 1]``.

    A one-province chunk (a whole province at full scale) thus keeps every thread busy, and
    provinces of unequal size no longer leave one thread with most of a month's households (a
    static split of 28 provinces gave one thread 59-61% of them). A pass over pieces must give
    what one pass over the whole province gives: writes per household, filters packed in slot
    order, counts and other sums of whole numbers (exact in float64), and streams started at a
    piece's first slot (``rng.advance``), never a float sum across a piece boundary. Then neither
    the piece size nor the number of threads changes any result (tests/unit/test_pieces.py).

    ``whole=True`` makes every province one piece, for passes with float sums per province: the
    threads still get runs of provinces of about equal slots (the nearest split of the provinces
    in order), not equal numbers of provinces."""
    provinces = np.arange(len(slots.block_start)) if provinces is None else np.asarray(provinces, dtype=np.int64)
    threads = thread_count() if threads is None else max(int(threads), 1)
    used = np.asarray(slots.used, dtype=np.int64)[provinces]
    starts = np.asarray(slots.block_start, dtype=np.int64)[provinces]
    total = int(used.sum())
    size = max(int(used.max(initial=1)), 1) if whole else max(min(PIECE_SLOTS, total // (8 * threads)), MIN_PIECE_SLOTS, 1)
    pieces = _cut_pieces(provinces, starts, used, size)
    return pieces, _deal_bounds(pieces, threads)


@nb.njit(cache=True)
def _cut_pieces(provinces, starts, used, size):
    """``slot_pieces``'s cut: province ``provinces[k]``'s ``used[k]`` slots from ``starts[k]`` in
    ceil(used / size) ranges, the j-th of m ending at start + used * (j + 1) // m."""
    n = 0
    for k in range(provinces.size):
        if used[k] > 0:
            n += max(-(-used[k] // size), 1)
    pieces = np.empty((n, 3), dtype=np.int64)
    q = 0
    for k in range(provinces.size):
        u = used[k]
        if u <= 0:
            continue
        m = max(-(-u // size), 1)
        for j in range(m):
            pieces[q, 0] = provinces[k]
            pieces[q, 1] = starts[k] + (u * j) // m
            pieces[q, 2] = starts[k] + (u * (j + 1)) // m
            q += 1
    return pieces


def deal(pieces: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Bounds that deal ``pieces`` to the threads (default Numba's) in contiguous runs of about
    equal slots, each cut at the piece nearest an equal share: thread t takes pieces
    ``bounds[t]:bounds[t + 1]``."""
    threads = thread_count() if threads is None else max(int(threads), 1)
    return _deal_bounds(np.ascontiguousarray(pieces, dtype=np.int64), threads)


@nb.njit(cache=True)
def _deal_bounds(pieces, threads):
    """``deal``: with ``done[k]`` the slots before piece k, the cut for thread t's end is the first
    k with ``done[k]`` >= total (t + 1) / threads, or the piece before it if that is nearer, and
    never before the previous cut."""
    n = pieces.shape[0]
    done = np.zeros(n + 1, dtype=np.int64)
    for k in range(n):
        done[k + 1] = done[k] + pieces[k, 2] - pieces[k, 1]
    bounds = np.zeros(threads + 1, dtype=np.int64)
    bounds[threads] = n
    after = 0
    for t in range(1, threads):
        target = done[n] * t / threads
        while after < n + 1 and done[after] < target:
            after += 1
        a = min(after, n)
        before = max(a - 1, 0)
        cut = before if target - done[before] < done[a] - target else a
        bounds[t] = max(cut, bounds[t - 1])
    return bounds


def piece_windows(pieces: np.ndarray, limit: int):
    """Consecutive runs of ``pieces`` of at most ``limit`` slots (a larger piece alone): a pass
    that keeps something per slot keeps it for one window at a time."""
    sizes = pieces[:, 2] - pieces[:, 1]
    a = 0
    while a < pieces.shape[0]:
        b, total = a + 1, sizes[a]
        while b < pieces.shape[0] and total + sizes[b] <= limit:
            total += sizes[b]
            b += 1
        yield pieces[a:b]
        a = b


@nb.njit(cache=True)
def piece_bases(pieces):
    """Where each piece's hits start in an output as long as all the pieces' slots (its segment,
    packed by ``compact_segments``), and that length."""
    base = np.zeros(pieces.shape[0], dtype=np.int64)
    for k in range(1, pieces.shape[0]):
        base[k] = base[k - 1] + pieces[k - 1, 2] - pieces[k - 1, 1]
    return base, (base[-1] + pieces[-1, 2] - pieces[-1, 1] if pieces.shape[0] else 0)


@nb.njit(cache=True)
def piece_provinces(pieces):
    """The first piece of each province's run of pieces (a province's pieces are consecutive),
    and the end: province r has pieces ``first[r]:first[r + 1]``."""
    n = pieces.shape[0]
    first = np.empty(n + 1, dtype=np.int64)
    m = 0
    for k in range(n):
        if k == 0 or pieces[k, 0] != pieces[k - 1, 0]:
            first[m] = k
            m += 1
    first[m] = n
    return first[:m + 1]


def part_count(used: int, limit: int = CHUNK_SLOTS) -> int:
    """Parts a province of ``used`` slots is split into where whole provinces would exceed
    ``limit`` (the harvest's ``harvest_parts``): ceil(used / limit), at least 1."""
    return max(-(-int(used) // max(int(limit), 1)), 1)


@nb.njit(cache=True)
def compact_segments(out, base, counts):
    """Move segment p (``counts[p]`` values written from ``base[p]``, bases ascending and at least
    the values before them) to follow segment p - 1; returns the values in all segments.

    A filter over provinces in one parallel pass writes each province's hits from the first slot
    it could need (its used slots before it), into an array allocated (np.empty: untouched pages
    cost no memory) for every slot; this packs them."""
    k = 0
    for p in range(base.size):
        b = base[p]
        if b != k:
            for j in range(counts[p]):
                out[k + j] = out[b + j]
        k += counts[p]
    return k


@nb.njit(cache=True)
def province_bounds(idx, block_start):
    """Where the province changes along ``idx`` (slots ascending, so a province's households are
    one run): the start of each run and the end, found by a binary search of each province
    block's first slot (``block_start``) in ``idx``, without a pass over it. A pass that takes a
    run per thread, where every sum it forms (per team, accounting unit, organisation or
    province) lies within one province and a thread adds its run in slot order, forms the sums
    of one sequential pass."""
    n = idx.size
    cuts = np.searchsorted(idx, np.sort(block_start))
    bounds = np.empty(cuts.size + 2, dtype=np.int64)
    bounds[0] = 0
    r = 1
    for c in cuts:
        if 0 < c < n and c != bounds[r - 1]:
            bounds[r] = c
            r += 1
    if n:
        bounds[r] = n
        r += 1
    return bounds[:r]


@nb.njit(cache=True)
def deal_runs(bounds, n_threads):
    """Runs ``bounds[r]:bounds[r + 1]`` (provinces) dealt to ``n_threads`` threads by size, the
    largest first, each to the thread with the fewest elements so far (LPT): thread t takes runs
    ``order[cuts[t]:cuts[t + 1]]`` (ascending). A pass whose runs are independent gives the same
    result however they are dealt; Numba's static split of a ``prange`` over the runs left one
    thread with most of the work when a few provinces of unequal size made up a chunk."""
    n_runs = bounds.size - 1
    n_threads = max(n_threads, 1)
    size = bounds[1:] - bounds[:-1]
    load = np.zeros(n_threads, dtype=np.int64)
    owner = np.empty(n_runs, dtype=np.int64)
    for r in np.argsort(-size, kind="mergesort"):
        t = np.argmin(load)
        owner[r] = t
        load[t] += size[r]
    cuts = np.zeros(n_threads + 1, dtype=np.int64)
    for r in range(n_runs):
        cuts[owner[r] + 1] += 1
    for t in range(n_threads):
        cuts[t + 1] += cuts[t]
    fill = cuts[:n_threads].copy()
    order = np.empty(n_runs, dtype=np.int64)
    for r in range(n_runs):
        order[fill[owner[r]]] = r
        fill[owner[r]] += 1
    return order, cuts


@nb.njit(cache=True)
def segment_bases(provinces, used):
    """Where each of ``provinces`` starts in an output as long as their used slots together (its
    segment: a pass writes a province's hits from there, ``compact_segments`` packs them), and
    that length."""
    base = np.zeros(provinces.size, dtype=np.int64)
    for q in range(1, provinces.size):
        base[q] = base[q - 1] + used[provinces[q - 1]]
    return base, (base[-1] + used[provinces[-1]] if provinces.size else 0)


@nb.njit(cache=True, parallel=True)
def _below(starts, used, provinces, active, values, threshold):
    base, n = segment_bases(provinces, used)
    counts = np.zeros(provinces.size, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for q in nb.prange(provinces.size):
        p = provinces[q]
        k = base[q]
        for i in range(starts[p], starts[p] + used[p]):
            if active[i] & (values[i] < threshold):
                out[k] = i
                k += 1
        counts[q] = k - base[q]
    return out[:compact_segments(out, base, counts)]


def active_below(slots, provinces: np.ndarray, values: np.ndarray, threshold) -> np.ndarray:
    """Active slots (ascending) of the given provinces with ``values < threshold``; the threshold
    is compared in the values' type, as NumPy compares an array with a Python number."""
    return _below(slots.block_start, slots.used, provinces, slots.active, values, values.dtype.type(threshold))


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


@nb.njit(cache=True, parallel=True)
def _count_and_sum_at(keys, flags, slots, n, bounds, n_threads=1):
    count = np.zeros(n)
    total = np.zeros(n)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            # the current key's count and sum as integers in registers while its run lasts (whole
            # numbers: the float64 totals are the same)
            k_now = -1
            c = t = np.int64(0)
            for j in range(bounds[r], bounds[r + 1]):
                k = keys[j]
                if k != k_now:
                    if k_now >= 0:
                        count[k_now] = c
                        total[k_now] = t
                    k_now = k
                    c = np.int64(count[k])
                    t = np.int64(total[k])
                c += 1
                t += np.int64(flags[slots[j]])
            if k_now >= 0:
                count[k_now] = c
                total[k_now] = t
    return count, total


def count_and_sum_at(keys: np.ndarray, flags: np.ndarray, slots: np.ndarray, n: int,
                     block_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.bincount(keys, minlength=n)`` and ``np.bincount(keys, weights=flags[slots], minlength=n)``
    (float64) in one pass without gathering ``flags[slots]``, for boolean ``flags`` (counted as
    integers: the totals are the same in any order) and keys of which each belongs to one
    province's ascending ``slots`` (accounting units): provinces (``province_bounds``) in parallel."""
    return _count_and_sum_at(keys, flags, slots, n, province_bounds(slots, block_start), thread_count())


@nb.njit(cache=True)
def _number_units(org, village, down, start, end, team_size, out):
    """Units of the members start..end-1 (one province, ascending slots), numbered from 0 in
    (org, village, team) order into ``out``. A counting sort by organisation orders members by
    (org, slot); an organisation whose members are not already in village order (a commune split by
    brigade) is sorted stably by village. Walking that order gives team ranks and unit numbers.
    Returns the number of units."""
    m = end - start
    if m == 0:
        return 0
    o_lo = org[start]
    o_hi = org[start]
    for k in range(start, end):
        o_lo = min(o_lo, org[k])
        o_hi = max(o_hi, org[k])
    n_o = o_hi - o_lo + 1
    first = np.zeros(n_o + 1, dtype=np.int64)
    for k in range(start, end):
        first[org[k] - o_lo + 1] += 1
    for j in range(n_o):
        first[j + 1] += first[j]
    fill = first[:n_o].copy()
    order = np.empty(m, dtype=np.int64)  # members (offsets from start) by (org, slot)
    vkey = np.empty(m, dtype=np.int64)  # village key in that order: -1 when not split
    for k in range(m):
        o = org[start + k] - o_lo
        j = fill[o]
        order[j] = k
        vkey[j] = village[start + k] if down[start + k] else -1
        fill[o] = j + 1
    for o in range(n_o):
        a, b = first[o], first[o + 1]
        is_sorted = True
        for j in range(a + 1, b):
            if vkey[j] < vkey[j - 1]:
                is_sorted = False
                break
        if not is_sorted:  # stable counting sort of the segment by village
            v_lo = vkey[a]
            v_hi = vkey[a]
            for j in range(a, b):
                v_lo = min(v_lo, vkey[j])
                v_hi = max(v_hi, vkey[j])
            pos = np.zeros(v_hi - v_lo + 2, dtype=np.int64)
            for j in range(a, b):
                pos[vkey[j] - v_lo + 1] += 1
            for q in range(v_hi - v_lo + 1):
                pos[q + 1] += pos[q]
            seg_order = order[a:b].copy()
            seg_v = vkey[a:b].copy()
            for j in range(b - a):
                q = seg_v[j] - v_lo
                order[a + pos[q]] = seg_order[j]
                vkey[a + pos[q]] = seg_v[j]
                pos[q] += 1
    unit = -1
    last_o = -1
    last_v = -1
    last_t = -1
    rank = 0
    for j in range(m):
        k = order[j]
        o = org[start + k]
        v = vkey[j]
        if o != last_o or v != last_v:
            rank = 0
            last_t = -1
        t = rank // team_size if team_size > 0 else 0
        if o != last_o or v != last_v or t != last_t:
            unit += 1
        out[start + k] = unit
        last_o = o
        last_v = v
        last_t = t
        rank += 1
    return unit + 1


@nb.njit(cache=True)
def _run_ranges(members, org, village, start, end):
    """Lowest and highest organisation and village of the members ``start:end`` (run not empty)."""
    o_lo = o_hi = np.int64(org[members[start]])
    v_lo = v_hi = np.int64(village[members[start]])
    for k in range(start, end):
        i = members[k]
        o_lo = min(o_lo, np.int64(org[i]))
        o_hi = max(o_hi, np.int64(org[i]))
        v_lo = min(v_lo, np.int64(village[i]))
        v_hi = max(v_hi, np.int64(village[i]))
    return o_lo, o_hi, v_lo, v_hi


@nb.njit(cache=True)
def _number_units_by_village(members, org, village, org_form, by_unit, apart_form, start, end, team_size, out, group,
                             group_first, o_lo, o_hi, v_lo, v_hi):
    """``_number_units`` without sorting, when every village's split members belong to one
    organisation (as when a commune or co-operative takes whole villages): a member's rank in its
    (org, village) group is a count in slot order, and units follow from counts per organisation
    and village. Writes each member's team within its group (``out[k]``) and its group
    (``group[k]``: village v - ``v_lo``, or n_v + organisation - ``o_lo`` when not split) and each
    group's first unit (``group_first``, n_v + n_o long), so that its unit is
    ``out[k] + group_first[group[k]]`` (added by the caller with the runs' offsets). Returns the
    number of units, or -1 (nothing usable written) when a village's split members belong to two
    organisations or a member's organisation or village is outside ``o_lo..o_hi``, ``v_lo..v_hi``
    (``_run_ranges``, or its province's blocks). Members k are the slots ``members[k]`` of the
    full household arrays; a member is split by village unless ``by_unit`` or its organisation's
    form is ``apart_form``. A group's counters are held in registers while its members follow each
    other (they mostly do: a village's households sit together in the province block), not read
    and written back per member."""
    n_o = o_hi - o_lo + 1
    n_v = v_hi - v_lo + 1
    if n_o <= 0 or n_v <= 0:
        return -1
    vill_org = np.full(n_v, -1, dtype=np.int64)
    # each member's team within its group, counted in slot order (rank // team_size without
    # dividing), and its group: village v (split) or n_v + organisation (not split)
    teams = np.zeros(n_v + n_o, dtype=np.int64)  # current team and members in it, per group
    filled = np.zeros(n_v + n_o, dtype=np.int64)
    g_now = np.int64(-1)
    o_now = np.int64(-1)
    t_now = np.int64(0)
    f_now = np.int64(0)
    for k in range(start, end):
        i = members[k]
        o = np.int64(org[i]) - o_lo
        v = np.int64(village[i]) - v_lo
        if (o < 0) | (o >= n_o) | (v < 0) | (v >= n_v):  # outside the ranges given
            return -1
        g = n_v + o
        if (not by_unit) and org_form[org[i]] != apart_form:
            g = v
        if g != g_now:
            if g_now >= 0:
                teams[g_now] = t_now
                filled[g_now] = f_now
            if g < n_v:
                if vill_org[g] < 0:
                    vill_org[g] = o
                elif vill_org[g] != o:
                    return -1
            g_now = g
            o_now = o
            t_now = teams[g]
            f_now = filled[g]
        elif o != o_now:  # the same village, another organisation
            return -1
        if team_size > 0 and f_now == team_size:
            t_now += 1
            f_now = 0
        f_now += 1
        out[k] = t_now
        group[k] = np.int32(g)
    if g_now >= 0:
        teams[g_now] = t_now
        filled[g_now] = f_now
    # units of each organisation: its unsplit teams first (village key -1), then by village
    units_o = np.zeros(n_o, dtype=np.int64)
    group_first[:] = 0  # first unit of each group within its organisation, then within the run
    for o in range(n_o):
        if filled[n_v + o] > 0:
            units_o[o] = teams[n_v + o] + 1
    for v in range(n_v):
        if filled[v] > 0:
            o = vill_org[v]
            group_first[v] = units_o[o]
            units_o[o] += teams[v] + 1
    total = 0
    for o in range(n_o):
        for_org = total
        total += units_o[o]
        group_first[n_v + o] = for_org
    for v in range(n_v):
        if filled[v] > 0:
            group_first[v] += group_first[n_v + vill_org[v]]
    return total


@nb.njit(cache=True)
def _province_runs(province):
    """Starts of the runs of equal ``province`` values (and the end)."""
    n = province.size
    bounds = [0]
    for k in range(1, n):
        if province[k] != province[k - 1]:
            bounds.append(k)
    bounds.append(n)
    return np.array(bounds, dtype=np.int64)


@nb.njit(cache=True)
def _orgs_ascending(org, bounds):
    """True when the organisations of each run come after those of the run before."""
    prev_max = -1
    for r in range(bounds.size - 1):
        lo = org[bounds[r]]
        hi = org[bounds[r]]
        for k in range(bounds[r], bounds[r + 1]):
            lo = min(lo, org[k])
            hi = max(hi, org[k])
        if lo <= prev_max:
            return False
        prev_max = hi
    return True


@nb.njit(cache=True, parallel=True)
def _number_runs(members, org, village, org_form, by_unit, apart_form, bounds, team_size, out, ranges, n_threads=1):
    """Units of every run of members (province) in parallel (``_number_units_by_village``, else
    the sorting ``_number_units`` on the run's gathered keys), then offset by the units of the
    runs before it: the numbering of one sequential walk over the runs. The group's first unit and
    the runs' offset are added in one pass after the runs are counted. ``ranges[r]`` bounds run r's
    organisations and villages (lowest and highest of each); with no rows each run's are found by
    a pass (``_run_ranges``). Returns False (``out`` not usable) when the organisations of a run do
    not all come after those of the runs before (organisations not numbered province by
    province)."""
    n_runs = bounds.size - 1
    given = ranges.shape[0] > 0
    counts = np.zeros(n_runs + 1, dtype=np.int64)
    o_range = np.full((n_runs, 2), -1, dtype=np.int64)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    if given:
        rr = ranges.copy()
    else:
        rr = np.full((n_runs, 4), -1, dtype=np.int64)
        for th_r in nb.prange(cuts_r.size - 1):
            for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
                r = order_r[q_r]
                if bounds[r + 1] > bounds[r]:
                    rr[r, 0], rr[r, 1], rr[r, 2], rr[r, 3] = _run_ranges(members, org, village, bounds[r],
                                                                         bounds[r + 1])
    first_g = np.zeros(n_runs + 1, dtype=np.int64)  # each run's groups in one array
    for r in range(n_runs):
        n_g = (rr[r, 1] - rr[r, 0] + 1) + (rr[r, 3] - rr[r, 2] + 1) if bounds[r + 1] > bounds[r] else 0
        first_g[r + 1] = first_g[r] + max(n_g, 0)
    group_first = np.empty(first_g[n_runs], dtype=np.int64)
    group = np.empty(members.size, dtype=np.int32)
    by_village = np.zeros(n_runs, dtype=np.bool_)
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            a, b = bounds[r], bounds[r + 1]
            if b == a:
                continue
            o_lo, o_hi, v_lo, v_hi = rr[r, 0], rr[r, 1], rr[r, 2], rr[r, 3]
            o_range[r, 0] = o_lo
            o_range[r, 1] = o_hi
            c = _number_units_by_village(members, org, village, org_form, by_unit, apart_form, a, b, team_size, out,
                                         group, group_first[first_g[r]:first_g[r + 1]], o_lo, o_hi, v_lo, v_hi)
            by_village[r] = c >= 0
            if c < 0:
                o_r = np.empty(b - a, dtype=np.int64)
                v_r = np.empty(b - a, dtype=np.int64)
                d_r = np.empty(b - a, dtype=np.bool_)
                for k in range(a, b):
                    i = members[k]
                    o_r[k - a] = org[i]
                    v_r[k - a] = village[i]
                    d_r[k - a] = (not by_unit) and org_form[org[i]] != apart_form
                c = _number_units(o_r, v_r, d_r, 0, b - a, team_size, out[a:b])
                o_range[r, 0] = o_r.min()  # the organisations the run really has
                o_range[r, 1] = o_r.max()
            counts[r + 1] = c
    prev_max = -1
    for r in range(n_runs):
        if o_range[r, 0] < 0:
            continue
        if o_range[r, 0] <= prev_max:
            return False
        prev_max = o_range[r, 1]
    for r in range(n_runs):
        counts[r + 1] += counts[r]
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            offset = counts[r]
            if by_village[r]:
                g0 = first_g[r]
                for k in range(bounds[r], bounds[r + 1]):
                    out[k] += group_first[g0 + group[k]] + offset
            else:
                for k in range(bounds[r], bounds[r + 1]):
                    out[k] += offset
    return True


@nb.njit(cache=True)
def _unit_index(org, village, province, down, team_size):
    """Dense index of the unit each member belongs to, numbered in (org, village, team) order, by
    sorting (``_number_units``) province by province. Members come in ascending slot order, so each
    province is one contiguous run, and an organisation's members all live in its province.
    Returns (units, ok): ok is False if organisations of consecutive provinces were not in
    ascending order (then the numbering is not the sorted one)."""
    out = np.empty(org.size, dtype=np.int64)
    bounds = _province_runs(province)
    if not _orgs_ascending(org, bounds):
        return out, False
    total = 0
    for r in range(bounds.size - 1):
        c = _number_units(org, village, down, bounds[r], bounds[r + 1], team_size, out)
        for k in range(bounds[r], bounds[r + 1]):
            out[k] += total
        total += c
    return out, True


def units_of_members(members: np.ndarray, org: np.ndarray, village: np.ndarray, org_form: np.ndarray,
                     block_start: np.ndarray, by_unit: bool, apart_form: int, team_size: int,
                     ranges: np.ndarray | None = None) -> np.ndarray | None:
    """``unit_index`` of the households ``members`` (ascending slots) read from the household arrays
    (no gathered keys): a member is split by village unless ``by_unit`` or its organisation's form
    is ``apart_form``. Provinces (blocks starting at ``block_start``) are numbered in parallel and
    mostly without sorting (``_number_units_by_village``); ``ranges`` (one row per province: its
    lowest and highest organisation and village), when given, spares the pass that finds them
    (a province whose members fall outside its row is sorted instead). None when organisations
    are not numbered province by province."""
    members = np.asarray(members, dtype=np.int64)
    bounds = np.searchsorted(members, np.append(block_start, np.iinfo(np.int64).max)).astype(np.int64)
    out = np.empty(members.size, dtype=np.int64)
    ranges = np.zeros((0, 4), dtype=np.int64) if ranges is None else np.asarray(ranges, dtype=np.int64)
    if not _number_runs(members, org, village, org_form, bool(by_unit), int(apart_form), bounds, int(team_size), out,
                        ranges, thread_count()):
        return None
    return out


def unit_index(org: np.ndarray, village: np.ndarray, province: np.ndarray, down: np.ndarray,
               team_size: int) -> np.ndarray | None:
    """Index of each member's unit, keyed by (org, village if ``down`` else none, rank // team_size
    within (org, village) in slot order; team_size 0: no teams), numbered in sorted key order:
    ``np.unique(key, return_inverse=True)[1]``. Members must be in ascending slot order. Returns
    None when organisations are not numbered province by province (the caller then sorts)."""
    units, ok = _unit_index(org, village, province, down, int(team_size))
    return units if ok else None


@nb.njit(cache=True, parallel=True)
def _members_of_forms(pieces, bounds, active, org, org_form, org_active, forms, live_only):
    base, n = piece_bases(pieces)
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            k = base[q]
            for i in range(pieces[q, 1], pieces[q, 2]):
                o = max(org[i], 0)
                if active[i] & (org[i] >= 0) & forms[org_form[o]] & (org_active[o] | (not live_only)):
                    out[k] = i
                    k += 1
            counts[q] = k - base[q]
    return out[:compact_segments(out, base, counts)]


def members_of_forms(hh, orgs, forms, live_only: bool = False, provinces: np.ndarray | None = None) -> np.ndarray:
    """Slots (ascending) of active households whose organisation has one of ``forms`` (and, with
    ``live_only``, is active); only in ``provinces`` (ascending) when given."""
    mask = np.zeros(8, dtype=np.bool_)
    mask[list(forms)] = True
    return _members_of_forms(*slot_pieces(hh, provinces), hh.active, hh.org, orgs.form, orgs.active, mask, live_only)


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


@nb.njit(cache=True)
def pairwise_feed(leaf_len, leaf_join, buf, stack, state, values):
    """Feed an array of values to a streamed pairwise sum whose position is kept in ``state``
    (leaf, position in leaf, stack depth), so that values may come in several calls."""
    leaf, pos, depth = state[0], state[1], state[2]
    for i in range(values.size):
        buf[pos] = values[i]
        pos += 1
        if pos == leaf_len[leaf]:
            depth = pairwise_close(buf, pos, stack, depth, leaf_join[leaf])
            leaf += 1
            pos = 0
    state[0], state[1], state[2] = leaf, pos, depth


@nb.njit(cache=True, inline="always")
def _masked_value(values, mask, i, limit):
    return np.float64(values[i]) if (i < limit and mask[i]) else 0.0


@nb.njit(cache=True)
def masked_pairwise_sum(values, mask, a, n, limit):
    """``np.sum`` of the n values values[i] x mask[i] from slot a (slots from ``limit`` on
    counting as zeros), as NumPy sums a contiguous float64 array, without forming it. Blocks
    wholly beyond ``limit`` are zeros and skipped (adding a zero partial sum changes nothing).
    Each block is NumPy's eight-lane sum: the eight running sums live in ``lanes`` and are advanced
    together (lane l takes values l, l + 8, ... as NumPy's eight variables do), which the compiler
    turns into one vector add; written as eight scalars, or with ``lanes`` passed in from a caller
    (possibly aliasing ``values``), the block sums ran ~2x slower."""
    leaf_len, leaf_join = pairwise_plan(n)
    stack = np.empty(PW_STACK)
    lanes = np.empty(8)
    depth = 0
    pos = a
    for leaf in range(leaf_len.size):
        m = leaf_len[leaf]
        res = 0.0
        if pos < limit:
            if m < 8:
                for i in range(pos, pos + m):
                    res += _masked_value(values, mask, i, limit)
            else:
                body = m - m % 8
                if pos + body <= limit:  # the whole body is in use: no bound test per value
                    for lane in range(8):
                        lanes[lane] = np.float64(values[pos + lane]) if mask[pos + lane] else 0.0
                    for k in range(pos + 8, pos + body, 8):
                        for lane in range(8):
                            lanes[lane] += np.float64(values[k + lane]) if mask[k + lane] else 0.0
                else:
                    for lane in range(8):
                        lanes[lane] = _masked_value(values, mask, pos + lane, limit)
                    for k in range(pos + 8, pos + body, 8):
                        for lane in range(8):
                            lanes[lane] += _masked_value(values, mask, k + lane, limit)
                res = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
                for i in range(pos + body, pos + m):
                    res += _masked_value(values, mask, i, limit)
        stack[depth] = res
        depth += 1
        for _ in range(leaf_join[leaf]):
            depth -= 1
            stack[depth - 1] = stack[depth - 1] + stack[depth]
        pos += m
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


@nb.njit(cache=True, inline="always")
def tally_form(i, active, org, org_form, c0, c1, c2, c3, c4, c5, c6):
    """Counts of active households outside any organisation (c0) and in one of form 0..5 (c1-c6),
    with household i added: counters passed in registers and forms compared (a counter in memory
    indexed by form made each household wait on the last one's store)."""
    o = org[i]
    live = np.int64(active[i])
    member = live & np.int64(o >= 0)
    f = org_form[max(o, 0)]
    return (c0 + (live - member), c1 + (member & (f == 0)), c2 + (member & (f == 1)), c3 + (member & (f == 2)),
            c4 + (member & (f == 3)), c5 + (member & (f == 4)), c6 + (member & (f == 5)))


@nb.njit(cache=True)
def _tally_forms(lo, hi, active, org, org_form, counts):
    """``tally_form`` over slots lo..hi-1 into ``counts`` (outside any organisation, then forms
    0..5) by runs of one organisation: a run's active households counted together and its form
    looked up once (members of a co-operative or commune mostly sit together, village by village)."""
    i = lo
    while i < hi:
        o = org[i]
        n = np.int64(0)
        j = i
        while j < hi and org[j] == o:
            n += np.int64(active[j])
            j += 1
        if o < 0:
            counts[0] += n
        else:
            f = np.int64(org_form[o])
            if 0 <= f <= 5:
                counts[f + 1] += n
        i = j


@nb.njit(cache=True, parallel=True)
def _form_counts(pieces, bounds, active, org, org_form, n_prov):
    counts = np.zeros((pieces.shape[0], 8), dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            _tally_forms(pieces[q, 1], pieces[q, 2], active, org, org_form, counts[q])
    out = np.zeros((n_prov, 8))
    for q in range(pieces.shape[0]):
        for f in range(8):
            out[pieces[q, 0], f] += counts[q, f]
    return out


def form_counts(world) -> np.ndarray:
    """Active households per province by the form of their organisation: column 0 those outside
    any, column f + 1 form f (``FORM_NAMES``); shape (n_provinces, 8), float counts."""
    hh, orgs = world.households, world.organisations
    return _form_counts(*slot_pieces(hh), hh.active, hh.org, orgs.form, world.provinces.n)


def form_share(counts: np.ndarray, forms) -> np.ndarray:
    """Share of each province's active households in organisations of ``forms`` (from ``form_counts``)."""
    inside = np.zeros(counts.shape[0])
    for f in forms:
        inside += counts[:, f + 1]
    return inside / np.maximum(counts.sum(axis=1), 1)


@nb.njit(cache=True, parallel=True)
def _outside_forms(pieces, bounds, active, org, org_form, forms):
    base, n = piece_bases(pieces)
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            k = base[q]
            for i in range(pieces[q, 1], pieces[q, 2]):
                o = org[i]
                if active[i] & ((o < 0) | (not forms[org_form[max(o, 0)]])):
                    out[k] = i
                    k += 1
            counts[q] = k - base[q]
    return out[:compact_segments(out, base, counts)]


def outside_forms(world, forms, provinces=None) -> np.ndarray:
    """Slots (ascending) of active households not in an organisation of ``forms``, in
    ``provinces`` (all, or those given, ascending)."""
    mask = np.zeros(8, dtype=np.bool_)
    mask[list(forms)] = True
    hh = world.households
    return _outside_forms(*slot_pieces(hh, provinces), hh.active, hh.org, world.organisations.form, mask)


@nb.njit(cache=True, parallel=True)
def _dense_index(keys, mask, bounds, n_threads=1):
    n_runs = bounds.size - 1
    out = np.full(keys.size, -1, dtype=np.int64)
    ranges = np.zeros((n_runs, 2), dtype=np.int64)
    n_local = np.zeros(n_runs + 1, dtype=np.int64)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            lo = np.int64(1) << 62
            hi = np.int64(-1)
            for k in range(bounds[r], bounds[r + 1]):
                if mask[k]:
                    lo = min(lo, np.int64(keys[k]))
                    hi = max(hi, np.int64(keys[k]))
            if hi < lo:
                continue
            # labels within the run, in order of first appearance, then offset by the runs before
            label = np.full(hi - lo + 1, -1, dtype=np.int64)
            m = 0
            for k in range(bounds[r], bounds[r + 1]):
                if mask[k]:
                    j = keys[k] - lo
                    if label[j] < 0:
                        label[j] = m
                        m += 1
                    out[k] = label[j]
            n_local[r + 1] = m
    for r in range(n_runs):
        n_local[r + 1] += n_local[r]
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            for k in range(bounds[r], bounds[r + 1]):
                if mask[k]:
                    out[k] += n_local[r]
    return out, n_local[n_runs]


def dense_index(keys: np.ndarray, mask: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, int]:
    """(index of each key where ``mask`` among the distinct keys there, -1 elsewhere; number of
    distinct keys): a dense labelling for grouping, in order of first appearance province by
    province, without sorting. Entries come province by province (``province_bounds``: runs
    taken in parallel), and a key belongs to one province (an organisation's members live in
    its province); keys of a province should span a compact range. With nothing under ``mask``
    (no mutual-aid team in the communes' years) no pass is made."""
    if not mask.any():
        return np.full(keys.size, -1, dtype=np.int64), 0
    out, n = _dense_index(keys, mask, bounds, thread_count())
    return out, int(n)
