"""Processes that walk the provinces in chunks of whole provinces (``kernels.province_chunks``,
which bounds a month's memory at full scale) give every household and every provincial flow the
result of one pass over all provinces, bit for bit, however the provinces are grouped."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from hightide.economy import consumption, demography
from hightide.engine import kernels
from hightide.engine.context import StepContext
from hightide.engine.simulation import simulate
from hightide.institutions import incentives
from hightide.scenarios.loader import load_scenario
from hightide.state import granary
from hightide.state.policy import PolicySchedule
from hightide.world.households import HOUSEHOLD_SCHEMA


def _state(end: str):
    scenario = load_scenario("historical")
    scenario = scenario.model_copy(update={
        "scenario": scenario.scenario.model_copy(update={"end": end}),
        "parameters": {**scenario.parameters, "townships_min_per_province": 1.0}})
    return scenario, simulate(scenario, scale=0.0002, seed=3)


def _run(monkeypatch, scenario, result, process, module, limit):
    world = copy.deepcopy(result.world)
    month = scenario.end_month + 1
    ctx = StepContext(month=month, start_month=scenario.start_month, policy=PolicySchedule(scenario).at(month),
                      params=result.params, seed=result.seed, n_provinces=world.provinces.n)
    monkeypatch.setattr(module, "province_chunks",
                        lambda slots, provinces=None, **_: kernels.province_chunks(slots, provinces, limit=limit))
    process(world, ctx)
    return world, ctx


@pytest.mark.parametrize("end", ["1956-05", "1959-08", "1962-05"])
@pytest.mark.parametrize("process,module", [(consumption.eat, consumption), (incentives.update_effort, incentives),
                                            (demography.vital_events, demography),
                                            (demography.herd_growth, demography)])
def test_chunks_of_provinces_change_nothing(monkeypatch, end, process, module):
    """Co-operatives in the growing season (June 1956), communes with mess halls (September 1959),
    team accounting (June 1962): one province per chunk against all provinces in one."""
    scenario, result = _state(end)
    whole, ctx_whole = _run(monkeypatch, scenario, result, process, module, 1 << 40)
    split, ctx_split = _run(monkeypatch, scenario, result, process, module, 1)
    assert len(kernels.province_chunks(result.world.households, limit=1)) == result.world.provinces.n
    changed = False
    for name in HOUSEHOLD_SCHEMA:
        np.testing.assert_array_equal(getattr(whole.households, name), getattr(split.households, name), err_msg=name)
        changed |= not np.array_equal(getattr(whole.households, name), getattr(result.world.households, name))
    assert changed  # the process did something to compare
    assert ctx_whole.flows.keys() == ctx_split.flows.keys()
    for key in ctx_whole.flows:
        np.testing.assert_array_equal(ctx_whole.flows[key], ctx_split.flows[key], err_msg=key)


@pytest.mark.parametrize("end", ["1955-01", "1961-01"])
def test_family_division_by_chunks_changes_nothing(monkeypatch, end):
    """Family division at the lunar new year (February): the same parents split into the same
    slots, one province per chunk or all in one."""
    scenario, result = _state(end)
    whole, ctx_whole = _run(monkeypatch, scenario, result, demography.partition, demography, 1 << 40)
    split, ctx_split = _run(monkeypatch, scenario, result, demography.partition, demography, 1)
    np.testing.assert_array_equal(whole.households.used, split.households.used)
    assert (whole.households.used > result.world.households.used).any()  # households divided
    for name in HOUSEHOLD_SCHEMA:
        np.testing.assert_array_equal(getattr(whole.households, name), getattr(split.households, name), err_msg=name)
    np.testing.assert_array_equal(ctx_whole.flows["households_formed"], ctx_split.flows["households_formed"])


@pytest.mark.parametrize("end", ["1956-05", "1960-03"])
def test_resale_computed_again_in_the_sale_is_the_request(end):
    """The sale computes each household's request again instead of keeping a list of those who ask:
    what each household receives is its request x the month's fraction, and the State's resales
    are the provinces' sums (spring 1956; the famine's spring of 1960, when most households ask)."""
    scenario, result = _state(end)
    world = copy.deepcopy(result.world)
    month = scenario.end_month + 1
    ctx = StepContext(month=month, start_month=scenario.start_month, policy=PolicySchedule(scenario).at(month),
                      params=result.params, seed=result.seed, n_provinces=world.provinces.n)
    before = world.households.grain_kg.copy()
    resale = granary._Resale(world, ctx)
    inputs = resale._inputs
    hh = world.households
    live = np.flatnonzero(hh.active[:hh.capacity])
    requests = np.zeros(hh.capacity)
    for p, (a, k) in enumerate(zip(hh.block_start, hh.used)):
        slots = np.arange(a, a + k)
        slots = slots[hh.active[slots]]
        need = inputs[15] * (hh.adults[slots] + inputs[16] * hh.children[slots] + inputs[17] * hh.elderly[slots])
        hungry = (hh.food_ratio[slots] < inputs[14]) if inputs[13] else None
        phantom = granary.phantom_grain(hh.reported_this_year_kg[slots], hh.true_this_year_kg[slots],
                                        hh.reported_last_year_kg[slots], hh.true_last_year_kg[slots], inputs[11],
                                        hungry)
        requests[slots] = np.maximum(inputs[18] * need * inputs[19][p] - (hh.grain_kg[slots] + phantom), 0.0)
    total = resale.total_request()
    assert total > 0
    np.testing.assert_allclose(total, (requests * world.weight[hh.province[:hh.capacity]]).sum(), rtol=1e-9)
    sold = resale.sell(0.4)
    np.testing.assert_allclose(sold, 0.4 * total, rtol=1e-9)
    np.testing.assert_array_equal(hh.grain_kg[live], before[live] + (requests * 0.4)[live])


def test_default_chunks_are_no_larger_than_the_largest_province(monkeypatch):
    """By default the chunks go up to ``CHUNK_SLOTS`` or, where a province is larger, to that
    province's used slots: it is a chunk alone, and the others are grouped up to its size."""
    _, result = _state("1953-05")
    hh = result.world.households
    used = hh.used.astype(np.int64)
    monkeypatch.setattr(kernels, "CHUNK_SLOTS", int(np.sort(used)[-3]))  # two provinces above the limit
    chunks = kernels.province_chunks(hh)
    assert np.array_equal(np.concatenate(chunks), np.arange(used.size))
    largest = int(used.max())
    assert [int(used[c].sum()) <= largest for c in chunks] == [True] * len(chunks)
    assert any(c.size > 1 and used[c].sum() > kernels.CHUNK_SLOTS for c in chunks)  # grouped past the old limit
    assert (used > 0).all()
    assert [c.tolist() for c in chunks if used.argmax() in c] == [[int(used.argmax())]]


def test_light_chunks_hold_up_to_twice_the_largest_province(monkeypatch):
    """With ``largest_times`` 2 (the processes of small arrays per slot) a chunk goes up to twice
    the largest province's used slots, so the largest shares its chunk; every province once, in order."""
    _, result = _state("1953-05")
    hh = result.world.households
    used = hh.used.astype(np.int64)
    monkeypatch.setattr(kernels, "CHUNK_SLOTS", 1)
    chunks = kernels.province_chunks(hh, largest_times=kernels.LIGHT_CHUNKS)
    assert np.array_equal(np.concatenate(chunks), np.arange(used.size))
    largest = int(used.max())
    assert all(int(used[c].sum()) <= 2 * largest for c in chunks)
    assert len(chunks) < len(kernels.province_chunks(hh))
    assert [c.size > 1 for c in chunks if used.argmax() in c] == [True]
