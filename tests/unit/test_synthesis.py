"""world/synthesis.py: the 1952 countryside at a tiny scale."""

from __future__ import annotations

import numpy as np
import pytest

from hightide.params import resolve
from hightide.world.households import LANDLORD, POOR
from hightide.world.provinces import build_provinces
from hightide.world.synthesis import build_world, class_shares, sample_townships

START = 1952 * 12
SCALE = 0.0002


@pytest.fixture(scope="module")
def tiny_params():
    return resolve({"townships_min_per_province": 1.0})


@pytest.fixture(scope="module")
def world(tiny_params):
    return build_world(tiny_params, SCALE, 0, START)


def _active(world):
    hh = world.households
    act = hh.active
    return hh, act, world.household_weight()


def test_weighted_households_equal_rural_population_over_household_size(world, tiny_params):
    hh, act, w = _active(world)
    n = world.provinces.n
    weighted = np.bincount(hh.province[act], weights=w[act], minlength=n)
    expected = world.provinces.rural_population / tiny_params.persons_per_household
    np.testing.assert_allclose(weighted, expected, rtol=1e-6)
    assert np.all(np.bincount(hh.province[act], minlength=n) > 0)


def test_province_table_is_consistent(tiny_params):
    prov = build_provinces(tiny_params, 1952.0)
    assert prov.n == 28  # Ningxia is counted in Gansu (1953 census)
    assert len(set(prov.name)) == prov.n
    assert np.all(prov.population_start > 0)
    assert np.all((prov.urban_share > 0) & (prov.urban_share < 1))
    assert np.all(np.isfinite(prov.grain_per_rural_person_kg)) and np.all(prov.grain_per_rural_person_kg > 0)
    # the start population is the census total carried back from mid-1953 to January 1952
    total = prov.population_start.sum()
    expected = tiny_params.census_national_total_m * 1e6 * np.exp(-tiny_params.census_backcast_growth * 1.5)
    assert total == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("minimum", [1, 2])
def test_every_province_has_at_least_the_minimum_townships(minimum):
    p = resolve({"townships_min_per_province": float(minimum)})
    w = build_world(p, SCALE, 0, START)
    hh = w.households
    act = hh.active
    for prov in range(w.provinces.n):
        townships = np.unique(hh.township[act & (hh.province == prov)])
        assert len(townships) >= minimum
        assert len(townships) == w.n_townships_sampled[prov]
    assert np.all(w.n_townships_sampled >= minimum)


def test_sample_townships_rule():
    total = np.array([1000, 10, 2, 0])
    np.testing.assert_array_equal(sample_townships(total, 0.01, 3), [10, 3, 2, 1])


def test_geography_is_nested(world):
    hh, act, _ = _active(world)
    # each village lies in one township, each township in one province
    for child, parent in (("village", "township"), ("township", "province"), ("township", "county")):
        c, p = getattr(hh, child)[act], getattr(hh, parent)[act]
        pairs = np.unique(np.stack([c, p]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1], f"a {child} spans several {parent}s"


def test_province_villages_bound_every_household_of_the_province(world):
    """Villages run contiguously province by province: each province's row of
    ``province_villages`` holds the villages of all its households, and the rows do not overlap."""
    hh = world.households
    rows = world.province_villages()
    assert rows.shape == (world.provinces.n, 2)
    for p, (a, n) in enumerate(zip(hh.block_start, hh.used)):
        v = hh.village[a:a + n]
        assert rows[p, 0] <= v.min() and v.max() <= rows[p, 1]
    assert (rows[1:, 0] == rows[:-1, 1] + 1).all() and rows[-1, 1] == world.n_villages - 1


def test_mean_household_size_near_registry(world, tiny_params):
    hh, act, w = _active(world)
    mean = np.average(hh.persons()[act], weights=w[act])
    assert mean == pytest.approx(tiny_params.persons_per_household, abs=0.1)
    assert hh.persons()[act].min() >= 1


def test_class_shares_near_registry(world, tiny_params):
    hh, act, w = _active(world)
    shares = class_shares(tiny_params)
    assert shares.sum() == pytest.approx(1.0)
    ordinary = act & ~hh.five_guarantee
    # drawn from the registry shares; five-guarantee households are then reclassed poor
    got = np.array([np.average(hh.klass[ordinary] == k, weights=w[ordinary]) for k in range(5)])
    np.testing.assert_allclose(got, shares, atol=0.015)
    overall = np.array([np.average(hh.klass[act] == k, weights=w[act]) for k in range(5)])
    np.testing.assert_allclose(overall, shares, atol=0.05)
    assert np.all(hh.klass[act & hh.five_guarantee] == POOR)


def test_five_guarantee_households(world, tiny_params):
    hh, act, w = _active(world)
    fg = act & hh.five_guarantee
    assert fg.any()
    assert np.all(hh.adults[fg] == 0)
    assert np.all(hh.draft_animals[fg] == 0)
    assert np.all(hh.persons()[fg] >= 1)
    assert np.average(fg[act], weights=w[act]) == pytest.approx(tiny_params.five_guarantee_share, abs=0.01)
    assert np.all(hh.adults[act & ~hh.five_guarantee] >= 1)


def test_initial_state_is_valid(world):
    hh, act, _ = _active(world)
    assert act.sum() == world.households.used.sum()
    for name in ("children", "adults", "elderly"):
        assert np.all(hh.arrays[name][act] >= 0)
    assert np.all(hh.land_mu[act] > 0)
    assert np.all(hh.grain_kg[act] > 0)
    assert np.all(hh.draft_animals[act] >= 0)
    assert np.all(~hh.active[~act])
    assert world.granary_kg > 0
    assert np.all(world.productivity > 0) and np.all(world.normal_yield_per_mu > 0)
    # landlords own less than rich peasants on average (land reform)
    assert hh.land_mu[act & (hh.klass == LANDLORD)].mean() < hh.land_mu[act & (hh.klass == 3)].mean()


def test_build_world_is_deterministic_and_seeded(tiny_params):
    a = build_world(tiny_params, SCALE, 5, START)
    b = build_world(tiny_params, SCALE, 5, START)
    c = build_world(tiny_params, SCALE, 6, START)
    for name in ("grain_kg", "land_mu", "klass", "adults", "village"):
        np.testing.assert_array_equal(a.households.arrays[name], b.households.arrays[name])
    assert not np.array_equal(a.households.grain_kg, c.households.grain_kg)
