"""Validation of an ensemble against the record: the per-year targets of :mod:`validation` on the
ensemble's members, and the famine checks the State and grain-economy issue asks of an ensemble
of at least 8 seeds (MODEL.md §7: reported against the record with uncertainty).

Each per-year target is judged on the median across members (with the 5-95% band and the share
of members that pass on their own). The famine checks are:

- grain output within ±12% of the record in every year 1958-1965 (median per year); the trough
  of the median series in 1960 or 1961; the fall 1958 -> 1960 (median of the members' falls)
  between 20% and 35%;
- gross procurement within ±20% of the record, 1955-1965 where the record has it; reported 1958
  output at least 1.4 times true output (median of the members' ratios);
- the death-rate peak of the median series (1958-1962) in 1960; death rates 1959, 1960, 1961 each
  within ±30% (median per year); excess deaths 1959-61 (``outcomes.excess_deaths_m``, against the
  run's own 1956-57 rate) with a median between 15 and 45 million;
- births dip in 1959-61 (each below the 1956-57 mean birth rate) and rebound in 1962-63 (each
  above 1961), on the median series;
- the coefficient of variation of provincial 1960 death rates (across provinces, median across
  members) at least 0.4;
- each counterfactual ensemble given reduces excess deaths: the median of the member-by-member
  difference when the two ensembles share their seeds (common random numbers), else the
  difference of medians, below zero.

Nothing here is read by a rule: the record is only compared with, after the runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hightide.errors import OutputError
from hightide.experiments.outcomes import excess_deaths_m
from hightide.results.validation import CALIBRATION_WINDOW, TARGETS, _model_value, _record_value, load_history

#: what ``hightide validate --ensemble DIR`` writes into DIR (and the ensemble's report shows)
TARGETS_FILE = "validation_ensemble.csv"
CHECKS_FILE = "famine_checks.csv"
MIN_MEMBERS = 8  # the issue's "ensemble of at least 8 seeds"
YEARS_NEEDED = tuple(range(1955, 1966))  # the checks read 1955-1965 (1956-57 baselines, 1958-65 targets)
GRAIN_YEARS = tuple(range(1958, 1966))
PROCUREMENT_YEARS = tuple(range(1955, 1966))
DEATH_YEARS = (1959, 1960, 1961)


@dataclass(frozen=True)
class EnsembleRuns:
    """The tables of an ensemble's members (member order) and the seeds that ran them."""

    name: str
    seeds: tuple[int, ...]
    annual: tuple[pd.DataFrame, ...]
    monthly: tuple[pd.DataFrame, ...] = ()
    provincial: tuple[pd.DataFrame, ...] = ()

    @classmethod
    def load(cls, out) -> EnsembleRuns:
        """Read a finished ensemble directory (``hightide ensemble``)."""
        from hightide.experiments.ensembles import Ensemble

        ens = Ensemble.load(out)
        return cls(name=str(ens.manifest.get("scenario", out)),
                   seeds=tuple(int(s) for s in ens.members["seed"]),
                   annual=tuple(ens.member_tables("national_annual")),
                   monthly=tuple(ens.member_tables("national_monthly")),
                   provincial=tuple(ens.member_tables("provincial_annual")))

    @property
    def n(self) -> int:
        return len(self.annual)


def _by_year(tables, column: str) -> pd.DataFrame:
    """One column of every member: rows years, columns members."""
    return pd.concat([t.set_index("year")[column] for t in tables], axis=1, keys=range(len(tables)))


def _median(tables, column: str) -> pd.Series:
    return _by_year(tables, column).median(axis=1)


