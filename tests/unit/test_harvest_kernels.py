"""economy/harvest_kernels.py: the compiled harvest passes give exactly what the array rules give
(production.pooled_inputs, distribution.tax_due/retention_norm/purchase_request/settle,
collective.share_by and the distribute_* rules)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hightide.economy import collective, distribution, production
from hightide.economy import harvest_kernels as hk
from hightide.engine.kernels import province_bounds
from hightide.world.organisations import ADVANCED_APC, COMMUNE, ELEMENTARY_APC


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_pool_inputs_is_pooled_inputs(rng):
    n = 500
    unit = np.where(rng.random(n) < 0.7, rng.integers(0, 40, n), -1)
    land, labour, animals = rng.random(n) * 10, rng.random(n) * 3, rng.poisson(1.0, n).astype(float)
    plot = np.where(rng.random(n) < 0.3, 0.05, 0.0)
    sown = land * 0.9
    effort = rng.random(n).astype(np.float32)
    idx = np.arange(n)
    out = [np.empty(n) for _ in range(5)]
    masks = [np.empty(n, dtype=bool) for _ in range(2)]
    # units 0..9 teams, 10..39 accounting units of collectives (numbered after the teams)
    team = np.where((unit >= 0) & (unit < 10), unit, -1)
    coll_unit = np.where(unit >= 10, unit - 10, -1)
    hk.pool_inputs(team, coll_unit, 10, 40, land, sown, labour, animals, plot, effort, idx, *out, *masks,
                   np.array([0, n]))
    c_land, c_labour, labour_used, animals_used, effort_used = out
    np.testing.assert_array_equal(masks[0], unit >= 0)
    np.testing.assert_array_equal(masks[1], (unit >= 0) | (effort_used != labour))
    np.testing.assert_array_equal(c_land, sown * (1.0 - plot))
    np.testing.assert_array_equal(c_labour, labour * (1.0 - plot))
    pooled = unit >= 0
    ref_l, ref_a = production.pooled_inputs(unit[pooled], c_land[pooled], c_labour[pooled], animals[pooled], 40)
    np.testing.assert_array_equal(labour_used[pooled], ref_l)
    np.testing.assert_array_equal(animals_used[pooled], ref_a)
    np.testing.assert_array_equal(labour_used[~pooled], c_labour[~pooled])
    np.testing.assert_array_equal(effort_used, labour_used * effort.astype(np.float64))


def test_collective_units_are_scattered_to_the_members(rng):
    n = 400
    coll = rng.random(n) < 0.6
    units = rng.integers(0, 50, int(coll.sum()))
    expected = np.full(n, -1)
    expected[coll] = units
    for bounds in ([0, n], [0, 1, 150, 151, 399, n]):
        np.testing.assert_array_equal(hk.collective_units(coll, units, np.array(bounds)), expected)


def test_products_are_the_array_expressions(rng, params):
    """Scale, own and normal output, forms and private plots per harvesting household: the
    compiled pass gives what the array expressions it replaced give, bit for bit."""
    from hightide.institutions.cooperatives import is_collective
    from hightide.world.organisations import MUTUAL_AID
    n, n_prov, n_org = 3000, 5, 200
    province = rng.integers(0, n_prov, n).astype(np.int8)
    idx = np.sort(rng.choice(n, 2000, replace=False))
    org_slot = np.where(rng.random(n) < 0.6, rng.integers(0, n_org, n), -1).astype(np.int32)
    org_form = rng.integers(1, 5, n_org).astype(np.int8)
    shares, tfp, damaged, wx = (rng.uniform(0.3, 1.5, n_prov) for _ in range(4))
    land_t, labour_t, animal_t = (rng.uniform(0.2, 3.0, idx.size) for _ in range(3))
    sown_t = land_t * rng.uniform(0.8, 1.0, idx.size)
    got = hk.products(idx, province, shares, tfp, damaged, wx, 0.97, land_t, labour_t, animal_t, sown_t, org_slot,
                      org_form, 0.05, 1.3)
    prov = province[idx]
    share = shares[prov]
    scale = tfp[prov] * damaged[prov] * wx[prov] * share
    own = scale * (land_t * labour_t * animal_t)
    normal = (tfp[prov] * damaged[prov] * 0.97 * share) * (sown_t * labour_t * animal_t)
    org = org_slot[idx]
    form = np.where(org != -1, org_form[np.maximum(org, 0)], -1)
    coll = is_collective(form)
    plot = np.where(coll, 0.05, 0.0)
    want = (share, scale, own, normal, org, form, form == MUTUAL_AID, coll, plot, 1.3 * plot * own)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == w.dtype
    assert coll.any() and (form == MUTUAL_AID).any() and (form == -1).any()


def test_damaged_land_lowers_the_normal_output_the_three_fixes_are_set_on(rng):
    """The Three Fixes assess the land as it is (§7.7): land damaged by the campaign techniques
    lowers normal output by the same factor as this year's output."""
    n = 50
    province = np.zeros(n, dtype=np.int8)
    idx = np.arange(n)
    terms = [rng.uniform(0.2, 3.0, n) for _ in range(3)]
    org_slot, org_form = np.full(n, -1, dtype=np.int32), np.ones(1, dtype=np.int8)
    out = {d: hk.products(idx, province, np.ones(1), np.ones(1), np.array([d]), np.ones(1), 0.97, *terms,
                          terms[0], org_slot, org_form, 0.05, 1.3) for d in (1.0, 0.85)}
    whole, damaged = out[1.0], out[0.85]
    np.testing.assert_allclose(damaged[3] / whole[3], 0.85)
    np.testing.assert_allclose(damaged[2] / whole[2], 0.85)


