"""Ensemble validation: the famine checks and the per-year targets on synthetic members built
from the record itself, so every check's outcome is known in advance (and each can fail)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hightide.errors import OutputError
from hightide.results.ensemble_validation import EnsembleRuns, famine_checks, per_year_table

def _provinces(cv: float) -> pd.DataFrame:
    rates = 20.0 * (1.0 + cv * np.array([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]) / np.std([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5], ddof=1))
    return pd.DataFrame({"province": range(7), "year": 1960, "death_rate_permille": rates})


def _runs(members, name="historical", seeds=None, cv=0.6) -> EnsembleRuns:
    seeds = tuple(seeds if seeds is not None else range(len(members)))
    return EnsembleRuns(name=name, seeds=seeds, annual=tuple(members),
                        provincial=tuple(_provinces(cv) for _ in members))


def _check(table: pd.DataFrame, name: str) -> pd.Series:
    rows = table[table["check"] == name]
    assert len(rows) == 1, name
    return rows.iloc[0]


def test_the_record_passes_its_own_checks_except_the_excess_death_band(record_member):
    """The record's own official death rates give ~13.9 M excess deaths, below the 15-45 M band
    of the reconstructions: the check says so rather than passing everything."""
    checks = famine_checks(_runs([record_member() for _ in range(8)]))
    failed = set(checks.loc[~checks["pass"], "check"])
    assert failed == {"excess deaths 1959-61"}, checks
    assert "13.9 M" in _check(checks, "excess deaths 1959-61")["result"]
    assert "1960" in _check(checks, "grain trough")["result"]
    assert "28.2%" in _check(checks, "grain fall 1958-1960")["result"]


def test_grain_outside_the_band_fails_and_names_the_year(record_member):
    members = [record_member(grain_scale={1962: 1.18}) for _ in range(8)]
    row = _check(famine_checks(_runs(members)), "grain output 1958-1965")
    assert not row["pass"]
    assert "1962 +18.0%" in row["result"]


def test_a_shallow_fall_and_a_late_peak_fail(record_member):
    members = [record_member(grain_scale={1960: 1.15, 1961: 1.2}, death_scale={1961: 2.0}) for _ in range(8)]
    checks = famine_checks(_runs(members))
    assert not _check(checks, "grain fall 1958-1960")["pass"]
    assert not _check(checks, "death-rate peak")["pass"]
    assert "1961" in _check(checks, "death-rate peak")["result"]


def test_excess_deaths_in_the_band_pass(record_member):
    members = [record_member(death_scale={1959: 1.3, 1960: 1.3, 1961: 1.3}) for _ in range(8)]
    assert _check(famine_checks(_runs(members)), "excess deaths 1959-61")["pass"]


def test_reported_output_and_member_count(record_member):
    checks = famine_checks(_runs([record_member(exaggeration=1.2) for _ in range(5)]))
    assert not _check(checks, "reported 1958 output")["pass"]
    assert not _check(checks, "members")["pass"]
    assert "5 members" in _check(checks, "members")["result"]


@pytest.mark.parametrize("cv, ok", [(0.6, True), (0.3, False)])
def test_provincial_spread(cv, ok, record_member):
    row = _check(famine_checks(_runs([record_member() for _ in range(8)], cv=cv)), "provincial 1960 death rates")
    assert bool(row["pass"]) == ok
    assert f"{cv:.2f}" in row["result"]


def test_counterfactuals_are_paired_by_seed(record_member):
    base = [record_member(death_scale={1960: 1.0 + 0.1 * k}) for k in range(8)]
    lower = [record_member(death_scale={1960: 0.9 + 0.1 * k}) for k in range(8)]
    higher = [record_member(death_scale={1960: 1.1 + 0.1 * k}) for k in range(8)]
    checks = famine_checks(_runs(base), (_runs(lower, "lower"), _runs(higher, "higher")))
    low, high = _check(checks, "lower reduces excess deaths"), _check(checks, "higher reduces excess deaths")
    assert low["pass"] and "lower in 8 of 8 members" in low["result"]
    assert not high["pass"] and "lower in 0 of 8 members" in high["result"]
    unpaired = famine_checks(_runs(base), (_runs(lower, "lower", seeds=range(100, 108)),))
    assert "no shared seeds" in _check(unpaired, "lower reduces excess deaths")["result"]


def test_runs_that_end_early_are_refused_with_a_clear_message(record_member):
    short = [record_member().query("year <= 1957") for _ in range(8)]
    with pytest.raises(OutputError, match="through 1965"):
        famine_checks(_runs(short))


def test_per_year_targets_report_median_band_and_members_passing(record_member):
    members = [record_member(grain_scale={1962: 1.0 + 0.035 * k}) for k in range(8)]
    table = per_year_table(_runs(members))
    row = table[(table["target"] == "grain_output_mt") & (table["when"] == "1962")].iloc[0]
    assert row["model_q05"] < row["model_q50"] < row["model_q95"]
    assert row["model_q50"] / row["record"] == pytest.approx(1.1225) and not row["pass"]
    assert row["members_pass"] == 0.5  # members 0-3 are within 12%
    other = table[(table["target"] == "grain_output_mt") & (table["when"] == "1961")].iloc[0]
    assert other["pass"] and other["members_pass"] == 1.0 and other["window"] == "out-of-sample"
