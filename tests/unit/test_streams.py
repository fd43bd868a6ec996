"""engine/streams.py: named random streams keyed by (seed, process, province, month)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hightide.engine import streams


def draw(*key, n=8):
    return streams.generator(*key).random(n)


def test_same_key_same_numbers():
    np.testing.assert_array_equal(draw(3, "deaths_adult", 4, 100), draw(3, "deaths_adult", 4, 100))


@pytest.mark.parametrize("other", [
    (4, "deaths_adult", 4, 100),  # seed
    (3, "births", 4, 100),  # process
    (3, "deaths_adult", 5, 100),  # province
    (3, "deaths_adult", 4, 101),  # month
])
def test_any_part_of_the_key_changes_the_numbers(other):
    assert not np.allclose(draw(3, "deaths_adult", 4, 100), draw(*other))


def test_month_zero_and_province_zero_are_distinct_streams():
    # spawn keys (process, province, month + 1): month 0 must not collide with another process or province
    assert not np.allclose(draw(0, "x", 0, 0), draw(0, "x", 1, 0))
    assert not np.allclose(draw(0, "x", 0, 0), draw(0, "x", 0, 1))


def test_process_key_is_stable_not_salted_hash():
    # crc32 of the UTF-8 name: the same in every interpreter and on every run
    assert streams.process_key("weather") == zlib.crc32(b"weather")
    assert streams.process_key("weather") != streams.process_key("births")


def test_by_province_fills_each_block_from_its_own_stream():
    bs, be = np.array([0, 3, 3]), np.array([3, 3, 7])  # province 1 has an empty block
    u = streams.uniform(9, "p", 12, bs, be)
    np.testing.assert_array_equal(u[0:3], streams.generator(9, "p", 0, 12).random(3))
    np.testing.assert_array_equal(u[3:7], streams.generator(9, "p", 2, 12).random(4))


def test_used_uniform_marks_unused_slots_with_one():
    u = streams.used_uniform(1, "p", 0, np.array([0, 5]), np.array([2, 1]), 8)
    assert u.shape == (8,)
    assert np.all(u[[2, 3, 4, 6, 7]] == 1.0)
    assert np.all(u[[0, 1, 5]] < 1.0)


def test_events_mean_is_n_times_p_and_never_exceeds_n():
    size = 20_000
    bs, used = np.array([0]), np.array([size])
    n = np.full(size, 5)
    p = np.full(size, 0.3)
    total = 0
    for month in range(20):
        ev = streams.events(42, "test_events", month, bs, used, n, p)
        assert np.all(ev >= 0) and np.all(ev <= n)
        total += ev.sum()
    mean = total / (20 * size)
    # floor(np + U) has mean exactly np = 1.5 and sd 0.5: standard error 0.5 / sqrt(400000) < 0.001
    assert mean == pytest.approx(1.5, abs=0.005)


def test_events_with_certain_and_impossible_events():
    bs, used = np.array([0]), np.array([4])
    n = np.array([0, 3, 7, 2])
    assert streams.events(0, "e", 0, bs, used, n, np.array([1.0, 1.0, 1.0, 0.0])).tolist() == [0, 3, 7, 0]


def test_events_per_household_varying_p():
    rng = np.random.default_rng(5)
    size = 5000
    n = rng.integers(0, 10, size)
    p = rng.uniform(0, 1, size)
    ev = streams.events(1, "e", 3, np.array([0]), np.array([size]), n, p)
    assert np.all(ev <= n) and np.all(ev >= 0)
    assert np.all(np.abs(ev - n * p) < 1.0)  # floor(np + U) is within one of np
