"""Willingness to pool: who wants to join, who wants out (MODEL.md §4.2; [001 §V])."""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine.kernels import slot_pieces
from hightide.params import ParameterSet
from hightide.world.households import LANDLORD, LOWER_MIDDLE, NO_ORG, POOR, RICH, UPPER_MIDDLE


def class_bonus(params: ParameterSet, klass: np.ndarray) -> np.ndarray:
    """Poor and lower-middle peasants are keen, the well-to-do waver, rich peasants resist [001 §V-§VI]."""
    table = np.zeros(5)
    table[POOR] = params.willingness_poor
    table[LOWER_MIDDLE] = params.willingness_lower_middle
    table[UPPER_MIDDLE] = params.willingness_upper_middle
    table[RICH] = params.willingness_rich
    table[LANDLORD] = params.willingness_rich
    return table[klass]


def labour_shortage(labour: np.ndarray, land: np.ndarray, mean_labour_per_mu: np.ndarray) -> np.ndarray:
    """1 - (labour per mu / provincial mean), floored at 0: households short of hands [001 §V]."""
    per_mu = np.divide(labour, land, out=np.zeros_like(labour, dtype=np.float64), where=land > 0)
    short = np.clip(1.0 - per_mu / mean_labour_per_mu, 0.0, 1.0)
    return np.where(land > 0, short, 0.0)  # no land, no shortage of hands for it


def willingness(params: ParameterSet, *, klass, attitude, shortage, animals, promotion: float,
                neighbours_share) -> np.ndarray:
    """Willingness index: act when > 0 (join) or < -exit_hysteresis (leave)."""
    return (params.willingness_base + class_bonus(params, klass) + attitude
            + params.willingness_labour_shortage * shortage
            + params.willingness_no_animals * (animals < 0.5)
            + params.willingness_promotion * promotion
            + params.willingness_neighbours * neighbours_share)


def class_table(params: ParameterSet) -> np.ndarray:
    """``class_bonus`` by class code."""
    return class_bonus(params, np.arange(5))


@nb.njit(cache=True, parallel=True)
def _willingness_at(idx, klass, attitude, children, adults, elderly, land, animals, province, village,
                    village_township, labour_child, labour_elderly, mean_lpm, neighbours_v, bonus, base, w_short,
                    w_no_animals, promotion_term, w_neighbours, apc, w_demonstration, advantage_t, unfair, unfairness):
    """``willingness`` (with ``labour_shortage`` from labour power and land) for the households
    ``idx``, element by element in the order of the array expression; with ``apc`` the
    co-operative terms of ``cooperatives._willingness_apc`` (demonstration by the township's
    co-operatives; the unfair price of pooled animals, a float32 product as NumPy forms it)."""
    out = np.empty(idx.size)
    for k in nb.prange(idx.size):
        i = idx[k]
        labour = adults[i] + labour_child * children[i] + labour_elderly * elderly[i]
        area = np.float64(land[i])
        per_mu = labour / area if area > 0 else 0.0
        short = min(max(1.0 - per_mu / mean_lpm[province[i]], 0.0), 1.0) if area > 0 else 0.0
        no_animals = 1.0 if animals[i] < 0.5 else 0.0
        w = (base + bonus[klass[i]] + np.float64(attitude[i]) + w_short * short + w_no_animals * no_animals
             + promotion_term + w_neighbours * neighbours_v[village[i]])
        if apc:
            cost = unfair * animals[i] * unfairness  # float32 x float32 x float32
            w = w + w_demonstration * advantage_t[village_township[village[i]]] - np.float64(cost)
        out[k] = w
    return out


def willingness_of(world, params: ParameterSet, idx: np.ndarray, promotion: float, mean_lpm: np.ndarray,
                   neighbours_share: np.ndarray, advantage_t: np.ndarray | None = None) -> np.ndarray:
    """``willingness`` of the households ``idx`` (``labour_shortage`` against the province mean
    ``mean_lpm``; ``neighbours_share`` by village), with the co-operative terms when the
    township advantage ``advantage_t`` is given (``cooperatives._willingness_apc``), computed
    in one compiled pass without per-household temporaries."""
    hh = world.households
    apc = advantage_t is not None
    return _willingness_at(
        np.asarray(idx, dtype=np.int64), hh.klass, hh.attitude, hh.children, hh.adults, hh.elderly, hh.land_mu,
        hh.draft_animals, hh.province, hh.village, hh.village_township, params.labour_weight_child,
        params.labour_weight_elderly, mean_lpm, neighbours_share, class_table(params), params.willingness_base,
        params.willingness_labour_shortage, params.willingness_no_animals, params.willingness_promotion * promotion,
        params.willingness_neighbours, apc, params.willingness_demonstration if apc else 0.0,
        advantage_t if apc else np.zeros(1), np.float32(params.willingness_unfair_price),
        np.float32(1.0 - params.animal_price_fairness))


