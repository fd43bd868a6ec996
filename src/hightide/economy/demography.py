"""Births, deaths, ageing, family division and migration (MODEL.md §4.5).

Deaths: an age-specific baseline that falls with the 1950s health campaigns, times a hunger
hazard that rises as food eaten falls below need. Births fall with hunger. People leave for the
towns (or are sent down) as the policy says; every person is accounted for.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine import rng, streams
from hightide.engine.calendar import LUNAR_NEW_YEAR
from hightide.engine.context import StepContext
from hightide.engine.kernels import (compact_segments, deal_runs, group_sum, piece_bases, province_bounds,
                                     province_chunks, slot_pieces, thread_count)
from hightide.engine.provincial import national_total
from hightide.engine.threads import elementwise, numpy_threads
from hightide.params import ParameterSet
from hightide.world.households import MAX_BAND, NO_ORG
from hightide.world.organisations import COMMUNE, ELEMENTARY_APC
from hightide.world.world import World


def baseline_factor(params: ParameterSet, years_since_1952: float) -> float:
    """Baseline mortality relative to 1952 (Banister 1987: rapid decline in the 1950s)."""
    f = params.mortality_floor
    return f + (1.0 - f) * np.exp(-params.mortality_decline_rate * max(years_since_1952, 0.0))


def hunger_shortfall(params: ParameterSet, food_ratio: np.ndarray) -> np.ndarray:
    """How far food eaten falls below the hunger threshold, as a share of it (0 when fed)."""
    th = params.hunger_threshold
    return np.clip((th - food_ratio) / th, 0.0, 1.0)


def hunger_multiplier(params: ParameterSet, shortfall: np.ndarray) -> np.ndarray:
    """Mortality multiplier from hunger (Ashton et al. 1984; O Grada 2009)."""
    return 1.0 + params.hunger_mortality_scale * shortfall**2


def fertility_multiplier(params: ParameterSet, shortfall: np.ndarray) -> np.ndarray:
    return np.maximum(1.0 - params.hunger_fertility_slope * shortfall, 0.0)


def monthly_probability(annual_rate, hazard_multiplier=1.0):
    """Monthly probability from an annual probability, with the hazard scaled by a multiplier."""
    hazard = -np.log1p(-np.clip(annual_rate, 0.0, 0.999)) * hazard_multiplier
    return -np.expm1(-hazard / 12.0)


def crude_baseline_rate(params: ParameterSet) -> float:
    """1952 crude death rate implied by the age structure at the start (for the towns)."""
    return (params.share_children * params.mortality_child
            + (1 - params.share_children - params.share_elderly) * params.mortality_adult
            + params.share_elderly * params.mortality_elderly)


#: the streams of the hungry households' vital events, one draw each per hungry household and month,
#: in the order they are used
VITAL_STREAMS = ("deaths_child", "deaths_adult", "deaths_elderly", "births", "ageing_child", "ageing_adult")
#: the streams of the fed households' vital events, walked segment by segment (``_fed_events``)
FED_STREAMS = ("fed_deaths_child", "fed_deaths_adult", "fed_deaths_elderly", "fed_births", "fed_ageing_child",
               "fed_ageing_adult")
#: slots of a segment: the fed households' events are drawn a segment of a province at a time, each
#: segment from its own stretch of the province's streams, so neither pieces nor threads move a draw
SEGMENT_SLOTS = 4096
#: the fed households' events after the births (``FED_STREAMS`` 3), in the order their counts depend
#: on each other: (stream, band the members leave, band they join or -1 for deaths): adult and
#: elderly deaths, adults growing old, child deaths, children growing up (each read after the
#: deaths of its band; newborns join the children last)
FED_ORDER = np.array([[1, 1, -1], [2, 2, -1], [5, 1, 2], [0, 0, -1], [4, 0, 1]], dtype=np.int64)
#: a segment's walk below this many candidate slots per slot (the largest band of the segment times
#: the probability) skips from event to event; at or above it draws once per slot
WALK_BELOW = 0.1


@nb.njit(cache=True, parallel=True)
def _segment_maxima(seg_lo, seg_hi, active, children, adults, elderly):
    """The most members of each age band in one active household of each segment (slots
    ``seg_lo[g]:seg_hi[g]``): the bound the fed events' walks thin against (``_fed_events``)."""
    out = np.zeros((seg_lo.size, 3), dtype=np.int64)
    for g in nb.prange(seg_lo.size):
        mc = ma = me = 0
        for i in range(seg_lo[g], seg_hi[g]):
            live = np.int64(active[i])
            mc = max(mc, children[i] * live)
            ma = max(ma, adults[i] * live)
            me = max(me, elderly[i] * live)
        out[g, 0], out[g, 1], out[g, 2] = mc, ma, me
    return out


@nb.njit(cache=True)
def _fed_of_segment(seg_lo, seg_hi, active, hungry, fed):
    """The active households of slots ``seg_lo:seg_hi`` not in ``hungry`` (ascending), into
    ``fed``; returns how many."""
    j = np.searchsorted(hungry, seg_lo)
    n = 0
    for i in range(seg_lo, seg_hi):
        if not active[i]:
            continue
        while j < hungry.size and hungry[j] < i:
            j += 1
        if j < hungry.size and hungry[j] == i:
            continue
        fed[n] = i
        n += 1
    return n


