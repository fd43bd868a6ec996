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
from hightide.params import ParameterSet
from hightide.world.households import NO_ORG
from hightide.world.organisations import ADVANCED_APC, COMMUNE, ELEMENTARY_APC
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


#: the streams of vital events, one draw each per household and month, in the order they are used
VITAL_STREAMS = ("deaths_child", "deaths_adult", "deaths_elderly", "births", "ageing_child", "ageing_adult")


@nb.njit(cache=True)
def _vital(heads, month_word, starts, used, active, children, adults, elderly, hungry, p_hungry, p_fed,
           p_grow_up, p_grow_old, flows):
    """Deaths by age band, births, then ageing, household by household: each event count is
    min(floor(n p + U), n) (``streams.events``) with U from the province's stream of that event.
    ``p_fed`` holds the fed probabilities (child, adult, elderly deaths, births); ``p_hungry[:, k]``
    those of the k-th hungry household (``hungry``, ascending). ``flows[p]`` gets (births, deaths)."""
    j = 0
    for pv in range(starts.size):
        c0, c1, c2, c3 = rng.stream_start(heads[0], pv, month_word)
        d0, d1, d2, d3 = rng.stream_start(heads[1], pv, month_word)
        e0, e1, e2, e3 = rng.stream_start(heads[2], pv, month_word)
        b0, b1, b2, b3 = rng.stream_start(heads[3], pv, month_word)
        g0, g1, g2, g3 = rng.stream_start(heads[4], pv, month_word)
        h0, h1, h2, h3 = rng.stream_start(heads[5], pv, month_word)
        births_p = 0.0
        deaths_p = 0.0
        for i in range(starts[pv], starts[pv] + used[pv]):
            c0, c1, u_child = rng.next_double(c0, c1, c2, c3)
            d0, d1, u_adult = rng.next_double(d0, d1, d2, d3)
            e0, e1, u_old = rng.next_double(e0, e1, e2, e3)
            b0, b1, u_birth = rng.next_double(b0, b1, b2, b3)
            g0, g1, u_up = rng.next_double(g0, g1, g2, g3)
            h0, h1, u_older = rng.next_double(h0, h1, h2, h3)
            if j < hungry.size and hungry[j] == i:
                pc, pa, po, pb = p_hungry[j, 0], p_hungry[j, 1], p_hungry[j, 2], p_hungry[j, 3]
                j += 1
            else:
                pc, pa, po, pb = p_fed[0], p_fed[1], p_fed[2], p_fed[3]
            live = active[i]
            nc = np.float64(children[i] * live)
            na = np.float64(adults[i] * live)
            ne = np.float64(elderly[i] * live)
            d_child = min(np.floor(nc * pc + u_child), nc)
            d_adult = min(np.floor(na * pa + u_adult), na)
            d_old = min(np.floor(ne * po + u_old), ne)
            born = min(np.floor(na * pb + u_birth), na)
            nc -= d_child
            na -= d_adult
            ne -= d_old
            up = min(np.floor(nc * p_grow_up + u_up), nc)
            older = min(np.floor(na * p_grow_old + u_older), na)
            children[i] = np.int16(nc - up + born)
            adults[i] = np.int16(na + up - older)
            elderly[i] = np.int16(ne + older)
            births_p += born
            deaths_p += d_child + d_adult + d_old
        flows[pv, 0] = births_p
        flows[pv, 1] = deaths_p


def vital_events(world: World, ctx: StepContext) -> None:
    p, hh = ctx.params, world.households
    active = hh.active
    base = baseline_factor(p, ctx.month / 12 - 1952)
    hungry = np.flatnonzero(active & (hh.food_ratio < p.hunger_threshold))
    short = hunger_shortfall(p, hh.food_ratio[hungry].astype(np.float64))
    hm = hunger_multiplier(p, short)
    p_hungry = np.stack([
        monthly_probability(p.mortality_child * base, 1.0 + (hm - 1.0) * p.hunger_vulnerability_child),
        monthly_probability(p.mortality_adult * base, hm),
        monthly_probability(p.mortality_elderly * base, 1.0 + (hm - 1.0) * p.hunger_vulnerability_elderly),
        monthly_probability(p.fertility_per_working_adult * fertility_multiplier(p, short)),
    ], axis=1).reshape(hungry.size, 4)
    p_fed = np.array([monthly_probability(p.mortality_child * base), monthly_probability(p.mortality_adult * base),
                      monthly_probability(p.mortality_elderly * base), monthly_probability(p.fertility_per_working_adult)])
    # deaths beyond the baseline among the hungry, in expectation, are counted as hunger deaths
    excess = (hh.children[hungry] * (p_hungry[:, 0] - p_fed[0])
              + hh.adults[hungry] * (p_hungry[:, 1] - p_fed[1])
              + hh.elderly[hungry] * (p_hungry[:, 2] - p_fed[2]))
    flows = np.zeros((world.provinces.n, 2))
    _vital(streams.stream_heads(ctx.seed, *VITAL_STREAMS), streams.month_word(ctx.month), hh.block_start, hh.used,
           active, hh.children, hh.adults, hh.elderly, hungry, np.ascontiguousarray(p_hungry), p_fed,
           1 / (12 * p.years_as_child), 1 / (12 * p.years_working_age), flows)
    w = world.weight
    ctx.flows["births"] += flows[:, 0] * w
    ctx.flows["deaths"] += flows[:, 1] * w
    ctx.add("hunger_deaths", hh.province[hungry], excess, w)
    _urban_vital(world, ctx, base)


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


