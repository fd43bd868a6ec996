"""The harvest process: produce, then settle tax, purchase, seed and feed (MODEL.md §4.3-§4.4)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np

from hightide.economy import collective, distribution, production, techniques
from hightide.institutions import cooperatives, state_farms
from hightide.state import planning
from hightide.engine.calendar import harvest_season, months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.economy import harvest_kernels as hk
from hightide.engine.kernels import (CHUNK_SLOTS, dense_index, part_count, province_bounds, province_chunks,
                                     thread_count)
from hightide.engine.memory import KEEP_HEAP_BELOW_BYTES, release_free_memory
from hightide.engine.threads import elementwise
from hightide.engine.provincial import national_total, province_sums
from hightide.world.synthesis import expected_weather
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
    # the nation's rural adults: per-province sums in province order (the same on any number of shards)
    adults = national_total(ctx.gather("rural_adults", province_sums(world.households, world.households.adults) * world.weight))
    steel = pol.backyard_steel_mt * ctx.params.persons_per_backyard_mt * 1e6 / max(adults, 1.0)
    return float(min(steel + pol.water_conservancy_share, 0.9))


#: a province with more used household slots than this is harvested in parts (``harvest_parts``)
PART_SLOTS = CHUNK_SLOTS


def harvest_parts(hh, provinces: np.ndarray, limit: int | None = None):
    """The active slots (ascending) the harvest settles at once: chunks of two or more whole
    provinces up to ``limit`` used slots (``province_chunks``), and a province that fills a chunk
    alone (at full scale most do) in ceil(used / (limit / 2)) parts of whole organisations (its
    organisation, or for a household outside one its slot, modulo the number of parts), each
    settled together with a part of another such province (``_paired``): two provinces' runs,
    which the settlement's passes take on two threads (a province's sums are one thread's; a
    province alone in a chunk kept the other thread idle there). Every team, accounting unit and
    commune lies in one part, so every household's claims and shares are those of one pass; a split
    province's totals are added part by part (the same terms in another order, which may change
    their last bits). Nothing else depends on the parts, whose size follows from ``limit`` alone
    (not from the threads): at full scale the largest province holds ~14 M slots
    (docs/PERFORMANCE.md)."""
    limit = PART_SLOTS if limit is None else int(limit)

    def split(province):
        n_parts = part_count(hh.used[province], max(limit // 2, 1))
        slots, first = hk.parts_of_province(int(hh.block_start[province]), int(hh.used[province]), hh.active, hh.org,
                                            n_parts)
        parts = [slots[first[r]:first[r + 1]] for r in range(n_parts)]
        return [part for part in parts if part.size] or [slots]  # a large commune leaves parts empty

    large = []  # the provinces alone in a chunk, in order: split when their turn comes
    for chunk in province_chunks(hh, provinces, limit=limit):
        if chunk.size == 1:
            large.append(int(chunk[0]))
            continue
        yield hk.harvesting_slots(hh.block_start, hh.used, hh.active, chunk)
    yield from _paired(large, split)


def _paired(provinces: list[int], parts_of):
    """Parts of two provinces at once: the parts of the first two provinces (ascending;
    ``parts_of``) in turn, one of each (the lower province's slots first: a province taken later
    is always the higher), the next province's taking the place of one whose parts are used up; a
    province left alone yields its own. At most two provinces' parts are held at a time."""
    queue = list(provinces)
    held: list[list[np.ndarray]] = []
    while queue or held:
        while len(held) < 2 and queue:
            held.append(parts_of(queue.pop(0)))
        if len(held) == 2:
            yield np.concatenate([held[0].pop(0), held[1].pop(0)])
        else:
            yield held[0].pop(0)
        held = [parts for parts in held if parts]


