"""Population synthesis: build the 1952 countryside from provincial data (MODEL.md §2, §2.4).

``scale`` samples whole townships within each province (never shrinking an institution) and
gives every simulated household a weight so that weighted totals equal the provincial inputs.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.streams import generator
from hightide.params import ParameterSet
from hightide.world.households import (
    POOR, Households,
)
from hightide.world.organisations import Organisations
from hightide.world.provinces import ZONE_RICE, ProvinceTable, build_provinces
from hightide.world.world import World

_SIZE_RANK = np.array([0.0, 1.0, 2.0, 3.0, 1.0])  # poor, lower-middle, upper-middle, rich, landlord
TOWNSHIP_SIZE_SD = 0.35
LAND_SD = 0.3
STOCK_SD = 0.3


def class_shares(params: ParameterSet) -> np.ndarray:
    s = np.array([0.0, params.class_share_lower_middle, params.class_share_upper_middle,
                  params.class_share_rich, params.class_share_landlord])
    s[POOR] = 1.0 - s.sum()
    if s[POOR] <= 0:
        raise ValueError("class shares of lower-middle, upper-middle, rich and landlord exceed 1")
    return s


def adult_equivalents(params: ParameterSet, children, adults, elderly) -> np.ndarray:
    return adults + params.adult_equivalent_child * children + params.adult_equivalent_elderly * elderly


def labour_power(params: ParameterSet, children, adults, elderly) -> np.ndarray:
    return adults + params.labour_weight_child * children + params.labour_weight_elderly * elderly


def sample_townships(total: np.ndarray, scale: float, minimum: int) -> np.ndarray:
    """Townships sampled per province: scale x total, at least ``minimum`` (and never above total)."""
    n = np.maximum(np.rint(total * scale), minimum)
    return np.minimum(n, np.maximum(total, 1)).astype(np.int64)


def _households_of_province(params, p, n_hh, zone, rng):
    """Draw the attributes of ``n_hh`` households of one province. Returns a dict of arrays."""
    shares = class_shares(params)
    klass = rng.choice(5, size=n_hh, p=shares).astype(np.int8)
    fg = rng.random(n_hh) < params.five_guarantee_share
    klass[fg] = POOR
    n_fg = int(fg.sum())
    # household size: ordinary households 1 + Poisson, larger up the class ladder
    fg_mean = 1.8
    ordinary_mean = (params.persons_per_household - params.five_guarantee_share * fg_mean) / (1 - params.five_guarantee_share)
    rel = 1.0 + 0.08 * _SIZE_RANK[klass]
    rel /= np.average(1.0 + 0.08 * _SIZE_RANK, weights=shares)
    size = 1 + rng.poisson(np.maximum(ordinary_mean * rel - 1.0, 0.1))
    # ages: at least one working-age adult in an ordinary household
    adult_share = 1.0 - params.share_children - params.share_elderly
    adults_per_ordinary = adult_share * params.persons_per_household / (1 - params.five_guarantee_share)
    q = np.clip((adults_per_ordinary - 1.0) / (ordinary_mean - 1.0), 0.0, 1.0)
    adults = 1 + rng.binomial(size - 1, q)
    rest = size - adults
    e_share = params.share_elderly / (params.share_children + params.share_elderly)
    elderly = rng.binomial(rest, e_share)
    children = rest - elderly
    # five-guarantee households: the old, widows with orphans: no working-age adult
    fg_size = 1 + rng.binomial(2, 0.4, size=n_fg)
    fg_elderly = rng.binomial(fg_size, 0.6)
    adults[fg] = 0
    elderly[fg] = fg_elderly
    children[fg] = fg_size - fg_elderly
    persons = children + adults + elderly
    # land: zone mean per person x class relative (normalised) x noise
    land_rel = np.array([params.land_relative_poor, params.land_relative_lower_middle,
                         params.land_relative_upper_middle, params.land_relative_rich,
                         params.land_relative_landlord])[klass]
    land_pc = params.land_per_capita_rice_zone if zone == ZONE_RICE else params.land_per_capita_wheat_zone
    raw_land = land_rel * persons * rng.lognormal(-LAND_SD**2 / 2, LAND_SD, n_hh)
    land = raw_land * (land_pc * persons.sum() / raw_land.sum())
    animal_mean = np.array([params.animals_per_household_poor, params.animals_per_household_lower_middle,
                            params.animals_per_household_upper_middle, params.animals_per_household_rich,
                            params.animals_per_household_landlord])[klass]
    animals = rng.poisson(animal_mean).astype(np.float32)
    animals[fg] = 0
    need_month = params.food_need_kg_per_adult_equivalent / 12 * adult_equivalents(params, children, adults, elderly)
    grain = params.initial_stock_months * need_month * rng.lognormal(-STOCK_SD**2 / 2, STOCK_SD, n_hh)
    attitude = rng.normal(0.0, params.attitude_sd, n_hh)
    return dict(klass=klass, five_guarantee=fg, children=children, adults=adults, elderly=elderly,
                land_mu=land, draft_animals=animals, grain_kg=grain, attitude=attitude)


def expected_weather(params: ParameterSet) -> float:
    """Mean of the weather multiplier on yields (lognormal shocks less average disaster loss)."""
    return (1.0 - params.disaster_mean_loss)


def build_world(params: ParameterSet, scale: float, seed: int, start_month: int) -> World:
    """Synthesise the countryside at ``start_month`` (month index) for a scale and seed."""
    start_year = start_month / 12.0
    provinces: ProvinceTable = build_provinces(params, start_year)
    rural_hh = provinces.rural_population / params.persons_per_household
    t_total = np.maximum(np.rint(rural_hh / params.rural_households_per_township), 1).astype(np.int64)
    t_sampled = sample_townships(t_total, scale, int(params.townships_min_per_province))

    # township sizes first (to size the slot blocks), then each province's households from the
    # same stream, one province at a time (only one province's draws are held at once)
    per_prov = []
    for p in range(provinces.n):
        rng = generator(seed, "synthesis", p)
        mean_size = rural_hh[p] / t_total[p]
        sizes = np.maximum(np.rint(mean_size * rng.lognormal(-TOWNSHIP_SIZE_SD**2 / 2, TOWNSHIP_SIZE_SD, t_sampled[p])), 20).astype(np.int64)
        per_prov.append((sizes, rng))

    capacity = np.array([int(np.ceil(s.sum() * params.household_capacity_factor)) + 16 for s, _ in per_prov])
    hh = Households.allocate(capacity)
    orgs = Organisations.allocate(capacity // 3 + 16)
    n_towns = int(t_sampled.sum())
    village_township = []
    township_county = np.zeros(n_towns, dtype=np.int32)
    weight = np.zeros(provinces.n)
    productivity = np.zeros(provinces.n)
    normal_yield = np.zeros(provinces.n)
    tpc = max(1, int(round(100 * scale)))  # townships per county among the sampled (~100 per county at scale 1)
    next_township = next_village = next_county = 0
    for p, (sizes, rng) in enumerate(per_prov):
        n = int(sizes.sum())
        attrs = _households_of_province(params, p, n, provinces.zone[p], rng)
        idx = hh.claim_slots(p, n)
        township_local = np.repeat(np.arange(len(sizes)), sizes)
        villages_per_t = np.maximum(np.rint(sizes / params.households_per_village), 1).astype(np.int64)
        pos_in_t = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        village_local = (pos_in_t * villages_per_t[township_local]) // sizes[township_local]
        village_offset = np.cumsum(villages_per_t) - villages_per_t
        hh.active[idx] = True
        hh.province[idx] = p
        hh.village[idx] = next_village + village_offset[township_local] + village_local
        village_township.append(np.repeat(next_township + np.arange(len(sizes)), villages_per_t).astype(np.int32))
        township_county[next_township:next_township + len(sizes)] = next_county + np.arange(len(sizes)) // tpc
        next_township += len(sizes)
        next_county += int(np.ceil(len(sizes) / tpc))
        next_village += int(villages_per_t.sum())
        for name, values in attrs.items():
            hh.arrays[name][idx] = values
        del attrs
        weight[p] = rural_hh[p] / n
        # productivity: expected output per rural person at the start equals the provincial
        # 1953-57 level carried back along the TFP trend (calibrated level multiplier)
        f = _factor_index(params, hh, idx)
        years_from_ref = start_year - params.productivity_reference_year
        target_per_person = (provinces.grain_per_rural_person_kg[p] * params.grain_level_multiplier
                             * (1 + params.tfp_growth_per_year) ** years_from_ref)
        persons = hh.persons()[idx].sum()
        productivity[p] = target_per_person * persons / (f.sum() * expected_weather(params))
        hh.reported_last_year_kg[idx] = productivity[p] * f * expected_weather(params)
        hh.true_last_year_kg[idx] = hh.reported_last_year_kg[idx]
        normal_yield[p] = (params.normal_yield_ratio * productivity[p] * f.sum() * expected_weather(params)
                           / hh.land_mu[idx].sum())
    hh.village_township = np.concatenate(village_township)
    hh.township_county = township_county
    return World(
        provinces=provinces, households=hh, organisations=orgs, weight=weight,
        productivity=productivity, normal_yield_per_mu=normal_yield,
        urban_population=provinces.urban_population.copy(), urban_food_ratio=np.ones(provinces.n),
        granary_kg=float(provinces.urban_population.sum() * params.urban_ration_kg_per_capita / 12 * params.state_initial_stock_months),
        n_townships_sampled=t_sampled, n_townships_total=t_total,
        radicalism_trait=np.array([generator(seed, "radicalism", p).normal(0.0, params.radicalism_sd)
                                   for p in range(provinces.n)]),
        zeal=np.zeros(provinces.n), exaggeration=np.zeros(provinces.n), soil_damage=np.zeros(provinces.n),
        n_villages=next_village,
    )


def _factor_index(params: ParameterSet, hh: Households, idx: np.ndarray) -> np.ndarray:
    from hightide.economy.production import factor_index

    labour = labour_power(params, hh.children[idx], hh.adults[idx], hh.elderly[idx])
    return factor_index(params, hh.land_mu[idx], labour, hh.draft_animals[idx])