def extinctions(world: World, ctx: StepContext) -> None:
    """Households whose last member died: land, animals and grain pass to a household of the
    same township (kin or the village take them in); with no one left, grain goes to the State."""
    hh = world.households
    dead = np.flatnonzero(hh.active & (hh.persons() == 0))
    if dead.size == 0:
        return
    hh.active[dead] = False
    hh.org[dead] = NO_ORG
    alive = np.flatnonzero(hh.active)
    order = alive[np.argsort(hh.township[alive], kind="stable")]
    towns = hh.township[order]
    u = streams.uniform(ctx.seed, "heirs", ctx.month, hh.block_start, hh.block_end)[dead]
    first = np.searchsorted(towns, hh.township[dead], side="left")
    last = np.searchsorted(towns, hh.township[dead], side="right")
    has_heir = last > first
    heir = order[np.minimum(first + (u * (last - first)).astype(np.int64), len(order) - 1)] if len(order) else first
    h_dead, h_heir = dead[has_heir], heir[has_heir]
    np.add.at(hh.land_mu, h_heir, hh.land_mu[h_dead])
    np.add.at(hh.draft_animals, h_heir, hh.draft_animals[h_dead])
    np.add.at(hh.grain_kg, h_heir, hh.grain_kg[h_dead])
    orphan = dead[~has_heir]
    estate = hh.grain_kg[orphan] * world.weight[hh.province[orphan]]
    world.granary_kg += float(estate.sum())
    ctx.add("estate_kg", hh.province[orphan], hh.grain_kg[orphan], world.weight)
    for name in ("land_mu", "draft_animals", "grain_kg"):
        hh.arrays[name][dead] = 0
    ctx.add("households_extinct", hh.province[dead], np.ones(dead.size), world.weight)


def partition(world: World, ctx: StepContext) -> None:
    """Family division at the lunar new year: a household with enough adults splits in two; the
    new household takes half the adults and children and a matching share of land, animals and
    grain (Cohen 1976)."""
    if ctx.cal_month != LUNAR_NEW_YEAR:
        return
    p, hh = ctx.params, world.households
    u = streams.uniform(ctx.seed, "partition", ctx.month, hh.block_start, hh.block_end)
    parents = np.flatnonzero(hh.active & (hh.adults >= p.partition_adults_min) & (u < p.partition_probability_per_year))
    if parents.size == 0:
        return
    new_adults = hh.adults[parents] // 2
    new_children = hh.children[parents] // 2
    frac = (new_adults + new_children) / hh.persons()[parents]
    prov = hh.province[parents]
    slots = np.empty(parents.size, dtype=np.int64)
    for pv in np.unique(prov):
        sel = np.flatnonzero(prov == pv)
        slots[sel] = hh.claim_slots(int(pv), sel.size)
    for name in ("active", "province", "county", "township", "village", "klass", "attitude", "org", "joined_month", "food_ratio", "effort"):
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


def migration(world: World, ctx: StepContext) -> None:
    """Net rural-to-urban migration (or send-down when negative) set by policy (MODEL.md §4.5):
    one working-age adult leaves (or joins) each chosen household."""
    rate = ctx.policy.urban_net_migration_m_per_year
    if rate == 0:
        return
    hh, n_prov = world.households, world.provinces.n
    rural = np.bincount(hh.province, weights=hh.persons() * hh.active, minlength=n_prov) * world.weight
    expected = abs(rate) * 1e6 / 12 * rural / rural.sum() / world.weight  # simulated persons
    moved = np.zeros(n_prov)
    for pv in range(n_prov):
        g = streams.generator(ctx.seed, "migration", pv, ctx.month)
        k = int(np.floor(expected[pv] + g.random()))
        sl = slice(int(hh.block_start[pv]), int(hh.block_end[pv]))
        eligible = np.flatnonzero(hh.active[sl] & (hh.adults[sl] >= (2 if rate > 0 else 1))) + sl.start
        k = min(k, eligible.size)
        if k == 0:
            continue
        chosen = g.choice(eligible, size=k, replace=False)
        hh.adults[chosen] += -1 if rate > 0 else 1
        moved[pv] = k
    real = moved * world.weight * (1 if rate > 0 else -1)
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
    """Draft animals breed, age, are neglected or slaughtered (MODEL.md §4.2-§4.3)."""
    p, hh, orgs = ctx.params, world.households, world.organisations
    idx = np.flatnonzero(hh.active & (hh.draft_animals > 0))
    org = hh.org[idx]
    pooled = (org != NO_ORG) & np.isin(orgs.form[np.maximum(org, 0)], (ELEMENTARY_APC, ADVANCED_APC, COMMUNE))
    rate = herd_rate(p, hh.effort[idx].astype(np.float64), pooled, hunger_shortfall(p, hh.food_ratio[idx].astype(np.float64)))
    hh.draft_animals[idx] *= np.power(1.0 + np.maximum(rate, -0.99), 1 / 12).astype(np.float32)
