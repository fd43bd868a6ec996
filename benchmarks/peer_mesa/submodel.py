"""The shared sub-model of the peer comparison, and hightide's engine running it.

One province, 36 months from January 1953. Every month a share of households reconsider mutual
aid (more in the slack season): willingness as ``hightide.institutions.membership.willingness``
(class, attitude, shortage of hands, no animals, promotion, the village's organised share); team
members who no longer want it leave, households outside who want it join, joiners of a village
form teams of about ``mutual_aid_team_size`` (fewer than the minimum join a team of their village),
teams that shrink below the minimum dissolve. In the slack season each team becomes an elementary
co-operative with probability ``APC_CONVERSION``. In October everyone harvests: households alone
keep the output of their own land and labour; teams pool labour and animals over their members'
land and pay for labour exchanged (``production.labour_exchange``); a co-operative pools its
members' output and pays a land dividend by land and the rest by work points
(``collective.distribute_elementary``). Recorded: the monthly shares in teams and co-operatives
and the harvest (output, income by class, counts).

The inputs (households of the province, parameters) come from hightide's synthesis and registry;
both implementations read the same ``Inputs``. This module's ``run_hightide`` runs the sub-model
the way hightide's engine runs its processes: the households' state as arrays, one compiled pass
a month that draws from the process's stream in the kernel (``engine.rng``, as
``mutual_aid.organise`` does) and weighs ``membership.willingness`` term by term, counts kept as
households move rather than recounted, and the harvest by the engine's production and sharing
rules: that is the engine the Mesa model is compared with. The engine runs provinces on all
cores; with one province here, the monthly pass runs contiguous chunks of it on all cores, each
chunk starting at its place in the stream (``rng.advance``), so the months are those of one pass
in order on any number of threads (Numba's thread count; ``compare.py --threads 1`` for one
core). (Until 2026-12 it was a sequence of
NumPy expressions over the whole province each month, ~10 passes; the compiled version gives
the same months draw for draw and the same harvests to 1e-14.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from hightide.economy import collective, production
from hightide.engine import rng, streams
from hightide.engine.calendar import SLACK_SEASON
from hightide.engine.kernels import dense_index
from hightide.institutions.membership import class_table, labour_shortage
from hightide.institutions.mutual_aid import group_into_teams
from hightide.params import resolve
from hightide.world.households import LANDLORD
from hightide.world.synthesis import build_world, labour_power

START_MONTH = 1953 * 12  # January 1953
N_MONTHS = 36
PROMOTION = 0.5  # mutual-aid promotion in force (historical timeline, 1953-55 roughly)
APC_CONVERSION = 0.05  # chance a team turns into an elementary co-operative in a slack month (sub-model)
HARVEST_MONTH = 10
INDIVIDUAL, TEAM, APC = 0, 1, 2


@dataclass
class Inputs:
    """Households of one province (arrays) and the parameters both implementations use."""

    klass: np.ndarray
    attitude: np.ndarray
    land: np.ndarray
    labour: np.ndarray
    animals: np.ndarray
    village: np.ndarray
    tfp: float
    params: object

    @property
    def n(self) -> int:
        return self.klass.size


def province_inputs(scale: float = 0.01, seed: int = 0, province: int | None = None) -> Inputs:
    """The households of one province (the largest by default) as hightide synthesises them."""
    params = resolve()
    world = build_world(params, scale, seed, START_MONTH)
    hh = world.households
    if province is None:
        province = int(np.argmax(hh.used))
    sl = slice(int(hh.block_start[province]), int(hh.block_start[province] + hh.used[province]))
    village = hh.village[sl].astype(np.int64)
    return Inputs(klass=hh.klass[sl].astype(np.int64), attitude=hh.attitude[sl].astype(np.float64),
                  land=hh.land_mu[sl].astype(np.float64),
                  labour=labour_power(params, hh.children[sl], hh.adults[sl], hh.elderly[sl]).astype(np.float64),
                  animals=hh.draft_animals[sl].astype(np.float64), village=village - village.min(),
                  tfp=float(world.productivity[province]), params=params)


def summary(form: np.ndarray, n_teams: int, n_apcs: int) -> dict:
    return {"share_team": float(np.mean(form == TEAM)), "share_apc": float(np.mean(form == APC)),
            "teams": int(n_teams), "apcs": int(n_apcs)}


def harvest_summary(inputs: Inputs, income: np.ndarray, output_total: float) -> dict:
    total = np.bincount(inputs.klass, weights=income, minlength=5)
    count = np.bincount(inputs.klass, minlength=5)
    by_class = [float(total[k] / count[k]) if count[k] else 0.0 for k in range(5)]
    return {"output": float(output_total), "income_by_class": by_class, "mean_income": float(income.mean())}


@nb.njit(cache=True, parallel=True)
def _decide(head, month_word, n_chunks, prob, klass, excluded, attitude, shortage, animals, village, org, org_form,
            size, members_v, total_v, bonus, base, w_short, w_no_animals, promotion_term, w_neighbours, hysteresis):
    """One pass over the province: each household draws from the month's stream (``rng``: the
    draws of ``streams.generator(seed, process, 0, month).random(n)``, as the engine's organising
    process draws them); one whose draw is below ``prob`` (and not of the ``excluded`` class) weighs
    ``membership.willingness`` (term by term in the order of its array expression, the village's
    organised share as at the start of the month); a team member below ``-hysteresis`` leaves (its
    team's size and its village's count fall after the pass); one outside above 0 joins. The
    households run in ``n_chunks`` contiguous chunks in parallel, each from its first household's
    place in the stream (``rng.advance``), so every household draws the number one pass in order
    gives it and the result does not depend on ``n_chunks``. Returns the joiners, ascending, and
    their draws."""
    n = klass.size
    joiners = np.empty(n, dtype=np.int64)
    joiner_u = np.empty(n)
    leavers = np.empty(n, dtype=np.int64)
    left_org = np.empty(n, dtype=np.int64)
    n_join = np.zeros(n_chunks, dtype=np.int64)
    n_left = np.zeros(n_chunks, dtype=np.int64)
    s0_hi, s0_lo, i_hi, i_lo = rng.stream_start(head, 0, month_word)
    for c in nb.prange(n_chunks):
        lo, hi = n * c // n_chunks, n * (c + 1) // n_chunks
        s_hi, s_lo = rng.advance(s0_hi, s0_lo, i_hi, i_lo, lo)
        kj, kl = lo, lo
        for i in range(lo, hi):
            s_hi, s_lo, u = rng.next_double(s_hi, s_lo, i_hi, i_lo)
            if not (u < prob) or klass[i] == excluded:
                continue
            v = village[i]
            w = (base + bonus[klass[i]] + attitude[i] + w_short * shortage[i]
                 + w_no_animals * (1.0 if animals[i] < 0.5 else 0.0)
                 + promotion_term + w_neighbours * (members_v[v] / max(total_v[v], 1.0)))
            o = org[i]
            if o >= 0 and org_form[o] == TEAM and w < -hysteresis:
                org[i] = -1
                leavers[kl] = i
                left_org[kl] = o
                kl += 1
                o = -1
            if o < 0 and w > 0:
                joiners[kj] = i
                joiner_u[kj] = u
                kj += 1
        n_join[c] = kj - lo
        n_left[c] = kl - lo
    k = 0
    for c in range(n_chunks):
        lo = n * c // n_chunks
        for j in range(lo, lo + n_left[c]):
            size[left_org[j]] -= 1
            members_v[village[leavers[j]]] -= 1.0
        for j in range(lo, lo + n_join[c]):
            joiners[k] = joiners[j]
            joiner_u[k] = joiner_u[j]
            k += 1
    return joiners[:k], joiner_u[:k]


@nb.njit(cache=True)
def _release(org, village, gone, size, members_v):
    """Members of dissolved organisations back to farming alone."""
    for i in range(org.size):
        o = org[i]
        if o >= 0 and gone[o]:
            org[i] = -1
            size[o] -= 1
            members_v[village[i]] -= 1.0


def run_hightide(inputs: Inputs, seed: int) -> dict:
    """The sub-model as hightide's engine runs a month: one compiled pass over the province's
    arrays (the engine's way: struct of arrays, Numba kernels, ``membership.willingness`` term by
    term), organisation sizes and villages' organised counts kept as the households move, hightide's
    rules and named streams; the few joiners are grouped into teams by
    ``mutual_aid.group_into_teams``, and the harvest by the engine's production and sharing rules."""
    p = inputs.params
    n, n_vill = inputs.n, int(inputs.village.max()) + 1
    org = np.full(n, -1, dtype=np.int64)  # team or co-operative index
    org_form = np.zeros(0, dtype=np.int64)  # TEAM / APC per organisation index (-1 dissolved)
    org_village = np.zeros(0, dtype=np.int64)
    size = np.zeros(0, dtype=np.int64)  # members per organisation
    members_v = np.zeros(n_vill)  # households in an organisation, per village
    mean_lpm = inputs.labour.sum() / max(inputs.land.sum(), 1e-9)
    shortage = labour_shortage(inputs.labour, inputs.land, mean_lpm)
    total_v = np.bincount(inputs.village, minlength=n_vill).astype(np.float64)
    bonus = class_table(p)
    promotion_term = p.willingness_promotion * PROMOTION
    head = streams.stream_heads(seed, "peer_organising")[0]
    n_chunks = max(nb.get_num_threads(), 1)  # the months do not depend on it (``_decide``)
    monthly, harvests = [], []
    for t in range(N_MONTHS):
        month = START_MONTH + t
        cal = month % 12 + 1
        prob = p.decision_probability_campaign if cal in SLACK_SEASON else p.decision_probability_other
        joiners, joiner_u = _decide(head, streams.month_word(month), n_chunks, prob, inputs.klass, LANDLORD, inputs.attitude,
                                    shortage, inputs.animals, inputs.village, org, org_form, size, members_v, total_v,
                                    bonus, p.willingness_base, p.willingness_labour_shortage, p.willingness_no_animals,
                                    promotion_term, p.willingness_neighbours, p.exit_hysteresis)
        if joiners.size:
            team, team_village = group_into_teams(inputs.village[joiners], joiner_u, p.mutual_aid_team_size,
                                                  int(p.mutual_aid_min_size))
            live = np.flatnonzero(org_form == TEAM)
            some_team = np.full(n_vill, -1, dtype=np.int64)
            some_team[org_village[live]] = live
            alone = team < 0
            org[joiners[alone]] = some_team[inputs.village[joiners[alone]]]
            base = org_form.size
            org[joiners[~alone]] = base + team[~alone]
            org_form = np.concatenate([org_form, np.full(team_village.size, TEAM)])
            org_village = np.concatenate([org_village, team_village])
            size = np.concatenate([size, np.zeros(team_village.size, dtype=np.int64)])
            placed = joiners[org[joiners] >= 0]
            np.add.at(size, org[placed], 1)
            np.add.at(members_v, inputs.village[placed], 1.0)
        gone = (org_form == TEAM) & (size < p.mutual_aid_min_size)
        org_form[gone] = -1  # dissolved
        if gone.any():
            _release(org, inputs.village, gone, size, members_v)
        if cal in SLACK_SEASON and org_form.size:
            v = streams.generator(seed, "peer_conversion", 0, month).random(org_form.size)
            org_form[(org_form == TEAM) & (v < APC_CONVERSION)] = APC
        teams, apcs = org_form == TEAM, org_form == APC
        monthly.append({"share_team": int(size[teams].sum()) / n, "share_apc": int(size[apcs].sum()) / n,
                        "teams": int(teams.sum()), "apcs": int(apcs.sum())})
        if cal == HARVEST_MONTH:
            form = np.where(org >= 0, org_form[np.maximum(org, 0)] if org_form.size else 0, INDIVIDUAL)
            harvests.append(_harvest_hightide(inputs, org, form))
    return {"monthly": monthly, "harvests": harvests}


