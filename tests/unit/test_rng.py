"""engine/rng.py: the compiled SeedSequence + PCG64 give NumPy's numbers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from hightide.engine import rng, streams


@pytest.mark.parametrize("seed", [0, 1, 977, 2**32 + 5, 2**140 + 3])
@pytest.mark.parametrize("key", [(0, 0, 1), (streams.process_key("births"), 27, 181), (2**32 - 1, 3, 2**31)])
def test_pool_and_doubles_match_numpy(seed, key):
    ss = np.random.SeedSequence(entropy=seed, spawn_key=key)
    words = rng.entropy_words(seed, key)
    np.testing.assert_array_equal(rng.seed_pool(words), ss.pool)
    np.testing.assert_array_equal(rng.generate_state64(ss.pool, 4), ss.generate_state(4, np.uint64))
    out = np.full(2000, -1.0)
    rng.fill_random(words, out, 0, 2000)
    np.testing.assert_array_equal(out, np.random.Generator(np.random.PCG64(ss)).random(2000))


def test_block_streams_match_generator_per_province():
    starts, ends = np.array([0, 10, 10, 25]), np.array([10, 10, 25, 40])
    used = np.array([7, 0, 15, 3])
    u = streams.uniform(5, "organising", 700, starts, ends)
    uu = streams.used_uniform(5, "organising", 700, starts, used, 40)
    for p in range(4):
        ref = streams.generator(5, "organising", p, 700).random(int(ends[p] - starts[p]))
        np.testing.assert_array_equal(u[starts[p]:ends[p]], ref)
        np.testing.assert_array_equal(uu[starts[p]:starts[p] + used[p]], ref[:used[p]])
        assert (uu[starts[p] + used[p]:ends[p]] == 1.0).all()


def test_events_are_floor_np_plus_u():
    starts, used = np.array([0, 50]), np.array([40, 45])
    n = np.arange(100, dtype=np.int16) % 7
    p = np.linspace(0.0, 0.9, 100)
    u = streams.used_uniform(1, "births", 3, starts, used, 100)
    expected = np.minimum(np.floor(n * p + u), n).astype(np.int64)
    np.testing.assert_array_equal(streams.events(1, "births", 3, starts, used, n, p), expected)


def test_province_streams_are_the_keyed_generators():
    ps = streams.ProvinceStreams(7, "migration", 123)
    for p in (3, 0, 27):
        g = ps[p]
        ref = streams.generator(7, "migration", p, 123)
        np.testing.assert_array_equal(g.random(5), ref.random(5))
        np.testing.assert_array_equal(g.normal(0.0, 2.0, 9), ref.normal(0.0, 2.0, 9))
        np.testing.assert_array_equal(g.choice(1000, size=7, replace=False), ref.choice(1000, size=7, replace=False))


def test_uniform_at_gives_the_slots_draws():
    starts, ends = np.array([0, 10, 25]), np.array([10, 25, 40])
    full = streams.uniform(3, "heirs", 55, starts, ends)
    slots = np.array([24, 0, 11, 9, 39, 10, 10])
    np.testing.assert_array_equal(streams.uniform_at(3, "heirs", 55, starts, slots), full[slots])
    assert streams.uniform_at(3, "heirs", 55, starts, np.zeros(0, dtype=np.int64)).size == 0


def test_uniform_at_jumps_long_gaps_to_the_same_draws():
    """Slots far apart (gaps above ``rng.JUMP_STEPS``, jumped by ``advance``) and close together
    (stepped) get the draws one walk over every slot gives."""
    from hightide.engine import rng

    starts, ends = np.array([0, 5_000, 5_000, 20_000]), np.array([5_000, 5_000, 20_000, 20_001])
    full = streams.uniform(8, "heirs", 130, starts, ends)
    g = np.random.default_rng(5)
    slots = np.concatenate([[0, rng.JUMP_STEPS, 2 * rng.JUMP_STEPS + 1, 4_999, 5_000, 19_999, 20_000],
                            g.integers(0, 20_001, 300), g.integers(7_000, 7_050, 40)])
    np.testing.assert_array_equal(streams.uniform_at(8, "heirs", 130, starts, slots), full[slots])


@pytest.mark.parametrize("delta", [0, 1, 2, 7, 1000, 123_457, 2**40 + 3])
def test_advance_jumps_a_stream_as_numpy_does(delta):
    """``advance`` puts a stream ``delta`` steps on: the draws after it are NumPy's after
    ``PCG64.advance(delta)``, and for short jumps the tail of one pass in order."""
    seed, key = 11, (streams.process_key("peer_organising"), 0, 700)
    words = rng.entropy_words(seed, key)
    s_hi, s_lo, i_hi, i_lo = rng.pcg64_seed(words)
    a_hi, a_lo = rng.advance(s_hi, s_lo, i_hi, i_lo, delta)
    got = np.empty(50)
    for k in range(50):
        a_hi, a_lo, got[k] = rng.next_double(a_hi, a_lo, i_hi, i_lo)
    bg = np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=key))
    bg.advance(delta)
    np.testing.assert_array_equal(got, np.random.Generator(bg).random(50))
    if delta <= 123_457:
        whole = np.empty(delta + 50)
        rng.fill_random(words, whole, 0, delta + 50)
        np.testing.assert_array_equal(got, whole[delta:])