def test_index_powers_split_among_threads_are_those_of_one_call(rng, params):
    """NumPy's powers on slices computed at once in threads (``threads.elementwise``) equal one
    call on the whole array, element for element; in place too."""
    from concurrent.futures import ThreadPoolExecutor

    from hightide.engine.threads import MIN_SPLIT, elementwise
    x = rng.uniform(0.0, 20.0, 3 * MIN_SPLIT + 17)
    with ThreadPoolExecutor(3) as pool:
        for fn in (production.land_term, production.labour_term, production.animal_term):
            whole = fn(params, x)
            for parts in (1, 2, 3, 5):
                got = elementwise(lambda a, out: fn(params, a, out=out), x, pool, parts)
                np.testing.assert_array_equal(got, whole)
                in_place = x.copy()
                assert elementwise(lambda a, out: fn(params, a, out=out), in_place, pool, parts, out=in_place) is in_place
                np.testing.assert_array_equal(in_place, whole)


@pytest.mark.parametrize("share_changed", [0.0, 0.05, 0.29, 0.31, 0.9, 1.0])
def test_a_term_replaced_where_its_input_changed_is_the_masked_assignment(rng, params, share_changed):
    """``harvest._replace_term`` (every element at once when many changed, else gathered and
    scattered) gives ``dest[changed] = term(values[changed])`` exactly, for each index power, on
    either side of ``DENSE_CHANGE``; unchanged inputs are those ``dest`` was computed from."""
    from hightide.economy.harvest import _replace_term

    n = 2000
    before = rng.uniform(0.0, 20.0, n)
    changed = rng.random(n) < share_changed
    values = np.where(changed, rng.uniform(0.0, 20.0, n), before)

    def term(fn, x, out=None):
        return fn(params, x, out=out)

    for fn in (production.land_term, production.labour_term, production.animal_term):
        want = fn(params, before)
        want[changed] = fn(params, values[changed])
        dest = fn(params, before)
        _replace_term(term, fn, dest, values, changed)
        np.testing.assert_array_equal(dest, want)
        np.testing.assert_array_equal(dest, fn(params, values))


