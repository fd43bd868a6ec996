"""economy/demography.py: baseline mortality, hunger, fertility, monthly probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hightide.economy.demography import (
    baseline_factor, fertility_multiplier, hunger_multiplier, hunger_shortfall, monthly_probability,
)
from hightide.params import resolve


def test_baseline_factor_is_one_in_1952_and_falls_to_the_floor(params):
    assert baseline_factor(params, 0.0) == pytest.approx(1.0)
    assert baseline_factor(params, -3.0) == pytest.approx(1.0)  # never above the 1952 level
    assert baseline_factor(params, 200.0) == pytest.approx(params.mortality_floor, abs=1e-9)
    values = [baseline_factor(params, t) for t in range(0, 15)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert all(v > params.mortality_floor for v in values)


def test_baseline_factor_paper_value():
    p = resolve({"mortality_floor": 0.5, "mortality_decline_rate": 0.5})
    # 0.5 + 0.5 exp(-0.5 x 2) = 0.5 + 0.5 / e
    assert baseline_factor(p, 2.0) == pytest.approx(0.5 + 0.5 * np.exp(-1.0))


def test_hunger_shortfall_paper_values():
    p = resolve({"hunger_threshold": 0.8})
    got = hunger_shortfall(p, np.array([1.2, 0.8, 0.6, 0.4, 0.0, -1.0]))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.25, 0.5, 1.0, 1.0])


def test_hunger_multiplier_is_one_when_fed_and_quadratic_in_shortfall():
    p = resolve({"hunger_mortality_scale": 20.0})
    np.testing.assert_allclose(hunger_multiplier(p, np.array([0.0, 0.5, 1.0])), [1.0, 6.0, 21.0])


def test_fertility_multiplier_falls_linearly_and_stops_at_zero():
    p = resolve({"hunger_fertility_slope": 2.0})
    np.testing.assert_allclose(fertility_multiplier(p, np.array([0.0, 0.25, 0.5, 0.9])), [1.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("annual", [0.0, 0.007, 0.024, 0.07, 0.3])
def test_twelve_monthly_probabilities_compound_to_the_annual_one(annual):
    m = monthly_probability(annual)
    assert 1 - (1 - m) ** 12 == pytest.approx(annual, rel=1e-12, abs=1e-15)


def test_multiplier_scales_the_hazard():
    # hazard doubles: survival over the year is squared
    annual = 0.1
    m2 = monthly_probability(annual, 2.0)
    assert 1 - (1 - m2) ** 12 == pytest.approx(1 - 0.9**2, rel=1e-12)


@given(st.floats(0.0, 1.0), st.floats(0.0, 200.0))
def test_monthly_probability_is_a_probability(annual, mult):
    m = monthly_probability(annual, mult)
    assert 0.0 <= m <= 1.0


def test_monthly_probability_is_vectorised():
    got = monthly_probability(np.array([0.0, 0.05]), np.array([1.0, 3.0]))
    assert got.shape == (2,)
    assert got[0] == 0.0 and got[1] == pytest.approx(monthly_probability(0.05, 3.0))
