"""Calibration (optuna) and sensitivity (SALib Morris) end to end at tiny scale (issue 5)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from hightide import api
from hightide.cli import app
from hightide.experiments.calibration import (
    NOT_IDENTIFIED_IN_WINDOW,
    calibrate,
    default_names,
    normalised_errors,
)
from hightide.experiments.scenario_tools import prepare, read_params_file
from hightide.experiments.sensitivity import sensitivity
from hightide.params import load_registry
from hightide.results import store

SCALE = 0.0002
SHORT = """\
[scenario]
name = "short"
base = "historical"
description = "The historical timeline to {end} on one township per province (tests)."
end = "{end}"

[parameters]
townships_min_per_province = 1.0
"""
NAMES = ["tfp_growth_per_year", "fertility_per_working_adult"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    d = tmp_path_factory.mktemp("cal")
    path = d / "short.toml"
    path.write_text(SHORT.format(end="1958-12"), encoding="utf-8")
    first = calibrate(path, trials=2, scale=SCALE, names=NAMES, out=d / "out", validation_end="1958-12")
    # running again continues the same study up to the new number of trials
    return path, calibrate(path, trials=3, scale=SCALE, names=NAMES, out=d / "out", validation_end="1958-12"), first


def test_calibration_writes_a_usable_parameter_file(calibrated):
    _path, cal, _ = calibrated
    values = read_params_file(cal.out / "calibrated.toml")
    assert values == pytest.approx(cal.best, rel=1e-12) and set(values) == set(NAMES)
    reg = load_registry()
    assert all(reg[n].range[0] <= v <= reg[n].range[1] for n, v in values.items())
    trials = pd.read_csv(cal.out / "trials.csv")
    assert len(trials) == 3
    first = trials.loc[trials["trial"] == 0].iloc[0]
    assert {n: first[n] for n in NAMES} == {n: reg[n].default for n in NAMES}  # the defaults are trial 0
    assert cal.best_loss <= cal.default_loss == pytest.approx(first["loss"])
    summary = json.loads((cal.out / "calibration.json").read_text())
    assert summary["trials"] == 3 and summary["in_sample"]["default"]["targets"] > 20
    assert summary["out_of_sample"]["calibrated"]["targets"] >= 3  # 1958 population, grain, procurement


def test_fit_reports_in_and_out_of_sample_rows_of_the_calibrated_run(calibrated):
    path, cal, _ = calibrated
    fit = pd.read_csv(cal.out / "fit.csv")
    assert set(fit["window"]) == {"calibration", "out-of-sample"}
    assert (fit.loc[fit["window"] == "out-of-sample", "when"].str.slice(0, 4) == "1958").all()
    # the calibrated column is a run with the written parameter file
    res = api.run(prepare(path, parameters=read_params_file(cal.out / "calibrated.toml")), scale=SCALE, seed=0)
    grain = res.national_annual.set_index("year")["grain_output_mt"]
    rows = fit[(fit["target"] == "grain_output_mt")]
    for _, r in rows.iterrows():
        assert r["model_calibrated"] == pytest.approx(grain[int(r["when"])], rel=1e-5)  # csv: 6 digits


def test_calibration_continues_its_study(calibrated):
    _, cal, first = calibrated
    assert len(first.trials) == 2 and len(cal.trials) == 3
    pd.testing.assert_frame_equal(cal.trials.iloc[:2], first.trials, check_exact=True)
    assert cal.best_loss <= first.best_loss


def test_cli_run_with_params_file(calibrated, tmp_path, tiny_path):
    _, cal, _ = calibrated
    out = tmp_path / "with-params"
    r = CliRunner().invoke(app, ["run", str(tiny_path), "--scale", str(SCALE), "--params",
                                 str(cal.out / "calibrated.toml"), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    manifest = store.read_manifest(out)
    for n, v in cal.best.items():
        assert manifest["parameters"][n] == v


def test_default_calibration_set_leaves_out_what_the_window_cannot_identify():
    names = default_names()
    assert names and all(load_registry()[n].calibrated for n in names)
    assert not set(names) & set(NOT_IDENTIFIED_IN_WINDOW)


def test_normalised_errors():
    table = pd.DataFrame([
        {"target": "grain_output_mt", "when": "1953", "model": 107.0, "record": 100.0},  # rel, tol 7%
        {"target": "share_mutual_aid_pct", "when": "1953-12", "model": 30.0, "record": 38.0},  # abs, tol 8 pp
        {"target": "share_apc_pct", "when": "1956-12", "model": 95.0, "record": 96.3},  # min 90: met
        {"target": "share_apc_pct", "when": "1956-12", "model": 81.0, "record": 96.3},  # 9 pp short of 90
        {"target": "apc_size", "when": "1955-07", "model": 40.0, "record": 27.5},  # range 20-35: 5 above
    ])
    assert normalised_errors(table).tolist() == pytest.approx([1.0, -1.0, 0.0, -1.0, 5 / 7.5])


def test_morris_indices_rank_live_parameters_and_give_inert_ones_zero(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text(SHORT.format(end="1955-12"), encoding="utf-8")
    res = sensitivity(path, parameters=["campaign_speed", "willingness_base", "mess_hall_overeating"],
                      outcomes=["apc_share_1955_12_pct"], trajectories=2, scale=SCALE, workers=0,
                      out=tmp_path / "morris")
    idx = res.indices.set_index("parameter")
    # mess halls exist only in communes (from 1958): no effect at all on Dec 1955, with common random numbers
    assert idx.loc["mess_hall_overeating", "mu_star"] == 0.0
    assert idx.loc["willingness_base", "mu_star"] > 0.0 or idx.loc["campaign_speed", "mu_star"] > 0.0
    assert idx.loc["mess_hall_overeating", "rank"] == 3
    assert len(res.design) == 2 * (3 + 1)
    table = pd.read_csv(tmp_path / "morris" / "sensitivity.csv")
    assert list(table.columns[:5]) == ["outcome", "label", "unit", "parameter", "mu_star"]
    assert (tmp_path / "morris" / "sensitivity.png").stat().st_size > 10_000