def harvest(world: World, ctx: StepContext) -> None:
    """Production, then claims: households alone or in teams settle tax, purchase, seed and feed
    from their own grain; collectives settle them at the accounting unit and share out the rest
    (``_collective_shares``). Provinces are handled in chunks of whole provinces, and the largest
    in parts of whole organisations (``harvest_parts``), which changes nothing but the memory the
    month needs and the order in which a split province's totals are added."""
    shares = season_shares(world, ctx)
    if not shares.any():
        return
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    provinces = np.flatnonzero(shares > 0)
    n_prov = world.provinces.n
    tfp = world.productivity * (1.0 + p.tfp_growth_per_year) ** ctx.years_elapsed
    # land damaged by deep ploughing and close planting yields less, in an average year too: the
    # normal output the Three Fixes' quotas are set on is the damaged land's (the tax, on the
    # province's assessed normal yield per mu, is not)
    damaged = techniques.yield_factor(p, world.soil_damage)
    wx = production.weather(p, ctx.seed, ctx.year, n_prov, pol.weather_source)
    away = labour_diverted_share(world, ctx)
    adjustment = planning.procurement_adjustment(p, world, pol)
    luck = management_luck(p, ctx.seed, ctx.year, orgs)
    # management, not last year's result, moves output: the class its cadres alone would earn;
    # times the luck, per organisation slot, in place
    unit_factor = hk.collective_factor(luck, orgs.cadre_competence, p.apc_scale_bonus, p.quality_class_effect,
                                       cooperatives.no_exit_factor(p, world.months_without_exit),
                                       cooperatives.CLASS_I_ABOVE, cooperatives.CLASS_III_BELOW)
    to_next_p = months_to_next_harvest_by_zone(world.provinces.zone, ctx.cal_month).astype(np.float64)
    radicalism = world.radicalism(p)
    own_flows = np.zeros((n_prov, 6))  # tax, purchase, seed, feed, production, reported (simulated kg)
    own_state_in = np.zeros(n_prov)
    unit_flows = np.zeros((n_prov, 6))  # tax, purchase, seed, feed, accumulation, welfare
    unit_state_in = np.zeros(n_prov)
    true_p, sown_p = np.zeros(n_prov), np.zeros(n_prov)  # true output and sown land per province (simulated)
    w = world.weight
    n_threads = thread_count()
    with ThreadPoolExecutor(n_threads) if n_threads > 1 else nullcontext() as pool:
        # the index powers (NumPy's) on every thread: each term is its own input's, wherever it sits
        def term(fn, x, out=None):
            return elementwise(lambda a, o: fn(p, a, out=o), x, pool, n_threads, out=out)

        n_parts = _settle_parts(world, ctx, provinces, shares, tfp, damaged, wx, away, adjustment, unit_factor,
                                to_next_p, radicalism, own_flows, own_state_in, unit_flows, unit_state_in, true_p,
                                sown_p, term)
    if n_parts > 1:
        # the chunks and parts reused each other's pages, and the next processes' chunk arrays reuse
        # them in turn; given back only if memory runs high (memory.KEEP_HEAP_BELOW_BYTES)
        release_free_memory(above=KEEP_HEAP_BELOW_BYTES)
    for name, col in (("tax_kg", 0), ("purchase_kg", 1), ("seed_kg", 2), ("feed_kg", 3)):
        ctx.flows[name] += own_flows[:, col] * w
    # what reaches the State and the nation's harvest: every province's settlement (national totals)
    settled = ctx.gather("harvest_settled", np.stack([own_state_in, unit_state_in, true_p, sown_p], axis=1))
    state_in = float((settled[:, 0] * w).sum())
    for name, col in (("tax_kg", 0), ("purchase_kg", 1), ("seed_kg", 2), ("feed_kg", 3), ("accumulation_kg", 4),
                      ("welfare_kg", 5)):
        ctx.flows[name] += unit_flows[:, col] * w
    state_in += float((settled[:, 1] * w).sum())
    state_farms.harvest(world, ctx, national_total(settled[:, 2] * w), national_total(settled[:, 3] * w))
    ctx.flows["production_kg"] += own_flows[:, 4] * w
    ctx.flows["reported_production_kg"] += own_flows[:, 5] * w
    world.granary_kg += state_in


