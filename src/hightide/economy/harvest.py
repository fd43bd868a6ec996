"""The harvest process: produce, then settle tax, purchase, seed and feed (MODEL.md §4.3-§4.4)."""

from __future__ import annotations

import numpy as np

from hightide.economy import collective, distribution, production
from hightide.institutions import cooperatives, state_farms
from hightide.state import planning
from hightide.institutions.cooperatives import is_collective
from hightide.engine.calendar import harvest_season, months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.engine.kernels import dense_index
from hightide.world.households import NO_ORG
from hightide.world.organisations import COMMUNE, ELEMENTARY_APC, MUTUAL_AID
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


def management_luck(params, seed: int, year: int, orgs) -> np.ndarray:
    """Each collective unit's management luck for a crop year, lognormal with mean 1 ([003]: some
    co-operatives fall through poor management). One draw per organisation slot, by province stream."""
    from hightide.engine.streams import by_province

    sd = params.unit_management_sd
    out = np.ones(orgs.capacity)
    if sd <= 0:
        return out
    # a province's stream gives its organisations' draws in slot order: the slots in use are a
    # prefix of its block, and slots beyond it (not yet founded) keep 1
    used_end = orgs.block_start + getattr(orgs, "used", orgs.block_end - orgs.block_start)
    return by_province(seed, "management_luck", year, orgs.block_start, used_end,
                       lambda g, sl: np.exp(g.normal(-sd**2 / 2, sd, sl.stop - sl.start)), out)


def labour_diverted_share(world: World, ctx: StepContext) -> float:
    """Share of rural working-age labour away from the fields this month: backyard furnaces
    (persons per Mt of steel demanded beyond modern plants, [002; 004]) and water-conservancy works."""
    pol = ctx.policy
    if pol.backyard_steel_mt <= 0 and pol.water_conservancy_share <= 0:
        return 0.0
    hh = world.households
    adults = float(np.sum(hh.adults * hh.active * world.household_weight()))
    steel = pol.backyard_steel_mt * ctx.params.persons_per_backyard_mt * 1e6 / max(adults, 1.0)
    return float(min(steel + pol.water_conservancy_share, 0.9))


