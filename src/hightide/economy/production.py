"""Grain production (MODEL.md §4.3) for households farming alone or in mutual-aid teams.

Output = TFP(province, trend) x weather x land^a x labour^b x (1 + draft animals)^c x season share.
A mutual-aid team pools labour and animals across its members' land in the busy season
[001 §II, §VIII]; each member keeps the output of its own land and labour exchanged is repaid in
grain at the team's labour share, so the transfers sum to zero [MODEL.md §2.2].
"""

from __future__ import annotations

import numpy as np

from hightide.engine.streams import ProvinceStreams, generator
from hightide.params import ParameterSet

NATIONAL = 10_000  # stream key for the national weather component


def factor_index(params: ParameterSet, land, labour, animals) -> np.ndarray:
    """Cobb-Douglas index of inputs (Wiens 1982; Lin 1992 for the elasticities)."""
    land_term, labour_term, animal_term = factor_terms(params, land, labour, animals)
    return land_term * labour_term * animal_term


def land_term(params: ParameterSet, land, out=None):
    return np.power(np.maximum(land, 0.0), params.elasticity_land, out=out)


def labour_term(params: ParameterSet, labour, out=None):
    return np.power(np.maximum(labour, 0.0), params.elasticity_labour, out=out)


def animal_term(params: ParameterSet, animals, out=None):
    return np.power(1.0 + np.maximum(animals, 0.0), params.elasticity_animals, out=out)


def factor_terms(params: ParameterSet, land, labour, animals) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three factors of ``factor_index`` (their product, in this order, is the index). A term
    depends on its input alone, element by element, so a caller may reuse it where inputs repeat."""
    return land_term(params, land), labour_term(params, labour), animal_term(params, animals)


def disaster_shock(params: ParameterSet, year: int) -> float | None:
    """National log yield shock from the official disaster series, or None where it is blank:
    loss on the area affected beyond the 1950-59 mean (disasters_national.csv; an upper bound,
    since 1960-61 figures may include policy-made losses)."""
    table = _disasters()
    if year not in table:
        return None
    excess = table[year] - NORMAL_AFFECTED_SHARE
    return float(np.log(max(1.0 - params.disaster_loss_per_affected * excess, 0.05)))


NORMAL_AFFECTED_SHARE = 22.26 / 150.0  # 1950-59 mean affected area over ~150 M ha sown (disasters_national.csv)
_DISASTERS: dict[int, float] | None = None


def _disasters() -> dict[int, float]:
    """Affected share of total sown area by year (sown area ~150 M ha: the 1960 ratio 43.47% given there)."""
    global _DISASTERS
    if _DISASTERS is None:
        from importlib import resources

        import pandas as pd

        with resources.files("hightide.data").joinpath("inputs/disasters_national.csv").open("r", encoding="utf-8") as fh:
            df = pd.read_csv(fh)
        df = df[df["affected_m_ha"].notna()]
        _DISASTERS = {int(y): float(a) / 150.0 for y, a in zip(df["year"], df["affected_m_ha"])}
    return _DISASTERS


def weather(params: ParameterSet, seed: int, year: int, n_provinces: int, source: str = "random") -> np.ndarray:
    """Yield multiplier per province for a crop year: national and provincial lognormal shocks
    less the mean disaster loss ([001 §VI] frequent calamities; disasters_national.csv mean).
    With ``source="disasters"`` the national shock comes from the official disaster series where
    it has the year."""
    g_nat = generator(seed, "weather", NATIONAL, year)
    national = g_nat.normal(0.0, params.weather_sd_national)
    if source == "disasters":
        shock = disaster_shock(params, year)
        if shock is not None:
            national = shock + params.weather_sd_national**2 / 2
    streams = ProvinceStreams(seed, "weather", year)
    prov = np.array([streams[p].normal(0.0, params.weather_sd_province) for p in range(n_provinces)])
    sd2 = params.weather_sd_national**2 + params.weather_sd_province**2
    return np.exp(national + prov - sd2 / 2) * (1.0 - params.disaster_mean_loss)


def pooled_inputs(team: np.ndarray, land: np.ndarray, labour: np.ndarray, animals: np.ndarray,
                  n_teams: int) -> tuple[np.ndarray, np.ndarray]:
    """Labour and animals each member's land receives when a team pools them in proportion to land.

    ``team`` is the team index of each member (0..n_teams-1). Returns (labour_used, animals_used).
    """
    land_t = np.bincount(team, weights=land, minlength=n_teams)
    labour_t = np.bincount(team, weights=labour, minlength=n_teams)
    animals_t = np.bincount(team, weights=animals, minlength=n_teams)
    share = np.divide(land, land_t[team], out=np.zeros_like(land, dtype=np.float64), where=land_t[team] > 0)
    return labour_t[team] * share, animals_t[team] * share


def labour_exchange(params: ParameterSet, team: np.ndarray, output: np.ndarray, labour: np.ndarray,
                    labour_used: np.ndarray, n_teams: int) -> np.ndarray:
    """Grain each member receives (+) or pays (-) for labour given or received.

    Paid at the team's average labour share of output per unit of labour, so the transfers of a
    team sum to zero [001 §II: labour exchanged, each keeps its own output].
    """
    out_t = np.bincount(team, weights=output, minlength=n_teams)
    lab_t = np.bincount(team, weights=labour, minlength=n_teams)
    wage = np.divide(params.elasticity_labour * out_t, lab_t, out=np.zeros(n_teams), where=lab_t > 0)
    return wage[team] * (labour - labour_used)
