"""Compiled household passes of the harvest (economy/harvest.py says what they compute and why).

Each pass follows the NumPy expressions of the rules it applies (``production.factor_index``
inputs, ``production.pooled_inputs``, ``production.labour_exchange``, ``distribution.tax_due``,
``retention_norm``, ``purchase_request``, ``settle``, ``collective.share_by`` and the
``distribute_*`` rules) operation for operation, so results are bit for bit those of the array
formulation; the powers of the Cobb-Douglas index stay with NumPy (``factor_index``), whose
vectorised ``pow`` the compiled code would not reproduce to the last bit.
tests/unit/test_harvest_kernels.py holds the array formulation and checks the two agree.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine.kernels import PW_BLOCK, PW_STACK, deal_runs, pairwise_close, pairwise_plan
from hightide.world.households import NO_ORG
from hightide.world.organisations import ADVANCED_APC, COMMUNE, ELEMENTARY_APC, MUTUAL_AID

# procurement regimes (distribution.purchase_request)
FREE_MARKET, PROPORTIONAL, THREE_FIXES, PLANNED_SHARE = range(4)
REGIME_CODES = {"free_market": FREE_MARKET, "unified_purchase": PROPORTIONAL, "three_fixes": THREE_FIXES,
                "planned_share": PLANNED_SHARE}


@nb.njit(cache=True, parallel=True)
def gather_inputs(idx, land_mu, children, adults, elderly, draft_animals, labour_child, labour_elderly,
                  need_per_ae, ae_child, ae_elderly):
    """Per harvesting household: land, labour power, animals (float64; the inputs of the index
    powers), persons and monthly food need. (Hunger acts on labour through the season's effort.)"""
    n = idx.size
    land = np.empty(n)
    labour = np.empty(n)
    animals = np.empty(n)
    persons = np.empty(n)
    need = np.empty(n)
    for k in nb.prange(n):
        i = idx[k]
        land[k] = np.float64(land_mu[i])
        labour[k] = adults[i] + labour_child * children[i] + labour_elderly * elderly[i]
        animals[k] = np.float64(draft_animals[i])
        persons[k] = np.float64(np.int32(children[i]) + adults[i] + elderly[i])
        need[k] = need_per_ae * (adults[i] + ae_child * children[i] + ae_elderly * elderly[i])
    return land, labour, animals, persons, need


@nb.njit(cache=True, parallel=True)
def products(idx, province, shares, tfp, damaged, wx, expected_weather, land_t, labour_t, animal_t, sown_t, org_slot,
             org_form, plot_season, plot_ratio):
    """Per harvesting household, element by element as the array expressions of ``harvest`` form
    them: the season share of its province; scale = tfp x soil damage x weather x share; own output =
    scale x (land x labour x animal terms); normal output = (tfp x soil damage x expected weather x
    share) x (sown land x labour x animal terms); organisation and its form (-1 outside one),
    whether in a team or a collective; the private-plot share (``plot_season`` for collective
    members) and the plot output = (``plot_ratio`` x plot) x own output. Nothing is summed:
    elements in parallel."""
    n = idx.size
    share = np.empty(n)
    scale = np.empty(n)
    own_output = np.empty(n)
    normal_output = np.empty(n)
    org = np.empty(n, dtype=org_slot.dtype)
    form = np.empty(n, dtype=org_form.dtype)
    in_team = np.empty(n, dtype=np.bool_)
    coll = np.empty(n, dtype=np.bool_)
    plot = np.empty(n)
    plot_output = np.empty(n)
    for k in nb.prange(n):
        i = idx[k]
        pv = province[i]
        sh = shares[pv]
        share[k] = sh
        sc = ((tfp[pv] * damaged[pv]) * wx[pv]) * sh
        scale[k] = sc
        own = sc * ((land_t[k] * labour_t[k]) * animal_t[k])
        own_output[k] = own
        normal = ((tfp[pv] * damaged[pv]) * expected_weather) * sh
        normal_output[k] = normal * ((sown_t[k] * labour_t[k]) * animal_t[k])
        o = org_slot[i]
        org[k] = o
        f = np.int8(org_form[max(o, 0)]) if o != NO_ORG else np.int8(-1)
        form[k] = f
        in_team[k] = f == MUTUAL_AID
        c = (f == ELEMENTARY_APC) | (f == ADVANCED_APC) | (f == COMMUNE)
        coll[k] = c
        pl = plot_season if c else 0.0
        plot[k] = pl
        plot_output[k] = (plot_ratio * pl) * own
    return share, scale, own_output, normal_output, org, form, in_team, coll, plot, plot_output


@nb.njit(cache=True, parallel=True)
def collective_units(coll, units, bounds, n_threads=1):
    """Each harvesting household's accounting unit (-1 outside a collective) from ``units``, the
    units of the collective members (``coll``) in order: provinces (``kernels.province_bounds``)
    in parallel, each from its first member's place in ``units``."""
    n_runs = bounds.size - 1
    first = np.zeros(n_runs + 1, dtype=np.int64)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            c = 0
            for k in range(bounds[r], bounds[r + 1]):
                c += coll[k]
            first[r + 1] = c
    for r in range(n_runs):
        first[r + 1] += first[r]
    out = np.empty(coll.size, dtype=np.int64)
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            j = first[r]
            for k in range(bounds[r], bounds[r + 1]):
                out[k] = units[j] if coll[k] else -1
                j += coll[k]
    return out


@nb.njit(cache=True, inline="always")
def _pooling_unit(k, team, coll_unit, n_teams):
    """The unit that pools a household's inputs: its collective's accounting unit (numbered after
    the ``n_teams`` teams), its team, or -1 (farms alone)."""
    return n_teams + coll_unit[k] if coll_unit[k] >= 0 else team[k]


@nb.njit(cache=True, parallel=True)
def pool_inputs(team, coll_unit, n_teams, n_units, land, sown, labour, animals, plot, effort_slot, idx, c_land,
                c_labour, labour_used, animals_used, effort_used, pooled, changed, bounds, n_threads=1):
    """Land and time on the collective field (private plots apart), and the labour and animals a
    pooling unit (``_pooling_unit``: accounting unit or team) puts on each member's land in
    proportion to it (``pooled_inputs``); effort-weighted labour for the index; ``pooled`` (in a
    unit) and ``changed`` (pooled, or effort-weighted labour not the labour). A unit's members are
    in one province (``kernels.province_bounds``)."""
    n = idx.size
    land_t = np.zeros(n_units)
    labour_t = np.zeros(n_units)
    animals_t = np.zeros(n_units)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            # the current unit's sums in registers while its members follow each other (sums in
            # memory made each member wait on the last one's store); each unit's sum is in slot order
            u_now = -1
            s_land = s_labour = s_animals = 0.0
            for k in range(bounds[r], bounds[r + 1]):
                c_land[k] = sown[k] * (1.0 - plot[k])
                c_labour[k] = labour[k] * (1.0 - plot[k])
                u = _pooling_unit(k, team, coll_unit, n_teams)
                if u >= 0:
                    if u != u_now:
                        if u_now >= 0:
                            land_t[u_now] = s_land
                            labour_t[u_now] = s_labour
                            animals_t[u_now] = s_animals
                        u_now = u
                        s_land, s_labour, s_animals = land_t[u], labour_t[u], animals_t[u]
                    s_land += c_land[k]
                    s_labour += c_labour[k]
                    s_animals += animals[k]
            if u_now >= 0:
                land_t[u_now] = s_land
                labour_t[u_now] = s_labour
                animals_t[u_now] = s_animals
    for k in nb.prange(n):
        u = _pooling_unit(k, team, coll_unit, n_teams)
        if u >= 0:
            share = c_land[k] / land_t[u] if land_t[u] > 0 else 0.0
            labour_used[k] = labour_t[u] * share
            animals_used[k] = animals_t[u] * share
        else:
            labour_used[k] = c_labour[k]
            animals_used[k] = animals[k]
        effort_used[k] = labour_used[k] * np.float64(effort_slot[idx[k]])
        pooled[k] = u >= 0
        changed[k] = (u >= 0) | (effort_used[k] != labour[k])


@nb.njit(cache=True, parallel=True)
def settle_households(idx, province, form, team, n_teams, coll_unit, n_units, scale, f_out, bonus, loss_factor,
                      elasticity_labour, labour, labour_used, own_output, plot_output, normal_output, land, sown,
                      animals, share, persons, need_month, to_next, normal_yield, exag, rad, tax_rate,
                      retention_food, seed_per_mu, feed_per_animal, reported_this, true_this, reported_last, true_last,
                      on_true_output, credence, planned_share, radicalism_procurement, regime, free_market_share,
                      surplus_rate, above_normal_share, adjustment, grain, draft_animals, starvation, flows, state_in,
                      unit_sums, true_sown, output_out, bounds, n_threads=1):
    """Output, labour exchange in teams, reports, the procurement basis and, for households that
    settle their own claims (alone or in teams), tax, purchase, seed and feed settled from stock
    plus income in that order (under the Three Fixes the quota and, from a household not in deficit,
    ``above_normal_share`` of its output above its normal output), animals starved of feed, stocks
    updated. Members of collectives get their plot output and add their claims to their unit's sums
    (``unit_sums`` columns: output, reported output, normal output, tax, retention, need to next
    harvest, seed, feed, gross quota).
    ``flows[p]`` gets (tax, purchase, seed, feed, production, reported production); ``state_in[p]``
    tax + purchase of households settling alone; ``true_sown[p]`` (zeros: these households' sums
    alone) true output and sown land. ``to_next`` is per province. Provinces
    (``kernels.province_bounds``) in parallel."""
    out_t = np.zeros(n_teams)
    lab_t = np.zeros(n_teams)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            for k in range(bounds[r], bounds[r + 1]):
                output_out[k] = scale[k] * f_out[k] * bonus[k] * loss_factor
                t = team[k]
                if t >= 0:
                    out_t[t] += output_out[k]
                    lab_t[t] += labour[k]
    wage = np.zeros(n_teams)
    for t in nb.prange(n_teams):
        wage[t] = elasticity_labour * out_t[t] / lab_t[t] if lab_t[t] > 0 else 0.0
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            _settle_run(bounds[r], bounds[r + 1], idx, province, team, coll_unit, labour, labour_used,
                        plot_output, normal_output, land, sown, animals, share, persons, need_month, to_next,
                        normal_yield, exag, rad, tax_rate, retention_food, seed_per_mu, feed_per_animal,
                        reported_this, true_this, reported_last, true_last, on_true_output, credence, planned_share,
                        radicalism_procurement, regime, free_market_share, surplus_rate, above_normal_share,
                        adjustment, grain, draft_animals, starvation, flows, state_in, unit_sums, true_sown,
                        output_out, wage)


@nb.njit(cache=True)
def _settle_run(a, b, idx, province, team, coll_unit, labour, labour_used, plot_output, normal_output, land, sown,
                animals, share, persons, need_month, to_next, normal_yield, exag, rad, tax_rate, retention_food,
                seed_per_mu, feed_per_animal, reported_this, true_this, reported_last, true_last, on_true_output,
                credence, planned_share, radicalism_procurement, regime, free_market_share, surplus_rate,
                above_normal_share, adjustment, grain, draft_animals, starvation, flows, state_in, unit_sums,
                true_sown, output_out, wage):
    """``settle_households``' second pass over the households a..b-1 of one province, in order."""
    for k in range(a, b):
        i = idx[k]
        pv = province[i]
        output = output_out[k]
        income = output
        if team[k] >= 0:
            income = income + wage[team[k]] * (labour[k] - labour_used[k])
        sh = share[k]
        normal = normal_output[k]
        tax = tax_rate * normal_yield[pv] * land[k] * sh
        retention = (retention_food * persons[k] + seed_per_mu * land[k] + feed_per_animal * animals[k]) * sh
        seed = seed_per_mu * sown[k] * sh
        feed = feed_per_animal * animals[k] * sh
        total_true = output + plot_output[k]
        reported = total_true * (1.0 + exag[pv])
        true_sown[pv, 0] += total_true
        true_sown[pv, 1] += sown[k]
        reported_this[i] = reported_this[i] + np.float32(reported)
        true_this[i] = true_this[i] + np.float32(total_true)
        if on_true_output:
            basis = total_true / max(sh, 1e-9)
        else:
            t_last = np.float64(true_last[i])
            basis = t_last + credence * (np.float64(reported_last[i]) - t_last)
        gross = (planned_share + radicalism_procurement * max(rad[pv], 0.0)) * basis * sh
        flows[pv, 4] += total_true
        flows[pv, 5] += reported
        u = coll_unit[k]
        if u >= 0:
            grain[i] += plot_output[k]
            unit_sums[u, 0] += output
            unit_sums[u, 1] += output * (1.0 + exag[pv])
            unit_sums[u, 2] += normal
            unit_sums[u, 3] += tax
            unit_sums[u, 4] += retention
            unit_sums[u, 5] += need_month[k] * to_next[pv]
            unit_sums[u, 6] += seed
            unit_sums[u, 7] += feed
            unit_sums[u, 8] += gross
            continue
        stock = grain[i]
        if regime == PLANNED_SHARE:
            purchase = max(gross - tax, 0.0)
        elif regime == FREE_MARKET:
            surplus = stock + income * (1.0 + exag[pv]) - tax - seed - feed - need_month[k] * to_next[pv]
            purchase = free_market_share * max(surplus, 0.0)
        else:
            base = normal if regime == THREE_FIXES else income * (1.0 + exag[pv])
            purchase = surplus_rate * max(base - tax - retention, 0.0)
            if regime == THREE_FIXES and base - tax - retention >= 0.0:
                purchase = purchase + above_normal_share * max(output - normal, 0.0)
        purchase = purchase * adjustment
        remaining = max(stock + income, 0.0)
        p_tax = min(max(tax, 0.0), remaining)
        remaining -= p_tax
        p_purchase = min(max(purchase, 0.0), remaining)
        remaining -= p_purchase
        p_seed = min(max(seed, 0.0), remaining)
        remaining -= p_seed
        p_feed = min(max(feed, 0.0), remaining)
        short = (feed - p_feed) / feed if feed > 0 else 0.0
        draft_animals[i] = draft_animals[i] * np.float32(1.0 - starvation * min(max(short, 0.0), 1.0))
        grain[i] = stock + income - (((p_tax + p_purchase) + p_seed) + p_feed)
        flows[pv, 0] += p_tax
        flows[pv, 1] += p_purchase
        flows[pv, 2] += p_seed
        flows[pv, 3] += p_feed
        state_in[pv] += p_tax + p_purchase


@nb.njit(cache=True, parallel=True)
def unit_member_sums(idx, coll_unit, n_units, province, org, persons, five_guarantee, form, free_supply_share,
                     retention_food, share, land, labour, coerced, coerced_effort, bounds, n_threads=1):
    """Per accounting unit (members: ``coll_unit`` >= 0): members, five-guarantee members, the
    largest free-supply share of its members' forms, its province, and the weight totals of
    ``collective.share_by`` (persons x five-guarantee, persons, ration, land, work points).
    Also a dense index of the members' organisations (-1 elsewhere) and their slots, numbered in
    order of first appearance, province after province. Provinces (``kernels.province_bounds``)
    in parallel: a first pass sums and counts each province's organisations, a second numbers
    them from the count of the provinces before (no array of every household beyond ``label``)."""
    count = np.zeros(n_units)
    fg_count = np.zeros(n_units)
    free_share = np.zeros(n_units)
    prov_u = np.zeros(n_units, dtype=np.int64)
    totals = np.zeros((n_units, 5))
    n_runs = bounds.size - 1
    label = np.full(idx.size, -1, dtype=np.int64)
    n_local = np.zeros(n_runs + 1, dtype=np.int64)
    lo_r = np.zeros(n_runs, dtype=np.int64)
    hi_r = np.full(n_runs, -1, dtype=np.int64)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            lo = np.int64(1) << 62
            hi = np.int64(-1)
            # the current unit's sums in registers while its members follow each other (sums in
            # memory made each member wait on the last one's store); each unit's sum is in slot order
            u_now = -1
            c = fg_c = fs = t0 = t1 = t2 = t3 = t4 = 0.0
            for k in range(bounds[r], bounds[r + 1]):
                u = coll_unit[k]
                if u < 0:
                    continue
                i = idx[k]
                if u != u_now:
                    if u_now >= 0:
                        count[u_now], fg_count[u_now], free_share[u_now] = c, fg_c, fs
                        totals[u_now, 0], totals[u_now, 1], totals[u_now, 2] = t0, t1, t2
                        totals[u_now, 3], totals[u_now, 4] = t3, t4
                    u_now = u
                    c, fg_c, fs = count[u], fg_count[u], free_share[u]
                    t0, t1, t2, t3, t4 = totals[u, 0], totals[u, 1], totals[u, 2], totals[u, 3], totals[u, 4]
                    prov_u[u] = province[i]
                fg = five_guarantee[i]
                c += 1.0
                fg_c += np.float64(fg)
                fs = max(fs, free_supply_share if form[k] == COMMUNE else 0.0)
                t0 += persons[k] * fg
                t1 += persons[k]
                t2 += retention_food * persons[k] * share[k]
                t3 += land[k]
                t4 += labour[k] * (coerced_effort if coerced[i] else 1.0)
                lo = min(lo, np.int64(org[i]))
                hi = max(hi, np.int64(org[i]))
            if u_now >= 0:
                count[u_now], fg_count[u_now], free_share[u_now] = c, fg_c, fs
                totals[u_now, 0], totals[u_now, 1], totals[u_now, 2] = t0, t1, t2
                totals[u_now, 3], totals[u_now, 4] = t3, t4
            if hi >= 0:
                seen = np.zeros(hi - lo + 1, dtype=np.bool_)
                m = 0
                for k in range(bounds[r], bounds[r + 1]):
                    if coll_unit[k] >= 0:
                        o = org[idx[k]] - lo
                        if not seen[o]:
                            seen[o] = True
                            m += 1
                n_local[r + 1] = m
                lo_r[r], hi_r[r] = lo, hi
    offset = np.cumsum(n_local)
    org_ids = np.empty(offset[-1], dtype=np.int64)
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            lo, hi = lo_r[r], hi_r[r]
            if hi < 0:
                continue
            number = np.full(hi - lo + 1, -1, dtype=np.int64)
            m = offset[r]
            for k in range(bounds[r], bounds[r + 1]):
                if coll_unit[k] >= 0:
                    o = org[idx[k]]
                    if number[o - lo] < 0:
                        number[o - lo] = m
                        org_ids[m] = o
                        m += 1
                    label[k] = number[o - lo]
    return count, fg_count, free_share, prov_u, totals, label, org_ids


@nb.njit(cache=True, inline="always")
def _share_by(weight, total, count, amount):
    """``collective.share_by`` for one member."""
    w = weight / total if total > 0 else 1.0 / max(count, 1.0)
    return amount * w


@nb.njit(cache=True, parallel=True)
def share_out(idx, coll_unit, count, totals, fg_count, welfare, remainder, free_share, paid_rest, ration_pool, form,
              persons, five_guarantee, retention_food, land, labour, coerced, coerced_effort, dividend_share,
              own_output, plot_output, claim_rate, share, learning_rate, feed_per_animal, animals, fed_share,
              starvation, grain, attitude, draft_animals, label, n_orgs, output, bounds, n_threads=1):
    """Each member's share of its unit's remainder: free supply by persons, the welfare fund to
    five-guarantee households, then a land dividend and work points (elementary) or a basic ration
    and work points (advanced, communes); stock and animals updated; the member's experience moves
    its attitude. Returns per organisation (``label``) the output with plots and the output
    members' own land and labour would have given. Provinces (``kernels.province_bounds``) in parallel."""
    y_o = np.zeros(n_orgs)
    own_o = np.zeros(n_orgs)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            _share_run(bounds[r], bounds[r + 1], idx, coll_unit, count, totals, fg_count, welfare, remainder,
                       free_share, paid_rest, ration_pool, form, persons, five_guarantee, retention_food, land, labour,
                       coerced, coerced_effort, dividend_share, own_output, plot_output, claim_rate, share,
                       learning_rate, feed_per_animal, animals, fed_share, starvation, grain, attitude, draft_animals,
                       label, output, y_o, own_o)
    return y_o, own_o


@nb.njit(cache=True)
def _share_run(a, b, idx, coll_unit, count, totals, fg_count, welfare, remainder, free_share, paid_rest, ration_pool,
               form, persons, five_guarantee, retention_food, land, labour, coerced, coerced_effort, dividend_share,
               own_output, plot_output, claim_rate, share, learning_rate, feed_per_animal, animals, fed_share,
               starvation, grain, attitude, draft_animals, label, output, y_o, own_o):
    """``share_out`` over the households a..b-1 of one province, in order."""
    for k in range(a, b):
        u = coll_unit[k]
        if u < 0:
            continue
        i = idx[k]
        fg = np.float64(five_guarantee[i])
        work_points = labour[k] * (coerced_effort if coerced[i] else 1.0)
        welfare_u = welfare[u] if fg_count[u] > 0 else 0.0
        welfare_share = _share_by(persons[k] * fg, totals[u, 0], count[u], welfare_u) * fg
        free = _share_by(persons[k], totals[u, 1], count[u], remainder[u] * free_share[u])
        if form[k] == ELEMENTARY_APC:
            dist = (_share_by(land[k], totals[u, 3], count[u], paid_rest[u] * dividend_share)
                    + _share_by(work_points, totals[u, 4], count[u], paid_rest[u] * (1.0 - dividend_share)))
        else:
            ration = retention_food * persons[k] * share[k]
            dist = (_share_by(ration, totals[u, 2], count[u], ration_pool[u])
                    + _share_by(work_points, totals[u, 4], count[u], paid_rest[u] - ration_pool[u]))
        income = free + welfare_share + dist
        fd = feed_per_animal * animals[k] * share[k]
        short = (fd - fd * fed_share[u]) / fd if fd > 0 else 0.0
        draft_animals[i] = draft_animals[i] * np.float32(1.0 - starvation * min(max(short, 0.0), 1.0))
        grain[i] += income
        y_o[label[k]] += output[k] + plot_output[k]
        own_o[label[k]] += own_output[k]
        counterfactual = own_output[k] * (1.0 - claim_rate[u])
        received = income + plot_output[k]
        r = (received / counterfactual if counterfactual > 0 else 1.0) - 1.0
        r = min(max(r, -1.0), 1.0)
        attitude[i] = attitude[i] + np.float32(learning_rate * r * share[k])


@nb.njit(cache=True, parallel=True)
def output_bonus(org, in_team, coll, team_bonus, unit_factor):
    """Output multiplier: 1 + the pooling bonus in teams; the organisation's ``collective_factor``
    in collectives; 1 alone."""
    out = np.ones(org.size)
    for k in nb.prange(org.size):
        if in_team[k]:
            out[k] += team_bonus
        elif coll[k]:
            out[k] = out[k] * unit_factor[org[k]]
    return out


@nb.njit(cache=True)
def collective_factor(luck, competence, scale_bonus, quality_effect, no_exit, class_i_above, class_iii_below):
    """Per organisation slot, in ``luck`` (returned): management luck x (1 + the scale bonus) x
    (1 +/- the quality effect for class I / III of its cadres' competence) x the no-exit factor,
    in one pass (the NumPy expression made four temporaries of every organisation slot)."""
    a = 1.0 + scale_bonus
    for o in range(luck.size):
        s = competence[o]
        d = 1.0 if s > class_i_above else (-1.0 if s < class_iii_below else 0.0)
        luck[o] = luck[o] * ((a * (1.0 + quality_effect * d)) * no_exit)
    return luck


@nb.njit(cache=True)
def weighted_pairwise_sum(values, active, starts, ends, used, weight):
    """``np.sum(values * active * np.repeat(weight, ends - starts))`` over every slot (the product
    formed as NumPy forms it: values x active in the values' type, then x weight), summed as
    ``np.sum`` sums, without the temporaries."""
    n = ends[-1] if ends.size else 0
    leaf_len, leaf_join = pairwise_plan(n)
    buf = np.empty(PW_BLOCK)
    stack = np.empty(PW_STACK)
    pos = leaf = depth = 0
    for p in range(starts.size):
        for i in range(starts[p], ends[p]):
            v = 0.0
            if i < starts[p] + used[p] and active[i]:
                v = np.float64(values[i])
            buf[pos] = v * weight[p]
            pos += 1
            if pos == leaf_len[leaf]:
                depth = pairwise_close(buf, pos, stack, depth, leaf_join[leaf])
                leaf += 1
                pos = 0
    return stack[0] if leaf_len.size else 0.0


@nb.njit(cache=True)
def harvesting_slots(starts, used, active, provinces):
    """Active slots (ascending) of the given provinces (ascending)."""
    n = 0
    for p in provinces:
        for i in range(starts[p], starts[p] + used[p]):
            n += active[i]
    out = np.empty(n + 1, dtype=np.int64)
    k = 0
    for p in provinces:
        for i in range(starts[p], starts[p] + used[p]):
            out[k] = i
            k += active[i]
    return out[:n]


@nb.njit(cache=True)
def parts_of_province(start, used, active, org, n_parts):
    """The active slots of one province block (``start``, ``used``) dealt into ``n_parts`` parts by
    their organisation (or, outside one, their slot) modulo ``n_parts``, each part ascending: (the
    slots part after part, the parts' bounds). A counting sort in two passes, in place of a mask
    over the province per part."""
    first = np.zeros(n_parts + 1, dtype=np.int64)
    for i in range(start, start + used):
        if active[i]:
            o = np.int64(org[i])
            first[(o if o >= 0 else i) % n_parts + 1] += 1
    for r in range(n_parts):
        first[r + 1] += first[r]
    out = np.empty(first[n_parts], dtype=np.int64)
    fill = first[:n_parts].copy()
    for i in range(start, start + used):
        if active[i]:
            o = np.int64(org[i])
            r = (o if o >= 0 else i) % n_parts
            out[fill[r]] = i
            fill[r] += 1
    return out, first
