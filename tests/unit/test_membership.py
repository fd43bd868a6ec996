"""institutions/membership.py: willingness to pool and shortage of hands."""

from __future__ import annotations

import numpy as np
import pytest

from hightide.institutions.membership import labour_shortage, willingness
from hightide.world.households import CLASS_NAMES, LANDLORD, LOWER_MIDDLE, POOR, RICH, UPPER_MIDDLE


def _w(params, klass, **kw):
    n = len(klass)
    args = dict(attitude=np.zeros(n), shortage=np.zeros(n), animals=np.ones(n), promotion=0.0,
                neighbours_share=np.zeros(n))
    args.update(kw)
    return willingness(params, klass=np.asarray(klass, dtype=np.int8), **args)


def test_class_order_all_else_equal(params):
    w = _w(params, [POOR, LOWER_MIDDLE, UPPER_MIDDLE, RICH])
    assert w[0] > w[1] > w[2] > w[3], dict(zip(CLASS_NAMES, w))


def test_landlords_are_treated_like_rich_peasants(params):
    w = _w(params, [RICH, LANDLORD])
    assert w[0] == w[1]


def test_willingness_paper_value(params):
    w = _w(params, [POOR], attitude=np.array([0.3]), shortage=np.array([0.5]), animals=np.array([0.0]),
           promotion=0.4, neighbours_share=np.array([0.25]))
    expected = (params.willingness_base + params.willingness_poor + 0.3 + 0.5 * params.willingness_labour_shortage
                + params.willingness_no_animals + 0.4 * params.willingness_promotion + 0.25 * params.willingness_neighbours)
    assert w[0] == pytest.approx(expected)


def test_promotion_neighbours_shortage_and_no_animals_all_raise_willingness(params):
    base = _w(params, [POOR])[0]
    assert _w(params, [POOR], promotion=1.0)[0] > base
    assert _w(params, [POOR], neighbours_share=np.array([0.5]))[0] > base
    assert _w(params, [POOR], shortage=np.array([0.5]))[0] > base
    assert _w(params, [POOR], animals=np.array([0.0]))[0] > base


def test_labour_shortage_paper_values():
    # provincial mean 0.2 units per mu: 0.1 per mu -> 0.5 short; 0.4 per mu -> not short; 0 labour -> 1
    got = labour_shortage(np.array([1.0, 4.0, 0.0, 2.0]), np.array([10.0, 10.0, 10.0, 10.0]), np.full(4, 0.2))
    np.testing.assert_allclose(got, [0.5, 0.0, 1.0, 0.0])


def test_labour_shortage_is_between_zero_and_one():
    rng = np.random.default_rng(0)
    got = labour_shortage(rng.uniform(0, 5, 500), rng.uniform(0.1, 50, 500), rng.uniform(0.05, 1, 500))
    assert np.all((got >= 0) & (got <= 1))


def test_landless_household_with_hands_is_not_short_of_hands():
    got = labour_shortage(np.array([2.0]), np.array([0.0]), np.array([0.2]))
    assert got[0] == 0.0


def test_compiled_willingness_is_the_array_rule(params):
    """willingness_of (one compiled pass) gives exactly willingness + labour_shortage, and the
    co-operative terms exactly as _willingness_apc forms them (float32 animal cost)."""
    from types import SimpleNamespace

    from hightide.institutions.membership import willingness_of
    from hightide.world.synthesis import labour_power

    g = np.random.default_rng(3)
    n = 2000
    hh = SimpleNamespace(klass=g.integers(0, 5, n).astype(np.int8), attitude=g.normal(size=n).astype(np.float32),
                         children=g.integers(0, 5, n).astype(np.int8), adults=g.integers(0, 4, n).astype(np.int8),
                         elderly=g.integers(0, 3, n).astype(np.int8),
                         land_mu=np.where(g.random(n) < 0.05, 0.0, g.random(n) * 20).astype(np.float32),
                         draft_animals=g.choice([0.0, 0.4, 1.0, 2.5], n).astype(np.float32),
                         province=g.integers(0, 3, n).astype(np.int8), village=g.integers(0, 40, n).astype(np.int32),
                         village_township=np.arange(40, dtype=np.int32) // 4)
    world = SimpleNamespace(households=hh)
    idx = np.sort(g.choice(n, 700, replace=False))
    mean_lpm, share_v, adv_t = g.random(3) * 0.5 + 0.1, g.random(40), g.normal(size=10) * 0.1
    labour = labour_power(params, hh.children[idx], hh.adults[idx], hh.elderly[idx]).astype(np.float64)
    ref = willingness(params, klass=hh.klass[idx], attitude=hh.attitude[idx],
                      shortage=labour_shortage(labour, hh.land_mu[idx].astype(np.float64), mean_lpm[hh.province[idx]]),
                      animals=hh.draft_animals[idx], promotion=0.7, neighbours_share=share_v[hh.village[idx]])
    np.testing.assert_array_equal(willingness_of(world, params, idx, 0.7, mean_lpm, share_v), ref)
    ref_apc = (ref + params.willingness_demonstration * adv_t[hh.village_township[hh.village[idx]]]
               - params.willingness_unfair_price * hh.draft_animals[idx] * (1.0 - params.animal_price_fairness))
    np.testing.assert_array_equal(willingness_of(world, params, idx, 0.7, mean_lpm, share_v, adv_t), ref_apc)
