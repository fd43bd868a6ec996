"""economy/techniques.py: the Leap's deep ploughing and close planting, and the land's healing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hightide.economy import techniques
from hightide.params import resolve
from hightide.scenarios.schema import Policy


@pytest.fixture(scope="module")
def p():
    return resolve()


def test_a_year_of_monthly_reach_adds_up_to_the_annual_share():
    reach = techniques.reach_per_month(0.33, np.array([0.0]))
    damage = np.zeros(1)
    for _ in range(12):
        damage = techniques.damaged_share_next(damage, reach, half_life_years=1e9)  # no healing
    assert damage[0] == pytest.approx(0.33, rel=1e-9)


def test_radical_leaderships_push_the_campaign_harder():
    rad = np.array([-2.0, 0.0, 0.5, 10.0])
    reach = techniques.reach_per_month(0.3, rad)
    annual = 1.0 - (1.0 - reach) ** 12
    np.testing.assert_allclose(annual, [0.0, 0.3, 0.45, 1.0], rtol=1e-12)  # scaled as exaggeration; at most all land
    assert techniques.reach_per_month(0.0, rad).tolist() == [0.0] * 4


def test_damage_halves_every_half_life_once_the_campaign_stops():
    damage = np.array([0.4])
    for _ in range(24):
        damage = techniques.damaged_share_next(damage, np.zeros(1), half_life_years=2.0)
    assert damage[0] == pytest.approx(0.2, rel=1e-12)


def test_the_campaign_reaches_only_undamaged_land():
    out = techniques.damaged_share_next(np.array([0.5]), np.array([0.5]), half_life_years=1e12)
    assert out[0] == pytest.approx(0.75, rel=1e-9)


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.1, 10.0))
def test_damaged_share_stays_a_share(damage, reach, half_life):
    out = techniques.damaged_share_next(np.array([damage]), np.array([reach]), half_life)
    assert 0.0 <= out[0] <= 1.0
    assert out[0] >= reach - 1e-12  # what the campaign reached this month is damaged


def test_yield_factor_loses_the_share_on_damaged_land(p):
    got = techniques.yield_factor(p, np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(got, [1.0, 1.0 - 0.5 * p.campaign_technique_yield_loss,
                                     1.0 - p.campaign_technique_yield_loss], rtol=1e-12)


def test_update_moves_each_province_by_its_radicalism(p):
    world = SimpleNamespace(soil_damage=np.zeros(2), radicalism=lambda params: np.array([0.0, 1.0]))
    ctx = SimpleNamespace(params=p, policy=Policy(campaign_technique_share=0.3))
    techniques.update(world, ctx)
    assert 0.0 < world.soil_damage[0] < world.soil_damage[1]
    ctx.policy = Policy()
    before = world.soil_damage.copy()
    techniques.update(world, ctx)
    assert np.all(world.soil_damage < before)  # healing once the campaign stops
