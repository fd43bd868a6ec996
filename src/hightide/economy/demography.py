"""Births, deaths, ageing, family division and migration (MODEL.md §4.5).

Deaths: an age-specific baseline that falls with the 1950s health campaigns, times a hunger
hazard that rises as food eaten falls below need. Births fall with hunger. People leave for the
towns (or are sent down) as the policy says; every person is accounted for.
"""

from __future__ import annotations

import numpy as np

from hightide.engine import streams
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


def _band_probability(annual_rate: float, base: float, hungry: np.ndarray, multiplier: np.ndarray, size: int) -> np.ndarray:
    """Monthly death probability per slot: a scalar for the fed, hazard x multiplier for the hungry."""
    p = np.full(size, monthly_probability(annual_rate * base))
    p[hungry] = monthly_probability(annual_rate * base, multiplier)
    return p


def crude_baseline_rate(params: ParameterSet) -> float:
    """1952 crude death rate implied by the age structure at the start (for the towns)."""
    return (params.share_children * params.mortality_child
            + (1 - params.share_children - params.share_elderly) * params.mortality_adult
            + params.share_elderly * params.mortality_elderly)


def vital_events(world: World, ctx: StepContext) -> None:
    p, hh = ctx.params, world.households
    bs, used, size = hh.block_start, hh.used, hh.capacity
    active = hh.active
    base = baseline_factor(p, ctx.month / 12 - 1952)
    hungry = np.flatnonzero(active & (hh.food_ratio < p.hunger_threshold))
    short = hunger_shortfall(p, hh.food_ratio[hungry].astype(np.float64))
    hm = hunger_multiplier(p, short)
    m = ctx.month
    children, adults, elderly = hh.children * active, hh.adults * active, hh.elderly * active
    p_child = _band_probability(p.mortality_child, base, hungry, 1.0 + (hm - 1.0) * p.hunger_vulnerability_child, size)
    p_adult = _band_probability(p.mortality_adult, base, hungry, hm, size)
    p_old = _band_probability(p.mortality_elderly, base, hungry, 1.0 + (hm - 1.0) * p.hunger_vulnerability_elderly, size)
    d_child = streams.events(ctx.seed, "deaths_child", m, bs, used, children, p_child)
    d_adult = streams.events(ctx.seed, "deaths_adult", m, bs, used, adults, p_adult)
    d_old = streams.events(ctx.seed, "deaths_elderly", m, bs, used, elderly, p_old)
    fert = np.full(size, monthly_probability(p.fertility_per_working_adult))
    fert[hungry] = monthly_probability(p.fertility_per_working_adult * fertility_multiplier(p, short))
    births = streams.events(ctx.seed, "births", m, bs, used, adults, fert)
    # deaths beyond the baseline among the hungry, in expectation, are counted as hunger deaths
    excess = (children[hungry] * (p_child[hungry] - monthly_probability(p.mortality_child * base))
              + adults[hungry] * (p_adult[hungry] - monthly_probability(p.mortality_adult * base))
              + elderly[hungry] * (p_old[hungry] - monthly_probability(p.mortality_elderly * base)))
    hh.children[:] = children - d_child
    hh.adults[:] = adults - d_adult
    hh.elderly[:] = elderly - d_old
    grow_up = streams.events(ctx.seed, "ageing_child", m, bs, used, hh.children, np.full(size, 1 / (12 * p.years_as_child)))
    grow_old = streams.events(ctx.seed, "ageing_adult", m, bs, used, hh.adults, np.full(size, 1 / (12 * p.years_working_age)))
    hh.children[:] = hh.children - grow_up + births
    hh.adults[:] = hh.adults + grow_up - grow_old
    hh.elderly[:] = hh.elderly + grow_old
    prov = hh.province
    w = world.weight
    ctx.add("births", prov, births.astype(np.float64), w)
    ctx.add("deaths", prov, (d_child + d_adult + d_old).astype(np.float64), w)
    ctx.add("hunger_deaths", prov[hungry], excess, w)
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