def _settle_parts(world, ctx, provinces, shares, tfp, damaged, wx, away, adjustment, unit_factor, to_next_p, radicalism,
                  own_flows, own_state_in, unit_flows, unit_state_in, true_p, sown_p, term) -> int:
    """``harvest``'s production and claims, part by part (``harvest_parts``), added to the flow and
    total arrays given; ``term(fn, x)`` computes an index power. Returns the number of parts."""
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    n_prov = world.provinces.n
    n_parts = 0
    for idx in harvest_parts(hh, provinces):
        if idx.size == 0:
            continue
        n_parts += 1
        bounds = province_bounds(idx, hh.block_start)
        land, labour, animals, persons, need_month = hk.gather_inputs(
            idx, hh.land_mu, hh.children, hh.adults, hh.elderly, hh.draft_animals,
            p.labour_weight_child, p.labour_weight_elderly,
            p.food_need_kg_per_adult_equivalent / 12, p.adult_equivalent_child, p.adult_equivalent_elderly)
        # index terms are computed once and reused where an input repeats (the powers are most of
        # the harvest's arithmetic; a term is a function of its own input only)
        land_t, labour_t, animal_t = (term(production.land_term, land), term(production.labour_term, labour),
                                       term(production.animal_term, animals))
        # hands away on the furnaces at harvest time lose part of the crop; land taken out of grain
        # (MODEL.md §4.3, §4.6); hungry people worked less through the season (in ``effort``)
        sown = land * pol.sown_area_factor
        sown_t = land_t if pol.sown_area_factor == 1.0 else term(production.land_term, sown)
        # scale, own output, what the same households would grow alone in an average year on the
        # land sown, damaged as it is (normal output), forms, and private plots, which stay with
        # the member [001 note 21] while the rest of its land and time is collective (the plots'
        # share is the growing season's, ``incentives.season_mean``): one compiled pass, factor by
        # factor in the order of the array expressions it replaces (``hk.products``)
        share, scale, own_output, normal_output, org, form, in_team, coll, plot, plot_output = hk.products(
            idx, hh.province, shares, tfp, damaged, wx, expected_weather(p), land_t, labour_t, animal_t, sown_t,
            hh.org, orgs.form, world.private_plot_season, p.private_plot_yield_ratio)
        del land_t
        # the unit that pools inputs: the team, or the collective's accounting unit (numbered
        # province by province; everything below is per unit)
        team, n_teams = dense_index(org, in_team, bounds)
        n_units = 0
        if coll.any():
            every = bool(coll.all())  # all in collectives (the communes' years): no gather, no scatter
            cu = cooperatives.accounting_units(hh, orgs, idx if every else idx[coll], pol, p.production_team_size,
                                               villages=world.province_villages())
            n_units = int(cu.max()) + 1
            coll_unit = cu if every else hk.collective_units(coll, cu, bounds, thread_count())
            del cu
        else:
            coll_unit = np.full(idx.size, -1, dtype=np.int64)
        c_land, c_labour, labour_used, animals_used, effort_labour = (np.empty(idx.size) for _ in range(5))
        pooled, changed = np.empty(idx.size, dtype=bool), np.empty(idx.size, dtype=bool)
        hk.pool_inputs(team, coll_unit, n_teams, n_teams + n_units, land, sown, labour, animals, plot, hh.effort, idx,
                       c_land, c_labour, labour_used, animals_used, effort_labour, pooled, changed, bounds,
                       thread_count())
        del plot
        bonus = hk.output_bonus(org, in_team, coll, p.mutual_aid_pooling_bonus, unit_factor)
        del org, in_team
        # collective land less plots, pooled inputs and effort below 1 change the inputs of output:
        # each term is replaced where its input changed, in the array of the term it replaces
        c_land_t = sown_t  # may be the land term itself (sown factor 1); own and normal output are done with it
        del sown_t
        _replace_term(term, production.land_term, c_land_t, c_land, coll)
        del c_land
        effort_t = labour_t
        _replace_term(term, production.labour_term, effort_t, effort_labour, changed)
        del changed, effort_labour, labour_t
        used_t = animal_t
        _replace_term(term, production.animal_term, used_t, animals_used, pooled)
        del pooled, animals_used, animal_t
        f_out = c_land_t
        f_out *= effort_t
        f_out *= used_t
        del c_land_t, effort_t, used_t
        unit_sums = np.zeros((n_units, 9))
        true_sown, output = np.zeros((n_prov, 2)), np.empty(idx.size)
        hk.settle_households(
            idx, hh.province, form, team, n_teams, coll_unit, n_units, scale, f_out, bonus,
            1.0 - min(p.harvest_loss_per_diverted * away, 1.0), p.elasticity_labour, labour, labour_used, own_output,
            plot_output, normal_output, land, sown, animals, share, persons, need_month, to_next_p,
            world.normal_yield_per_mu, world.exaggeration, radicalism, p.agricultural_tax_rate,
            distribution.food_norm(p, pol), p.seed_kg_per_mu, p.feed_kg_per_animal_year,
            hh.reported_this_year_kg, hh.true_this_year_kg, hh.reported_last_year_kg, hh.true_last_year_kg,
            pol.procurement_on_true_output, pol.report_credence, p.planned_procurement_share, p.radicalism_procurement,
            hk.REGIME_CODES.get(pol.procurement_regime, hk.PROPORTIONAL), p.free_market_sale_share,
            p.procurement_surplus_rate, pol.above_normal_purchase_share, adjustment, hh.grain_kg, hh.draft_animals,
            p.animal_starvation, own_flows, own_state_in, unit_sums, true_sown, output, bounds, thread_count())
        true_p += true_sown[:, 0]
        sown_p += true_sown[:, 1]
        del scale, f_out, bonus, normal_output, sown, need_month, labour_used, labour, team
        if coll.any():
            _collective_shares(world, ctx, idx, coll_unit, n_units, unit_sums, adjustment, output, own_output,
                               c_labour, land, share, plot_output, persons, form, animals, bounds, flows=unit_flows,
                               state_in=unit_state_in)
        # nothing of this chunk outlives it (the next chunk's arrays would otherwise meet these)
        del idx, bounds, coll, coll_unit, unit_sums, output, own_output, c_labour, land, share, plot_output, persons, form, animals
    return n_parts


