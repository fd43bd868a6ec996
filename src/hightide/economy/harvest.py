"""The harvest process: produce, then settle tax, purchase, seed and feed (MODEL.md §4.3-§4.4)."""

from __future__ import annotations

import numpy as np

from hightide.economy import distribution, production
from hightide.engine.calendar import harvest_season, months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.world.households import NO_ORG
from hightide.world.organisations import MUTUAL_AID
from hightide.world.synthesis import adult_equivalents, expected_weather, labour_power
from hightide.world.world import World


def season_shares(world: World, ctx: StepContext) -> np.ndarray:
    """Share of the annual crop harvested this month, per province (0 outside harvest months)."""
    p = ctx.params
    out = np.zeros(world.provinces.n)
    for i, zone in enumerate(world.provinces.zone):
        season = harvest_season(int(zone), ctx.cal_month)
        summer = p.summer_share_rice_zone if zone == 1 else p.summer_share_wheat_zone
        if season == "summer":
            out[i] = summer
        elif season == "autumn":
            out[i] = 1.0 - summer
    return out


def harvest(world: World, ctx: StepContext) -> None:
    shares = season_shares(world, ctx)
    if not shares.any():
        return
    p, hh = ctx.params, world.households
    prov_in = shares > 0
    idx = np.flatnonzero(hh.active & prov_in[hh.province])
    if idx.size == 0:
        return
    prov = hh.province[idx]
    share = shares[prov]
    labour = labour_power(p, hh.children[idx], hh.adults[idx], hh.elderly[idx]).astype(np.float64)
    land = hh.land_mu[idx].astype(np.float64)
    animals = hh.draft_animals[idx].astype(np.float64)
    tfp = world.productivity * (1.0 + p.tfp_growth_per_year) ** ctx.years_elapsed
    crop_year = ctx.year
    wx = production.weather(p, ctx.seed, crop_year, world.provinces.n)
    scale = tfp[prov] * wx[prov] * share

    org = hh.org[idx]
    in_team = (org != NO_ORG) & (world.organisations.form[np.maximum(org, 0)] == MUTUAL_AID)
    labour_used, animals_used = labour.copy(), animals.copy()
    transfer = np.zeros(idx.size)
    if in_team.any():
        team_ids, team = np.unique(org[in_team], return_inverse=True)
        lu, au = production.pooled_inputs(team, land[in_team], labour[in_team], animals[in_team], len(team_ids))
        labour_used[in_team], animals_used[in_team] = lu, au
    output = scale * production.factor_index(p, land, labour_used, animals_used)
    output[in_team] *= 1.0 + p.mutual_aid_pooling_bonus
    if in_team.any():
        transfer[in_team] = production.labour_exchange(p, team, output[in_team], labour[in_team], labour_used[in_team], len(team_ids))
    income = output + transfer

    reported = income  # reporting and exaggeration come with the planning hierarchy (issue 4)
    normal_output = (tfp[prov] * expected_weather(p) * share
                     * production.factor_index(p, land, labour, animals))
    persons = hh.persons()[idx].astype(np.float64)
    tax = distribution.tax_due(p, land, world.normal_yield_per_mu[prov], share)
    retention = distribution.retention_norm(p, persons, land, animals, share)
    seed = p.seed_kg_per_mu * land * share
    feed = p.feed_kg_per_animal_year * animals * share
    need_month = p.food_need_kg_per_adult_equivalent / 12 * adult_equivalents(p, hh.children[idx], hh.adults[idx], hh.elderly[idx])
    to_next = months_to_next_harvest_by_zone(world.provinces.zone[prov], ctx.cal_month)
    stock = hh.grain_kg[idx]
    purchase = distribution.purchase_request(
        ctx.policy.procurement_regime, p, reported_output=reported, normal_output=normal_output, tax=tax,
        retention=retention, stock=stock, need_to_next_harvest=need_month * to_next, seed=seed, feed=feed)
    paid_tax, paid_purchase, paid_seed, paid_feed = distribution.settle(stock + income, [tax, purchase, seed, feed])
    hh.grain_kg[idx] = stock + income - paid_tax - paid_purchase - paid_seed - paid_feed

    w = world.weight
    ctx.add("production_kg", prov, output, w)
    ctx.add("reported_production_kg", prov, reported, w)
    ctx.add("tax_kg", prov, paid_tax, w)
    ctx.add("purchase_kg", prov, paid_purchase, w)
    ctx.add("seed_kg", prov, paid_seed, w)
    ctx.add("feed_kg", prov, paid_feed, w)
    world.granary_kg += float(((np.bincount(prov, weights=paid_tax + paid_purchase, minlength=world.provinces.n)) * w).sum())