@nb.njit(cache=True)
def _fed_events(state, fed, n_fed, a, b, band, n_max, p, walk_below, slots, counts):
    """Events among the fed households ``fed[:n_fed]`` of a segment (ascending slots), for those
    in slots ``a:b``: each household's count as min(floor(n p + U), n) has it (n the members of
    ``band``). Where λ = ``n_max`` p < ``walk_below`` (``WALK_BELOW``; then n p < 1: one event
    with probability n p) the walk skips from candidate to candidate, one in each Geometric(λ)
    run of the fed, and a candidate has the event with probability n / ``n_max`` (thinning): the
    draws follow the events, not the households. Otherwise each fed household draws its U. Either
    way a household's draws depend on its rank among the segment's fed, not on ``a`` and ``b``.
    Writes the slots with events and their counts; returns how many."""
    s_hi, s_lo, i_hi, i_lo = state[0], state[1], state[2], state[3]
    lam = np.float64(n_max) * p
    if n_max <= 0 or p <= 0.0 or n_fed == 0:
        return 0
    r_a = np.searchsorted(fed[:n_fed], a)
    r_b = np.searchsorted(fed[:n_fed], b)
    k = 0
    if lam < walk_below:
        log_q = np.log1p(-lam)
        r = np.int64(-1)
        while True:
            s_hi, s_lo, u = rng.next_double(s_hi, s_lo, i_hi, i_lo)
            gap = np.floor(np.log1p(-u) / log_q)
            if gap >= r_b - r - 1:
                break
            r += 1 + np.int64(gap)
            s_hi, s_lo, v = rng.next_double(s_hi, s_lo, i_hi, i_lo)
            if r >= r_a:
                i = fed[r]
                if v * n_max < np.float64(band[i]):
                    slots[k] = i
                    counts[k] = 1
                    k += 1
        return k
    if r_a > 0:
        s_hi, s_lo = rng.advance(s_hi, s_lo, i_hi, i_lo, r_a)
    for r in range(r_a, r_b):
        s_hi, s_lo, u = rng.next_double(s_hi, s_lo, i_hi, i_lo)
        i = fed[r]
        n = np.float64(band[i])
        e = min(np.floor(n * p + u), n)
        if e > 0:
            slots[k] = i
            counts[k] = np.int64(e)
            k += 1
    return k


@nb.njit(cache=True, inline="always")
def _remove(band, slots, counts, k):
    """Take the members of the first ``k`` events (``slots``, ``counts``) out of ``band``; returns
    how many."""
    total = 0
    for e in range(k):
        band[slots[e]] -= counts[e]
        total += counts[e]
    return total


@nb.njit(cache=True, inline="always")
def _add(band, slots, counts, k):
    """Add the members of the first ``k`` events to ``band`` (at most ``MAX_BAND``); True where a
    household would have held more."""
    over = False
    for e in range(k):
        i = slots[e]
        grown = np.int64(band[i]) + counts[e]
        over |= grown > MAX_BAND
        band[i] = min(grown, MAX_BAND)
    return over


@nb.njit(cache=True)
def _segment_states(bases, segment, draws):
    """The six streams' states at a segment's stretch (``segment`` x ``draws`` steps on)."""
    out = np.empty((6, 4), dtype=np.uint64)
    for s in range(6):
        out[s, 0], out[s, 1] = rng.advance(bases[s, 0], bases[s, 1], bases[s, 2], bases[s, 3], segment * draws)
        out[s, 2], out[s, 3] = bases[s, 2], bases[s, 3]
    return out