def per_year_table(runs: EnsembleRuns) -> pd.DataFrame:
    """The per-year targets of ``validation.TARGETS`` on the ensemble: one row per target and
    year with the model's 5%, 50% and 95% quantiles across members, the record, the error of the
    median, the tolerance, whether the median passes and the share of members that pass."""
    nat, coop = load_history("national_series"), load_history("cooperativization")
    monthly = runs.monthly or tuple(pd.DataFrame(columns=["year", "month"]) for _ in runs.annual)
    rows = []
    for t in TARGETS:
        if t.kind not in ("rel", "abs") or (t.month is None and t.column not in runs.annual[0].columns):
            continue
        for year in t.years:
            rec = _record_value(t, year, coop, nat)
            if np.isnan(rec):
                continue
            vals = np.array([_model_value(t, year, a, m) for a, m in zip(runs.annual, monthly)], dtype=float)
            if np.isnan(vals).all():
                continue
            q05, q50, q95 = np.nanquantile(vals, (0.05, 0.5, 0.95))
            if t.kind == "rel":
                errs = (vals - rec) / rec
                err, tol, err_s = (q50 - rec) / rec, f"±{t.tolerance:.0%}", f"{(q50 - rec) / rec:+.1%}"
            else:
                errs = vals - rec
                err, tol, err_s = q50 - rec, f"±{t.tolerance:g} pp", f"{q50 - rec:+.1f} pp"
            window = "calibration" if CALIBRATION_WINDOW[0] <= year <= CALIBRATION_WINDOW[1] else "out-of-sample"
            rows.append({"target": t.column, "when": f"{year}-{t.month:02d}" if t.month else str(year),
                         "model_q05": q05, "model_q50": q50, "model_q95": q95, "record": rec, "error": err_s,
                         "tolerance": tol, "pass": bool(abs(err) <= t.tolerance),
                         "members_pass": float(np.mean(np.abs(errs) <= t.tolerance)), "window": window,
                         "issue": t.issue})
    return pd.DataFrame(rows)


def _check(check: str, requirement: str, result: str, ok: bool) -> dict:
    return {"check": check, "requirement": requirement, "result": result, "pass": bool(ok)}


def _within(runs: EnsembleRuns, column: str, record_column: str, years, tolerance: float) -> tuple[str, bool]:
    rec = load_history("national_series").set_index("year")[record_column]
    med = _median(runs.annual, column)
    errs = {y: med.loc[y] / rec.loc[y] - 1.0 for y in years if y in med.index and pd.notna(rec.get(y))}
    if not errs:
        return "no years to compare", False
    fails = [f"{y} {e:+.1%}" for y, e in errs.items() if abs(e) > tolerance]
    worst = max(errs, key=lambda y: abs(errs[y]))
    text = f"worst {worst} {errs[worst]:+.1%}" + (f"; outside: {', '.join(fails)}" if fails else "")
    return text, not fails


def _argext(series: pd.Series, years, fn) -> int:
    s = series.loc[[y for y in years if y in series.index]]
    return int(fn(s))


def _excess(tables) -> np.ndarray:
    return np.array([excess_deaths_m(a) for a in tables], dtype=float)


def _band(values: np.ndarray, unit: str = "") -> str:
    q05, q50, q95 = np.quantile(values, (0.05, 0.5, 0.95))
    return f"{q50:.1f}{unit} [{q05:.1f} to {q95:.1f}]"


def _counterfactual(runs: EnsembleRuns, other: EnsembleRuns) -> dict:
    base = dict(zip(runs.seeds, _excess(runs.annual)))
    alt = dict(zip(other.seeds, _excess(other.annual)))
    shared = [s for s in other.seeds if s in base]
    if shared:
        diff = np.array([alt[s] - base[s] for s in shared])
        med = float(np.median(diff))
        text = (f"{_band(np.array(list(alt.values())), ' M')} against {np.median(list(base.values())):.1f} M; "
                f"paired difference {_band(diff, ' M')}, lower in {int((diff < 0).sum())} of {diff.size} members")
    else:
        med = float(np.median(list(alt.values())) - np.median(list(base.values())))
        text = (f"{_band(np.array(list(alt.values())), ' M')} against {np.median(list(base.values())):.1f} M "
                f"(no shared seeds: difference of medians {med:+.1f} M)")
    return _check(f"{other.name} reduces excess deaths", "median difference < 0", text, med < 0)


