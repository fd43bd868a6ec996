"""Scalar outcomes of a run that the experiments compare, calibrate against or analyse.

Excess deaths follow the usual demographic definition (deaths above what the pre-famine death
rate would have given: Ashton et al. 1984; Peng 1987): deaths in 1959-61 less the population of
each year times the mean 1956-57 death rate. The baseline is the run's own, so a counterfactual
is measured against its own pre-famine mortality, not the record's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


def excess_deaths_m(annual: pd.DataFrame, years: tuple[int, int] = (1959, 1961),
                    baseline: tuple[int, int] = (1956, 1957)) -> float:
    """Deaths (million) in ``years`` above the mean death rate of ``baseline`` applied to each
    year's population."""
    a = annual.set_index("year")
    if not set(range(baseline[0], years[1] + 1)) <= set(a.index):
        return float("nan")
    rate = a.loc[baseline[0]:baseline[1], "death_rate_permille"].mean() / 1000.0
    span = a.loc[years[0]:years[1]]
    mean_pop = (span["population_m"] + a["population_m"].shift(1).loc[years[0]:years[1]]) / 2.0
    return float((span["deaths_m"] - rate * mean_pop).sum())


def _annual(column: str, year: int) -> Callable[[pd.DataFrame, pd.DataFrame], float]:
    def value(annual: pd.DataFrame, monthly: pd.DataFrame) -> float:
        row = annual.loc[annual["year"] == year, column]
        return float(row.iloc[0]) if len(row) else float("nan")
    return value


def _apc_share(year: int, month: int) -> Callable[[pd.DataFrame, pd.DataFrame], float]:
    def value(annual: pd.DataFrame, monthly: pd.DataFrame) -> float:
        row = monthly.loc[(monthly["year"] == year) & (monthly["month"] == month)]
        if not len(row):
            return float("nan")
        return float(row["share_elementary_apc_pct"].iloc[0] + row["share_advanced_apc_pct"].iloc[0])
    return value


@dataclass(frozen=True)
class Outcome:
    name: str
    label: str
    unit: str
    last_year: int  # the run must reach the end of this year
    compute: Callable[[pd.DataFrame, pd.DataFrame], float]

    def __call__(self, annual: pd.DataFrame, monthly: pd.DataFrame) -> float:
        return self.compute(annual, monthly)


OUTCOMES: dict[str, Outcome] = {o.name: o for o in (
    Outcome("excess_deaths_1959_61_m", "excess deaths 1959-61", "million", 1961,
            lambda a, m: excess_deaths_m(a)),
    Outcome("apc_share_1955_12_pct", "households in APCs, Dec 1955", "%", 1955, _apc_share(1955, 12)),
    Outcome("apc_share_1956_12_pct", "households in APCs, Dec 1956", "%", 1956, _apc_share(1956, 12)),
    Outcome("grain_output_1959_mt", "grain output 1959", "Mt", 1959, _annual("grain_output_mt", 1959)),
    Outcome("grain_output_1960_mt", "grain output 1960", "Mt", 1960, _annual("grain_output_mt", 1960)),
    Outcome("grain_output_1961_mt", "grain output 1961", "Mt", 1961, _annual("grain_output_mt", 1961)),
    Outcome("grain_output_1958_mt", "grain output 1958", "Mt", 1958, _annual("grain_output_mt", 1958)),
    Outcome("procurement_1959_mt", "procurement 1959", "Mt", 1959, _annual("procurement_mt", 1959)),
    Outcome("commune_share_1958_12_pct", "households in communes, Dec 1958", "%", 1958,
            _annual("share_commune_pct", 1958)),
    Outcome("population_1966_m", "population 1966", "million", 1966, _annual("population_m", 1966)),
    Outcome("draft_animals_1961_m", "draft animals 1961", "million", 1961, _annual("draft_animals_m", 1961)),
    Outcome("draft_animals_1965_m", "draft animals 1965", "million", 1965, _annual("draft_animals_m", 1965)),
)}


def evaluate(annual: pd.DataFrame, monthly: pd.DataFrame, names=None) -> dict[str, float]:
    """The named outcomes (default all) of one run; NaN where the run ends too early."""
    return {n: OUTCOMES[n](annual, monthly) for n in (names or OUTCOMES)}


def is_finite(x: float) -> bool:
    return bool(np.isfinite(x))