@pytest.mark.parametrize("above_normal", [0.0, 0.4])
@pytest.mark.parametrize("regime", ["free_market", "unified_purchase", "three_fixes", "planned_share"])
def test_households_settle_claims_in_order(rng, params, regime, above_normal):
    """Alone (no team, no unit): tax, purchase, seed and feed are paid from stock + output; under
    the Three Fixes the purchase includes the share bought of output above normal output."""
    n = 300
    p = params
    idx = np.arange(n)
    province = np.zeros(n, dtype=np.int8)
    land, animals = rng.random(n) * 15, rng.poisson(1.0, n).astype(float)
    labour, persons = rng.random(n) * 3 + 0.5, rng.integers(1, 8, n).astype(float)
    sown, share = land * 0.95, np.full(n, 0.6)
    output_index = rng.random(n) * 50
    need, to_next = rng.random(n) * 20, np.array([4.0])
    normal = rng.random(n) * 900
    grain = rng.random(n) * 400
    grain0 = grain.copy()
    draft = animals.astype(np.float32)
    reports = [np.zeros(n, dtype=np.float32) for _ in range(2)] + [rng.random(n).astype(np.float32) * 800 for _ in range(2)]
    exag, rad, ny = np.array([0.2]), np.array([0.3]), np.array([150.0])
    flows, state_in = np.zeros((1, 6)), np.zeros(1)
    true_sown, output = np.zeros((1, 2)), np.empty(n)
    minus = np.full(n, -1, dtype=np.int64)
    hk.settle_households(idx, province, np.full(n, -1), minus, 0, minus, 0, np.full(n, 10.0), output_index, np.ones(n),
                         1.0, p.elasticity_labour, labour, labour, np.zeros(n), np.zeros(n), normal, land, sown, animals,
                         share, persons, need, to_next, ny, exag, rad, p.agricultural_tax_rate,
                         p.retention_food_norm_kg_per_capita, p.seed_kg_per_mu, p.feed_kg_per_animal_year, *reports,
                         False, 0.5, p.planned_procurement_share, p.radicalism_procurement, hk.REGIME_CODES[regime],
                         p.free_market_sale_share, p.procurement_surplus_rate, above_normal, 0.8, grain, draft,
                         p.animal_starvation,
                         flows, state_in, np.zeros((0, 9)), true_sown, output, np.array([0, n]))
    income = 10.0 * output_index * 1.0 * 1.0
    np.testing.assert_array_equal(output, income)
    tax = distribution.tax_due(p, land, ny[province], share)
    retention = distribution.retention_norm(p, persons, land, animals, share)
    seed = p.seed_kg_per_mu * sown * share
    feed = p.feed_kg_per_animal_year * animals * share
    t_last, r_last = reports[3].astype(np.float64), reports[2].astype(np.float64)
    basis = t_last + 0.5 * (r_last - t_last)
    gross = (p.planned_procurement_share + p.radicalism_procurement * 0.3) * basis * share
    purchase = distribution.purchase_request(
        regime, p, reported_output=income * 1.2, normal_output=normal, tax=tax, retention=retention, stock=grain0,
        need_to_next_harvest=need * to_next, seed=seed, feed=feed, planned_gross=gross, true_output=income,
        above_normal_share=above_normal) * 0.8
    if regime == "three_fixes" and above_normal > 0:  # the case is exercised: some sell above normal output
        assert ((income > normal) & (normal - tax - retention >= 0)).any()
    paid = distribution.settle(grain0 + income, [tax, purchase, seed, feed])
    np.testing.assert_array_equal(grain, grain0 + income - sum(paid))
    np.testing.assert_array_equal(flows[0, :4], [np.bincount(province, weights=x)[0] for x in paid])
    np.testing.assert_array_equal(true_sown[0], [np.bincount(province, weights=income)[0],
                                                 np.bincount(province, weights=sown)[0]])
    short = np.divide(feed - paid[3], feed, out=np.zeros_like(feed), where=feed > 0)
    expected = animals.astype(np.float32) * (1.0 - p.animal_starvation * np.clip(short, 0.0, 1.0)).astype(np.float32)
    np.testing.assert_array_equal(draft, expected)


def test_collective_shares_follow_the_distribution_rules(rng, params):
    """Free supply, welfare, land dividend + work points (elementary), ration + work points
    (advanced): the per-member arithmetic of share_out is that of collective.share_by."""
    p = params
    n, n_units = 400, 12
    idx = np.arange(n)
    unit = np.sort(rng.integers(0, n_units, n))
    form = np.where(unit < 4, ELEMENTARY_APC, np.where(unit < 8, ADVANCED_APC, COMMUNE))
    province = np.zeros(n, dtype=np.int8)
    org = (unit * 3).astype(np.int32)
    persons = rng.integers(1, 7, n).astype(float)
    fg = rng.random(n) < 0.05
    land, labour, share = rng.random(n) * 10, rng.random(n) * 3, np.full(n, 0.4)
    coerced = rng.random(n) < 0.3
    count, fg_count, free_share, _prov_u, totals, label, org_ids = hk.unit_member_sums(
        idx, unit, n_units, province, org, persons, fg, form, 0.3, p.retention_food_norm_kg_per_capita, share, land,
        labour, coerced, p.coerced_effort, np.array([0, n]))
    remainder, welfare = rng.random(n_units) * 5000, rng.random(n_units) * 100
    paid_rest = remainder * (1.0 - free_share)
    ration = p.retention_food_norm_kg_per_capita * persons * share
    ration_pool = np.minimum(paid_rest, np.bincount(unit, weights=ration, minlength=n_units))
    grain = np.zeros(n)
    args = {"own_output": rng.random(n) * 100, "plot_output": np.zeros(n), "claim_rate": np.zeros(n_units), "share": share,
                "learning_rate": 0.0, "feed_per_animal": 0.0, "animals": np.zeros(n), "fed_share": np.ones(n_units),
                "starvation": 0.0, "grain": grain, "attitude": np.zeros(n, dtype=np.float32),
                "draft_animals": np.zeros(n, dtype=np.float32), "label": label, "n_orgs": org_ids.size, "output": np.zeros(n)}
    hk.share_out(idx, unit, count, totals, fg_count, welfare, remainder, free_share, paid_rest, ration_pool, form,
                 persons, fg, p.retention_food_norm_kg_per_capita, land, labour, coerced, p.coerced_effort,
                 p.land_dividend_share, **args, bounds=np.array([0, n]))
    work_points = labour * np.where(coerced, p.coerced_effort, 1.0)
    welfare_share = collective.share_by(persons * fg, unit, np.where(fg_count > 0, welfare, 0.0), n_units) * fg
    free = collective.share_by(persons, unit, remainder * free_share, n_units)
    expected = free + welfare_share + np.where(
        form == ELEMENTARY_APC,
        collective.distribute_elementary(paid_rest, unit, land, work_points, p.land_dividend_share, n_units),
        collective.distribute_advanced(paid_rest, unit, ration, work_points, n_units))
    np.testing.assert_array_equal(grain, expected)
    np.testing.assert_array_equal(free_share, np.where(np.arange(n_units) >= 8, 0.3, 0.0) * (np.bincount(unit, minlength=n_units) > 0))


