"""Turn the recorder's arrays into the output tables (the column contract of issue 2).

Year-end values for stocks, sums over the year (or month) for flows; rates per 1000 of the mean
population. ``procurement_mt`` is gross procurement as the record counts it (zhenggou: the
agricultural tax plus State purchases); ``agricultural_tax_mt`` is the tax part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hightide.engine.context import FLOW_NAMES
from hightide.results.recorder import NATIONAL_NAMES, STOCK_NAMES, Recorder

CONTRACT_COLUMNS = (
    "population_m", "rural_population_m", "rural_households_m", "urban_population_m",
    "birth_rate_permille", "death_rate_permille", "grain_output_mt", "grain_output_reported_mt",
    "agricultural_tax_mt", "procurement_mt", "resales_mt", "rural_grain_per_capita_kg",
    "share_individual_pct", "share_mutual_aid_pct", "share_elementary_apc_pct", "share_advanced_apc_pct",
    "share_commune_pct", "n_mutual_aid_teams", "n_elementary_apcs", "n_advanced_apcs", "n_communes",
    "draft_animals_m", "households_withdrawn", "organisations_dissolved",
)
EXTRA_COLUMNS = (
    "births_m", "deaths_m", "hunger_deaths_m", "state_purchase_mt", "state_grain_stock_mt",
    "household_grain_stock_mt", "grain_exports_mt", "grain_imports_mt", "urban_supply_mt",
    "seed_feed_mt", "rural_food_ratio", "migrants_m", "mutual_aid_joined", "mutual_aid_left",
    "mutual_aid_dissolved", "coop_joined", "share_coerced_pct", "coop_class_1_pct", "coop_class_2_pct",
    "coop_class_3_pct", "coop_yield_raised_pct", "coop_yield_flat_pct", "coop_yield_fell_pct", "accumulation_mt",
    "state_farm_output_mt", "n_state_farms",
)
COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS
PROVINCIAL_SKIP = ("state_grain_stock_mt", "grain_exports_mt", "grain_imports_mt", "state_farm_output_mt", "n_state_farms")
#: annual tables only: the flows of the State's grain year that starts in the row's year (``grain_year_sums``)
GRAIN_YEAR_COLUMNS = ("procurement_grain_year_mt", "resales_grain_year_mt")
#: first month of the State's grain year, July to June (the record's procurement and resales,
#: Walker 1984; the 1960/61 grain year of the CC directive of 7 Sep 1960)
GRAIN_YEAR_START_MONTH = 7


def _frames(rec: Recorder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long frames indexed by (t, province): stocks and flows."""
    n_months = rec.months_recorded
    s = rec.stocks[:n_months]
    f = rec.flows[:n_months]
    t, p = np.meshgrid(np.arange(n_months), np.arange(s.shape[1]), indexing="ij")
    idx = pd.MultiIndex.from_arrays([t.ravel(), p.ravel()], names=["t", "province"])
    stocks = pd.DataFrame(s.reshape(-1, len(STOCK_NAMES)), index=idx, columns=STOCK_NAMES)
    flows = pd.DataFrame(f.reshape(-1, len(FLOW_NAMES)), index=idx, columns=FLOW_NAMES)
    return stocks, flows