def found(world, month: int, first_member: np.ndarray, village: np.ndarray, form: int) -> np.ndarray:
    """Create organisations of ``form``, one per founding household, in the founders' provinces'
    slot blocks, township and ``village``. Returns their ids."""
    hh, orgs = world.households, world.organisations
    prov = hh.province[first_member]
    ids = np.empty(first_member.size, dtype=np.int64)
    for pv in np.unique(prov):
        sel = np.flatnonzero(prov == pv)
        ids[sel] = orgs.claim(int(pv), sel.size)
    orgs.active[ids] = True
    orgs.form[ids] = form
    orgs.province[ids] = prov
    orgs.township[ids] = hh.township_of(first_member)
    orgs.village[ids] = village
    orgs.founded_month[ids] = month
    orgs.quality[ids] = 0
    orgs.yield_advantage[ids] = np.nan  # not assessed until its first harvest
    orgs.represents[ids] = 1.0
    return ids


@nb.njit(cache=True, parallel=True)
def _neighbourhood(pieces, bounds, active, province, village, org, org_form, forms, any_org, children, adults,
                   elderly, land, labour_child, labour_elderly, n_prov, n_vill):
    labour_p = np.zeros(n_prov)
    land_p = np.zeros(n_prov)
    members_v = np.zeros(n_vill)
    total_v = np.zeros(n_vill)
    # whole provinces (``kernels.slot_pieces``) in parallel: a province's villages are its own, so
    # no two threads share a sum; the current village's counts in registers while its households
    # follow each other (whole numbers: the same in any order)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            labour = 0.0
            land_sum = 0.0
            v_now = -1
            n_total = n_members = 0.0
            for i in range(pieces[q, 1], pieces[q, 2]):
                if not active[i]:
                    continue
                labour += adults[i] + labour_child * children[i] + labour_elderly * elderly[i]
                land_sum += np.float64(land[i])
                v = village[i]
                if v != v_now:
                    if v_now >= 0:
                        total_v[v_now] = n_total
                        members_v[v_now] = n_members
                    v_now = v
                    n_total, n_members = total_v[v], members_v[v]
                n_total += 1.0
                o = org[i]
                n_members += np.float64((o >= 0) & (any_org | forms[org_form[max(o, 0)]]))
            if v_now >= 0:
                total_v[v_now] = n_total
                members_v[v_now] = n_members
            labour_p[pieces[q, 0]] = labour
            land_p[pieces[q, 0]] = land_sum
    return labour_p, land_p, members_v, total_v


def neighbourhood(world, params, forms=None) -> tuple[np.ndarray, np.ndarray]:
    """(mean labour power per mu of land per province; share of each village's active households
    in an organisation of ``forms`` (None: any organisation)), for ``labour_shortage`` and the
    neighbours term of ``willingness``. One pass over the households; sums in slot order, as
    ``np.bincount`` gives them."""
    hh, orgs = world.households, world.organisations
    mask = np.zeros(8, dtype=np.bool_)
    if forms is not None:
        mask[list(forms)] = True
    labour_p, land_p, members_v, total_v = _neighbourhood(
        *slot_pieces(hh, whole=True), hh.active, hh.province, hh.village, hh.org, orgs.form, mask, forms is None,
        hh.children, hh.adults, hh.elderly, hh.land_mu, params.labour_weight_child, params.labour_weight_elderly,
        world.provinces.n, world.n_villages)
    return labour_p / np.maximum(land_p, 1e-9), members_v / np.maximum(total_v, 1)


@nb.njit(cache=True, parallel=True)
def release_members(pieces, bounds, active, org, joined_month, coerced, clear_coerced, dead, n_prov):
    """Active members of the ``dead`` organisations leave them (no organisation, not joined; with
    ``clear_coerced`` no longer coerced, as a co-operative's members); returns how many per
    province (whole numbers, so the pieces change nothing). One pass over pieces of provinces
    (``kernels.slot_pieces``), without masks over every slot."""
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            c = 0
            for i in range(pieces[q, 1], pieces[q, 2]):
                o = org[i]
                if active[i] and o >= 0 and dead[o]:
                    org[i] = NO_ORG
                    joined_month[i] = -1
                    if clear_coerced:
                        coerced[i] = False
                    c += 1
            counts[q] = c
    out = np.zeros(n_prov)
    for q in range(pieces.shape[0]):
        out[pieces[q, 0]] += counts[q]
    return out