#: share of a part's households whose input changed above which a term is computed for every
#: household rather than gathered and scattered for those (NumPy's masked copies run on one thread)
DENSE_CHANGE = 0.3


def _replace_term(term, fn, dest, values, changed) -> None:
    """``dest[changed] = term(fn, values[changed])``, in place. Where ``changed`` is False,
    ``values`` must equal the inputs ``dest`` was computed from (an unchanged land, labour or herd:
    ``pool_inputs`` and ``products`` make them so), so when most changed (collectives) the term is
    taken of every element straight into ``dest``: the same values, without the masked copies."""
    n_changed = np.count_nonzero(changed)
    if n_changed >= DENSE_CHANGE * changed.size:
        term(fn, values, out=dest)
    elif n_changed:
        dest[changed] = term(fn, values[changed])


def _collective_shares(world, ctx, idx, coll_unit, n, unit_sums, adjustment, output, own_output, labour, land, share,
                       plot_output, persons, form, animals, bounds, flows, state_in) -> None:
    """Settle claims at each accounting unit (sums in ``unit_sums``: output, reported output,
    normal output, tax, retention, need to the next harvest, seed, feed, gross quota) in the
    order of ``collective.unit_claims`` and share the rest among its members (``coll_unit`` >= 0)
    by ``collective.share_by`` and the ``distribute_*`` rules; their experience of it moves their
    attitude and the organisation's yield advantage. Adds the units' claims to ``flows`` and their
    tax + purchase to ``state_in`` (per province, simulated kg)."""
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    y_u, reported_u, normal_u, tax_u, retention_u, need_u, seed_u, feed_u, gross_u = unit_sums.T
    purchase_u = distribution.purchase_request(
        pol.procurement_regime, p, reported_output=reported_u, normal_output=normal_u, tax=tax_u,
        retention=retention_u, stock=np.zeros(n), need_to_next_harvest=need_u, seed=seed_u, feed=feed_u,
        planned_gross=gross_u, true_output=y_u, above_normal_share=pol.above_normal_purchase_share)
    purchase_u = purchase_u * adjustment
    paid = collective.unit_claims(y_u, tax_u, purchase_u, seed_u, feed_u, p.accumulation_fund_share, p.welfare_fund_share)
    fed_share = np.divide(paid[3], feed_u, out=np.ones(n), where=feed_u > 0)
    remainder = y_u - sum(paid)
    welfare = paid[5]
    ration = distribution.food_norm(p, pol)
    count, fg_count, free_share, prov_u, totals, label, org_ids = hk.unit_member_sums(
        idx, coll_unit, n, hh.province, hh.org, persons, hh.five_guarantee, form, pol.free_supply_share,
        ration, share, land, labour, hh.coerced, p.coerced_effort, bounds, thread_count())
    remainder = remainder + np.where(fg_count > 0, 0.0, welfare)
    paid_rest = remainder * (1.0 - free_share)
    ration_pool = np.minimum(paid_rest, totals[:, 2])
    claim_rate = np.divide(y_u - remainder, y_u, out=np.zeros(n), where=y_u > 0)
    # experience: members compare what they got with what their own land and labour would have
    # yielded after the same claims ([001 §V] consciousness raised through their own experience)
    y_o, own_o = hk.share_out(
        idx, coll_unit, count, totals, fg_count, welfare, remainder, free_share, paid_rest, ration_pool, form, persons,
        hh.five_guarantee, ration, land, labour, hh.coerced, p.coerced_effort,
        p.land_dividend_share, own_output, plot_output, claim_rate, share, p.learning_rate, p.feed_kg_per_animal_year,
        animals, fed_share, p.animal_starvation, hh.grain_kg, hh.attitude, hh.draft_animals, label, org_ids.size, output,
        bounds, thread_count())
    orgs.yield_advantage[org_ids] = np.divide(y_o, own_o, out=np.ones(org_ids.size), where=own_o > 0) - 1.0
    for col, values in enumerate((paid[0], paid[1], paid[2], paid[3], paid[4], welfare)):
        flows[:, col] += np.bincount(prov_u, weights=values, minlength=world.provinces.n)
    state_in += np.bincount(prov_u, weights=paid[0] + paid[1], minlength=world.provinces.n)
