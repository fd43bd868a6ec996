"""economy/harvest.py: a province harvested in parts of whole organisations (``harvest_parts``,
which bounds the harvest's memory at full scale) gives every household, organisation and unit the
result of one pass; the national totals differ only by the order of their terms."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hightide.economy import harvest
from hightide.economy import harvest_kernels as hk
from hightide.engine.context import StepContext
from hightide.engine.kernels import part_count
from hightide.engine.simulation import simulate
from hightide.scenarios.loader import load_scenario
from hightide.state.policy import PolicySchedule
from hightide.world.households import HOUSEHOLD_SCHEMA


def _world_before(end: str):
    scenario = load_scenario("historical")
    scenario = scenario.model_copy(update={
        "scenario": scenario.scenario.model_copy(update={"end": end}),
        "parameters": {**scenario.parameters, "townships_min_per_province": 1.0}})
    result = simulate(scenario, scale=0.0002, seed=5)
    return scenario, result


def _harvest_with(monkeypatch, scenario, result, limit):
    world = copy.deepcopy(result.world)
    month = scenario.end_month + 1
    ctx = StepContext(month=month, start_month=scenario.start_month, policy=PolicySchedule(scenario).at(month),
                      params=result.params, seed=result.seed, n_provinces=world.provinces.n)
    monkeypatch.setattr(harvest, "PART_SLOTS", limit)
    harvest.harvest(world, ctx)
    return world, ctx


def test_parts_hold_whole_organisations_and_every_slot_once():
    scenario, result = _world_before("1959-09")
    hh = result.world.households
    provinces = np.arange(result.world.provinces.n)
    whole = np.concatenate(list(harvest.harvest_parts(hh, provinces, limit=1 << 40)))
    parts = list(harvest.harvest_parts(hh, provinces, limit=40))
    assert (hh.used > 40).all() and len(parts) < provinces.size  # every province over the limit, settled in pairs
    assert all((np.diff(part) > 0).all() for part in parts)
    # a split province's parts are settled with another's: two provinces' runs for two threads
    split = {int(pv) for pv in provinces if part_count(hh.used[pv], 40) > 1}
    with_split = [set(np.unique(hh.province[part]).tolist()) for part in parts]
    with_split = [k for k in with_split if k & split]
    assert all(k <= split and len(k) <= 2 for k in with_split)
    assert sum(len(k) == 2 for k in with_split) > len(with_split) / 2
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), whole)
    part_of = np.empty(hh.capacity, dtype=np.int64)
    for k, part in enumerate(parts):
        part_of[part] = k
    org = hh.org[whole]
    members = org >= 0
    assert members.sum() > 0.9 * whole.size  # communes by autumn 1959
    # every organisation's members in one part
    first = {}
    for o, k in zip(org[members], part_of[whole[members]]):
        assert first.setdefault(o, k) == k


@pytest.mark.parametrize("end", ["1955-09", "1959-09", "1962-09"])
def test_harvest_in_parts_changes_no_household(monkeypatch, end):
    """Individuals, teams and APCs (1955), communes with free supply (1959), team accounting
    (1962): households and organisations identical, totals equal to rounding."""
    scenario, result = _world_before(end)
    one, ctx_one = _harvest_with(monkeypatch, scenario, result, 1 << 40)
    split, ctx_split = _harvest_with(monkeypatch, scenario, result, 40)
    assert max(int(u) for u in result.world.households.used) > 40 * 3  # provinces were split
    for name in HOUSEHOLD_SCHEMA:
        np.testing.assert_array_equal(getattr(one.households, name), getattr(split.households, name), err_msg=name)
    np.testing.assert_array_equal(one.organisations.yield_advantage, split.organisations.yield_advantage)
    assert ctx_one.flows["production_kg"].sum() > 0
    for name, values in ctx_one.flows.items():
        np.testing.assert_allclose(ctx_split.flows[name], values, rtol=1e-12, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(split.granary_kg, one.granary_kg, rtol=1e-12)


@given(st.integers(0, 400), st.integers(1, 9), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_a_province_is_split_as_the_masks_per_part_would(used, n_parts, seed):
    """``parts_of_province``: part r holds, ascending, the active slots whose organisation (or, outside
    one, slot) is r modulo the parts, as ``idx[key == r]`` over the province's active slots."""
    rng = np.random.default_rng(seed)
    start, capacity = 7, used + 20
    active = rng.random(capacity) < 0.8
    org = np.where(rng.random(capacity) < 0.3, -1, rng.integers(0, 50, capacity)).astype(np.int32)
    slots, first = hk.parts_of_province(start, used, active, org, n_parts)
    idx = start + np.flatnonzero(active[start:start + used])
    key = np.where(org[idx] >= 0, org[idx], idx) % n_parts
    assert first[0] == 0 and first[-1] == idx.size
    for r in range(n_parts):
        np.testing.assert_array_equal(slots[first[r]:first[r + 1]], idx[key == r])
