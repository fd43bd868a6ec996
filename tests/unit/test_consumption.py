"""economy/consumption.py: what a household eats in a month."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hightide.economy.consumption import ration


def arr(*values):
    return np.array(values, dtype=np.float64)


def test_eats_its_need_when_the_stock_allows():
    # need 20 a month, 4 months to the harvest, stock 100 >= 80: eats 20
    assert ration(arr(100.0), arr(20.0), np.array([4])).tolist() == [20.0]


def test_spreads_a_short_stock_over_the_months_left():
    # stock 60 over 4 months = 15 < need 20
    assert ration(arr(60.0), arr(20.0), np.array([4])).tolist() == [15.0]


def test_last_month_before_the_harvest_eats_up_to_need():
    assert ration(arr(12.0, 50.0), arr(20.0, 20.0), np.array([1, 1])).tolist() == [12.0, 20.0]


def test_never_negative_and_zero_months_treated_as_one():
    got = ration(arr(-5.0, 0.0, 30.0), arr(20.0, 20.0, 20.0), np.array([3, 3, 0]))
    assert got.tolist() == [0.0, 0.0, 20.0]


@given(st.lists(st.tuples(st.floats(-100, 1e5), st.floats(0, 1e3), st.integers(0, 12)), min_size=1, max_size=30))
def test_ration_bounds(rows):
    stock, need, months = (np.array(c) for c in zip(*rows))
    r = ration(stock.astype(float), need.astype(float), months)
    assert np.all(r >= 0)
    assert np.all(r <= need + 1e-12)
    assert np.all(r <= np.maximum(stock, 0.0) + 1e-9)  # never eats grain it does not have
    enough = stock >= need * np.maximum(months, 1)
    np.testing.assert_allclose(r[enough], need[enough])
