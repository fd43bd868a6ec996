"""Mutual-aid teams (MODEL.md §2.2; [001 §II, §VIII]; [003]).

Households that want to pool labour form teams with their village neighbours in the slack season;
members whose willingness collapses leave; a team that shrinks below the minimum dissolves.
Landlords are not admitted (class line, [001 §V]). Each member keeps its own output.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine import rng, streams
from hightide.engine.calendar import SLACK_SEASON
from hightide.engine.context import StepContext
from hightide.engine.kernels import compact_segments, piece_bases, slot_pieces
from hightide.institutions.membership import found, neighbourhood, release_members, willingness_of
from hightide.world.households import LANDLORD, NO_ORG
from hightide.world.organisations import MUTUAL_AID
from hightide.world.world import World


def group_into_teams(village: np.ndarray, rank_key: np.ndarray, team_size: float, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Split joiners into teams within their village.

    Returns (team number per joiner, -1 when too few joiners in the village; village of each team).
    Villages with at least ``min_size`` joiners form round(n / team_size) (>= 1, and no more than
    n // min_size) teams, members dealt out in ``rank_key`` order (ties in joiner order).
    """
    village = np.asarray(village)
    return _group_into_teams(village, np.asarray(rank_key, dtype=np.float64), float(team_size), int(min_size))