def test_province_bounds_marks_each_run_of_a_province():
    block_start = np.array([0, 9, 6, 2])  # provinces' blocks: 0 [0, 2), 3 [2, 6), 2 [6, 9), 1 [9, ...)
    idx = np.array([1, 2, 3, 4, 6, 7])  # provinces 0, 3, 3, 3, 2, 2 along idx
    np.testing.assert_array_equal(province_bounds(idx, block_start), [0, 1, 4, 6])
    np.testing.assert_array_equal(province_bounds(idx[1:4], block_start), [0, 3])
    np.testing.assert_array_equal(province_bounds(np.zeros(0, dtype=np.int64), block_start), [0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_province_bounds_are_the_runs_of_the_provinces_along_the_slots(sizes, seed):
    """Any blocks, any ascending subset of their slots: the runs are where the province changes."""
    rng = np.random.default_rng(seed)
    block_start = np.cumsum([0] + sizes[:-1])
    province = np.repeat(np.arange(len(sizes)), sizes)
    idx = np.flatnonzero(rng.random(province.size) < 0.5)
    change = np.flatnonzero(np.diff(province[idx])) + 1
    expected = np.r_[0, change, idx.size] if idx.size else np.array([0])
    np.testing.assert_array_equal(province_bounds(idx, rng.permutation(block_start)), expected)


def test_provinces_in_parallel_give_the_sums_and_numbering_of_one_sequential_pass(rng, params):
    """Units and organisations numbered province by province, households of 6 provinces: the
    per-province runs of unit_member_sums (one thread each) give the totals, free-supply shares
    and dense organisation numbering of the whole set taken as one run, bit for bit."""
    p = params
    sizes = [0, 37, 5, 120, 1, 64]
    province = np.repeat(np.arange(len(sizes)), sizes).astype(np.int8)
    n = province.size
    idx = np.arange(n)
    units_per = [max(s // 8, 1) for s in sizes]
    first_unit = np.cumsum([0] + units_per[:-1])
    unit = np.concatenate([first_unit[q] + rng.integers(0, units_per[q], s) for q, s in enumerate(sizes)])
    unit[rng.random(n) < 0.2] = -1
    org = np.concatenate([1000 * q + rng.integers(0, 30, s) for q, s in enumerate(sizes)]).astype(np.int32)
    form = np.where(rng.random(n) < 0.5, ADVANCED_APC, COMMUNE)
    persons, land, labour = rng.integers(1, 7, n).astype(float), rng.random(n) * 10, rng.random(n) * 3
    fg, coerced, share = rng.random(n) < 0.05, rng.random(n) < 0.3, np.full(n, 0.4)
    n_units = int(sum(units_per))
    args = (idx, unit, n_units, province, org, persons, fg, form, 0.3, p.retention_food_norm_kg_per_capita, share,
            land, labour, coerced, p.coerced_effort)
    bounds = province_bounds(idx, np.cumsum([0] + sizes[:-1]))
    by_province = hk.unit_member_sums(*args, bounds)
    for n_threads in (2, 3, 7):  # the provinces dealt to threads (kernels.deal_runs): the same results
        for got, want in zip(hk.unit_member_sums(*args, bounds, n_threads), by_province):
            np.testing.assert_array_equal(got, want)
    # one run over everything: the same arithmetic in slot order, organisations numbered on first sight
    expected_totals = np.zeros((n_units, 5))
    members = unit >= 0
    for k in np.flatnonzero(members):
        expected_totals[unit[k]] += [persons[k] * fg[k], persons[k], p.retention_food_norm_kg_per_capita * persons[k] * 0.4,
                                     land[k], labour[k] * (p.coerced_effort if coerced[k] else 1.0)]
    np.testing.assert_array_equal(by_province[4], expected_totals)
    _, first = np.unique(org[members], return_index=True)
    order = org[members][np.sort(first)]
    np.testing.assert_array_equal(by_province[6], order)
    np.testing.assert_array_equal(by_province[5][members], [np.flatnonzero(order == o)[0] for o in org[members]])
    assert (by_province[5][~members] == -1).all()
