"""engine/kernels.py: compiled grouping gives what the NumPy formulation gives, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hightide.engine import kernels


def reference_units(org, village, down, team_size):
    """The packed-key formulation: np.unique over (org, village or -1, rank // team_size)."""
    org = org.astype(np.int64)
    village = np.where(down, village, -1).astype(np.int64)
    team = np.zeros(org.size, dtype=np.int64)
    if team_size:
        members = np.arange(org.size)
        order = np.lexsort((members, village, org))
        key = org[order] * (1 << 32) + village[order]
        start = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
        rank = np.arange(order.size) - np.repeat(start, np.diff(np.r_[start, order.size]))
        team[order] = rank // team_size
    key = (org << 40) | ((village + 1) << 12) | team
    return np.unique(key, return_inverse=True)[1].ravel()


@pytest.mark.parametrize("team_size", [0, 1, 3, 25])
@pytest.mark.parametrize("seed", range(5))
def test_unit_index_matches_sorted_keys(team_size, seed):
    g = np.random.default_rng(seed)
    n_prov = 4
    per = g.integers(0, 300, n_prov)
    province = np.repeat(np.arange(n_prov), per).astype(np.int16)
    # organisations and villages numbered province by province, members scattered over them
    org = np.concatenate([100 * p + g.integers(0, 12, k) for p, k in enumerate(per)]).astype(np.int32)
    village = np.concatenate([50 * p + g.integers(0, 9, k) for p, k in enumerate(per)]).astype(np.int32)
    down = (org % 3) != 0  # per organisation, as the form decides
    want = reference_units(org, village, down, team_size)
    np.testing.assert_array_equal(kernels.unit_index(org, village, province, down, team_size), want)
    form = (np.arange(org.max() + 1) % 3 != 0).astype(np.int8)
    block_start = np.searchsorted(province, np.arange(n_prov))
    got = kernels.units_of_members(np.arange(org.size), org, village, form, block_start, False, 0, team_size)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("team_size", [0, 1, 3, 25])
@pytest.mark.parametrize("seed", range(5))
def test_unit_index_with_whole_villages_matches_sorted_keys(team_size, seed):
    """Organisations that take whole villages (each village's split members in one organisation,
    the counting path), in slot order that is not village order (households formed later sit at
    the end of the block); also unsplit organisations and one province where a village is shared."""
    g = np.random.default_rng(100 + seed)
    n_prov = 4
    per = g.integers(1, 400, n_prov)
    province = np.repeat(np.arange(n_prov), per).astype(np.int16)
    village = np.concatenate([50 * p + g.integers(0, 30, k) for p, k in enumerate(per)]).astype(np.int32)
    org = (100 * province + (village % 50) // 4).astype(np.int32)  # 4 villages per organisation
    down = (org % 3) != 0
    if seed % 2:
        org[province == 2] = 200 + g.integers(0, 12, int((province == 2).sum()))  # shared villages here
        down = (org % 3) != 0
    want = reference_units(org, village, down, team_size)
    np.testing.assert_array_equal(kernels.unit_index(org, village, province, down, team_size), want)
    # read through slots: members of province blocks, split unless the organisation's form is 0
    form = (np.arange(org.max() + 1) % 3 != 0).astype(np.int8)
    block_start = np.searchsorted(province, np.arange(n_prov))
    got = kernels.units_of_members(np.arange(org.size), org, village, form, block_start, False, 0, team_size)
    np.testing.assert_array_equal(got, want)
    unsplit = kernels.units_of_members(np.arange(org.size), org, village, form, block_start, True, 0, team_size)
    np.testing.assert_array_equal(unsplit, reference_units(org, village, np.zeros(org.size, bool), team_size))
    # each province's organisations and villages bounded by its blocks (as World.province_villages
    # and the organisation blocks give them) instead of found by a pass: the same units; bounds that
    # leave a member out send its province to the sorting path: the same units again
    blocks = np.array([[100 * p, 100 * p + 99, 50 * p, 50 * p + 49] for p in range(n_prov)])
    if seed % 2:
        blocks[2, :2] = [200, 299]
    for ranges in (blocks, blocks + np.array([0, 0, 1, -1])):
        got = kernels.units_of_members(np.arange(org.size), org, village, form, block_start, False, 0, team_size,
                                       ranges)
        np.testing.assert_array_equal(got, want)


def test_unit_index_declines_when_organisations_are_not_by_province():
    province = np.array([0, 0, 1, 1], dtype=np.int16)
    org = np.array([5, 6, 1, 2], dtype=np.int32)
    village = np.zeros(4, dtype=np.int32)
    assert kernels.unit_index(org, village, province, np.ones(4, bool), 0) is None


def test_units_of_members_declines_when_organisations_are_not_by_province():
    """Province 1's organisations come before province 0's: not numbered province by province."""
    org = np.array([5, 6, 1, 2], dtype=np.int32)
    village = np.array([0, 0, 1, 1], dtype=np.int32)
    form = np.ones(7, dtype=np.int8)
    members = np.arange(4)
    assert kernels.units_of_members(members, org, village, form, np.array([0, 2]), False, 0, 0) is None
    org[2:] = [7, 8]
    form = np.ones(9, dtype=np.int8)
    np.testing.assert_array_equal(kernels.units_of_members(members, org, village, form, np.array([0, 2]), False, 0, 0),
                                  [0, 1, 2, 3])


def test_group_sum_is_bincount():
    g = np.random.default_rng(0)
    keys = g.integers(0, 7, 1000).astype(np.int16)
    for values in (g.normal(size=1000), g.random(1000).astype(np.float32), g.random(1000) < 0.5):
        np.testing.assert_array_equal(kernels.group_sum(keys, values, 9), np.bincount(keys, weights=values, minlength=9))
    np.testing.assert_array_equal(kernels.group_count(keys, 9), np.bincount(keys, minlength=9).astype(float))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=0, max_size=40), st.integers(1, 5))
