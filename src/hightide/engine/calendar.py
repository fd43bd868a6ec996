"""The agricultural calendar (MODEL.md §3).

Summer harvest: wheat zone in June, rice zone (early rice) in July; autumn harvest: October in
both. Tax and procurement follow each harvest; organising work happens in the slack season.
"""

from __future__ import annotations

import numpy as np

from hightide.world.provinces import ZONE_RICE, ZONE_WHEAT

SUMMER_HARVEST = {ZONE_WHEAT: 6, ZONE_RICE: 7}
AUTUMN_HARVEST = 10
SLACK_SEASON = (11, 12, 1, 2, 3)
LUNAR_NEW_YEAR = 2


def year_of(month_index: int) -> int:
    return month_index // 12


def calendar_month(month_index: int) -> int:
    return month_index % 12 + 1


def harvest_season(zone: int, cal_month: int) -> str | None:
    """'summer', 'autumn' or None for a zone in a calendar month."""
    if cal_month == SUMMER_HARVEST[zone]:
        return "summer"
    if cal_month == AUTUMN_HARVEST:
        return "autumn"
    return None


def months_to_next_harvest(zone: int, cal_month: int) -> int:
    """Months from the end of ``cal_month`` until the next harvest month (inclusive), >= 1."""
    harvests = sorted((SUMMER_HARVEST[zone], AUTUMN_HARVEST))
    for h in harvests:
        if h > cal_month:
            return h - cal_month
    return harvests[0] + 12 - cal_month


def months_to_next_harvest_by_zone(zones: np.ndarray, cal_month: int) -> np.ndarray:
    lut = np.array([months_to_next_harvest(z, cal_month) for z in (ZONE_WHEAT, ZONE_RICE)])
    return lut[zones]
