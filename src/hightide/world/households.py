"""Households as a struct of typed arrays (MODEL.md §2.1; STYLE habit 1).

Slots are allocated once, in one contiguous block per province, with room for households formed
by family division. A household that dies out is flagged inactive, never removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hightide.world.slots import SlotArrays

# class after land reform [001 §V-§VI; 003]
POOR, LOWER_MIDDLE, UPPER_MIDDLE, RICH, LANDLORD = range(5)
CLASS_NAMES = ("poor", "lower_middle", "upper_middle", "rich", "landlord")

NO_ORG = -1

#: name -> (dtype, unit, meaning). The single declaration of household state.
HOUSEHOLD_SCHEMA: dict[str, tuple[str, str, str]] = {
    "active": ("bool", "-", "slot holds a living household"),
    "province": ("int8", "id", "province index into the province table"),
    "village": ("int32", "id", "village, unique nationally (its township and county: ``village_township``, ``township_county``)"),
    "klass": ("int8", "code", "class after land reform: poor, lower_middle, upper_middle, rich, landlord"),
    "five_guarantee": ("bool", "-", "no working-age labour power (widows, orphans, the old) [003]"),
    "children": ("int8", "persons", "members aged 0-14"),
    "adults": ("int8", "persons", "members aged 15-59"),
    "elderly": ("int8", "persons", "members aged 60+"),
    "land_mu": ("float32", "mu", "cultivated land owned (private until pooled)"),
    "draft_animals": ("float32", "head", "large draft animals owned (fractions: jointly owned)"),
    "grain_kg": ("float64", "kg", "household grain stock"),
    "attitude": ("float32", "index", "persistent attitude to collective farming [001 §V]"),
    "org": ("int32", "id", "organisation the household belongs to, or -1"),
    "joined_month": ("int16", "month index", "month the household joined its organisation, or -1"),
    "food_ratio": ("float32", "ratio", "food eaten / need, 3-month moving mean"),
    "reported_this_year_kg": ("float32", "kg", "output the household (its share of its unit) was reported to produce this year"),
    "reported_last_year_kg": ("float32", "kg", "output reported last year: the basis of the Leap's procurement plan"),
    "true_this_year_kg": ("float32", "kg", "output the household (its share of its unit) truly produced this year"),
    "true_last_year_kg": ("float32", "kg", "output truly produced last year"),
    "effort": ("float32", "ratio", "effort in the fields, growing-season mean of the unit's incentive (MODEL.md §4.3)"),
    "work_norm": ("float32", "ratio", "a collective member's customary effort, moving partially each growing month toward its unit's incentives (1 outside collectives; MODEL.md §4.3)"),
    "coerced": ("bool", "-", "joined its co-operative under pressure, below its willingness threshold [001 §V]"),
}
#: the most members of one age band a household may hold (int8 counts; ~10x any household seen)
MAX_BAND = 127

#: slot defaults other than zero, written when a slot is claimed (slots never claimed stay
#: untouched, so the spare capacity of a block costs no memory until used)
HOUSEHOLD_DEFAULTS = {"org": NO_ORG, "joined_month": -1, "food_ratio": 1.0, "effort": 1.0, "work_norm": 1.0}


@dataclass
class Households(SlotArrays):
    """Households: the struct of arrays of HOUSEHOLD_SCHEMA plus the per-province slot blocks.

    Township and county are properties of the village (``village_township``, ``township_county``,
    set at synthesis): a household never moves, and family division keeps the village."""

    village_township: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    township_county: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    SCHEMA = HOUSEHOLD_SCHEMA
    WHAT = "household"
    DEFAULTS = HOUSEHOLD_DEFAULTS

    @property
    def township(self) -> np.ndarray:
        """Township (xiang) of every slot, unique nationally (a new array)."""
        return self.village_township[self.village]

    @property
    def county(self) -> np.ndarray:
        """County (xian) of every slot, unique nationally (a new array)."""
        return self.township_county[self.township]

    def township_of(self, slots: np.ndarray) -> np.ndarray:
        """Township of the given slots."""
        return self.village_township[self.village[slots]]

    def persons(self) -> np.ndarray:
        return (self.children.astype(np.int32) + self.adults + self.elderly)

    def claim_slots(self, province: int, count: int) -> np.ndarray:
        return self.claim(province, count)
