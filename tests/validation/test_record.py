"""The model against the record in the calibration window, 1952-1957 (MODEL.md §7; issue 2 must-show).

Runs the bundled ``no_collectivization`` scenario (farming alone or in mutual-aid teams) at the default
scale 0.001 and seed 0, ended at 1957-12 (~6-8 s). Tolerances, as in results/validation.py TARGETS:

- national grain output within ±7% of the record (data/history/national_series.csv grain_output_mt)
  in every year 1952-1957;
- total population within ±2% of the record (population_total_m) in every year 1952-1957;
- the towns on the recorded urban path (a policy input, not a target: MODEL.md §4.5) within
  1 M at every year-end 1952-1957, which checks the start share and the derived net migrations
  (tools/derive_urban_migration.py) against the model's own urban births and deaths.
"""

from __future__ import annotations

import textwrap

import pytest

import hightide.api
from hightide.results.validation import load_history

YEARS = range(1952, 1958)
GRAIN_TOLERANCE = 0.07
POPULATION_TOLERANCE = 0.02
URBAN_PATH_TOLERANCE_M = 1.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("record") / "no_collectivization_1957.toml"
    path.write_text(textwrap.dedent(
        """\
        [scenario]
        name = "no_collectivization_1957"
        base = "no_collectivization"
        description = "no_collectivization, ended at 1957-12, for the record tests"
        end = "1957-12"
        """), encoding="utf-8")
    res = hightide.api.run(path, scale=0.001, seed=0)
    assert res.manifest["status"] == "complete"
    return res.national_annual.set_index("year")


@pytest.fixture(scope="module")
def record():
    return load_history("national_series").set_index("year")


def _errors(model, record, column, record_column):
    return {y: model.loc[y, column] / record.loc[y, record_column] - 1.0 for y in YEARS}


def test_run_covers_the_window(run):
    assert list(run.index) == list(YEARS)


def test_grain_output_within_7_percent_of_the_record(run, record):
    errors = _errors(run, record, "grain_output_mt", "grain_output_mt")
    bad = {y: f"{e:+.1%}" for y, e in errors.items() if abs(e) > GRAIN_TOLERANCE}
    assert not bad, f"grain output off the record by more than ±7% in {bad}; all years: " + \
        ", ".join(f"{y} {e:+.1%}" for y, e in errors.items())


def test_population_within_2_percent_of_the_record(run, record):
    errors = _errors(run, record, "population_m", "population_total_m")
    bad = {y: f"{e:+.2%}" for y, e in errors.items() if abs(e) > POPULATION_TOLERANCE}
    assert not bad, f"population off the record by more than ±2% in {bad}; all years: " + \
        ", ".join(f"{y} {e:+.2%}" for y, e in errors.items())


def test_towns_follow_the_recorded_urban_path_they_are_given(run, record):
    gaps = {y: run.loc[y, "urban_population_m"] - record.loc[y, "urban_population_m"] for y in YEARS}
    bad = {y: f"{g:+.2f} M" for y, g in gaps.items() if abs(g) > URBAN_PATH_TOLERANCE_M}
    assert not bad, ("the towns leave the urban path of the inputs by more than 1 M (re-derive the "
                     f"net migrations: tools/derive_urban_migration.py): {bad}")
