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
core). The month's bookkeeping (placing joiners, dissolving small teams, conversions, the tallies)
is a few small compiled calls over the organisations, and the harvest takes its factor terms from
``production`` (NumPy's vectorised powers) and pools and shares in two compiled passes that give
what the engine's array rules give (``tests/unit/test_peer_submodel.py``). (Until 2026-12 it was a
sequence of NumPy expressions over the whole province each month, ~10 passes; the compiled version
gives the same months draw for draw and the same harvests to 1e-14.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from hightide.economy import production
from hightide.engine import rng, streams
from hightide.engine.calendar import SLACK_SEASON
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
def _place(joiners, team, team_village, village, org, org_form, org_village, size, members_v, n_org):
    """Joiners into their new teams (numbered from ``n_org`` on, in ``group_into_teams``'s order),
    or, when too few joined in their village, into the village's last live team if it has one;
    sizes and the villages' organised counts follow."""
    some_team = np.full(members_v.size, -1, dtype=np.int64)
    for o in range(n_org):
        if org_form[o] == TEAM:
            some_team[org_village[o]] = o
    for t in range(team_village.size):
        org_form[n_org + t] = TEAM
        org_village[n_org + t] = team_village[t]
        size[n_org + t] = 0
    for j in range(joiners.size):
        i = joiners[j]
        o = some_team[village[i]] if team[j] < 0 else n_org + team[j]
        org[i] = o
        if o >= 0:
            size[o] += 1
            members_v[village[i]] += 1.0


@nb.njit(cache=True)
def _dissolve(org, village, org_form, size, members_v, n_org, min_size):
    """Teams below the minimum dissolve; their members farm alone again."""
    gone = np.zeros(n_org, dtype=np.bool_)
    any_gone = False
    for o in range(n_org):
        if org_form[o] == TEAM and size[o] < min_size:
            org_form[o] = -1
            gone[o] = True
            any_gone = True
    if any_gone:
        for i in range(org.size):
            o = org[i]
            if o >= 0 and gone[o]:
                org[i] = -1
                size[o] -= 1
                members_v[village[i]] -= 1.0


@nb.njit(cache=True)
def _convert(org_form, draws, chance):
    """In the slack season each team becomes an elementary co-operative with ``chance``."""
    for o in range(draws.size):
        if org_form[o] == TEAM and draws[o] < chance:
            org_form[o] = APC


@nb.njit(cache=True)
def _tally(org_form, size, n_org):
    """Households in teams and in co-operatives, and the number of each."""
    in_teams = in_apcs = teams = apcs = 0
    for o in range(n_org):
        if org_form[o] == TEAM:
            in_teams += size[o]
            teams += 1
        elif org_form[o] == APC:
            in_apcs += size[o]
            apcs += 1
    return in_teams, in_apcs, teams, apcs


def _grown(a: np.ndarray, capacity: int, fill) -> np.ndarray:
    out = np.full(capacity, fill, dtype=a.dtype)
    out[:a.size] = a
    return out


def run_hightide(inputs: Inputs, seed: int) -> dict:
    """The sub-model as hightide's engine runs a month: one compiled pass over the province's
    arrays (the engine's way: struct of arrays, Numba kernels, ``membership.willingness`` term by
    term), organisation sizes and villages' organised counts kept as the households move, hightide's
    rules and named streams; the few joiners are grouped into teams by
    ``mutual_aid.group_into_teams``, and the harvest by the engine's production and sharing rules.
    Organisations are numbered as they form, in arrays with room to spare (``n_org`` used)."""
    p = inputs.params
    n, n_vill = inputs.n, int(inputs.village.max()) + 1
    org = np.full(n, -1, dtype=np.int64)  # team or co-operative index
    capacity = max(n // 8, 16)
    org_form = np.full(capacity, -1, dtype=np.int64)  # TEAM / APC per organisation (-1 dissolved)
    org_village = np.zeros(capacity, dtype=np.int64)
    size = np.zeros(capacity, dtype=np.int64)  # members per organisation
    n_org = 0
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
            if n_org + team_village.size > capacity:
                capacity = 2 * (n_org + team_village.size)
                org_form, org_village, size = (_grown(org_form, capacity, -1), _grown(org_village, capacity, 0),
                                               _grown(size, capacity, 0))
            _place(joiners, team, team_village, inputs.village, org, org_form, org_village, size, members_v, n_org)
            n_org += team_village.size
        _dissolve(org, inputs.village, org_form, size, members_v, n_org, p.mutual_aid_min_size)
        if cal in SLACK_SEASON and n_org:
            _convert(org_form, streams.generator(seed, "peer_conversion", 0, month).random(n_org), APC_CONVERSION)
        in_teams, in_apcs, teams, apcs = _tally(org_form, size, n_org)
        monthly.append({"share_team": in_teams / n, "share_apc": in_apcs / n, "teams": teams, "apcs": apcs})
        if cal == HARVEST_MONTH:
            harvests.append(_harvest_hightide(inputs, org, org_form))
    return {"monthly": monthly, "harvests": harvests}


@nb.njit(cache=True, parallel=True)
def _pool(tfp, land_t, labour_t, animal_t, land, labour, animals, org, org_form):
    """Every household's own output (``production.factor_index`` from its terms), its unit (its
    team or co-operative, or ``n_org`` for none), each unit's land, labour, animals and members
    (summed in household order, as ``np.bincount`` sums), the members (ascending) and the labour
    and animals each member's land receives when its unit pools them in proportion to land
    (``production.pooled_inputs``), one entry per member."""
    n, n_org = land.size, org_form.size
    own = np.empty(n)
    unit_of = np.empty(n, dtype=np.int64)
    for i in nb.prange(n):
        own[i] = tfp * (land_t[i] * labour_t[i] * animal_t[i])
        o = org[i]
        unit_of[i] = o if o >= 0 and (org_form[o] == TEAM or org_form[o] == APC) else n_org
    unit = np.zeros((n_org + 1, 4))  # land, labour, animals, members; the last row for no unit
    for i in range(n):
        u = unit_of[i]
        unit[u, 0] += land[i]
        unit[u, 1] += labour[i]
        unit[u, 2] += animals[i]
        unit[u, 3] += 1.0
    members = np.flatnonzero(unit_of < n_org)
    labour_used = np.empty(members.size)
    animals_used = np.empty(members.size)
    for k in nb.prange(members.size):
        i = members[k]
        u = unit_of[i]
        share = land[i] / unit[u, 0] if unit[u, 0] > 0 else 0.0
        labour_used[k] = unit[u, 1] * share
        animals_used[k] = unit[u, 2] * share
    return own, unit_of, unit, members, labour_used, animals_used


@nb.njit(cache=True, parallel=True)
def _share(tfp, a_labour, land_t, used_labour_t, used_animal_t, own, unit_of, unit, members, labour, labour_used, land,
           org_form, team_bonus, apc_bonus, dividend_share):
    """Each member's output on its land with its unit's pooled labour and animals (``members``
    order, as ``_pool`` gives them), times one plus the form's pooling bonus, and what it receives:
    a team member keeps its output and is paid or pays for labour exchanged
    (``production.labour_exchange``), a co-operative member gets its land dividend and labour pay
    (``collective.distribute_elementary``, work points = labour); a household alone keeps its own
    output. Returns incomes and the province's output."""
    n, n_org = land.size, org_form.size
    income = own.copy()
    for k in nb.prange(members.size):
        i = members[k]
        bonus = team_bonus if org_form[unit_of[i]] == TEAM else apc_bonus
        income[i] = tfp * (land_t[i] * used_labour_t[k] * used_animal_t[k]) * (1.0 + bonus)
    unit_out = np.zeros(n_org + 1)
    output = 0.0
    for i in range(n):
        output += income[i]
        unit_out[unit_of[i]] += income[i]
    for k in nb.prange(members.size):
        i = members[k]
        u = unit_of[i]
        if org_form[u] == TEAM:
            wage = a_labour * unit_out[u] / unit[u, 1] if unit[u, 1] > 0 else 0.0
            income[i] = income[i] + wage * (labour[i] - labour_used[k])
        else:
            land_w = land[i] / unit[u, 0] if unit[u, 0] > 0 else 1.0 / max(unit[u, 3], 1.0)
            work_w = labour[i] / unit[u, 1] if unit[u, 1] > 0 else 1.0 / max(unit[u, 3], 1.0)
            income[i] = unit_out[u] * dividend_share * land_w + unit_out[u] * (1.0 - dividend_share) * work_w
    return income, output


def _harvest_hightide(inputs: Inputs, org: np.ndarray, org_form: np.ndarray) -> dict:
    """The October harvest by the engine's rules: the factor terms by ``production`` (NumPy's
    vectorised powers), pooling and sharing in two compiled passes (``_pool``, ``_share``)."""
    p = inputs.params
    land_t, labour_t, animal_t = production.factor_terms(p, inputs.land, inputs.labour, inputs.animals)
    own, unit_of, unit, members, labour_used, animals_used = _pool(inputs.tfp, land_t, labour_t, animal_t, inputs.land,
                                                                   inputs.labour, inputs.animals, org, org_form)
    income, output = _share(inputs.tfp, p.elasticity_labour, land_t, production.labour_term(p, labour_used),
                            production.animal_term(p, animals_used), own, unit_of, unit, members, inputs.labour,
                            labour_used, inputs.land, org_form, p.mutual_aid_pooling_bonus, p.apc_scale_bonus,
                            p.land_dividend_share)
    return harvest_summary(inputs, income, output)
