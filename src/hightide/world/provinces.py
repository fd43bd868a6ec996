"""Provincial inputs (data/inputs/provinces.csv) with documented fills for blank cells.

Fill rules (also in data/PROVENANCE.md):
- Ningxia has no 1953 census row of its own: it was part of Gansu 1954-58 and its people are in
  Gansu's census count, so the model has 28 provinces.
- Census counts are scaled pro rata to the national census total (the provinces sum to the
  directly surveyed population; the total adds ~8.5 M counted indirectly).
- Urban share in 1953: each province's 1957 share scaled so the nation matches the census
  13.26%; blank provinces take their crop zone's population-weighted mean.
- Grain output per rural person: mean of 1953-57 output / (population x (1 - urban share));
  blank provinces (Zhejiang, Sichuan, Neimenggu, Guangxi, Xizang, Xinjiang) take their crop
  zone's population-weighted mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from hightide.params import ParameterSet

ZONE_WHEAT, ZONE_RICE = 0, 1
YEARS = range(1953, 1958)


@dataclass(frozen=True)
class ProvinceTable:
    """One row per modelled province, as arrays (index = province id)."""

    name: np.ndarray  # str
    zone: np.ndarray  # int8, ZONE_WHEAT / ZONE_RICE
    liberated_early: np.ndarray  # bool
    minority_area: np.ndarray  # bool: autonomous region by 1966 [003 exemptions]
    population_start: np.ndarray  # float64 persons at the run start (Jan 1952)
    urban_share: np.ndarray  # float64
    grain_per_rural_person_kg: np.ndarray  # float64, 1953-57 mean

    @property
    def n(self) -> int:
        return len(self.name)

    @property
    def rural_population(self) -> np.ndarray:
        return self.population_start * (1.0 - self.urban_share)

    @property
    def urban_population(self) -> np.ndarray:
        return self.population_start * self.urban_share


def read_inputs() -> pd.DataFrame:
    path = resources.files("hightide.data").joinpath("inputs/provinces.csv")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _zone_mean(df: pd.DataFrame, col: str, weight: str) -> pd.Series:
    known = df[df[col].notna()]
    means = known.groupby("main_crop_zone").apply(lambda g: np.average(g[col], weights=g[weight]), include_groups=False)
    return df[col].fillna(df["main_crop_zone"].map(means))


def build_provinces(params: ParameterSet, start_year_fraction: float = 1952.0) -> ProvinceTable:
    """Province table at the run start (``start_year_fraction``, e.g. 1952.0 = 1 Jan 1952)."""
    df = read_inputs()
    df = df[df["census_1953_population"].notna()].reset_index(drop=True)  # drops Ningxia (in Gansu)
    census = df["census_1953_population"] * (params.census_national_total_m * 1e6 / df["census_1953_population"].sum())
    df["census"] = census
    df["urban_1957"] = _zone_mean(df, "urban_share_1957", "census")
    scale = params.urban_share_start / np.average(df["urban_1957"], weights=df["census"])
    df["urban"] = (df["urban_1957"] * scale).clip(upper=0.95)
    pop = df[[f"population_{y}_k" for y in YEARS]].to_numpy() * 1e3
    grain = df[[f"grain_output_{y}_kt" for y in YEARS]].to_numpy() * 1e6
    ratio = grain / (pop * (1.0 - df["urban_1957"].to_numpy()[:, None]))
    known = np.isfinite(ratio)
    per_rural = np.where(known.any(axis=1), np.where(known, ratio, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1), np.nan)
    df["grain_pc"] = per_rural
    df["grain_pc"] = _zone_mean(df, "grain_pc", "census")
    years_back = 1953.5 - start_year_fraction
    pop_start = census * np.exp(-params.census_backcast_growth * years_back)
    return ProvinceTable(
        name=df["province"].to_numpy(dtype=object),
        zone=np.where(df["main_crop_zone"] == "rice", ZONE_RICE, ZONE_WHEAT).astype(np.int8),
        liberated_early=(df["liberated"] == "early").to_numpy(),
        minority_area=df["autonomous_region_year"].notna().to_numpy(),
        population_start=pop_start.to_numpy(dtype=np.float64),
        urban_share=df["urban"].to_numpy(dtype=np.float64),
        grain_per_rural_person_kg=df["grain_pc"].to_numpy(dtype=np.float64),
    )