def test_deal_runs_gives_every_run_to_one_thread_and_balances_them(sizes, n_threads):
    """Every run once, ascending within a thread; no thread holds more than the fair share plus
    the largest run (LPT's bound)."""
    bounds = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    order, cuts = kernels.deal_runs(bounds, n_threads)
    assert cuts.size == n_threads + 1 and cuts[0] == 0 and cuts[-1] == len(sizes)
    assert sorted(order.tolist()) == list(range(len(sizes)))
    loads = []
    for t in range(n_threads):
        mine = order[cuts[t]:cuts[t + 1]]
        assert (np.diff(mine) > 0).all()
        loads.append(sum(sizes[r] for r in mine))
    if sizes:
        assert max(loads) <= sum(sizes) / n_threads + max(sizes)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_count_and_sum_at_are_the_bincounts_of_keys_within_provinces(sizes, seed):
    """Per key (each in one province, keys of a province in runs that may recur), the count and the
    number of flags set at the members' slots, provinces in parallel: ``np.bincount``'s."""
    g = np.random.default_rng(seed)
    block_start = np.cumsum([0] + [s + 5 for s in sizes[:-1]])  # province blocks with spare slots
    slots, keys, first_key = [], [], 0
    for start, size in zip(block_start, sizes):
        n_keys = int(g.integers(1, 5))
        slots.append(start + np.sort(g.choice(size + 5, size, replace=False)))
        drawn = g.integers(0, n_keys, size)
        keys.append(first_key + (np.sort(drawn) if g.random() < 0.5 else drawn))
        first_key += n_keys
    slots, keys = np.concatenate(slots).astype(np.int64), np.concatenate(keys).astype(np.int64)
    values = g.random(int(block_start[-1]) + sizes[-1] + 5) < 0.4
    count, total = kernels.count_and_sum_at(keys, values, slots, first_key, block_start)
    np.testing.assert_array_equal(count, np.bincount(keys, minlength=first_key).astype(float))
    np.testing.assert_array_equal(total, np.bincount(keys, weights=values[slots].astype(float), minlength=first_key))
    bounds = kernels.province_bounds(slots, block_start)
    for n_threads in (1, 3):  # however the provinces are dealt to threads
        dealt = kernels._count_and_sum_at(keys, values, slots, first_key, bounds, n_threads)
        for got, want in zip(dealt, (count, total)):
            np.testing.assert_array_equal(got, want)
        dense, n_dense = kernels._dense_index(keys, values[slots], bounds, n_threads)
        want_dense, want_n = kernels._dense_index(keys, values[slots], bounds, 2)
        np.testing.assert_array_equal(dense, want_dense)
        assert n_dense == want_n


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 127, 128, 129, 130, 255, 256, 257, 1000, 8193, 146_172, 1_000_003])
def test_streamed_pairwise_sum_is_numpy_sum(n):
    g = np.random.default_rng(n)
    a = g.normal(size=n) * 10.0 ** g.uniform(-4, 4, n)
    assert kernels.pairwise_sum(a) == a.sum()


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 257, 1000, 8193, 146_172])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_masked_pairwise_sum_is_numpy_sum_of_the_masked_values(n, dtype):
    """values x mask from slot a, slots from ``limit`` on counting as zeros: ``np.sum`` of that
    array bit for bit, wherever a and the limit fall within NumPy's blocks."""
    g = np.random.default_rng(n)
    values = (g.normal(size=n) * 10.0 ** g.uniform(-4, 4, n)).astype(dtype)
    mask = g.random(n) < 0.8
    for a, limit in ((0, n), (0, n // 2), (min(3, n), n - n // 3), (n // 5, n)):
        m = max(n - a, 0)
        dense = np.where(mask & (np.arange(n) < limit), values.astype(np.float64), 0.0)[a:]
        assert kernels.masked_pairwise_sum(values, mask, a, m, limit) == dense.sum()


def test_compact_segments_packs_each_province_after_the_one_before():
    out = np.array([1, 2, -9, -9, 5, -9, -9, 7, 8, 9, -9])
    base = np.array([0, 4, 4, 7])
    counts = np.array([2, 0, 1, 3])
    k = kernels.compact_segments(out, base, counts)
    assert k == 6 and out[:k].tolist() == [1, 2, 5, 7, 8, 9]


def test_active_below_lists_the_active_slots_below_the_threshold_in_the_values_type():
    from types import SimpleNamespace

    g = np.random.default_rng(5)
    n = 1000
    slots = SimpleNamespace(block_start=np.array([0, 300, 300, 700]), used=np.array([250, 0, 380, 300]),
                            active=g.random(n) < 0.8)
    a = g.random(n).astype(np.float32)
    a[::7] = np.float32(0.3)  # equal to the threshold in float32: not below it
    provinces = np.array([0, 2, 3])
    got = kernels.active_below(slots, provinces, a, 0.3)
    used = np.zeros(n, dtype=bool)
    for p in provinces:
        used[slots.block_start[p]:slots.block_start[p] + slots.used[p]] = True
    np.testing.assert_array_equal(got, np.flatnonzero(used & slots.active & (a < np.float32(0.3))))


def test_dense_index_labels_keys_in_order_of_first_appearance_province_by_province():
    """Runs (provinces) labelled in parallel give the labels of one walk over them all: each key
    where the mask holds numbered on first sight, -1 elsewhere."""
    rng = np.random.default_rng(3)
    sizes = [40, 0, 7, 90, 1, 33]
    keys = np.concatenate([100 * q + rng.integers(0, 12, s) for q, s in enumerate(sizes)]).astype(np.int32)
    mask = rng.random(keys.size) < 0.6
    bounds = np.cumsum([0] + sizes)
    got, n = kernels.dense_index(keys, mask, bounds)
    seen: dict[int, int] = {}
    want = np.full(keys.size, -1)
    for k in np.flatnonzero(mask):
        want[k] = seen.setdefault(int(keys[k]), len(seen))
    np.testing.assert_array_equal(got, want)
    assert n == len(seen)
    # nothing under the mask (no team in the communes' years): every entry -1 and no key, as the pass gives
    none = np.zeros(keys.size, dtype=bool)
    for got_none, n_none in (kernels.dense_index(keys, none, bounds), kernels._dense_index(keys, none, bounds, 2)):
        np.testing.assert_array_equal(got_none, np.full(keys.size, -1))
        assert int(n_none) == 0


@given(st.integers(0, 300), st.integers(1, 40), st.integers(0, 2**32 - 1))
@settings(max_examples=80, deadline=None)
def test_forms_counted_by_runs_as_household_by_household(n, run, seed):
    """``kernels._tally_forms`` (runs of one organisation, its form read once a run) counts what
    ``tally_form`` counts household by household: the active outside any organisation, then by form
    0..5 (an organisation of another form counted nowhere)."""
    rng = np.random.default_rng(seed)
    n_orgs = 12
    org_form = rng.integers(0, 7, n_orgs).astype(np.int8)  # 6: no form counted
    org = np.repeat(rng.integers(-1, n_orgs, max(n // run + 1, 1)), run)[:n].astype(np.int32)
    org[rng.random(n) < 0.1] = -1
    active = rng.random(n) < 0.85
    lo, hi = (int(x) for x in sorted(rng.integers(0, n + 1, 2)))
    got = np.zeros(8, dtype=np.int64)
    kernels._tally_forms(lo, hi, active, org, org_form, got)
    want = [0] * 7
    for i in range(lo, hi):
        want = list(kernels.tally_form(i, active, org, org_form, *want))
    np.testing.assert_array_equal(got[:7], want)
    assert got[7] == 0
