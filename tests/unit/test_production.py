"""economy/production.py: the Cobb-Douglas index, pooling in mutual-aid teams, labour exchange, weather."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hightide.economy.production import factor_index, labour_exchange, pooled_inputs, weather
from hightide.params import resolve


def arr(*values):
    return np.array(values, dtype=np.float64)


# --------------------------------------------------------------------------- factor_index


def test_factor_index_paper_values():
    p = resolve({"elasticity_land": 0.5, "elasticity_labour": 0.5, "elasticity_animals": 0.0})
    # sqrt(4) x sqrt(9) x 1 = 6; sqrt(16) x sqrt(1) = 4; no land -> 0
    got = factor_index(p, arr(4.0, 16.0, 0.0), arr(9.0, 1.0, 9.0), arr(3.0, 0.0, 1.0))
    np.testing.assert_allclose(got, [6.0, 4.0, 0.0], rtol=1e-12)


def test_factor_index_animals_enter_as_one_plus_animals():
    p = resolve({"elasticity_land": 0.5, "elasticity_labour": 0.5, "elasticity_animals": 0.25})
    # sqrt(4) x sqrt(4) x (1 + 15)^0.25 = 2 x 2 x 2 = 8; no animals -> (1+0)^c = 1
    np.testing.assert_allclose(factor_index(p, arr(4.0, 4.0), arr(4.0, 4.0), arr(15.0, 0.0)), [8.0, 4.0], rtol=1e-12)


def test_factor_index_with_default_elasticities(params):
    land, labour, animals = arr(10.0), arr(2.5), arr(1.0)
    expected = 10.0**params.elasticity_land * 2.5**params.elasticity_labour * 2.0**params.elasticity_animals
    assert factor_index(params, land, labour, animals)[0] == pytest.approx(expected, rel=1e-12)


def test_factor_index_treats_negative_inputs_as_zero(params):
    got = factor_index(params, arr(-1.0, 4.0), arr(2.0, -3.0), arr(-5.0, 0.0))
    np.testing.assert_array_equal(got, [0.0, 0.0])


# --------------------------------------------------------------------------- pooled_inputs


def test_pooled_inputs_paper_values():
    # team 0: land 1 and 3, labour 4 and 0, animals 2 and 0 -> labour 1 and 3, animals 0.5 and 1.5
    # team 1: one member, keeps its own
    team = np.array([0, 0, 1])
    lu, au = pooled_inputs(team, arr(1.0, 3.0, 5.0), arr(4.0, 0.0, 2.0), arr(2.0, 0.0, 1.0), 2)
    np.testing.assert_allclose(lu, [1.0, 3.0, 2.0])
    np.testing.assert_allclose(au, [0.5, 1.5, 1.0])


@st.composite
def _teams(draw):
    n = draw(st.integers(1, 40))
    n_teams = draw(st.integers(1, 6))
    team = np.array(draw(st.lists(st.integers(0, n_teams - 1), min_size=n, max_size=n)))
    pos = st.floats(0.0, 100.0, allow_nan=False)
    land = np.array(draw(st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n)))
    labour = np.array(draw(st.lists(pos, min_size=n, max_size=n)))
    animals = np.array(draw(st.lists(st.floats(0.0, 5.0), min_size=n, max_size=n)))
    return team, land, labour, animals, n_teams


@given(_teams())
def test_pooled_inputs_preserve_team_totals_and_follow_land(case):
    team, land, labour, animals, n_teams = case
    lu, au = pooled_inputs(team, land, labour, animals, n_teams)
    np.testing.assert_allclose(np.bincount(team, lu, n_teams), np.bincount(team, labour, n_teams), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.bincount(team, au, n_teams), np.bincount(team, animals, n_teams), rtol=1e-9, atol=1e-9)
    # within a team, labour per mu is the same for every member
    land_t = np.bincount(team, land, n_teams)
    per_mu = np.divide(np.bincount(team, labour, n_teams), land_t, out=np.zeros(n_teams), where=land_t > 0)
    np.testing.assert_allclose(lu / land, per_mu[team], rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- labour_exchange


def test_labour_exchange_paper_values():
    p = resolve({"elasticity_labour": 0.5})
    # one team: outputs 60 and 40 (total 100), labour 3 and 1 (total 4): wage = 0.5 x 100 / 4 = 12.5
    # labour used 1 and 3: member 0 gave 2 units -> +25, member 1 received 2 -> -25
    got = labour_exchange(p, np.array([0, 0]), arr(60.0, 40.0), arr(3.0, 1.0), arr(1.0, 3.0), 1)
    np.testing.assert_allclose(got, [25.0, -25.0])


def test_labour_rich_member_receives_land_rich_member_pays(params):
    team = np.array([0, 0, 0])
    land, labour, animals = arr(2.0, 10.0, 5.0), arr(3.0, 0.5, 1.5), arr(0.0, 1.0, 0.0)
    lu, au = pooled_inputs(team, land, labour, animals, 1)
    out = factor_index(params, land, lu, au)
    t = labour_exchange(params, team, out, labour, lu, 1)
    assert t[0] > 0  # few mu, many hands: gives labour, is paid
    assert t[1] < 0  # many mu, few hands: receives labour, pays
    assert abs(t.sum()) < 1e-9 * out.sum()


@st.composite
def _realistic_teams(draw):
    """Teams of 2-15 households with land 0.5-60 mu, labour 0-6 units, 0-3 animals."""
    n_teams = draw(st.integers(1, 4))
    sizes = [draw(st.integers(2, 15)) for _ in range(n_teams)]
    team = np.repeat(np.arange(n_teams), sizes)
    n = len(team)
    land = np.array(draw(st.lists(st.floats(0.5, 60.0), min_size=n, max_size=n)))
    labour = np.array(draw(st.lists(st.floats(0.0, 6.0), min_size=n, max_size=n)))
    animals = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.float64)
    return team, land, labour, animals, n_teams


@given(_realistic_teams())
def test_labour_exchange_sums_to_zero_and_never_exceeds_payers_output(case):
    p = resolve()
    team, land, labour, animals, n_teams = case
    lu, au = pooled_inputs(team, land, labour, animals, n_teams)
    out = factor_index(p, land, lu, au) * (1 + p.mutual_aid_pooling_bonus)
    t = labour_exchange(p, team, out, labour, lu, n_teams)
    np.testing.assert_allclose(np.bincount(team, t, n_teams), 0.0, atol=1e-9 * max(out.sum(), 1.0))
    # sign follows labour given (+) or received (-)
    assert np.all(np.sign(t[np.abs(labour - lu) > 1e-9]) == np.sign((labour - lu)[np.abs(labour - lu) > 1e-9]))
    payers = t < 0
    assert np.all(-t[payers] <= out[payers] + 1e-9)
    assert np.all(out + t >= -1e-9)


def test_labour_exchange_is_zero_when_nobody_exchanges(params):
    team = np.array([0, 0, 1])
    labour = arr(1.0, 2.0, 3.0)
    np.testing.assert_array_equal(labour_exchange(params, team, arr(10.0, 20.0, 30.0), labour, labour, 2), 0.0)


# --------------------------------------------------------------------------- weather


def test_weather_is_deterministic_for_seed_and_year(params):
    a = weather(params, 7, 1953, 28)
    b = weather(params, 7, 1953, 28)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (28,)
    assert np.all(a > 0)


def test_weather_differs_by_year_and_seed(params):
    a = weather(params, 7, 1953, 28)
    assert not np.allclose(a, weather(params, 7, 1954, 28))
    assert not np.allclose(a, weather(params, 8, 1953, 28))


def test_weather_of_a_province_does_not_depend_on_how_many_provinces_there_are(params):
    np.testing.assert_array_equal(weather(params, 3, 1960, 5), weather(params, 3, 1960, 28)[:5])


def test_weather_without_shocks_is_one_minus_disaster_loss():
    p = resolve({"weather_sd_national": 0.0, "weather_sd_province": 0.0, "disaster_mean_loss": 0.1})
    np.testing.assert_allclose(weather(p, 0, 1955, 4), 0.9, rtol=1e-12)


def test_weather_mean_over_many_years_is_one_minus_disaster_loss(params):
    years = range(1000, 2200)
    w = np.array([weather(params, 11, y, 5) for y in years])
    # standard error ~ sd_national / sqrt(1200) + sd_province / sqrt(6000) ~ 0.0013; allow 0.005
    assert w.mean() == pytest.approx(1.0 - params.disaster_mean_loss, abs=0.005)
    assert w.std() > 0.03  # shocks are there