@nb.njit(cache=True, parallel=True)
def _group_into_teams(village, rank_key, team_size, min_size):
    """``group_into_teams`` in one compiled call, in the order of ``np.lexsort((rank_key,
    village))`` (village, then rank, then joiner order) without sorting everyone: joiners are
    bucketed by village in joiner order (a counting sort), then each village's bucket is sorted
    by rank (stable) and dealt out, the villages in parallel and their teams numbered in village
    order."""
    n = village.size
    if n == 0:
        return np.full(0, -1, dtype=np.int64), np.empty(0, dtype=village.dtype)
    v_lo = village.min()
    n_v = np.int64(village.max()) - v_lo + 1
    first = np.zeros(n_v + 1, dtype=np.int64)
    for k in range(n):
        first[village[k] - v_lo + 1] += 1
    for v in range(n_v):
        first[v + 1] += first[v]
    order = np.empty(n, dtype=np.int64)
    fill = first[:n_v].copy()
    for k in range(n):
        v = village[k] - v_lo
        order[fill[v]] = k
        fill[v] += 1
    teams = np.zeros(n_v + 1, dtype=np.int64)  # teams of each village (prefix: its first team)
    for v in nb.prange(n_v):
        count = first[v + 1] - first[v]
        if count >= min_size:
            teams[v + 1] = int(max(min(np.rint(count / team_size), count // max(min_size, 1)), 1))
    for v in range(n_v):
        teams[v + 1] += teams[v]
    team = np.full(n, -1, dtype=np.int64)
    team_village = np.empty(teams[n_v], dtype=village.dtype)
    for v in nb.prange(n_v):
        per = teams[v + 1] - teams[v]
        if per == 0:
            continue
        run = order[first[v]:first[v + 1]]
        ranked = run[np.argsort(rank_key[run], kind="mergesort")]
        for r in range(ranked.size):
            team[ranked[r]] = teams[v] + r % per
        for t in range(per):
            team_village[teams[v] + t] = v + v_lo
    return team, team_village


@nb.njit(cache=True, parallel=True)
def _deciders(head, month_word, pieces, bounds, starts, active, prob, klass, excluded):
    """Active households, not of the ``excluded`` class, whose draw this month (their province's
    stream, one per used slot) is below ``prob``: (slots ascending, their draws). Pieces of
    provinces (``kernels.slot_pieces``) in parallel, each stream started at the piece's first slot
    (``rng.advance``) and each piece writing its hits into its own segment (``compact_segments``
    packs them)."""
    base, n = piece_bases(pieces)
    counts = np.zeros(pieces.shape[0], dtype=np.int64)
    idx = np.empty(n, dtype=np.int64)
    u_sel = np.empty(n)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            p, lo, hi = pieces[q, 0], pieces[q, 1], pieces[q, 2]
            s_hi, s_lo, i_hi, i_lo = rng.stream_start(head, p, month_word)
            if lo > starts[p]:
                s_hi, s_lo = rng.advance(s_hi, s_lo, i_hi, i_lo, lo - starts[p])
            k = base[q]
            for i in range(lo, hi):
                s_hi, s_lo, u = rng.next_double(s_hi, s_lo, i_hi, i_lo)
                idx[k] = i
                u_sel[k] = u
                k += active[i] & (u < prob) & (klass[i] != excluded)
            counts[q] = k - base[q]
    compact_segments(u_sel, base, counts)
    k = compact_segments(idx, base, counts)
    return idx[:k], u_sel[:k]  # views: only the pages written (about the deciders) are resident


@nb.njit(cache=True, parallel=True)
def _anyone_free_or_in_a_team(pieces, bounds, active, org, org_active, org_form):
    """Whether any active household is outside every organisation or in a live mutual-aid team:
    the only households whose decision this month can change anything. Pieces of provinces
    (``kernels.slot_pieces``) in parallel, each stopping at its first such household: in the
    communes' years, when no one is, every household is looked at, on every thread."""
    found = np.zeros(pieces.shape[0], dtype=np.bool_)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            for i in range(pieces[q, 1], pieces[q, 2]):
                o = org[i]
                if active[i] and (o < 0 or (org_active[o] and org_form[o] == MUTUAL_AID)):
                    found[q] = True
                    break
    return found.any()


def organise(world: World, ctx: StepContext) -> None:
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    if not pol.mutual_aid_allowed:
        is_mat = orgs.active & (orgs.form == MUTUAL_AID)
        if is_mat.any():  # else no household is a member
            member = hh.active & (hh.org != NO_ORG)
            member &= is_mat[np.maximum(hh.org, 0)]
            _leave(world, ctx, np.flatnonzero(member), counted_as="left")
        _dissolve_small(world, ctx, 1 << 30)
        return
    if not _anyone_free_or_in_a_team(*slot_pieces(hh), hh.active, hh.org, orgs.active, orgs.form):
        # every household is in a co-operative or commune (from 1958 on): no one decides anything
        # here (a decider neither leaves a team nor joins one), so the draws are not even taken
        _dissolve_small(world, ctx, int(p.mutual_aid_min_size))
        return
    prob = p.decision_probability_campaign if ctx.cal_month in SLACK_SEASON else p.decision_probability_other
    if ctx.initial:
        prob = 1.0
    idx, u = _deciders(streams.stream_heads(ctx.seed, "organising")[0], streams.month_word(ctx.month),
                       *slot_pieces(hh), hh.block_start, hh.active, prob, hh.klass, LANDLORD)
    if idx.size:
        org = hh.org[idx]
        free = org == NO_ORG
        is_member = ~free & orgs.active[np.maximum(org, 0)] & (orgs.form[np.maximum(org, 0)] == MUTUAL_AID)
        mean_lpm, organised_share = neighbourhood(world, p)
        w = willingness_of(world, p, idx, pol.mutual_aid_promotion, mean_lpm, organised_share)
        _leave(world, ctx, idx[is_member & (w < -p.exit_hysteresis)], counted_as="left")
        joins = ~is_member & free & (w > 0)
        _join(world, ctx, idx[joins], u[joins])
    _dissolve_small(world, ctx, int(p.mutual_aid_min_size))


def _join(world: World, ctx: StepContext, joiners: np.ndarray, u: np.ndarray) -> None:
    """``joiners`` (their draws ``u``) form teams with their village neighbours, or join one."""
    if joiners.size == 0:
        return
    p, hh, orgs = ctx.params, world.households, world.organisations
    team, team_village = group_into_teams(hh.village[joiners], u, p.mutual_aid_team_size, int(p.mutual_aid_min_size))
    # too few joiners in a village: join an existing team there, if any
    alone = team < 0
    if alone.any():
        live = np.flatnonzero(orgs.active & (orgs.form == MUTUAL_AID))
        n_vill = world.n_villages
        some_team = np.full(n_vill, -1, dtype=np.int64)
        some_team[orgs.village[live]] = live
        target = some_team[hh.village[joiners[alone]]]
        ok = target >= 0
        hh.org[joiners[alone][ok]] = target[ok]
        hh.joined_month[joiners[alone][ok]] = ctx.month
    if team_village.size:
        first_member = np.full(team_village.size, -1, dtype=np.int64)
        has = team >= 0
        first_member[team[has][::-1]] = joiners[has][::-1]
        ids = found(world, ctx.month, first_member, team_village, MUTUAL_AID)
        hh.org[joiners[has]] = ids[team[has]]
        hh.joined_month[joiners[has]] = ctx.month
    joined = joiners[hh.org[joiners] != NO_ORG]
    ctx.add("joined", hh.province[joined], np.ones(joined.size), world.weight)


def _leave(world: World, ctx: StepContext, leavers: np.ndarray, counted_as: str) -> None:
    if leavers.size == 0:
        return
    hh = world.households
    hh.org[leavers] = NO_ORG
    hh.joined_month[leavers] = -1
    ctx.add(counted_as, hh.province[leavers], np.ones(leavers.size), world.weight)


@nb.njit(cache=True, parallel=True)
def _team_sizes(pieces, bounds, active, org, org_active, org_form, n_orgs):
    """Active members of each live mutual-aid team (a team's members live in its province, whose
    households only this thread counts: whole provinces, ``kernels.slot_pieces``)."""
    size = np.zeros(n_orgs, dtype=np.int32)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            for i in range(pieces[q, 1], pieces[q, 2]):
                o = org[i]
                if active[i] and o >= 0 and org_active[o] and org_form[o] == MUTUAL_AID:
                    size[o] += 1
    return size


def _dissolve_small(world: World, ctx: StepContext, min_size: int) -> None:
    """Teams with fewer than ``min_size`` active members dissolve; their members are free again."""
    hh, orgs = world.households, world.organisations
    live = orgs.active & (orgs.form == MUTUAL_AID)
    if not live.any():  # no team to count (and none to dissolve)
        return
    size = _team_sizes(*slot_pieces(hh, whole=True), hh.active, hh.org, orgs.active, orgs.form, orgs.capacity)
    gone = np.flatnonzero(live & (size < min_size))
    if gone.size == 0:
        return
    orgs.active[gone] = False
    dead = np.zeros(orgs.capacity, dtype=np.bool_)
    dead[gone] = True
    release_members(*slot_pieces(hh), hh.active, hh.org, hh.joined_month, hh.coerced, False, dead,
                    world.provinces.n)
    ctx.add("mat_dissolved", orgs.province[gone], np.ones(gone.size), world.weight)
