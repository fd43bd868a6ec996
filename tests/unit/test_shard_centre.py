"""engine/sharding.py: provinces to shards, the centre's aggregation, shard worlds split and merged."""

from __future__ import annotations

import numpy as np
import pytest

from hightide.engine.context import StepContext
from hightide.engine.sharding import (
    ShardMismatch,
    assign_provinces,
    combine,
    merge,
    owners,
    restrict,
)
from hightide.errors import ScenarioError
from hightide.params import resolve
from hightide.scenarios import load_scenario
from hightide.world.synthesis import build_world


def test_provinces_are_split_into_contiguous_runs_of_about_equal_households():
    sizes = np.array([10, 10, 10, 10, 40, 10, 10], dtype=float)
    parts = assign_provinces(sizes, 3)
    assert np.array_equal(np.concatenate(parts), np.arange(7))
    assert all(p.size >= 1 for p in parts)
    loads = [sizes[p].sum() for p in parts]
    assert max(loads) <= 50
    assert [p.tolist() for p in assign_provinces(sizes, 1)] == [list(range(7))]
    assert [p.size for p in assign_provinces(sizes, 7)] == [1] * 7  # one province each
    with pytest.raises(ScenarioError):
        assign_provinces(sizes, 8)
    with pytest.raises(ScenarioError):
        assign_provinces(sizes, 0)


def test_every_province_has_exactly_one_owner():
    assert owners([np.array([0, 2]), np.array([1])], 3).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="two shards"):
        owners([np.array([0, 1]), np.array([1, 2])], 3)
    with pytest.raises(ValueError, match="no shard"):
        owners([np.array([0]), np.array([2])], 3)


def test_the_centre_places_each_shards_rows_at_its_provinces_unchanged():
    rng = np.random.default_rng(1)
    full = rng.normal(size=(6, 3)) * 10.0 ** rng.integers(-8, 8, size=(6, 3))
    assignment = [np.array([0, 1, 2]), np.array([3]), np.array([4, 5])]
    parts = [full[a] for a in assignment]
    out = combine(parts, assignment, 6)
    assert out.dtype == full.dtype
    assert np.array_equal(out.view(np.uint64), full.view(np.uint64))  # bit for bit: copied, never added
    # the national total taken from the combined rows is the single-process one
    assert np.sum(out[:, 1]) == np.sum(full[:, 1])
    # non-contiguous ownership works the same
    odd = [np.array([1, 3, 5]), np.array([0, 2, 4])]
    assert np.array_equal(combine([full[a] for a in odd], odd, 6), full)
    ints = np.arange(6, dtype=np.int64)
    assert combine([ints[a] for a in assignment], assignment, 6).dtype == np.int64


def test_the_centre_refuses_rows_that_do_not_match_the_provinces():
    assignment = [np.array([0, 1]), np.array([2])]
    with pytest.raises(ShardMismatch):
        combine([np.zeros(2), np.zeros(2)], assignment, 3)
    with pytest.raises(ShardMismatch):
        combine([np.zeros((2, 2)), np.zeros((1, 3))], assignment, 3)


def test_one_process_gather_returns_its_own_values():
    sc = load_scenario("historical")
    ctx = StepContext(month=sc.start_month, start_month=sc.start_month, policy=None, params=resolve(), seed=0,
                      n_provinces=3)
    values = np.array([1.0, 2.0, 3.0])
    assert ctx.gather("anything", values) is values


@pytest.fixture(scope="module")
def small_world():
    sc = load_scenario("historical")
    return build_world(resolve({"townships_min_per_province": 1.0}), 0.0002, 0, sc.start_month)


def test_a_shard_holds_its_provinces_only_and_the_shards_merge_back_to_the_world(small_world):
    w = small_world
    assignment = assign_provinces(w.households.used, 3)
    shards = [restrict(w, a) for a in assignment]
    for shard, provinces in zip(shards, assignment):
        hh = shard.households
        mine = np.zeros(w.provinces.n, dtype=bool)
        mine[provinces] = True
        assert np.array_equal(hh.used, np.where(mine, w.households.used, 0))
        assert np.array_equal(hh.block_start, w.households.block_start)  # same layout: same slot ids
        assert set(np.unique(hh.province[hh.active])) == set(provinces.tolist())
        assert hh.active.sum() == sum(int(w.households.active[a:a + n].sum()) for a, n in
                                      zip(w.households.block_start[provinces], w.households.used[provinces]))
        assert shard.granary_kg == w.granary_kg
        assert np.array_equal(shard.weight, w.weight)
    back = merge(shards, assignment)
    for name, arr in w.households.arrays.items():
        assert np.array_equal(back.households.arrays[name], arr), name
    assert np.array_equal(back.households.used, w.households.used)
    assert np.array_equal(back.organisations.used, w.organisations.used)
    for name in ("weight", "zeal", "urban_population", "radicalism_trait"):
        assert np.array_equal(getattr(back, name), getattr(w, name))


def test_merge_refuses_shards_that_disagree_on_the_nation(small_world):
    assignment = assign_provinces(small_world.households.used, 2)
    shards = [restrict(small_world, a) for a in assignment]
    shards[1].granary_kg += 1.0
    with pytest.raises(ShardMismatch, match="granary_kg"):
        merge(shards, assignment)