def _harvest_hightide(inputs: Inputs, org: np.ndarray, form: np.ndarray) -> dict:
    p = inputs.params
    land_t, labour_t, animal_t = production.factor_terms(p, inputs.land, inputs.labour, inputs.animals)
    income = inputs.tfp * (land_t * labour_t * animal_t)
    output_total = float(income.sum())
    for f, bonus in ((TEAM, p.mutual_aid_pooling_bonus), (APC, p.apc_scale_bonus)):
        members = np.flatnonzero(form == f)
        if members.size == 0:
            continue
        # one province: one run of members, every one labelled
        unit, n_units = dense_index(org[members], np.ones(members.size, dtype=bool), np.array([0, members.size]))
        labour_used, animals_used = production.pooled_inputs(unit, inputs.land[members], inputs.labour[members],
                                                             inputs.animals[members], n_units)
        # a member's land term is its own land's (factor_terms: a term depends on its input alone)
        out = inputs.tfp * (land_t[members] * production.labour_term(p, labour_used)
                            * production.animal_term(p, animals_used)) * (1.0 + bonus)
        output_total += float(out.sum() - income[members].sum())
        if f == TEAM:
            income[members] = out + production.labour_exchange(p, unit, out, inputs.labour[members], labour_used, n_units)
        else:
            pooled = np.bincount(unit, weights=out, minlength=n_units)
            income[members] = collective.distribute_elementary(pooled, unit, inputs.land[members], inputs.labour[members],
                                                               p.land_dividend_share, n_units)
    return harvest_summary(inputs, income, output_total)