def famine_checks(runs: EnsembleRuns, counterfactuals: tuple[EnsembleRuns, ...] = ()) -> pd.DataFrame:
    """The famine checks listed in the module docstring, one row each: check, requirement,
    result (median, band, members) and pass. Every member must reach the end of 1965."""
    for r in (runs, *counterfactuals):
        if r.n == 0:
            raise OutputError(f"ensemble {r.name} has no members")
        for t in r.annual:
            missing = [y for y in YEARS_NEEDED if y not in set(t["year"])]
            if missing:
                raise OutputError(f"ensemble {r.name}: a member's run lacks {missing[0]}-{missing[-1]}; the famine "
                                  f"checks need runs through {YEARS_NEEDED[-1]} (the historical scenario's full period)")
    rows = [_check("members", f"at least {MIN_MEMBERS} seeds", f"{runs.n} members", runs.n >= MIN_MEMBERS)]
    a = runs.annual
    text, ok = _within(runs, "grain_output_mt", "grain_output_mt", GRAIN_YEARS, 0.12)
    rows.append(_check("grain output 1958-1965", "within ±12% of the record every year (median)", text, ok))
    grain = _median(a, "grain_output_mt")
    trough = _argext(grain, GRAIN_YEARS, pd.Series.idxmin)
    member_troughs = [_argext(t.set_index("year")["grain_output_mt"], GRAIN_YEARS, pd.Series.idxmin) for t in a]
    k = sum(y in (1960, 1961) for y in member_troughs)
    rows.append(_check("grain trough", "in 1960 or 1961 (median series)",
                       f"{trough}; 1960 or 1961 in {k} of {len(a)} members", trough in (1960, 1961)))
    by = _by_year(a, "grain_output_mt")
    falls = (1.0 - by.loc[1960] / by.loc[1958]).to_numpy(dtype=float)
    fall = float(np.median(falls))
    rows.append(_check("grain fall 1958-1960", "between 20% and 35% (median)",
                       f"{fall:.1%} [{np.quantile(falls, 0.05):.1%} to {np.quantile(falls, 0.95):.1%}]",
                       0.20 <= fall <= 0.35))
    text, ok = _within(runs, "procurement_mt", "grain_procurement_gross_mt", PROCUREMENT_YEARS, 0.20)
    rows.append(_check("procurement 1955-1965", "within ±20% of the record where recorded (median)", text, ok))
    ratio = (_by_year(a, "grain_output_reported_mt").loc[1958] / by.loc[1958]).to_numpy(dtype=float)
    rows.append(_check("reported 1958 output", "at least 1.4 x true output (median)",
                       f"{np.median(ratio):.2f} x true [{np.quantile(ratio, 0.05):.2f} to {np.quantile(ratio, 0.95):.2f}]",
                       float(np.median(ratio)) >= 1.4))
    deaths = _median(a, "death_rate_permille")
    peak = _argext(deaths, range(1958, 1963), pd.Series.idxmax)
    member_peaks = [_argext(t.set_index("year")["death_rate_permille"], range(1958, 1963), pd.Series.idxmax) for t in a]
    rows.append(_check("death-rate peak", "in 1960 (median series)",
                       f"{peak}; 1960 in {sum(y == 1960 for y in member_peaks)} of {len(a)} members", peak == 1960))
    text, ok = _within(runs, "death_rate_permille", "death_rate_permille", DEATH_YEARS, 0.30)
    rows.append(_check("death rates 1959-1961", "each within ±30% of the record (median)", text, ok))
    excess = _excess(a)
    med = float(np.median(excess))
    rows.append(_check("excess deaths 1959-61", "median between 15 and 45 million",
                       _band(excess, " M") + " (against each run's 1956-57 death rate)", 15.0 <= med <= 45.0))
    births = _median(a, "birth_rate_permille")
    before = float(births.loc[[1956, 1957]].mean())
    dip = all(births.loc[y] < before for y in (1959, 1960, 1961))
    rebound = all(births.loc[y] > births.loc[1961] for y in (1962, 1963))
    rows.append(_check("births", "dip 1959-61 below 1956-57, rebound 1962-63 above 1961 (median series)",
                       f"1956-57 {before:.1f}; 1959-61 " + " / ".join(f"{births.loc[y]:.1f}" for y in (1959, 1960, 1961))
                       + "; 1962-63 " + " / ".join(f"{births.loc[y]:.1f}" for y in (1962, 1963)) + " per 1000",
                       dip and rebound))
    if runs.provincial:
        cvs = []
        for p in runs.provincial:
            r = p.loc[p["year"] == 1960, "death_rate_permille"].astype(float)
            cvs.append(float(r.std() / r.mean()) if len(r) > 1 and r.mean() > 0 else np.nan)
        cvs = np.array(cvs)
        cv = float(np.nanmedian(cvs))
        rows.append(_check("provincial 1960 death rates", "coefficient of variation at least 0.4 (median; record ~0.7)",
                           f"{cv:.2f} (members {np.nanmin(cvs):.2f}-{np.nanmax(cvs):.2f})", cv >= 0.4))
    for other in counterfactuals:
        rows.append(_counterfactual(runs, other))
    return pd.DataFrame(rows)