def harvest(world: World, ctx: StepContext) -> None:
    shares = season_shares(world, ctx)
    if not shares.any():
        return
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
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
    wx = production.weather(p, ctx.seed, ctx.year, world.provinces.n, pol.weather_source)
    scale = tfp[prov] * wx[prov] * share
    own_output = scale * production.factor_index(p, land, labour, animals)
    # hands away on the furnaces at harvest time lose part of the crop; land taken out of grain;
    # hungry people work less (MODEL.md §4.3, §4.6)
    away = labour_diverted_share(world, ctx)
    sown = land * pol.sown_area_factor
    fed = np.minimum(hh.food_ratio[idx].astype(np.float64) / p.hunger_threshold, 1.0)
    labour = labour * fed ** p.hunger_labour_elasticity

    org = hh.org[idx]
    form = np.where(org != NO_ORG, orgs.form[np.maximum(org, 0)], -1)
    in_team = form == MUTUAL_AID
    coll = is_collective(form)
    # private plots stay with the member [001 note 21]; the rest of its land and time is collective
    plot = np.where(coll, pol.private_plot_share, 0.0)
    plot_output = p.private_plot_yield_ratio * plot * own_output
    c_land, c_labour = sown * (1.0 - plot), labour * (1.0 - plot)

    # the unit that pools inputs: the team, or the collective's accounting unit (index order does
    # not matter: everything below is per unit)
    n_teams = 0
    if in_team.any():
        team, n_teams = dense_index(org[in_team], prov[in_team])
    if coll.any():
        cu = cooperatives.accounting_units(hh, orgs, idx[coll], pol, p.production_team_size)
    pooled = in_team | coll
    labour_used, animals_used = c_labour.copy(), animals.copy()
    if pooled.any():
        unit = np.empty(idx.size, dtype=np.int64)
        if n_teams:
            unit[in_team] = team
        if coll.any():
            unit[coll] = n_teams + cu
        unit = unit[pooled]
        labour_used[pooled], animals_used[pooled] = production.pooled_inputs(
            unit, c_land[pooled], c_labour[pooled], animals[pooled], int(unit.max()) + 1)
    effort = hh.effort[idx].astype(np.float64)
    bonus = np.ones(idx.size)
    bonus[in_team] += p.mutual_aid_pooling_bonus
    if coll.any():
        # management, not last year's result, moves output: the class its cadres alone would earn
        q = cooperatives.quality_class(orgs.cadre_competence[org[coll]])
        luck = management_luck(p, ctx.seed, ctx.year, orgs)
        bonus[coll] *= luck[org[coll]]
        bonus[coll] *= ((1.0 + p.apc_scale_bonus) * (1.0 + p.quality_class_effect * ((q == 1).astype(float) - (q == 3).astype(float)))
                        * cooperatives.no_exit_factor(p, world.months_without_exit))
    output = (scale * production.factor_index(p, c_land, labour_used * effort, animals_used) * bonus
              * (1.0 - min(p.harvest_loss_per_diverted * away, 1.0)))
    income = output.copy()
    if in_team.any():
        income[in_team] += production.labour_exchange(p, team, output[in_team], labour[in_team], labour_used[in_team], n_teams)

    normal_output = tfp[prov] * expected_weather(p) * share * production.factor_index(p, sown, labour, animals)
    persons = hh.persons()[idx].astype(np.float64)
    tax = distribution.tax_due(p, land, world.normal_yield_per_mu[prov], share)
    retention = distribution.retention_norm(p, persons, land, animals, share)
    seed = p.seed_kg_per_mu * sown * share
    feed = p.feed_kg_per_animal_year * animals * share
    need_month = p.food_need_kg_per_adult_equivalent / 12 * adult_equivalents(p, hh.children[idx], hh.adults[idx], hh.elderly[idx])
    to_next = months_to_next_harvest_by_zone(world.provinces.zone[prov], ctx.cal_month)
    w = world.weight
    n_prov = world.provinces.n

    rad = world.radicalism(p)[prov]
    exag = world.exaggeration[prov]
    total_true = output + plot_output
    reported = total_true * (1.0 + exag)
    hh.reported_this_year_kg[idx] += reported.astype(np.float32)
    hh.true_this_year_kg[idx] += total_true.astype(np.float32)
    if pol.procurement_on_true_output:
        basis = total_true / np.maximum(share, 1e-9)
    else:
        basis = planning.believed_output(hh.true_last_year_kg[idx].astype(np.float64),
                                         hh.reported_last_year_kg[idx].astype(np.float64), pol.report_credence)
    gross = planning.planned_gross_quota(p, basis, rad, share)

    own = ~coll  # households farming alone or in teams settle their own claims
    stock = hh.grain_kg[idx[own]]
    purchase = distribution.purchase_request(
        pol.procurement_regime, p, reported_output=income[own] * (1.0 + exag[own]), normal_output=normal_output[own],
        tax=tax[own], retention=retention[own], stock=stock, need_to_next_harvest=need_month[own] * to_next[own],
        seed=seed[own], feed=feed[own], planned_gross=gross[own])
    purchase = purchase * planning.procurement_adjustment(p, world, pol)
    paid = distribution.settle(stock + income[own], [tax[own], purchase, seed[own], feed[own]])
    _starve_animals(p, hh, idx[own], feed[own], paid[3])
    hh.grain_kg[idx[own]] = stock + income[own] - sum(paid)
    for name, values in (("tax_kg", paid[0]), ("purchase_kg", paid[1]), ("seed_kg", paid[2]), ("feed_kg", paid[3])):
        ctx.add(name, prov[own], values, w)
    state_in = float((np.bincount(prov[own], weights=paid[0] + paid[1], minlength=n_prov) * w).sum())

    if coll.any():
        hh.grain_kg[idx[coll]] += plot_output[coll]
        state_in += _collective_shares(world, ctx, idx[coll], cu, output[coll], own_output[coll],
                                       tax[coll], retention[coll], normal_output[coll], seed[coll], feed[coll],
                                       need_month[coll] * to_next[coll], c_labour[coll], land[coll], share[coll],
                                       plot_output[coll], exag[coll], gross[coll])
    state_farms.harvest(world, ctx, float((total_true * w[prov]).sum()), float((sown * w[prov]).sum()))
    ctx.add("production_kg", prov, total_true, w)
    ctx.add("reported_production_kg", prov, reported, w)
    world.granary_kg += state_in