def _derive(stock_end: pd.DataFrame, flow_sum: pd.DataFrame, mean_pop: pd.Series, mean_rural: pd.Series,
            periods_per_year: float, national: pd.DataFrame | None) -> pd.DataFrame:
    s, f = stock_end, flow_sum
    out = pd.DataFrame(index=s.index)
    rural = s["rural_population"]
    urban = s["urban_population"]
    out["population_m"] = (rural + urban) / 1e6
    out["rural_population_m"] = rural / 1e6
    out["rural_households_m"] = s["rural_households"] / 1e6
    out["urban_population_m"] = urban / 1e6
    births = f["births"] + f["urban_births"]
    deaths = f["deaths"] + f["urban_deaths"]
    out["birth_rate_permille"] = births / mean_pop * 1000 * periods_per_year
    out["death_rate_permille"] = deaths / mean_pop * 1000 * periods_per_year
    out["grain_output_mt"] = f["production_kg"] / 1e9
    out["grain_output_reported_mt"] = f["reported_production_kg"] / 1e9
    out["agricultural_tax_mt"] = f["tax_kg"] / 1e9
    out["procurement_mt"] = (f["tax_kg"] + f["purchase_kg"]) / 1e9
    out["resales_mt"] = f["resale_kg"] / 1e9
    out["rural_grain_per_capita_kg"] = f["consumption_kg"] / mean_rural * periods_per_year
    hh = s["rural_households"].where(s["rural_households"] > 0)
    out["share_individual_pct"] = 100 * s["hh_individual"] / hh
    for form in ("mutual_aid", "elementary_apc", "advanced_apc", "commune"):
        out[f"share_{form}_pct"] = 100 * s[f"hh_{form}"] / hh
    out["n_mutual_aid_teams"] = s["n_mutual_aid"]
    out["n_elementary_apcs"] = s["n_elementary_apc"]
    out["n_advanced_apcs"] = s["n_advanced_apc"]
    out["n_communes"] = s["n_commune"]
    out["draft_animals_m"] = s["draft_animals"] / 1e6
    out["households_withdrawn"] = f["withdrawn"]
    out["organisations_dissolved"] = f["dissolved"]
    out["births_m"] = births / 1e6
    out["deaths_m"] = deaths / 1e6
    out["hunger_deaths_m"] = f["hunger_deaths"] / 1e6
    out["state_purchase_mt"] = f["purchase_kg"] / 1e9
    out["household_grain_stock_mt"] = s["household_grain_kg"] / 1e9
    out["urban_supply_mt"] = f["urban_supply_kg"] / 1e9
    out["seed_feed_mt"] = (f["seed_kg"] + f["feed_kg"]) / 1e9
    out["rural_food_ratio"] = f["consumption_kg"] / f["food_need_kg"].where(f["food_need_kg"] > 0)
    out["migrants_m"] = f["migrants"] / 1e6
    out["mutual_aid_joined"] = f["joined"]
    out["mutual_aid_left"] = f["left"]
    out["mutual_aid_dissolved"] = f["mat_dissolved"]
    out["coop_joined"] = f["coop_joined"]
    out["share_coerced_pct"] = 100 * s["hh_coerced"] / hh
    assessed = (s["n_class_1"] + s["n_class_2"] + s["n_class_3"]).where(lambda x: x > 0)
    for c in (1, 2, 3):
        out[f"coop_class_{c}_pct"] = 100 * s[f"n_class_{c}"] / assessed
    for k in ("raised", "flat", "fell"):
        out[f"coop_yield_{k}_pct"] = 100 * s[f"n_yield_{k}"] / assessed
    out["accumulation_mt"] = f["accumulation_kg"] / 1e9
    if national is not None:
        out["state_farm_output_mt"] = national["state_farm_kg"] / 1e9
        out["grain_output_mt"] = out["grain_output_mt"] + out["state_farm_output_mt"]
        out["grain_output_reported_mt"] = out["grain_output_reported_mt"] + out["state_farm_output_mt"]
        out["n_state_farms"] = national["state_farms"]
        out["state_grain_stock_mt"] = national["granary_end"] / 1e9
        out["grain_exports_mt"] = national["exports_kg"] / 1e9
        out["grain_imports_mt"] = national["imports_kg"] / 1e9
    return out


def grain_year_sums(flows: pd.DataFrame, year: np.ndarray, month: np.ndarray) -> pd.DataFrame:
    """Gross procurement (tax + purchase) and resales, Mt, summed over each grain year (July to
    June) that the months cover whole, indexed by the year it starts in. The record counts
    procurement and resales by grain year; ``procurement_mt`` and ``resales_mt`` are calendar
    years. The two procurement figures differ by the purchases made in June (the summer harvest),
    the resales by the whole spring, when famine relief came."""
    grain_year = year - (month < GRAIN_YEAR_START_MONTH)
    months = pd.Series(1, index=flows.index).groupby(grain_year).sum()
    whole = months.index[months == 12]
    sums = flows.groupby(grain_year)[["tax_kg", "purchase_kg", "resale_kg"]].sum().loc[whole]
    return pd.DataFrame({"procurement_grain_year_mt": (sums["tax_kg"] + sums["purchase_kg"]) / 1e9,
                         "resales_grain_year_mt": sums["resale_kg"] / 1e9})


