"""The whole state of a run: provinces, households, organisations, the State's granary, towns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hightide.world.households import Households
from hightide.world.organisations import Organisations
from hightide.world.provinces import ProvinceTable


@dataclass
class World:
    provinces: ProvinceTable
    households: Households
    organisations: Organisations
    weight: np.ndarray  # float64 per province: real households represented by one simulated household
    productivity: np.ndarray  # float64 per province: TFP at the start month (kg per unit of f(x))
    normal_yield_per_mu: np.ndarray  # float64 per province: assessed normal yield for the tax, kg/mu/yr
    urban_population: np.ndarray  # float64 per province, real persons (not sampled)
    urban_food_ratio: np.ndarray  # float64 per province, last month's urban supply / need
    granary_kg: float  # the State's grain stock, real kg (national)
    n_townships_sampled: np.ndarray  # int per province
    n_townships_total: np.ndarray  # int per province (full scale)
    radicalism_trait: np.ndarray  # float64 per province: leadership radicalism drawn at the start (Kung & Chen 2011)
    zeal: np.ndarray  # float64 per province: how far it ran ahead of the nation under high pressure (MODEL.md §4.1)
    exaggeration: np.ndarray  # float64 per province: reported/true - 1 this month
    soil_damage: np.ndarray  # float64 per province: share of grain land damaged by the Leap's campaign techniques
    months_without_exit: int = 0  # months since members lost the right to withdraw (Lin 1990)
    n_villages: int = 0  # village ids run 0..n_villages-1 (set at synthesis; family division keeps the village)
    couples_apart: tuple = ()  # share of rural couples apart in each of the last months, oldest first (conception)
    #: per province, the rural fertility multiplier of each of the last ``GESTATION_MONTHS`` months
    #: (oldest first; None until the first month): this month's births were conceived in the oldest
    conception_fertility: np.ndarray | None = None
    private_plot_season: float = 0.0  # private plots' share of members' land, mean over this growing season so far

    def radicalism(self, params) -> np.ndarray:
        """Radicalism of each province's leadership: trait plus zeal built from its own history."""
        return self.radicalism_trait + params.radicalism_zeal_weight * self.zeal

    def province_villages(self) -> np.ndarray:
        """Each province's village ids, first and last (int64, one row per province; last < first
        when it has none): villages are numbered contiguously province by province at synthesis
        (townships too, and a township's villages in order)."""
        hh = self.households
        first_township = np.cumsum(self.n_townships_sampled) - self.n_townships_sampled
        lo = np.searchsorted(hh.village_township, first_township).astype(np.int64)
        hi = np.append(lo[1:], self.n_villages) - 1
        return np.stack([lo, hi], axis=1)

    def household_weight(self) -> np.ndarray:
        """Weight per household slot (by province block)."""
        hh = self.households
        return np.repeat(self.weight, hh.block_end - hh.block_start)