def _collective_shares(world, ctx, members, cu, output, own_output, tax, retention, normal_output,
                       seed, feed, need_to_next, labour, land, share, plot_output, exag, gross) -> float:
    """Settle claims at each accounting unit and share the rest among its members."""
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    n = int(cu.max()) + 1
    unit_sum = lambda x: np.bincount(cu, weights=x, minlength=n)
    y_u = unit_sum(output)
    purchase_u = distribution.purchase_request(
        pol.procurement_regime, p, reported_output=unit_sum(output * (1.0 + exag)), normal_output=unit_sum(normal_output),
        tax=unit_sum(tax), retention=unit_sum(retention), stock=np.zeros(n), need_to_next_harvest=unit_sum(need_to_next),
        seed=unit_sum(seed), feed=unit_sum(feed), planned_gross=unit_sum(gross))
    purchase_u = purchase_u * planning.procurement_adjustment(p, world, pol)
    feed_u = unit_sum(feed)
    paid = collective.unit_claims(y_u, unit_sum(tax), purchase_u, unit_sum(seed), feed_u,
                                  p.accumulation_fund_share, p.welfare_fund_share)
    fed_share = np.divide(paid[3], feed_u, out=np.ones(n), where=feed_u > 0)
    _starve_animals(p, hh, members, feed, feed * fed_share[cu])
    remainder = y_u - sum(paid)
    welfare = paid[5]
    fg = hh.five_guarantee[members]
    fg_count = np.bincount(cu, weights=fg, minlength=n)
    remainder = remainder + np.where(fg_count > 0, 0.0, welfare)
    persons = hh.persons()[members].astype(np.float64)
    welfare_share = collective.share_by(persons * fg, cu, np.where(fg_count > 0, welfare, 0.0), n) * fg
    work_points = labour * np.where(hh.coerced[members], p.coerced_effort, 1.0)
    org = hh.org[members]
    form = orgs.form[org]
    ration = p.retention_food_norm_kg_per_capita * persons * share
    free_share = np.zeros(n)
    np.maximum.at(free_share, cu, np.where(form == COMMUNE, pol.free_supply_share, 0.0))
    free = collective.share_by(persons, cu, remainder * free_share, n)
    paid_rest = remainder * (1.0 - free_share)
    income = free + welfare_share + np.where(
        form == ELEMENTARY_APC,
        collective.distribute_elementary(paid_rest, cu, land, work_points, p.land_dividend_share, n),
        collective.distribute_advanced(paid_rest, cu, ration, work_points, n))
    hh.grain_kg[members] += income
    # experience: members compare what they got with what their own land and labour would have
    # yielded after the same claims ([001 §V] consciousness raised through their own experience)
    oi, n_orgs = dense_index(org, hh.province[members])
    org_ids = np.empty(n_orgs, dtype=np.int64)
    org_ids[oi] = org
    y_o = np.bincount(oi, weights=output + plot_output, minlength=n_orgs)
    own_o = np.bincount(oi, weights=own_output, minlength=n_orgs)
    orgs.yield_advantage[org_ids] = np.divide(y_o, own_o, out=np.ones(org_ids.size), where=own_o > 0) - 1.0
    claim_rate = np.divide(y_u - remainder, y_u, out=np.zeros(n), where=y_u > 0)
    counterfactual = own_output * (1.0 - claim_rate[cu])
    received = income + plot_output
    r = np.clip(np.divide(received, counterfactual, out=np.ones_like(received), where=counterfactual > 0) - 1.0, -1.0, 1.0)
    hh.attitude[members] += (p.learning_rate * r * share).astype(np.float32)
    prov_u = np.zeros(n, dtype=np.int64)
    prov_u[cu] = hh.province[members]
    w = world.weight
    for name, values in (("tax_kg", paid[0]), ("purchase_kg", paid[1]), ("seed_kg", paid[2]), ("feed_kg", paid[3]),
                         ("accumulation_kg", paid[4]), ("welfare_kg", welfare)):
        ctx.add(name, prov_u, values, w)
    return float((np.bincount(prov_u, weights=paid[0] + paid[1], minlength=world.provinces.n) * w).sum())


def _starve_animals(params, hh, members: np.ndarray, feed_due: np.ndarray, feed_paid: np.ndarray) -> None:
    """Animals whose feed grain could not be kept back die or are slaughtered (Walker 1984)."""
    short = np.divide(feed_due - feed_paid, feed_due, out=np.zeros_like(feed_due), where=feed_due > 0)
    hh.draft_animals[members] *= (1.0 - params.animal_starvation * np.clip(short, 0.0, 1.0)).astype(np.float32)