def build_tables(rec: Recorder, province_names) -> dict[str, pd.DataFrame]:
    stocks, flows = _frames(rec)
    n_months = rec.months_recorded
    months = rec.start_month + np.arange(n_months)
    year_of_t = pd.Series(months // 12, index=np.arange(n_months))
    month_of_t = pd.Series(months % 12 + 1, index=np.arange(n_months))
    nat_arr = pd.DataFrame(rec.national[:n_months], columns=NATIONAL_NAMES)
    nat_arr["granary_end"] = nat_arr["granary_kg"]

    # national monthly
    s_nat = stocks.groupby(level="t").sum()
    f_nat = flows.groupby(level="t").sum()
    pop = s_nat["rural_population"] + s_nat["urban_population"]
    prev_pop = pop.shift(1)
    init = rec.initial_stocks.sum(axis=0)
    prev_pop.iloc[0] = init[STOCK_NAMES.index("rural_population")] + init[STOCK_NAMES.index("urban_population")]
    prev_rural = s_nat["rural_population"].shift(1)
    prev_rural.iloc[0] = init[STOCK_NAMES.index("rural_population")]
    monthly = _derive(s_nat, f_nat, (pop + prev_pop) / 2, (s_nat["rural_population"] + prev_rural) / 2, 12.0, nat_arr)
    monthly.insert(0, "month", month_of_t.values)
    monthly.insert(0, "year", year_of_t.values)

    # national annual (complete and partial years alike; means over the months of the year)
    def annual(s_df, f_df, pop_mean, rural_mean, national):
        g = year_of_t.values
        s_end = s_df.groupby(g).last()
        f_sum = f_df.groupby(g).sum()
        return _derive(s_end, f_sum, pop_mean.groupby(g).mean(), rural_mean.groupby(g).mean(), 1.0, national)

    nat_year = nat_arr.groupby(year_of_t.values).agg({"granary_end": "last", "exports_kg": "sum", "imports_kg": "sum",
                                                      "state_farm_kg": "sum", "state_farms": "last"})
    national_annual = annual(s_nat, f_nat, (pop + prev_pop) / 2, (s_nat["rural_population"] + prev_rural) / 2, nat_year)
    national_annual.index.name = "year"
    # the grain-year sums in the row of the year each starts in (NaN where not covered whole)
    national_annual = national_annual.reset_index().join(
        grain_year_sums(f_nat, year_of_t.values, month_of_t.values), on="year")

    # provincial annual
    frames = []
    n_prov = stocks.index.get_level_values("province").max() + 1
    for p in range(n_prov):
        s_p = stocks.xs(p, level="province")
        f_p = flows.xs(p, level="province")
        pop_p = s_p["rural_population"] + s_p["urban_population"]
        init_p = rec.initial_stocks[p]
        prev = pop_p.shift(1)
        prev.iloc[0] = init_p[STOCK_NAMES.index("rural_population")] + init_p[STOCK_NAMES.index("urban_population")]
        prev_r = s_p["rural_population"].shift(1)
        prev_r.iloc[0] = init_p[STOCK_NAMES.index("rural_population")]
        a = annual(s_p, f_p, (pop_p + prev) / 2, (s_p["rural_population"] + prev_r) / 2, None)
        a.index.name = "year"
        a = a.reset_index().join(grain_year_sums(f_p, year_of_t.values, month_of_t.values), on="year")
        a.insert(0, "province", province_names[p])
        frames.append(a)
    provincial = pd.concat(frames, ignore_index=True)
    cols = ["year", *COLUMNS, *GRAIN_YEAR_COLUMNS]
    return {
        "national_annual": national_annual[cols],
        "national_monthly": monthly[["year", "month", *COLUMNS]].reset_index(drop=True),
        "provincial_annual": provincial[["province", "year", *[c for c in COLUMNS if c not in PROVINCIAL_SKIP],
                                         *GRAIN_YEAR_COLUMNS]],
    }
