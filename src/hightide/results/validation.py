"""Model against the record (MODEL.md §7), with stated tolerances.

Targets come from data/history (never read by a rule). Each target says its window: the
calibration window 1952-1957, where a few registry parameters are fitted, or out-of-sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Target:
    column: str  # model column
    record: str  # column of the history table
    years: tuple[int, ...]
    tolerance: float
    kind: str  # "rel" (fraction of the record), "abs" (same units, e.g. percentage points), "min" (model >= tolerance), "range" (lo, hi)
    table: str = "national_series"  # or "cooperativization"
    month: int | None = None  # for dated monthly points
    issue: str = "foundation"
    note: str = ""


def _years(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


TARGETS: tuple[Target, ...] = (
    Target("population_m", "population_total_m", _years(1952, 1957), 0.02, "rel", note="issue 2 must-show"),
    Target("grain_output_mt", "grain_output_mt", _years(1952, 1957), 0.07, "rel", note="issue 2 must-show"),
    Target("birth_rate_permille", "birth_rate_permille", _years(1952, 1957), 0.15, "rel"),
    Target("death_rate_permille", "death_rate_permille", _years(1952, 1957), 0.20, "rel"),
    Target("procurement_mt", "grain_procurement_gross_mt", _years(1953, 1957), 0.20, "rel", issue="state"),
    Target("draft_animals_m", "draft_animals_m", (1957,), 0.10, "rel", issue="institutions"),
    Target("population_m", "population_total_m", _years(1958, 1966), 0.03, "rel", issue="state"),
    Target("grain_output_mt", "grain_output_mt", _years(1958, 1965), 0.12, "rel", issue="state"),
    Target("procurement_mt", "grain_procurement_gross_mt", _years(1958, 1965), 0.20, "rel", issue="state"),
    Target("death_rate_permille", "death_rate_permille", _years(1959, 1961), 0.30, "rel", issue="state"),
    Target("birth_rate_permille", "birth_rate_permille", _years(1958, 1965), 0.20, "rel", issue="state",
           note="the famine's birth dip and the 1962-63 rebound"),
    Target("draft_animals_m", "draft_animals_m", (1965,), 0.15, "rel", issue="state",
           note="herds lost in the famine and rebuilt"),
    Target("share_mutual_aid_pct", "pct_households_mutual_aid_teams", _years(1952, 1954), 8.0, "abs",
           table="cooperativization", month=12, issue="institutions", note="approximate figures"),
    Target("n_apcs", "n_apc_total", (1954,), 0.30, "rel", table="cooperativization", month=4, issue="institutions",
           note="spring 1954 ~100,000 APCs"),
    Target("share_apc_pct", "pct_households_all_apc", (1955,), 6.0, "abs", table="cooperativization", month=7,
           issue="institutions"),
    Target("share_apc_pct", "pct_households_all_apc", (1956,), 8.0, "abs", table="cooperativization", month=5,
           issue="institutions"),
    Target("share_advanced_apc_pct", "pct_households_advanced_apc", (1956,), 12.0, "abs", table="cooperativization",
           month=5, issue="institutions"),
    Target("n_apcs", "n_apc_total", (1955,), 0.30, "rel", table="cooperativization", month=7, issue="institutions",
           note="nearly 650,000 APCs (CC55)"),
    Target("apc_size", "avg_households_per_apc", (1955,), 0.0, "range", table="cooperativization", month=7,
           issue="institutions", note="20-35 households per APC (seed: 26)"),
    Target("share_apc_pct", "pct_households_all_apc", (1956,), 90.0, "min", table="cooperativization", month=12,
           issue="institutions", note="at least 90% in APCs"),
    Target("share_advanced_apc_pct", "pct_households_advanced_apc", (1956,), 10.0, "abs", table="cooperativization",
           month=12, issue="institutions"),
    Target("share_commune_pct", "pct_households_communes", (1958,), 95.0, "min", table="cooperativization",
           month=10, issue="institutions", note="record 99%; pass = at least 95%"),
    Target("n_communes", "n_communes", (1958,), 0.30, "rel", table="cooperativization", month=10,
           issue="institutions", note="26,000+ communes (COMM58), not the seed's 20,000"),
)
RANGES = {"apc_size": (20.0, 35.0)}

CALIBRATION_WINDOW = (1952, 1957)


def load_history(name: str) -> pd.DataFrame:
    path = resources.files("hightide.data").joinpath(f"history/{name}.csv")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _record_value(target: Target, year: int, coop: pd.DataFrame, nat: pd.DataFrame) -> float:
    if target.table == "national_series":
        row = nat.loc[nat["year"] == year, target.record]
        return float(row.iloc[0]) if len(row) and pd.notna(row.iloc[0]) else np.nan
    ym = f"{year}-{target.month:02d}"
    season = {4: "spring", 7: "summer"}.get(target.month)
    dates = coop["date"].astype(str)
    if target.kind == "range":
        return float(np.mean(RANGES[target.column])) if target.column in RANGES else np.nan
    for mask in (dates == ym, dates.str.startswith(ym + "-"), dates == f"{year}-{season}"):
        rows = coop[mask & pd.to_numeric(coop[target.record], errors="coerce").notna()]
        if len(rows):
            return float(pd.to_numeric(rows[target.record]).iloc[0])
    return np.nan


def _model_value(target: Target, year: int, annual: pd.DataFrame, monthly: pd.DataFrame) -> float:
    if target.month is None:
        row = annual.loc[annual["year"] == year]
        return float(row[target.column].iloc[0]) if len(row) else np.nan
    row = monthly.loc[(monthly["year"] == year) & (monthly["month"] == target.month)]
    if not len(row):
        return np.nan
    r = row.iloc[0]
    if target.column == "n_apcs":
        return float(r["n_elementary_apcs"] + r["n_advanced_apcs"])
    if target.column == "share_apc_pct":
        return float(r["share_elementary_apc_pct"] + r["share_advanced_apc_pct"])
    if target.column == "apc_size":
        n = r["n_elementary_apcs"] + r["n_advanced_apcs"]
        hh = (r["share_elementary_apc_pct"] + r["share_advanced_apc_pct"]) / 100 * r["rural_households_m"] * 1e6
        return float(hh / n) if n > 0 else np.nan
    return float(r[target.column])


def validate(annual: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """One row per target and year: model, record, error, tolerance, pass/fail, window."""
    nat, coop = load_history("national_series"), load_history("cooperativization")
    rows = []
    for t in TARGETS:
        for year in t.years:
            rec = _record_value(t, year, coop, nat)
            mod = _model_value(t, year, annual, monthly)
            if np.isnan(rec) and t.kind != "range":
                continue
            if t.kind == "rel":
                err = (mod - rec) / rec
                ok = abs(err) <= t.tolerance
                tol = f"±{t.tolerance:.0%}"
                err_s = f"{err:+.1%}" if not np.isnan(err) else "n/a"
            elif t.kind == "abs":
                err = mod - rec
                ok = abs(err) <= t.tolerance
                tol = f"±{t.tolerance:g} pp"
                err_s = f"{err:+.1f} pp" if not np.isnan(err) else "n/a"
            elif t.kind == "min":
                ok = mod >= t.tolerance
                tol = f">= {t.tolerance:g}"
                err_s = f"{mod - rec:+.1f}" if not np.isnan(mod) else "n/a"
            else:
                lo, hi = RANGES[t.column]
                ok = lo <= mod <= hi
                tol = f"{lo:g}-{hi:g}"
                err_s = f"{mod - rec:+.1f}" if not np.isnan(mod) else "n/a"
            window = "calibration" if CALIBRATION_WINDOW[0] <= year <= CALIBRATION_WINDOW[1] else "out-of-sample"
            when = f"{year}-{t.month:02d}" if t.month else str(year)
            rows.append({"target": t.column, "when": when, "model": mod, "record": rec, "error": err_s,
                         "tolerance": tol, "pass": bool(ok) if not np.isnan(mod) else False, "window": window,
                         "issue": t.issue, "note": t.note})
    return pd.DataFrame(rows)
