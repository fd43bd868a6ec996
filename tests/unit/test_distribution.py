"""economy/distribution.py: settling claims on the harvest, tax, retention norms, purchase quotas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hightide.economy.distribution import purchase_request, retention_norm, settle, tax_due
from hightide.params import ParameterSet, resolve


def arr(*values):
    return np.array(values, dtype=np.float64)


# --------------------------------------------------------------------------- settle


def test_settle_pays_everything_when_grain_suffices():
    paid = settle(arr(100.0), [arr(10.0), arr(20.0), arr(5.0)])
    assert [p.tolist() for p in paid] == [[10.0], [20.0], [5.0]]


def test_settle_cuts_claims_in_priority_order():
    # 100 available; claims 60, 30, 25, 10: the first two in full, the third cut to 10, the last gets 0
    tax, purchase, seed, feed = settle(arr(100.0), [arr(60.0), arr(30.0), arr(25.0), arr(10.0)])
    assert tax.tolist() == [60.0]
    assert purchase.tolist() == [30.0]
    assert seed.tolist() == [10.0]
    assert feed.tolist() == [0.0]


def test_settle_priority_is_the_order_of_the_list_not_the_size_of_the_claim():
    first, second = settle(arr(10.0), [arr(8.0), arr(50.0)])
    assert first.tolist() == [8.0] and second.tolist() == [2.0]
    first, second = settle(arr(10.0), [arr(50.0), arr(8.0)])
    assert first.tolist() == [10.0] and second.tolist() == [0.0]


def test_settle_conserves_exactly_on_paper_numbers():
    available = arr(100.0, 7.5, 0.0, 40.0)
    claims = [arr(60.0, 5.0, 3.0, 10.0), arr(30.0, 5.0, 1.0, 10.0), arr(25.0, 0.25, 2.0, 0.0)]
    paid = settle(available, claims)
    remaining = available - paid[0] - paid[1] - paid[2]
    # worked by hand: row 0 pays 60, 30, 10; row 1 pays 5, 2.5, 0; row 2 pays nothing; row 3 pays 10, 10, 0
    np.testing.assert_array_equal(paid[0], arr(60.0, 5.0, 0.0, 10.0))
    np.testing.assert_array_equal(paid[1], arr(30.0, 2.5, 0.0, 10.0))
    np.testing.assert_array_equal(paid[2], arr(10.0, 0.0, 0.0, 0.0))
    np.testing.assert_array_equal(remaining, arr(0.0, 0.0, 0.0, 20.0))
    np.testing.assert_array_equal(paid[0] + paid[1] + paid[2] + remaining, available)


def test_settle_negative_claims_and_negative_grain_pay_nothing():
    paid = settle(arr(-5.0, 10.0), [arr(3.0, -4.0), arr(1.0, 2.0)])
    np.testing.assert_array_equal(paid[0], arr(0.0, 0.0))
    np.testing.assert_array_equal(paid[1], arr(0.0, 2.0))


def test_settle_does_not_modify_its_inputs():
    available, claim = arr(10.0), arr(4.0)
    settle(available, [claim, arr(3.0)])
    assert available.tolist() == [10.0] and claim.tolist() == [4.0]


_amount = st.floats(min_value=-1e7, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def _settle_case(draw):
    n = draw(st.integers(1, 12))
    k = draw(st.integers(1, 5))
    available = draw(hnp.arrays(np.float64, n, elements=_amount))
    claims = [draw(hnp.arrays(np.float64, n, elements=_amount)) for _ in range(k)]
    return available, claims


@given(_settle_case())
def test_settle_conserves_and_never_goes_negative(case):
    available, claims = case
    paid = settle(available, claims)
    assert len(paid) == len(claims)
    have = np.maximum(available, 0.0)
    remaining = have.copy()
    for claim, p in zip(claims, paid):
        assert np.all(p >= 0.0)
        assert np.all(p <= np.maximum(claim, 0.0))
        remaining = remaining - p  # the same order of operations as harvest.py's stock update
        assert np.all(remaining >= 0.0)
    for i in range(len(available)):
        total = math.fsum([p[i] for p in paid] + [remaining[i]])
        assert total == pytest.approx(have[i], rel=1e-12, abs=1e-9)
    # a claim is cut only when grain has run out: everything after it gets nothing
    for i in range(len(available)):
        cut = [j for j, (c, p) in enumerate(zip(claims, paid)) if p[i] < max(c[i], 0.0)]
        if cut:
            assert all(paid[j][i] == 0.0 for j in range(cut[0] + 1, len(claims)))


# --------------------------------------------------------------------------- tax and retention


def test_tax_due_is_rate_times_normal_yield_times_land_times_season(params):
    land = arr(10.0, 0.0, 4.0)
    normal = arr(200.0, 200.0, 150.0)
    share = arr(1.0, 1.0, 0.35)
    expected = params.agricultural_tax_rate * arr(2000.0, 0.0, 210.0)
    np.testing.assert_allclose(tax_due(params, land, normal, share), expected, rtol=1e-12)


def test_tax_due_paper_value():
    p = resolve({"agricultural_tax_rate": 0.1})
    assert tax_due(p, arr(10.0), arr(300.0), arr(0.5)).tolist() == pytest.approx([150.0])


def test_retention_norm_paper_value():
    p = resolve({"retention_food_norm_kg_per_capita": 200.0, "seed_kg_per_mu": 10.0, "feed_kg_per_animal_year": 100.0})
    # (200 x 5 persons + 10 x 20 mu + 100 x 2 animals) x 0.5 = (1000 + 200 + 200) / 2 = 700
    got = retention_norm(p, arr(5.0), arr(20.0), arr(2.0), arr(0.5))
    assert got.tolist() == pytest.approx([700.0])


def test_lowered_ration_standard_cuts_only_the_food_retained():
    """The CC directive of 7 Sep 1960 lowered the rural ration standard: food retained is the
    registry norm times ``rural_ration_factor``, seed and feed unchanged; the harvest reads the
    standard in force through ``food_norm``."""
    from hightide.economy.distribution import food_norm
    from hightide.scenarios.schema import Policy

    p = resolve({"retention_food_norm_kg_per_capita": 200.0, "seed_kg_per_mu": 10.0, "feed_kg_per_animal_year": 100.0})
    # (0.8 x 200 x 5 + 10 x 20 + 100 x 2) x 0.5 = (800 + 200 + 200) / 2 = 600
    assert retention_norm(p, arr(5.0), arr(20.0), arr(2.0), arr(0.5), 0.8).tolist() == pytest.approx([600.0])
    assert food_norm(p, Policy(rural_ration_factor=0.8)) == pytest.approx(160.0)
    assert food_norm(p, Policy()) == 200.0


# --------------------------------------------------------------------------- purchase requests


def _purchase(regime, p, **kw):
    defaults = dict(reported_output=arr(0.0), normal_output=arr(0.0), tax=arr(0.0), retention=arr(0.0),
                    stock=arr(0.0), need_to_next_harvest=arr(0.0), seed=arr(0.0), feed=arr(0.0))
    defaults.update({k: v if k == "above_normal_share" else arr(*v) if isinstance(v, tuple) else arr(v)
                     for k, v in kw.items()})
    return purchase_request(regime, p, **defaults)


def test_free_market_sells_a_share_of_the_surplus_over_own_needs():
    p = resolve({"free_market_sale_share": 0.5})
    # surplus = stock 300 + output 1000 - tax 100 - seed 50 - feed 50 - need 600 = 500 -> sells 250
    got = _purchase("free_market", p, stock=300.0, reported_output=1000.0, tax=100.0, seed=50.0, feed=50.0,
                    need_to_next_harvest=600.0, retention=999.0, normal_output=5000.0)
    assert got.tolist() == pytest.approx([250.0])


def test_free_market_uses_stock_and_own_need_not_retention_or_normal_output():
    p = resolve({"free_market_sale_share": 0.5})
    base = dict(stock=300.0, reported_output=1000.0, tax=100.0, seed=50.0, feed=50.0, need_to_next_harvest=600.0)
    ref = _purchase("free_market", p, **base)[0]
    assert _purchase("free_market", p, **{**base, "stock": 500.0})[0] == pytest.approx(ref + 100.0)
    assert _purchase("free_market", p, **{**base, "need_to_next_harvest": 800.0})[0] == pytest.approx(ref - 100.0)
    assert _purchase("free_market", p, **base, retention=10_000.0, normal_output=1e6)[0] == pytest.approx(ref)


def test_free_market_deficit_household_sells_nothing():
    p = resolve()
    got = _purchase("free_market", p, stock=10.0, reported_output=100.0, need_to_next_harvest=500.0)
    assert got.tolist() == [0.0]


def test_unified_purchase_takes_rate_of_reported_output_less_tax_and_retention():
    p = resolve({"procurement_surplus_rate": 0.8})
    # 0.8 x (1000 - 100 - 400) = 400; stock and need do not matter
    got = _purchase("unified_purchase", p, reported_output=1000.0, tax=100.0, retention=400.0,
                    stock=1e6, need_to_next_harvest=1e6, normal_output=3000.0)
    assert got.tolist() == pytest.approx([400.0])


def test_unified_purchase_follows_the_report():
    p = resolve({"procurement_surplus_rate": 0.8})
    lo = _purchase("unified_purchase", p, reported_output=1000.0, tax=100.0, retention=400.0)[0]
    hi = _purchase("unified_purchase", p, reported_output=1500.0, tax=100.0, retention=400.0)[0]
    assert hi - lo == pytest.approx(0.8 * 500.0)


def test_three_fixes_uses_normal_output_and_ignores_the_report():
    p = resolve({"procurement_surplus_rate": 0.8})
    a = _purchase("three_fixes", p, normal_output=1200.0, reported_output=1000.0, tax=100.0, retention=400.0)
    b = _purchase("three_fixes", p, normal_output=1200.0, reported_output=5000.0, tax=100.0, retention=400.0)
    assert a.tolist() == pytest.approx([0.8 * (1200.0 - 100.0 - 400.0)])
    assert b.tolist() == a.tolist()


def test_three_fixes_buys_the_share_of_output_above_normal_from_units_not_in_deficit():
    """1957 supplementary regulations: generally 40% of output above the fixed output, from surplus
    and self-sufficient units; a deficit unit (normal output below tax + retention) sells nothing
    more, and output at or below normal output adds nothing."""
    p = resolve({"procurement_surplus_rate": 0.8})
    kw = dict(normal_output=(1200.0, 1200.0, 500.0, 1200.0), tax=100.0, retention=(400.0, 400.0, 450.0, 1100.0),
              true_output=(1500.0, 1100.0, 900.0, 1600.0))
    got = _purchase("three_fixes", p, above_normal_share=0.4, **kw)
    assert got.tolist() == pytest.approx([0.8 * 700.0 + 0.4 * 300.0, 0.8 * 700.0, 0.0, 0.0 + 0.4 * 400.0])
    assert _purchase("three_fixes", p, **kw).tolist() == pytest.approx([560.0, 560.0, 0.0, 0.0])
    for regime in ("unified_purchase", "planned_share", "free_market"):
        extra = dict(planned_gross=arr(900.0, 900.0, 900.0, 900.0)) if regime == "planned_share" else {}
        claims = dict(reported_output=arr(1000.0), normal_output=arr(1200.0), tax=arr(100.0), retention=arr(400.0),
                      stock=arr(0.0), need_to_next_harvest=arr(0.0), seed=arr(0.0), feed=arr(0.0), **extra)
        with_share = purchase_request(regime, p, true_output=arr(2000.0), above_normal_share=0.4, **claims)
        without = purchase_request(regime, p, **claims)
        assert with_share.tolist() == without.tolist()


@pytest.mark.parametrize("regime", ["unified_purchase", "three_fixes"])
def test_quota_is_never_negative(regime):
    p = resolve()
    got = _purchase(regime, p, reported_output=(100.0, 0.0), normal_output=(100.0, 0.0), tax=(50.0, 10.0),
                    retention=(500.0, 0.0))
    assert got.tolist() == [0.0, 0.0]


def test_purchase_request_is_vectorised_per_household():
    p = ParameterSet({**resolve().as_dict(), "procurement_surplus_rate": 0.5})
    got = _purchase("unified_purchase", p, reported_output=(100.0, 300.0, 50.0), tax=(0.0, 100.0, 0.0),
                    retention=(0.0, 0.0, 100.0))
    assert got.tolist() == pytest.approx([50.0, 100.0, 0.0])