@nb.njit(cache=True, parallel=True)
def _vital(heads, fed_heads, month_word, pieces, bounds, starts, used, seg_first, seg_max, seg_slots, walk_below,
           active, children, adults, elderly, hungry, p_hungry, p_fed, p_birth, p_grow_up, p_grow_old, flows):
    """Deaths by age band, births, then ageing: deaths and births among the start-of-month members,
    ageing among the survivors, newborns joining the children last; each count min(floor(n p + U),
    n) (``streams.events``). The hungry (``hungry``, ascending; ``p_hungry[:, k]`` their
    probabilities, negated: ``_hungry_probabilities``) draw six uniforms each from their
    province's streams (``heads``), a household the draws of its slot (jumping over the fed); the fed
    (probabilities ``p_fed``: child, adult, elderly deaths; ``p_birth`` per province) segment by segment
    (``_fed_events``, streams ``fed_heads``, segment g of a province from draw g x 4
    ``seg_slots`` on, thinned against the segment's largest bands ``seg_max``). ``flows[p]``
    gets (births, deaths). Pieces of provinces (``kernels.slot_pieces``) run in parallel; a
    segment cut by a piece's end is walked by both pieces, each keeping its own slots: neither
    pieces nor threads change a draw, and the counts are whole numbers, so their sums do not depend
    on them. A household's draws are its own where it is hungry (common random numbers between
    scenarios, household by household), its segment's where it is fed."""
    n = pieces.shape[0]
    if hungry.size == 0:  # one household that is no slot, never read as hungry
        hungry = np.full(1, -1, dtype=np.int64)
        p_hungry = np.zeros((4, 1))
    first_hungry = np.searchsorted(hungry, pieces[:, 1])
    end_hungry = np.searchsorted(hungry, pieces[:, 2])
    overflow = np.zeros(n, dtype=np.bool_)
    counts = np.zeros((n, 2))
    draws = 4 * seg_slots
    p_fed_walk = np.array([p_fed[0], p_fed[1], p_fed[2], 0.0, p_grow_up, p_grow_old])
    bands = (children, adults, elderly)
    for t in nb.prange(bounds.size - 1):
        ev_slots = np.empty(seg_slots, dtype=np.int64)
        ev_counts = np.empty(seg_slots, dtype=np.int64)
        born_slots = np.empty(seg_slots, dtype=np.int64)
        born_counts = np.empty(seg_slots, dtype=np.int64)
        bases = np.empty((6, 4), dtype=np.uint64)
        fed = np.empty(seg_slots, dtype=np.int64)
        for q in range(bounds[t], bounds[t + 1]):
            pv, lo, hi = pieces[q, 0], pieces[q, 1], pieces[q, 2]
            births_p = 0.0
            deaths_p = 0.0
            over = False
            # the fed: segment by segment, events in the order their counts depend on each other
            for s in range(6):
                bases[s, 0], bases[s, 1], bases[s, 2], bases[s, 3] = rng.stream_start(fed_heads[s], pv, month_word)
            start, end = starts[pv], starts[pv] + used[pv]
            for seg in range((lo - start) // seg_slots, (hi - 1 - start) // seg_slots + 1):
                g = seg_first[pv] + seg
                seg_lo = start + seg * seg_slots
                seg_hi = min(seg_lo + seg_slots, end)
                a, b = max(lo, seg_lo), min(hi, seg_hi)
                st = _segment_states(bases, seg, draws)
                n_fed = _fed_of_segment(seg_lo, seg_hi, active, hungry, fed)
                # births among the adults at the start of the month, joining the children last
                nb_ = _fed_events(st[3], fed, n_fed, a, b, adults, seg_max[g, 1], p_birth[pv], walk_below, born_slots,
                                born_counts)
                for o in range(FED_ORDER.shape[0]):
                    stream, src, dst = FED_ORDER[o, 0], FED_ORDER[o, 1], FED_ORDER[o, 2]
                    k = _fed_events(st[stream], fed, n_fed, a, b, bands[src], seg_max[g, src], p_fed_walk[stream],
                                    walk_below, ev_slots, ev_counts)
                    gone = _remove(bands[src], ev_slots, ev_counts, k)
                    if dst < 0:
                        deaths_p += gone
                    else:
                        over |= _add(bands[dst], ev_slots, ev_counts, k)
                over |= _add(children, born_slots, born_counts, nb_)
                births_p += born_counts[:nb_].sum()
            # the hungry: six uniforms each, a household's the draws of its slot in the province's
            # streams (as every household drew before the walks), so a household's draws are its own
            j0, j1 = first_hungry[q], end_hungry[q]
            if j1 > j0:
                c0, c1, c2, c3 = rng.stream_start(heads[0], pv, month_word)
                d0, d1, d2, d3 = rng.stream_start(heads[1], pv, month_word)
                e0, e1, e2, e3 = rng.stream_start(heads[2], pv, month_word)
                b0, b1, b2, b3 = rng.stream_start(heads[3], pv, month_word)
                g0, g1, g2, g3 = rng.stream_start(heads[4], pv, month_word)
                h0, h1, h2, h3 = rng.stream_start(heads[5], pv, month_word)
                at = start  # the slot whose draws come next
                for jj in range(j0, j1):
                    i = hungry[jj]
                    gap = i - at
                    if gap >= rng.JUMP_STEPS:
                        c0, c1 = rng.advance(c0, c1, c2, c3, gap)
                        d0, d1 = rng.advance(d0, d1, d2, d3, gap)
                        e0, e1 = rng.advance(e0, e1, e2, e3, gap)
                        b0, b1 = rng.advance(b0, b1, b2, b3, gap)
                        g0, g1 = rng.advance(g0, g1, g2, g3, gap)
                        h0, h1 = rng.advance(h0, h1, h2, h3, gap)
                    else:
                        for _ in range(gap):
                            c0, c1 = rng.step(c0, c1, c2, c3)
                            d0, d1 = rng.step(d0, d1, d2, d3)
                            e0, e1 = rng.step(e0, e1, e2, e3)
                            b0, b1 = rng.step(b0, b1, b2, b3)
                            g0, g1 = rng.step(g0, g1, g2, g3)
                            h0, h1 = rng.step(h0, h1, h2, h3)
                    at = i + 1
                    c0, c1, u_child = rng.next_double(c0, c1, c2, c3)
                    d0, d1, u_adult = rng.next_double(d0, d1, d2, d3)
                    e0, e1, u_old = rng.next_double(e0, e1, e2, e3)
                    b0, b1, u_birth = rng.next_double(b0, b1, b2, b3)
                    g0, g1, u_up = rng.next_double(g0, g1, g2, g3)
                    h0, h1, u_older = rng.next_double(h0, h1, h2, h3)
                    live = active[i]
                    nc = np.float64(children[i] * live)
                    na = np.float64(adults[i] * live)
                    ne = np.float64(elderly[i] * live)
                    d_child = min(np.floor(nc * -p_hungry[0, jj] + u_child), nc)
                    d_adult = min(np.floor(na * -p_hungry[1, jj] + u_adult), na)
                    d_old = min(np.floor(ne * -p_hungry[2, jj] + u_old), ne)
                    born = min(np.floor(na * -p_hungry[3, jj] + u_birth), na)
                    nc -= d_child
                    na -= d_adult
                    ne -= d_old
                    up = min(np.floor(nc * p_grow_up + u_up), nc)
                    older = min(np.floor(na * p_grow_old + u_older), na)
                    c, a_, e_ = nc - up + born, na + up - older, ne + older
                    over |= max(c, max(a_, e_)) > MAX_BAND
                    children[i] = np.int8(min(c, MAX_BAND))
                    adults[i] = np.int8(min(a_, MAX_BAND))
                    elderly[i] = np.int8(min(e_, MAX_BAND))
                    births_p += born
                    deaths_p += d_child + d_adult + d_old
            counts[q, 0] = births_p
            counts[q, 1] = deaths_p
            overflow[q] = over
    for q in range(n):
        flows[pieces[q, 0], 0] += counts[q, 0]
        flows[pieces[q, 0], 1] += counts[q, 1]
    return overflow.any()


def _hungry_probabilities(p: ParameterSet, hh, hungry: np.ndarray, log_surv: np.ndarray,
                          birth_rate_p: np.ndarray, pool=None, n_threads: int = 1) -> np.ndarray:
    """Monthly probabilities of the hungry households, **negated** (rows: child, adult, elderly
    deaths, births; one column per household of ``hungry``): ``monthly_probability`` with
    ``hunger_multiplier`` (scaled by the vulnerability of children and the old); births at their
    province's annual rate ``birth_rate_p`` (conceived nine months ago: ``conception_multiplier``),
    as the fed's. Less the final negation, which the readers (``_vital``, ``_excess_deaths``)
    apply as they read (exact: a pass over the array saved). The arithmetic runs in
    ``_hunger_arguments`` in the order of those array expressions; NumPy takes the
    transcendentals (its vectorised log1p and expm1, which compiled code would not reproduce to
    the last bit), on slices in ``n_threads`` threads of ``pool`` (``threads.elementwise``)."""
    args = _hunger_arguments(hungry, hh.food_ratio, hh.province, p.hunger_threshold, p.hunger_mortality_scale,
                             p.hunger_vulnerability_child, p.hunger_vulnerability_elderly, birth_rate_p, log_surv)
    elementwise(_birth_argument, args[3], pool, n_threads, out=args[3])
    return elementwise(np.expm1, args, pool, n_threads, out=args)


def _birth_argument(a: np.ndarray, out: np.ndarray) -> None:
    """out = -((-log1p(a)) x 1.0) / 12 (births: hazard = -log1p(-clip(annual)) x 1.0, argument
    -hazard / 12), which is log1p(a) / 12 exactly: negation and x 1.0 round nothing."""
    np.log1p(a, out=out)
    out /= 12.0


@nb.njit(cache=True, parallel=True)
def _hunger_arguments(hungry, food_ratio, province, threshold, mortality_scale, vulnerability_child,
                      vulnerability_elderly, birth_rate_p, log_surv):
    """Per hungry household: -hazard / 12 of child, adult and elderly deaths (rows 0-2; the hazard
    is the fed one, ``log_surv``, times the hunger multiplier) and -clip(annual birth rate) (row 3,
    the argument of log1p; its province's rate), each as the array expressions of
    ``hunger_shortfall``, ``hunger_multiplier`` and ``monthly_probability`` form it."""
    out = np.empty((4, hungry.size))
    for k in nb.prange(hungry.size):
        short = min(max((threshold - np.float64(food_ratio[hungry[k]])) / threshold, 0.0), 1.0)
        hm = 1.0 + mortality_scale * (short * short)
        out[0, k] = -(log_surv[0] * (1.0 + (hm - 1.0) * vulnerability_child)) / 12.0
        out[1, k] = -(log_surv[1] * hm) / 12.0
        out[2, k] = -(log_surv[2] * (1.0 + (hm - 1.0) * vulnerability_elderly)) / 12.0
        out[3, k] = -min(max(birth_rate_p[province[hungry[k]]], 0.0), 0.999)
    return out


@nb.njit(cache=True, parallel=True)
def _excess_deaths(hungry, province, block_start, children, adults, elderly, p_hungry, p_fed, n_prov, n_threads=1):
    """Expected deaths of the hungry beyond the fed probabilities, summed per province in slot
    order (as ``np.bincount`` sums them); a province's households (one run of the ascending
    ``hungry``) per thread. ``p_hungry`` holds the hungry's probabilities negated."""
    out = np.zeros(n_prov)
    bounds = province_bounds(hungry, block_start)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            if bounds[r + 1] == bounds[r]:
                continue
            total = 0.0  # in a register: a sum in memory made each household wait on the last one's store
            for k in range(bounds[r], bounds[r + 1]):
                i = hungry[k]
                total += ((children[i] * (-p_hungry[0, k] - p_fed[0]) + adults[i] * (-p_hungry[1, k] - p_fed[1]))
                          + elderly[i] * (-p_hungry[2, k] - p_fed[2]))
            out[province[hungry[bounds[r]]]] = total
    return out


#: months from conception to birth: births answer the hunger of this many months before
GESTATION_MONTHS = 9.0
#: fixed-point scale of the conception sums (``_find_hungry_and_conceive``): whole numbers, so the
#: sums are the same in any order of pieces and threads
CONCEPTION_SCALE = float(1 << 24)


@nb.njit(cache=True, parallel=True)
def _find_hungry_and_conceive(pieces, bounds, n_prov, active, adults, food_ratio, threshold, fertility_slope):
    """The active households hungry now (food ratio below ``threshold``, in its type float32;
    ascending slots), and per province the working adults and their fertility multiplier
    (``fertility_multiplier`` of ``hunger_shortfall``) summed in fixed point (x
    ``CONCEPTION_SCALE``, rounded per household): what this month's conceptions are born of
    (``conception_multiplier``). Pieces of provinces (``kernels.slot_pieces``) in parallel."""
    base, n = piece_bases(pieces)
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    sums = np.zeros((pieces.shape[0], 2), dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    th = np.float64(threshold)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            k = base[q]
            weighted = 0
            total = 0
            for i in range(pieces[q, 1], pieces[q, 2]):
                if active[i]:
                    r = food_ratio[i]
                    out[k] = i
                    a = np.int64(adults[i])
                    total += a
                    if r < threshold:  # the fed's multiplier is 1: their adults count whole
                        k += 1
                        short = min(max((th - np.float64(r)) / th, 0.0), 1.0)
                        m = max(1.0 - fertility_slope * short, 0.0)
                        weighted += np.int64(np.floor(a * m * CONCEPTION_SCALE + 0.5))
                    else:
                        weighted += a * np.int64(CONCEPTION_SCALE)
            counts[q] = k - base[q]
            sums[q, 0] = weighted
            sums[q, 1] = total
    province_sums = np.zeros((n_prov, 2), dtype=np.int64)
    for q in range(pieces.shape[0]):
        province_sums[pieces[q, 0], 0] += sums[q, 0]
        province_sums[pieces[q, 0], 1] += sums[q, 1]
    return out[:compact_segments(out, base, counts)], province_sums


def conception_multiplier(province_sums: np.ndarray) -> np.ndarray:
    """Per province, the working adults' mean fertility multiplier this month (1 where it has no
    adults), from ``_find_hungry_and_conceive``'s fixed-point sums."""
    weighted = province_sums[:, 0] / CONCEPTION_SCALE
    adults = province_sums[:, 1]
    return np.divide(weighted, adults, out=np.ones(adults.size), where=adults > 0)


def conceived_multiplier(world: World) -> np.ndarray:
    """Per province, the fertility multiplier of the month this month's births were conceived in
    (``GESTATION_MONTHS`` ago; 1 before the run had that many months): famine amenorrhoea and
    postponed marriage cut conceptions, and the births fall nine months later (Ashton et al.
    1984; O Grada 2009). A province's mean over its working adults: across households the mean
    multiplier is within a few hundredths of the multiplier at the mean food ratio (docs/ODD.md
    §10, item 3), so the province's mean carries the delay that matters."""
    if world.conception_fertility is None:
        world.conception_fertility = np.ones((world.provinces.n, int(GESTATION_MONTHS)))
    return world.conception_fertility[:, 0].copy()


def record_conceptions(world: World, this_month: np.ndarray) -> None:
    """Append this month's multiplier per province to ``World.conception_fertility``, dropping the
    oldest (read first, by ``conceived_multiplier``)."""
    history = world.conception_fertility
    world.conception_fertility = np.concatenate([history[:, 1:], np.asarray(this_month, dtype=np.float64)[:, None]],
                                                axis=1)


def couples_apart_at_conception(world: World, ctx: StepContext) -> float:
    """Share of rural couples apart in the month this month's births were conceived
    (``GESTATION_MONTHS`` ago), and this month's share recorded for the births to come. Labour
    sent to the water works and the furnaces (``harvest.labour_diverted_share``) left spouses
    apart for weeks or months, and births fell in 1958-59 before the hunger did (Ashton et al.
    1984; Peng 1987): ``separation_per_labour_away`` couples are apart per adult away."""
    from hightide.economy.harvest import labour_diverted_share

    apart = min(ctx.params.separation_per_labour_away * labour_diverted_share(world, ctx), 1.0)
    lag = int(GESTATION_MONTHS)
    history = world.couples_apart or (0.0,) * lag
    world.couples_apart = history[1:] + (apart,)
    return history[0]


def vital_events(world: World, ctx: StepContext) -> None:
    """Deaths, births and ageing in every household (``_vital``); the hungry face higher death
    probabilities (``hunger_multiplier``). Births follow the province's hunger of nine months
    before (``conceived_multiplier``: the working adults' mean ``fertility_multiplier`` of the
    month of conception), and this month's is recorded for the births to come. The fed, whose
    probabilities are the same, draw from walks that skip from event to event (``_fed_events``).
    Provinces are handled in chunks of whole provinces, which changes nothing but the memory the
    month needs."""
    p, hh = ctx.params, world.households
    active = hh.active
    base = baseline_factor(p, ctx.month / 12 - 1952)
    fertility = p.fertility_per_working_adult * (1.0 - couples_apart_at_conception(world, ctx))
    # births per working adult (annual) by province: the rate, times the multiplier of the month of conception
    birth_rate_p = fertility * conceived_multiplier(world)
    p_birth = monthly_probability(birth_rate_p)
    p_fed = np.array([monthly_probability(p.mortality_child * base), monthly_probability(p.mortality_adult * base),
                      monthly_probability(p.mortality_elderly * base)])
    heads, month_word = streams.stream_heads(ctx.seed, *VITAL_STREAMS), streams.month_word(ctx.month)
    fed_heads = streams.stream_heads(ctx.seed, *FED_STREAMS)
    flows = np.zeros((world.provinces.n, 2))
    hunger_deaths = np.zeros(world.provinces.n)
    # the hazards of the fed at 1952 rates times the baseline factor, as ``monthly_probability`` forms them
    log_surv = np.array([-np.log1p(-np.clip(rate * base, 0.0, 0.999))
                         for rate in (p.mortality_child, p.mortality_adult, p.mortality_elderly)])
    n_threads = thread_count()
    with numpy_threads(n_threads) as pool:
        this_month = _vital_chunks(world, ctx, p, hh, active, heads, fed_heads, month_word, p_fed, p_birth, log_surv,
                                   birth_rate_p, flows, hunger_deaths, pool, n_threads)
    record_conceptions(world, this_month)
    w = world.weight
    ctx.flows["births"] += flows[:, 0] * w
    ctx.flows["deaths"] += flows[:, 1] * w
    ctx.flows["hunger_deaths"] += hunger_deaths * w
    _urban_vital(world, ctx, base)


def _vital_chunks(world, ctx, p, hh, active, heads, fed_heads, month_word, p_fed, p_birth, log_surv, birth_rate_p,
                  flows, hunger_deaths, pool, n_threads) -> np.ndarray:
    """``vital_events`` chunk by chunk of whole provinces: the hungry and this month's conceptions,
    the hungry's probabilities, hunger deaths and the events, adding to ``flows`` and
    ``hunger_deaths``. Returns this month's fertility multiplier per province (1 where none)."""
    this_month = np.ones(world.provinces.n)
    for chunk in province_chunks(hh):
        pieces, bounds = slot_pieces(hh, chunk)
        hungry, sums = _find_hungry_and_conceive(pieces, bounds, world.provinces.n, hh.active, hh.adults, hh.food_ratio,
                                                 np.float32(p.hunger_threshold), p.hunger_fertility_slope)
        this_month[chunk] = conception_multiplier(sums)[chunk]
        p_hungry = _hungry_probabilities(p, hh, hungry, log_surv, birth_rate_p, pool, n_threads)
        # deaths beyond the baseline among the hungry, in expectation, are counted as hunger deaths
        hunger_deaths += _excess_deaths(hungry, hh.province, hh.block_start, hh.children, hh.adults, hh.elderly,
                                        p_hungry, p_fed, world.provinces.n, n_threads)
        seg_first, seg_lo, seg_hi = _segments(hh, chunk, SEGMENT_SLOTS, world.provinces.n)
        seg_max = _segment_maxima(seg_lo, seg_hi, active, hh.children, hh.adults, hh.elderly)
        if _vital(heads, fed_heads, month_word, pieces, bounds, hh.block_start, np.asarray(hh.used, dtype=np.int64),
                  seg_first, seg_max, SEGMENT_SLOTS, WALK_BELOW, active, hh.children, hh.adults, hh.elderly, hungry,
                  p_hungry, p_fed, p_birth, 1 / (12 * p.years_as_child), 1 / (12 * p.years_working_age), flows):
            raise OverflowError(f"a household has more than {MAX_BAND} members in one age band")
    return this_month


def _segments(hh, provinces: np.ndarray, seg_slots: int, n_prov: int):
    """The segments (``SEGMENT_SLOTS``) of the used slots of ``provinces``: the first segment's
    number per province (-1 for provinces not given) and each segment's first and end slot."""
    provinces = np.asarray(provinces, dtype=np.int64)
    used = np.asarray(hh.used, dtype=np.int64)[provinces]
    starts = np.asarray(hh.block_start, dtype=np.int64)[provinces]
    n_seg = -(-used // seg_slots)
    first = np.concatenate(([0], np.cumsum(n_seg)[:-1])).astype(np.int64)
    seg_first = np.full(n_prov, -1, dtype=np.int64)
    seg_first[provinces] = first
    number = np.arange(int(n_seg.sum()), dtype=np.int64) - np.repeat(first, n_seg)
    seg_lo = np.repeat(starts, n_seg) + number * seg_slots
    seg_hi = np.minimum(seg_lo + seg_slots, np.repeat(starts + used, n_seg))
    return seg_first, seg_lo, seg_hi


def _urban_vital(world: World, ctx: StepContext, base: float) -> None:
    """Towns as aggregates: the same baseline, their own hunger from the urban ration."""
    p = ctx.params
    short = hunger_shortfall(p, world.urban_food_ratio)
    adult_share = 1.0 - p.share_children - p.share_elderly
    birth_rate = p.fertility_per_working_adult * adult_share * fertility_multiplier(p, short)
    births = world.urban_population * monthly_probability(birth_rate)
    deaths = world.urban_population * monthly_probability(crude_baseline_rate(p) * base, hunger_multiplier(p, short))
    world.urban_population += births - deaths
    ctx.flows["urban_births"] += births
    ctx.flows["urban_deaths"] += deaths


@nb.njit(cache=True, parallel=True)
def _die_out(pieces, bounds, active, children, adults, elderly, org):
    """Households whose last member died: flagged inactive and out of their organisation.
    Returns their slots (ascending). Pieces of provinces (``kernels.slot_pieces``) in parallel."""
    base, n = piece_bases(pieces)
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    dead = np.empty(n, dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            k = base[q]
            for i in range(pieces[q, 1], pieces[q, 2]):
                if active[i] & (np.int32(children[i]) + adults[i] + elderly[i] == 0):
                    dead[k] = i
                    k += 1
                    active[i] = False
                    org[i] = NO_ORG
            counts[q] = k - base[q]
    return dead[:compact_segments(dead, base, counts)].copy()


@nb.njit(cache=True, parallel=True)
def _heirs(pieces, bounds, active, village, village_township, dead, u, n_townships):
    """The heir of each dead household: the floor(u x n)-th of the n living households of its
    township in slot order (-1 when none lives there). A township lies in one province: the
    passes over households run provinces in parallel (``pieces``: the provinces where a household
    died out, whole, ``kernels.slot_pieces``; the heirs' townships are theirs)."""
    alive_t = np.zeros(n_townships, dtype=np.int64)
    for th in nb.prange(bounds.size - 1):
        for q in range(bounds[th], bounds[th + 1]):
            # the current township's count in a register while its households follow each other
            t_now = -1
            alive = 0
            for i in range(pieces[q, 1], pieces[q, 2]):
                tw = village_township[village[i]]
                if tw != t_now:
                    if t_now >= 0:
                        alive_t[t_now] = alive
                    t_now = tw
                    alive = alive_t[tw]
                alive += np.int64(active[i])
            if t_now >= 0:
                alive_t[t_now] = alive
    rank = np.full(dead.size, -1, dtype=np.int64)
    wanted = np.zeros(n_townships, dtype=np.int64)  # requests per township
    for j in range(dead.size):
        t = village_township[village[dead[j]]]
        if alive_t[t] > 0:
            rank[j] = np.int64(u[j] * alive_t[t])
            wanted[t] += 1
    # requests grouped by township, by rank
    first = np.zeros(n_townships + 1, dtype=np.int64)
    for t in range(n_townships):
        first[t + 1] = first[t] + wanted[t]
    req = np.empty(first[n_townships], dtype=np.int64)
    fill = first[:n_townships].copy()
    for j in range(dead.size):
        if rank[j] >= 0:
            t = village_township[village[dead[j]]]
            req[fill[t]] = j
            fill[t] += 1
    for t in range(n_townships):
        seg = req[first[t]:first[t + 1]]
        if seg.size > 1:
            req[first[t]:first[t + 1]] = seg[np.argsort(rank[seg], kind="mergesort")]
    heir = np.full(dead.size, -1, dtype=np.int64)
    seen = np.zeros(n_townships, dtype=np.int64)
    nxt = first[:n_townships].copy()
    for th in nb.prange(bounds.size - 1):
        for q in range(bounds[th], bounds[th + 1]):
            for i in range(pieces[q, 1], pieces[q, 2]):
                if not active[i]:
                    continue
                tw = village_township[village[i]]
                while nxt[tw] < first[tw + 1] and rank[req[nxt[tw]]] == seen[tw]:
                    heir[req[nxt[tw]]] = i
                    nxt[tw] += 1
                seen[tw] += 1
    return heir


@nb.njit(cache=True)
def _inherit(dead, heir, land, animals, grain):
    """Land, animals and grain of the dead pass to their heirs, in slot order of the dead."""
    for j in range(dead.size):
        h = heir[j]
        if h >= 0:
            d = dead[j]
            land[h] += land[d]
            animals[h] += animals[d]
            grain[h] += grain[d]


def extinctions(world: World, ctx: StepContext) -> None:
    """Households whose last member died: land, animals and grain pass to a household of the
    same township (kin or the village take them in); with no one left, grain goes to the State."""
    hh = world.households
    dead = _die_out(*slot_pieces(hh), hh.active, hh.children, hh.adults, hh.elderly, hh.org)
    estate = np.zeros(world.provinces.n)  # grain left to the State per province, real kg
    if dead.size:
        # the heirs' draws: the province streams as far as the last dead household of each
        u = streams.uniform_at(ctx.seed, "heirs", ctx.month, hh.block_start, dead)
        heir = _heirs(*slot_pieces(hh, np.unique(hh.province[dead]), whole=True), hh.active, hh.village, hh.village_township, dead, u,
                      int(world.n_townships_sampled.sum()))
        has_heir = heir >= 0
        _inherit(dead, heir, hh.land_mu, hh.draft_animals, hh.grain_kg)
        orphan = dead[~has_heir]
        estate = group_sum(hh.province[orphan], hh.grain_kg[orphan], world.provinces.n) * world.weight
        ctx.flows["estate_kg"] += estate
        for name in ("land_mu", "draft_animals", "grain_kg"):
            hh.arrays[name][dead] = 0
        ctx.add("households_extinct", hh.province[dead], np.ones(dead.size), world.weight)
    # the nation's estates reach the granary (per-province sums in province order)
    world.granary_kg += national_total(ctx.gather("estates", estate))


def partition(world: World, ctx: StepContext) -> None:
    """Family division at the lunar new year: a household with enough adults splits in two; the
    new household takes half the adults and children and a matching share of land, animals and
    grain (Cohen 1976). Provinces in chunks of whole provinces (a household divides within its
    province), which changes nothing but the memory: the eligible households and their draws are
    listed for one chunk at a time."""
    if ctx.cal_month != LUNAR_NEW_YEAR:
        return
    p, hh = ctx.params, world.households
    for chunk in province_chunks(hh):
        able = _with_adults(hh.active, hh.adults, 0, hh.capacity, p.partition_adults_min, hh.block_start[chunk],
                            hh.used[chunk])
        parents = able[streams.uniform_at(ctx.seed, "partition", ctx.month, hh.block_start, able)
                       < p.partition_probability_per_year]
        del able
        if parents.size:
            _divide(world, ctx, parents)


def _divide(world: World, ctx: StepContext, parents: np.ndarray) -> None:
    """Each of ``parents`` (ascending) splits off a new household in a slot claimed in its province."""
    hh = world.households
    new_adults = hh.adults[parents] // 2
    new_children = hh.children[parents] // 2
    persons = hh.children[parents].astype(np.int32) + hh.adults[parents] + hh.elderly[parents]
    frac = (new_adults + new_children) / persons
    prov = hh.province[parents]
    slots = np.empty(parents.size, dtype=np.int64)
    for pv in np.unique(prov):
        sel = np.flatnonzero(prov == pv)
        slots[sel] = hh.claim_slots(int(pv), sel.size)
    for name in ("active", "province", "village", "klass", "attitude", "org", "joined_month", "food_ratio",
                 "effort", "work_norm"):
        hh.arrays[name][slots] = hh.arrays[name][parents]
    hh.five_guarantee[slots] = False
    hh.coerced[slots] = hh.coerced[parents]
    hh.adults[slots] = new_adults
    hh.children[slots] = new_children
    hh.elderly[slots] = 0
    hh.adults[parents] -= new_adults
    hh.children[parents] -= new_children
    for name in ("land_mu", "draft_animals", "grain_kg", "reported_this_year_kg", "reported_last_year_kg",
                 "true_this_year_kg", "true_last_year_kg"):
        arr = hh.arrays[name]
        moved = (arr[parents] * frac).astype(arr.dtype)
        arr[slots] = moved
        arr[parents] -= moved
    ctx.add("households_formed", prov, np.ones(parents.size), world.weight)


@nb.njit(cache=True)
def _with_adults(active, adults, a, b, minimum, starts, used):
    """Active slots a..b-1 (within the used part of the province blocks) with at least
    ``minimum`` working-age adults (ascending)."""
    n = 0
    for p in range(starts.size):
        for i in range(max(a, starts[p]), min(b, starts[p] + used[p])):
            n += active[i] & (adults[i] >= minimum)
    out = np.empty(n + 1, dtype=np.int64)
    k = 0
    for p in range(starts.size):
        for i in range(max(a, starts[p]), min(b, starts[p] + used[p])):
            out[k] = i
            k += active[i] & (adults[i] >= minimum)
    return out[:n]


@nb.njit(cache=True, parallel=True)
def _persons_and_eligible(pieces, bounds, n_prov, active, children, adults, elderly, minimum):
    """Per province block, in one pass (pieces of provinces in parallel, ``kernels.slot_pieces``):
    persons in active households (whole numbers, exact in any order) and how many active
    households have at least ``minimum`` working-age adults (``_with_adults``); and the latter
    per piece."""
    counts = np.zeros((pieces.shape[0], 2), dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            c = 0
            e = 0
            for i in range(pieces[q, 1], pieces[q, 2]):
                if active[i]:
                    c += np.int64(children[i]) + adults[i] + elderly[i]
                    if adults[i] >= minimum:
                        e += 1
            counts[q, 0] = c
            counts[q, 1] = e
    persons = np.zeros(n_prov)
    eligible = np.zeros(n_prov, dtype=np.int64)
    for q in range(pieces.shape[0]):
        persons[pieces[q, 0]] += counts[q, 0]
        eligible[pieces[q, 0]] += counts[q, 1]
    return persons, eligible, counts[:, 1].copy()


@nb.njit(cache=True, parallel=True)
def _eligible_at(pieces, bounds, piece_eligible, first_rank, ranks, active, adults, minimum):
    """Slots of the households of ``_with_adults`` at the given ranks within their province:
    ``ranks[first_rank[p]:first_rank[p + 1]]`` (ascending) are province p's. Each piece walks its
    slots from the rank of its first eligible household (the pieces of a province before it,
    ``piece_eligible``), the pieces in parallel: the list itself is never built."""
    n_q = pieces.shape[0]
    before = np.zeros(n_q, dtype=np.int64)  # eligible households of the province before the piece
    for q in range(1, n_q):
        if pieces[q, 0] == pieces[q - 1, 0]:
            before[q] = before[q - 1] + piece_eligible[q - 1]
    out = np.empty(ranks.size, dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            pv = pieces[q, 0]
            lo, hi = first_rank[pv], first_rank[pv + 1]
            j = lo + np.searchsorted(ranks[lo:hi], before[q])
            r = before[q]
            for i in range(pieces[q, 1], pieces[q, 2]):
                if j == hi:
                    break
                if active[i] & (adults[i] >= minimum):
                    if r == ranks[j]:
                        out[j] = i
                        j += 1
                    r += 1
    return out


def migration(world: World, ctx: StepContext) -> None:
    """Net rural-to-urban migration (or send-down when negative) set by policy (MODEL.md §4.5):
    one working-age adult leaves (or joins) each chosen household."""
    rate = ctx.policy.urban_net_migration_m_per_year
    if rate == 0:
        return
    hh, n_prov = world.households, world.provinces.n
    minimum = 2 if rate > 0 else 1
    # persons per province and how many households can send (or take) an adult, in one pass
    pieces, bounds = slot_pieces(hh)
    persons, n_eligible, piece_eligible = _persons_and_eligible(pieces, bounds, world.provinces.n, hh.active,
                                                                hh.children, hh.adults, hh.elderly, minimum)
    # each province's share of the nation's rural people (every province's count, on any number of shards)
    rural = ctx.gather("rural_persons", persons * world.weight)
    expected = abs(rate) * 1e6 / 12 * rural / rural.sum() / world.weight  # simulated persons
    moved = np.zeros(n_prov)
    ranks = []
    province_streams = streams.ProvinceStreams(ctx.seed, "migration", ctx.month)
    for pv in range(n_prov):
        g = province_streams[pv]
        k = int(np.floor(expected[pv] + g.random()))
        k = min(k, int(n_eligible[pv]))
        if k <= 0:
            ranks.append(np.zeros(0, dtype=np.int64))
            continue
        # the ranks drawn are those ``g.choice(eligible, k, replace=False)`` draws (the same stream
        # use for a count as for a list of that length); their households are found in one pass
        # over the provinces' pieces instead of listing every eligible household (a province's
        # moves never change another's eligibility)
        ranks.append(np.sort(g.choice(int(n_eligible[pv]), size=k, replace=False)))
        moved[pv] = k
    first_rank = np.cumsum([0] + [r.size for r in ranks]).astype(np.int64)
    chosen = _eligible_at(pieces, bounds, piece_eligible, first_rank, np.concatenate(ranks).astype(np.int64),
                          hh.active, hh.adults, minimum)
    hh.adults[chosen] += -1 if rate > 0 else 1
    real = ctx.gather("migrants", moved) * world.weight * (1 if rate > 0 else -1)  # the towns of every province
    world.urban_population += real
    ctx.flows["migrants"] += real


def herd_rate(params, effort: np.ndarray, pooled: np.ndarray, shortfall: np.ndarray) -> np.ndarray:
    """Annual net growth of a household's herd: the natural increase, less neglect where animals
    are pooled and cared for by nobody in particular (as effort falls), less slaughter by the
    hungry (Walker 1984; approx.)."""
    return (params.draft_animal_growth_per_year
            - params.collective_herd_neglect * pooled * np.clip(1.0 - effort, 0.0, 1.0)
            - params.hunger_slaughter * shortfall)


def herd_growth(world: World, ctx: StepContext) -> None:
    """Draft animals breed, age, are neglected or slaughtered (MODEL.md §4.2-§4.3): each herd grows
    by (1 + max(``herd_rate``, -0.99)) ** (1/12) a month. Most herds grow at the common rate (kept
    by their household, fed): ``_herds`` scales them by one power and computes the others' growth
    (``herd_rate`` element for element); NumPy takes the others' powers."""
    p, hh, orgs = ctx.params, world.households, world.organisations
    common = 1.0 + max(p.draft_animal_growth_per_year, -0.99)
    common_factor = np.float32(np.power(np.array([common]), 1 / 12)[0])
    n_threads = thread_count()
    with numpy_threads(n_threads) as pool:
        _herd_chunks(hh, orgs, p, common, common_factor, pool, n_threads)


def _herd_chunks(hh, orgs, p, common, common_factor, pool, n_threads) -> None:
    """``herd_growth`` chunk by chunk of whole provinces; NumPy's powers on ``n_threads`` threads."""
    for chunk in province_chunks(hh):
        idx, growth = _herds(*slot_pieces(hh, chunk), hh.active, hh.draft_animals, hh.org, orgs.form, hh.effort,
                             hh.food_ratio, p.draft_animal_growth_per_year, p.collective_herd_neglect,
                             p.hunger_slaughter, p.hunger_threshold, common, common_factor)
        if idx.size:
            elementwise(lambda a, out: np.power(a, 1 / 12, out=out), growth, pool, n_threads, out=growth)
            _scale_herds(idx, hh.draft_animals, growth)


@nb.njit(cache=True, inline="always")
def _herd_growth_of(i, org, org_form, effort, food_ratio, g, neglect, slaughter, threshold):
    """1 + max(``herd_rate``, -0.99) of household i, in the order of the array expressions."""
    o = org[i]
    f = org_form[max(o, 0)]
    pooled = 1.0 if (o >= 0) & (f >= ELEMENTARY_APC) & (f <= COMMUNE) else 0.0
    neglect_t = (neglect * pooled) * min(max(1.0 - np.float64(effort[i]), 0.0), 1.0)
    short = min(max((threshold - np.float64(food_ratio[i])) / threshold, 0.0), 1.0)
    return 1.0 + max((g - neglect_t) - slaughter * short, -0.99)


@nb.njit(cache=True, parallel=True)
def _herds(pieces, bounds, active, animals, org, org_form, effort, food_ratio, g, neglect, slaughter,
           threshold, common, common_factor):
    """Herds of active households growing at the ``common`` rate are scaled by ``common_factor``
    here; returns the other herds' households (ascending) and growth. A herd's growth depends on
    its effort, whether its animals are pooled (its organisation is a co-operative or commune) and
    its food ratio. Pieces of provinces (``kernels.slot_pieces``) in parallel."""
    base, n = piece_bases(pieces)
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    idx = np.empty(n, dtype=np.int64)
    growth = np.empty(n)
    one = np.float32(1.0)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            k = base[q]
            for i in range(pieces[q, 1], pieces[q, 2]):
                # without branches: whether a herd grows, and at which rate, is a coin toss to the
                # processor (a mispredicted branch costs more than computing the growth of all)
                gr = _herd_growth_of(i, org, org_form, effort, food_ratio, g, neglect, slaughter, threshold)
                grows = active[i] & (animals[i] > 0)
                animals[i] = animals[i] * (common_factor if grows & (gr == common) else one)
                idx[k] = i
                growth[k] = gr
                k += grows & (gr != common)
            counts[q] = k - base[q]
    compact_segments(growth, base, counts)
    k = compact_segments(idx, base, counts)
    return idx[:k], growth[:k]


@nb.njit(cache=True, parallel=True)
def _scale_herds(idx, animals, factor):
    """Herds ``idx`` (distinct) times their growth ``factor`` (float64, taken as float32)."""
    for k in nb.prange(idx.size):
        animals[idx[k]] = animals[idx[k]] * np.float32(factor[k])
