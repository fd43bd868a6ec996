"""Passes over pieces of provinces (``kernels.slot_pieces``): every household and every provincial
flow comes out bit for bit as from one walk over each whole province, whatever the piece size and
however many threads the pieces are dealt to."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hightide.economy import consumption, demography
from hightide.engine import kernels
from hightide.engine.context import StepContext
from hightide.institutions import incentives, mutual_aid
from hightide.state import granary
from hightide.state.policy import PolicySchedule
from hightide.world.households import HOUSEHOLD_SCHEMA
from test_province_chunks import _state  # the same small states the chunk tests use


@settings(max_examples=200, deadline=None)
@given(used=st.lists(st.integers(0, 5000), min_size=1, max_size=12), threads=st.integers(1, 5),
       piece=st.integers(1, 3000), data=st.data())
def test_pieces_cover_the_used_slots_in_order_and_balance_the_threads(used, threads, piece, data):
    """The pieces are the used slots of the provinces asked for, ascending, each within one
    province, no longer than the piece size (or, whole, one per province); each thread's run of
    pieces holds its share of the slots give or take one piece."""
    used = np.array(used, dtype=np.int64)
    gaps = np.array(data.draw(st.lists(st.integers(0, 50), min_size=used.size, max_size=used.size)), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(used + gaps)[:-1]))
    slots = SimpleNamespace(block_start=starts, used=used)
    chosen = np.array(sorted(data.draw(st.sets(st.integers(0, used.size - 1), min_size=1))), dtype=np.int64)
    whole = data.draw(st.booleans())
    old = kernels.PIECE_SLOTS, kernels.MIN_PIECE_SLOTS
    kernels.PIECE_SLOTS, kernels.MIN_PIECE_SLOTS = piece, 1
    try:
        pieces, bounds = kernels.slot_pieces(slots, chosen, threads=threads, whole=whole)
    finally:
        kernels.PIECE_SLOTS, kernels.MIN_PIECE_SLOTS = old
    expected = np.concatenate([np.arange(starts[p], starts[p] + used[p]) for p in chosen])
    covered = np.concatenate([np.arange(a, b) for _, a, b in pieces]) if len(pieces) else np.zeros(0, dtype=np.int64)
    np.testing.assert_array_equal(covered, expected)
    assert (pieces[:, 2] > pieces[:, 1]).all()
    for pv, a, b in pieces:
        assert starts[pv] <= a and b <= starts[pv] + used[pv]
    if whole:
        np.testing.assert_array_equal(pieces[:, 0], chosen[used[chosen] > 0])
    else:
        assert (pieces[:, 2] - pieces[:, 1] <= max(piece, 1)).all()
    assert bounds.size == threads + 1 and bounds[0] == 0 and bounds[-1] == len(pieces)
    assert (np.diff(bounds) >= 0).all()
    sizes = pieces[:, 2] - pieces[:, 1]
    largest = sizes.max(initial=0)
    for t in range(threads):
        done = sizes[:bounds[t + 1]].sum()
        assert abs(done - sizes.sum() * (t + 1) / threads) <= largest  # each cut at the nearest piece


def _world(result, process):
    """A copy of the state; for extinctions, with every 97th active household's members gone (too
    few die out in one month of so small a run to compare)."""
    world = copy.deepcopy(result.world)
    if process is demography.extinctions:
        hh = world.households
        emptied = np.flatnonzero(hh.active[:hh.capacity])[::97]
        for band in (hh.children, hh.adults, hh.elderly):
            band[emptied] = 0
    return world


def _run(monkeypatch, scenario, result, process, piece, threads):
    world = _world(result, process)
    month = scenario.end_month + 1
    ctx = StepContext(month=month, start_month=scenario.start_month, policy=PolicySchedule(scenario).at(month),
                      params=result.params, seed=result.seed, n_provinces=world.provinces.n)
    monkeypatch.setattr(kernels, "PIECE_SLOTS", piece)
    monkeypatch.setattr(kernels, "MIN_PIECE_SLOTS", 1)
    monkeypatch.setattr(kernels, "thread_count", lambda: threads)
    monkeypatch.setattr(consumption, "EAT_WINDOW_SLOTS", 3 * piece)  # windows of three pieces
    process(world, ctx)
    return world, ctx


PROCESSES = [mutual_aid.organise, incentives.update_effort, granary.supply, consumption.eat, demography.vital_events,
             demography.extinctions, demography.migration, demography.herd_growth]


@pytest.mark.parametrize("end", ["1953-05", "1959-08", "1961-04"])
@pytest.mark.parametrize("process", PROCESSES, ids=lambda f: f"{f.__module__.split('.')[-1]}.{f.__name__}")
def test_pieces_change_nothing(monkeypatch, end, process):
    """Mutual aid in the spring of 1953, communes and mess halls in September 1959, the famine's
    spring of 1961 (deaths, households dying out, resales): whole provinces on one thread against
    pieces of 7 and of 50 slots dealt to two and three threads."""
    scenario, result = _state(end)
    whole, ctx_whole = _run(monkeypatch, scenario, result, process, 1 << 40, 1)
    for piece, threads in ((7, 2), (50, 3)):
        cut, ctx_cut = _run(monkeypatch, scenario, result, process, piece, threads)
        for name in HOUSEHOLD_SCHEMA:
            np.testing.assert_array_equal(getattr(whole.households, name), getattr(cut.households, name),
                                          err_msg=name)
        np.testing.assert_array_equal(whole.organisations.active, cut.organisations.active)
        assert whole.granary_kg == cut.granary_kg
        assert ctx_whole.flows.keys() == ctx_cut.flows.keys()
        for key in ctx_whole.flows:
            np.testing.assert_array_equal(ctx_whole.flows[key], ctx_cut.flows[key], err_msg=key)
        assert len(kernels.slot_pieces(result.world.households, threads=threads)[0]) > result.world.provinces.n


@pytest.mark.parametrize("process", PROCESSES, ids=lambda f: f"{f.__module__.split('.')[-1]}.{f.__name__}")
def test_each_process_acts_in_some_state(process):
    """The comparisons above are not of untouched arrays: each process changes some household or
    some flow in at least one of the three states."""
    acted = False
    for end in ("1953-05", "1959-08", "1961-04"):
        scenario, result = _state(end)
        before = _world(result, process)
        world = copy.deepcopy(before)
        month = scenario.end_month + 1
        ctx = StepContext(month=month, start_month=scenario.start_month, policy=PolicySchedule(scenario).at(month),
                          params=result.params, seed=result.seed, n_provinces=world.provinces.n)
        process(world, ctx)
        acted |= any(not np.array_equal(getattr(world.households, name), getattr(before.households, name))
                     for name in HOUSEHOLD_SCHEMA)
        acted |= any(np.any(v != 0) for v in ctx.flows.values())
    assert acted


def test_hungry_probabilities_split_among_threads_are_those_of_one_call():
    """The hungry's monthly probabilities (NumPy's log1p and expm1 on slices in threads) equal the
    unsplit computation, element for element."""
    from concurrent.futures import ThreadPoolExecutor

    from hightide.engine.threads import MIN_SPLIT

    scenario, result = _state("1960-03")
    hh, p = result.world.households, result.params
    live = np.flatnonzero(hh.active[:hh.capacity])
    hungry = np.sort(np.resize(live, 2 * MIN_SPLIT + 5))  # long enough to be split
    log_surv = np.array([0.05, 0.01, 0.08])
    rates = np.linspace(0.1, 0.3, result.world.provinces.n)  # births per working adult, by province
    whole = demography._hungry_probabilities(p, hh, hungry, log_surv, rates)
    with ThreadPoolExecutor(3) as pool:
        for parts in (2, 3):
            np.testing.assert_array_equal(demography._hungry_probabilities(p, hh, hungry, log_surv, rates, pool, parts),
                                          whole)
    assert (whole < 0).all()  # the probabilities negated


@settings(max_examples=80, deadline=None)
@given(used=st.lists(st.integers(0, 3000), min_size=1, max_size=10), seed=st.integers(0, 2**32 - 1))
def test_province_sums_are_each_province_summed_in_slot_order(used, seed):
    """``provincial.province_sums`` (provinces in parallel): each province's active values added in
    slot order, as one sequential walk (``np.cumsum``) adds them, on any number of threads."""
    from hightide.engine.provincial import province_sums

    rng = np.random.default_rng(seed)
    used = np.array(used, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(used + 3)[:-1]))
    capacity = int(starts[-1] + used[-1] + 3)
    active = rng.random(capacity) < 0.9
    values = (rng.random(capacity) * 10.0 ** rng.integers(-3, 6, capacity)).astype(np.float32)
    slots = SimpleNamespace(block_start=starts, used=used, active=active)
    expected = np.array([np.cumsum(np.where(active, values, 0).astype(np.float64)[a:a + n])[-1] if n else 0.0
                         for a, n in zip(starts, used)])
    np.testing.assert_array_equal(province_sums(slots, values), expected)


@pytest.mark.parametrize("end", ["1953-05", "1961-04"])
@pytest.mark.parametrize("segment,walk_below", [(16, 0.1), (97, 0.1), (97, 0.0)])
def test_vital_events_of_small_segments_do_not_depend_on_the_pieces(monkeypatch, segment, walk_below, end):
    """Segments smaller than the pieces (the fed households' walks, ``demography.SEGMENT_SLOTS``),
    walked or (``WALK_BELOW`` 0) drawn household by household: pieces of 7 and 50 slots on two and
    three threads give the births, deaths and households of whole provinces on one thread, in the
    spring of 1953 and the famine's spring of 1961."""
    monkeypatch.setattr(demography, "SEGMENT_SLOTS", segment)
    monkeypatch.setattr(demography, "WALK_BELOW", walk_below)
    scenario, result = _state(end)
    whole, ctx_whole = _run(monkeypatch, scenario, result, demography.vital_events, 1 << 40, 1)
    for piece, threads in ((7, 2), (50, 3)):
        cut, ctx_cut = _run(monkeypatch, scenario, result, demography.vital_events, piece, threads)
        for name in ("children", "adults", "elderly"):
            np.testing.assert_array_equal(getattr(whole.households, name), getattr(cut.households, name), err_msg=name)
        for key in ("births", "deaths", "hunger_deaths"):
            np.testing.assert_array_equal(ctx_whole.flows[key], ctx_cut.flows[key], err_msg=key)
    assert ctx_whole.flows["births"].sum() > 0 and ctx_whole.flows["deaths"].sum() > 0


def test_a_hungry_households_events_are_its_own_whoever_else_is_hungry():
    """Common random numbers household by household: a hungry household draws the numbers of its
    slot, so making a fifth of the fed households hungry as well (another scenario's history)
    leaves the births, deaths and ageing of the households hungry in both unchanged."""
    scenario, result = _state("1961-04")
    month = scenario.end_month + 1
    worlds = []
    for starve in (False, True):
        world = copy.deepcopy(result.world)
        hh = world.households
        live = np.flatnonzero(hh.active[:hh.capacity])
        threshold = result.params.hunger_threshold
        if starve:
            fed = live[hh.food_ratio[live] >= threshold]
            hh.food_ratio[fed[::5]] = 0.0
        ctx = StepContext(month=month, start_month=scenario.start_month, policy=PolicySchedule(scenario).at(month),
                          params=result.params, seed=result.seed, n_provinces=world.provinces.n)
        demography.vital_events(world, ctx)
        worlds.append(world)
    hh0 = result.world.households
    live = np.flatnonzero(hh0.active[:hh0.capacity])
    deep = live[hh0.food_ratio[live] < threshold]
    assert deep.size > 100
    for name in ("children", "adults", "elderly"):
        a, b = getattr(worlds[0].households, name)[deep], getattr(worlds[1].households, name)[deep]
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert any(not np.array_equal(getattr(worlds[0].households, n), getattr(worlds[1].households, n))
               for n in ("children", "adults", "elderly"))
