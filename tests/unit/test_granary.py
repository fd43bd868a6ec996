"""state/granary.py: resale to deficit households."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hightide.engine import kernels
from hightide.params import resolve
from hightide.state.granary import resale_request


def test_resale_tops_stock_up_to_target_share_of_need_to_next_harvest():
    p = resolve({"resale_target_share": 0.5})
    # need 20/month, 4 months -> target 0.5 x 80 = 40: stock 10 gets 30; stock 40 or more gets nothing
    got = resale_request(p, np.array([10.0, 40.0, 100.0, 0.0]), np.full(4, 20.0), np.array([4, 4, 4, 1]))
    np.testing.assert_allclose(got, [30.0, 0.0, 0.0, 10.0])


def test_no_resale_when_target_share_is_zero():
    p = resolve({"resale_target_share": 0.0})
    assert resale_request(p, np.array([0.0]), np.array([20.0]), np.array([5])).tolist() == [0.0]


def test_resale_never_negative(params):
    got = resale_request(params, np.array([1e6, -3.0]), np.array([20.0, 20.0]), np.array([6, 1]))
    assert got[0] == 0.0
    assert got[1] == pytest.approx(params.resale_target_share * 20.0 + 3.0)


def test_allocate_pays_the_towns_ration_first_then_exports_then_resales_then_other_uses():
    from hightide.state.granary import allocate

    # plenty: everything paid, reserve untouched (returns food, exports, other uses, resales)
    assert allocate(1000.0, 100.0, 10.0, 50.0, 40.0, reserve=300.0) == (100.0, 10.0, 50.0, 40.0)
    # short: the ration is paid in full before exports; nothing left for resales or other uses
    assert allocate(105.0, 100.0, 10.0, 50.0, 40.0, reserve=0.0) == (100.0, 5.0, 0.0, 0.0)
    # the reserve for the coming months holds back other uses first, then resales (the Three
    # Fixes' fixed sales to deficit households come before the State's discretionary uses)
    food, exp, other, resale = allocate(500.0, 100.0, 10.0, 50.0, 40.0, reserve=360.0)
    assert (food, exp, other, resale) == (100.0, 10.0, 0.0, 30.0)
    food, exp, other, resale = allocate(540.0, 100.0, 10.0, 50.0, 40.0, reserve=360.0)
    assert (other, resale) == (30.0, 40.0)
    assert sum(allocate(60.0, 100.0, 10.0, 50.0, 40.0, reserve=0.0)) == 60.0


@pytest.mark.parametrize("ask_share", [0.0, 0.003, 0.5, 1.0])
def test_compiled_resale_pass_is_the_array_rule_per_province(ask_share):
    """The compiled passes give what ``resale_request`` gives over every active household: each
    province's requests (real kg), and after selling request x frac to each (the sale computing
    each request again), the stocks and the provinces' sales (simulated and real kg), summed in
    slot order as ``np.bincount`` sums them (so bit for bit). Per-province totals are what the
    centre gathers."""
    from hightide.state.granary import _requests, _sell

    g = np.random.default_rng(7)
    used = np.array([300, 0, 1100, 517])
    starts = np.array([0, 400, 400, 1600])
    n = 2200
    active = g.random(n) < 0.9
    children, adults, elderly = (g.integers(0, 4, n).astype(np.int8) for _ in range(3))
    need_per_ae, months = 20.0, np.array([4.0, 4.0, 9.0, 2.0])
    province = np.zeros(n, dtype=np.int8)
    for p, (a, k) in enumerate(zip(starts, used)):
        province[a:a + k] = p
    target = 0.3 * need_per_ae * (adults + 0.6 * children + 0.8 * elderly) * months[province]
    ask = g.random(n) < ask_share
    grain = np.where(ask, target * g.uniform(0, 0.9, n), target + g.uniform(1, 50, n))
    reported = g.uniform(0, 10, n).astype(np.float32)
    true = reported.copy()
    weight = np.array([1000.0, 900.0, 1100.0, 1300.0])
    live = np.concatenate([np.arange(a, a + k)[active[a:a + k]] for a, k in zip(starts, used)])
    need = need_per_ae * (adults[live] + 0.6 * children[live] + 0.8 * elderly[live])
    request = np.maximum(0.3 * need * months[province[live]] - grain[live], 0.0)
    frac = 0.37
    want_grain = grain.copy()
    want_grain[live] += request * frac
    want_request_p = np.bincount(province[live], weights=request * weight[province[live]], minlength=4)
    want_by_province = np.bincount(province[live], weights=request * frac, minlength=4)

    got_grain, by_province, sold_p = grain.copy(), np.zeros(4), np.zeros(4)
    pieces = kernels.slot_pieces(SimpleNamespace(block_start=starts, used=used), threads=3, whole=True)
    inputs = (*pieces, active, children, adults, elderly, got_grain, reported, true, reported, true, np.float32(1.0),
              np.ones(n, dtype=np.float32), True, np.float32(0.85), need_per_ae, 0.6, 0.8, 0.3, months, weight)
    request_p = _requests(*inputs)
    np.testing.assert_array_equal(got_grain, grain)  # asking changes nothing
    _sell(*inputs, frac, by_province, sold_p)
    np.testing.assert_array_equal(request_p, want_request_p)
    np.testing.assert_array_equal(got_grain, want_grain)
    np.testing.assert_array_equal(by_province, want_by_province)
    np.testing.assert_array_equal(sold_p, np.bincount(province[live], weights=request * frac * weight[province[live]],
                                                      minlength=4))
    assert (request_p > 0).any() == bool((request > 0).any())


def test_urban_ration_factor_scales_the_towns_claims():
    """The directive of 14 Sep 1960 cut urban rations (~2 jin a month of 29.5): with an ample
    granary the towns receive their claims times ``urban_ration_factor``, food and other uses alike."""
    from hightide.engine.context import StepContext
    from hightide.scenarios.schema import Policy
    from hightide.state.granary import supply
    from hightide.world.synthesis import build_world

    p = resolve({"townships_min_per_province": 1.0})
    paid = {}
    for factor in (1.0, 0.93):
        world = build_world(p, 0.0002, 0, 1960 * 12)
        world.granary_kg = 1e13  # ample: every claim is paid in full
        ctx = StepContext(month=1960 * 12 + 9, start_month=1960 * 12, policy=Policy(urban_ration_factor=factor),
                          params=p, seed=0, n_provinces=world.provinces.n)
        supply(world, ctx)
        paid[factor] = ctx.flows["urban_supply_kg"].copy()
        assert np.all(world.urban_food_ratio == 1.0)  # the towns get all of their (cut) ration
    want = world.urban_population * p.urban_ration_kg_per_capita * 0.93 / 12
    np.testing.assert_allclose(paid[0.93], want, rtol=1e-12)
    np.testing.assert_allclose(paid[0.93], 0.93 * paid[1.0], rtol=1e-12)


def test_phantom_grain_is_last_years_claims_until_the_first_harvest_of_the_year():
    """What the claims overstate stands until the household's next harvest, not until 1 January:
    before its first harvest of the year last year's claims count, after it this year's; only the
    overstatement counts (a claim below the truth hides nothing) and only the believed part."""
    from hightide.state.granary import phantom_grain

    f = np.float32
    reported = np.array([0, 0, 150, 150, 90], dtype=f)  # this year's claims
    true = np.array([0, 0, 100, 100, 100], dtype=f)
    reported_last = np.array([300, 80, 999, 300, 300], dtype=f)
    true_last = np.array([200, 100, 1, 200, 200], dtype=f)
    got = phantom_grain(reported, true, reported_last, true_last, 0.5)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, f([50, 0, 25, 25, 0]))
    np.testing.assert_array_equal(phantom_grain(reported, true, reported_last, true_last, 0.0), np.zeros(5, f))


@pytest.mark.parametrize("sees_hunger", [False, True])
def test_relief_that_sees_hunger_judges_the_visibly_hungry_on_their_stock_alone(sees_hunger):
    """With ``relief_sees_hunger`` a household whose last month's food ratio is below the hunger
    threshold is judged on its stock alone, its claims notwithstanding; the fed keep their phantom
    grain. Without it the claims hide every deficit alike. The compiled passes follow the array
    rule (``phantom_grain``, ``resale_request``)."""
    from hightide.state.granary import _requests, _sell, phantom_grain

    g = np.random.default_rng(11)
    used, starts, n = np.array([500, 700]), np.array([0, 500]), 1200
    active = np.ones(n, dtype=bool)
    children, adults, elderly = (g.integers(0, 3, n).astype(np.int8) for _ in range(3))
    adults[:] = np.maximum(adults, 1)
    need_per_ae, months, thr = 20.0, np.array([5.0, 3.0]), np.float32(0.85)
    province = np.repeat([0, 1], used)
    grain = g.uniform(0, 60, n)
    true = g.uniform(50, 100, n).astype(np.float32)
    reported = (true * g.uniform(1.0, 2.0, n)).astype(np.float32)
    harvested = g.random(n) < 0.5  # the others have not harvested this year yet
    reported[~harvested] = 0
    true[~harvested] = 0
    reported_last = g.uniform(100, 300, n).astype(np.float32)
    true_last = (reported_last / 1.8).astype(np.float32)
    food_ratio = g.uniform(0.5, 1.1, n).astype(np.float32)
    hungry = food_ratio < thr
    credence = np.float32(0.7)
    phantom = phantom_grain(reported, true, reported_last, true_last, credence, hungry if sees_hunger else None)
    need = need_per_ae * (adults + 0.6 * children + 0.8 * elderly)
    want = np.maximum(0.3 * need * months[province] - (grain + phantom), 0.0)
    weight = np.array([1000.0, 1200.0])
    pieces = kernels.slot_pieces(SimpleNamespace(block_start=starts, used=used), threads=2, whole=True)
    got_grain = grain.copy()
    inputs = (*pieces, active, children, adults, elderly, got_grain, reported, true, reported_last, true_last, credence,
              food_ratio, sees_hunger, thr, need_per_ae, 0.6, 0.8, 0.3, months, weight)
    np.testing.assert_array_equal(_requests(*inputs), np.bincount(province, weights=want * weight[province]))
    by_province, sold = np.zeros(2), np.zeros(2)
    _sell(*inputs, 1.0, by_province, sold)
    np.testing.assert_array_equal(got_grain, grain + want)
    assert (phantom[hungry] == 0).all() == sees_hunger
    assert (phantom[~hungry] > 0).all()
    # seeing hunger can only add to what the hungry are sold, never to what the fed are
    other = phantom_grain(reported, true, reported_last, true_last, credence, None if sees_hunger else hungry)
    other_want = np.maximum(0.3 * need * months[province] - (grain + other), 0.0)
    if sees_hunger:
        assert (want[hungry] >= other_want[hungry]).all() and (want[hungry] > other_want[hungry]).any()
    np.testing.assert_array_equal(want[~hungry], other_want[~hungry])


def test_historical_relief_sees_hunger_only_outside_the_leaps_concealment():
    """The historical timeline: relief sees the hungry in normal times, not from the Great Leap's
    claims (May 1958) until the spring-famine orders (April 1959), and not from Lushan (Aug 1959)
    until the Twelve Articles (Nov 1960); the early retreat skips the second spell."""
    from hightide.scenarios.loader import load_scenario
    from hightide.scenarios.schema import parse_month
    from hightide.state.policy import PolicySchedule

    def seen(name, months):
        schedule = PolicySchedule(load_scenario(name))
        return [schedule.at(parse_month(m)).relief_sees_hunger for m in months]

    months = ["1957-06", "1958-04", "1958-05", "1959-03", "1959-04", "1959-07", "1959-08", "1960-10", "1960-11",
              "1965-01"]
    assert seen("historical", months) == [True, True, False, False, True, True, False, False, True, True]
    assert seen("early_retreat", months) == [True, True, False, False, True, True, True, True, True, True]
