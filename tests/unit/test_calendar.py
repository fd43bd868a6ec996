"""engine/calendar.py: harvest months and months to the next harvest."""

from __future__ import annotations

import numpy as np
import pytest

from hightide.engine.calendar import (
    calendar_month, harvest_season, months_to_next_harvest, months_to_next_harvest_by_zone, year_of,
)
from hightide.world.provinces import ZONE_RICE, ZONE_WHEAT


@pytest.mark.parametrize("month, expected", [
    (1, 5), (5, 1), (6, 4), (7, 3), (9, 1), (10, 8), (11, 7), (12, 6),
])
def test_wheat_zone_harvests_in_june_and_october(month, expected):
    assert months_to_next_harvest(ZONE_WHEAT, month) == expected


@pytest.mark.parametrize("month, expected", [
    (1, 6), (6, 1), (7, 3), (8, 2), (9, 1), (10, 9), (12, 7),
])
def test_rice_zone_harvests_in_july_and_october(month, expected):
    assert months_to_next_harvest(ZONE_RICE, month) == expected


def test_harvest_seasons():
    assert harvest_season(ZONE_WHEAT, 6) == "summer"
    assert harvest_season(ZONE_RICE, 7) == "summer"
    assert harvest_season(ZONE_RICE, 6) is None
    assert harvest_season(ZONE_WHEAT, 7) is None
    assert harvest_season(ZONE_WHEAT, 10) == harvest_season(ZONE_RICE, 10) == "autumn"
    assert [m for m in range(1, 13) if harvest_season(ZONE_WHEAT, m)] == [6, 10]
    assert [m for m in range(1, 13) if harvest_season(ZONE_RICE, m)] == [7, 10]


@pytest.mark.parametrize("zone", [ZONE_WHEAT, ZONE_RICE])
def test_months_to_next_harvest_is_between_1_and_12(zone):
    for m in range(1, 13):
        assert 1 <= months_to_next_harvest(zone, m) <= 12


def test_by_zone_lookup_matches_scalar():
    zones = np.array([ZONE_WHEAT, ZONE_RICE, ZONE_RICE, ZONE_WHEAT], dtype=np.int8)
    for m in range(1, 13):
        expected = [months_to_next_harvest(int(z), m) for z in zones]
        assert months_to_next_harvest_by_zone(zones, m).tolist() == expected


def test_month_index_helpers():
    idx = 1953 * 12 + 10  # November 1953
    assert year_of(idx) == 1953
    assert calendar_month(idx) == 11
