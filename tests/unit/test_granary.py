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
