"""state/granary.py: resale to deficit households."""

from __future__ import annotations

import numpy as np
import pytest

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
def test_sparse_resale_totals_are_numpy_sums_over_every_household(ask_share):
    """Requests kept for the households that ask, summed and sold block by block, give what the
    dense formulation gives: np.sum of request x weight over every active household in slot order,
    and stocks (and the provinces' sales) after selling request x frac to each."""
    from hightide.state.granary import _requests, _sparse_total

    g = np.random.default_rng(7)
    used = np.array([300, 0, 1100, 517])
    starts = np.array([0, 400, 400, 1600])
    n = 2200
    active = g.random(n) < 0.9
    children, adults, elderly = (g.integers(0, 4, n).astype(np.int8) for _ in range(3))
    need_per_ae, months = 20.0, np.array([4.0, 4.0, 9.0, 2.0])
    target = 0.3 * need_per_ae * (adults + 0.6 * children + 0.8 * elderly) * months[np.repeat(np.arange(4), 550)]
    ask = g.random(n) < ask_share
    grain = np.where(ask, target * g.uniform(0, 0.9, n), target + g.uniform(1, 50, n))
    grain[g.random(n) < 0.05] = -0.0
    reported = g.uniform(0, 10, n).astype(np.float32)
    true = reported.copy()
    province = np.zeros(n, dtype=np.int8)
    for p, (a, k) in enumerate(zip(starts, used)):
        province[a:a + k] = p
    weight = np.array([1000.0, 900.0, 1100.0, 1300.0])
    # the dense formulation
    live = np.concatenate([np.arange(a, a + k)[active[a:a + k]] for a, k in zip(starts, used)])
    need = need_per_ae * (adults[live] + 0.6 * children[live] + 0.8 * elderly[live])
    stock = grain[live] + np.maximum(reported[live] - true[live], np.float32(0)) * np.float32(1.0)
    request = np.maximum(0.3 * need * months[province[live]] - stock, 0.0)
    want_total = np.sum(request * weight[province[live]])
    frac = 0.37
    want_grain = grain.copy()
    want_grain[live] += request * frac
    want_by_province = np.bincount(province[live], weights=request * frac, minlength=4)
    want_sold = np.sum(request * frac * weight[province[live]])
    # the sparse one
    slots, ranks, requests = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32), np.empty(n)
    got_grain = grain.copy()
    n_active, n_ask = _requests(starts, used, active, children, adults, elderly, got_grain, reported, true,
                                np.float32(1.0), need_per_ae, 0.6, 0.8, 0.3, months, slots, ranks, requests)
    assert n_active == live.size and n_ask == int((request > 0).sum())
    by_province = np.zeros(4)
    got_total = _sparse_total(n_active, slots, ranks, requests, n_ask, province, weight, False, 0.0, got_grain,
                              by_province)
    got_sold = _sparse_total(n_active, slots, ranks, requests, n_ask, province, weight, True, frac, got_grain,
                             by_province)
    assert got_total == want_total and got_sold == want_sold
    np.testing.assert_array_equal(got_grain, want_grain)
    assert np.array_equal(np.signbit(got_grain), np.signbit(want_grain))
    np.testing.assert_array_equal(by_province, want_by_province)
