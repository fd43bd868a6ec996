"""The command line: run, refuse to overwrite, --force, scenarios, params, validate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest
from typer.testing import CliRunner

from hightide.cli import app
from hightide.results.tables import CONTRACT_COLUMNS

runner = CliRunner()
MANIFEST_KEYS = ("scenario", "parameters", "seed", "scale", "version", "started", "finished", "wall_seconds")
WIDE = {"COLUMNS": "250"}


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def read_manifest(out):
    return json.loads((out / "manifest.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_writer, tiny_scale):
    """A tiny run written by ``hightide run ... --quiet``; tests must not modify it."""
    base = tmp_path_factory.mktemp("cli")
    scenario = tiny_writer(base)
    out = base / "out"
    result = invoke("run", scenario, "--scale", tiny_scale, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return scenario, out, result


def test_run_writes_manifest_and_tables(run_dir, tiny_scale):
    _, out, result = run_dir
    assert result.output.strip() == ""  # --quiet
    names = {p.name for p in out.iterdir()}
    assert {"manifest.json", "national_annual.parquet", "national_annual.csv", "national_monthly.parquet",
            "provincial_annual.parquet", "provincial_annual.csv"} <= names
    assert not [n for n in names if n.endswith(".tmp")]  # atomic writes leave no temporaries
    m = read_manifest(out)
    assert m["status"] == "complete"
    for key in MANIFEST_KEYS:
        assert key in m, key
    assert m["scenario"] == "tiny" and m["seed"] == 0 and m["scale"] == pytest.approx(tiny_scale)
    assert m["parameters"]["agricultural_tax_rate"] == pytest.approx(0.155)
    assert m["wall_seconds"] >= 0


def test_run_tables_match_the_api(run_dir, tiny_results):
    _, out, _ = run_dir
    for name in ("national_annual", "national_monthly", "provincial_annual"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"), tiny_results.tables[name])
    csv = pd.read_csv(out / "national_annual.csv")
    assert set(CONTRACT_COLUMNS) <= set(csv.columns)
    assert csv["year"].tolist() == [1952, 1953]
    pd.testing.assert_series_equal(csv["grain_output_mt"], tiny_results.national_annual["grain_output_mt"], rtol=1e-5)
    prov = pd.read_csv(out / "provincial_annual.csv")
    assert len(prov) == 56 and set(CONTRACT_COLUMNS) <= set(prov.columns)


def test_run_refuses_to_overwrite_without_force(run_dir, tiny_scale):
    scenario, out, _ = run_dir
    before = (out / "manifest.json").read_text("utf-8")
    result = invoke("run", scenario, "--scale", tiny_scale, "--out", out, "--quiet")
    assert result.exit_code == 2
    assert "--force" in result.output
    assert str(out) in result.output
    assert "Traceback" not in result.output
    assert (out / "manifest.json").read_text("utf-8") == before  # the finished run is untouched


def test_run_with_force_replaces_the_run_and_prints_a_summary(run_dir, tmp_path, tiny_scale):
    scenario, out, _ = run_dir
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "stale.txt").write_text("from an older run")
    old = read_manifest(copy)
    result = invoke("run", scenario, "--scale", tiny_scale, "--out", copy, "--force", env=WIDE)
    assert result.exit_code == 0, result.output
    new = read_manifest(copy)
    assert new["status"] == "complete" and new["started"] != old["started"]
    assert not (copy / "stale.txt").exists()  # the directory was replaced, not merged
    assert "complete" in result.output and "national, year end" in result.output
    assert "1953" in result.output


def test_console_script_in_a_subprocess(run_dir, tmp_path, hightide_exe, tiny_scale):
    """The installed entry point works, and another process (other hash seed) gives the same numbers."""
    scenario, out, _ = run_dir
    out2 = tmp_path / "sub"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([hightide_exe, "run", str(scenario), "--scale", str(tiny_scale), "--out", str(out2), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert read_manifest(out2)["status"] == "complete"
    for name in ("national_annual", "provincial_annual"):
        pd.testing.assert_frame_equal(pd.read_parquet(out2 / f"{name}.parquet"), pd.read_parquet(out / f"{name}.parquet"))


def test_scenarios_lists_the_bundled_scenarios():
    result = invoke("scenarios", env=WIDE)
    assert result.exit_code == 0
    assert "historical" in result.output
    assert "no_collectivization" in result.output


def test_params_prints_the_registry():
    result = invoke("params", env=WIDE)
    assert result.exit_code == 0
    assert "agricultural_tax_rate" in result.output
    assert "persons_per_household" in result.output
    assert "0.155" in result.output


def test_params_group_filter():
    result = invoke("params", "--group", "world", env=WIDE)
    assert result.exit_code == 0
    assert "persons_per_household" in result.output
    assert "agricultural_tax_rate" not in result.output


def test_params_names_are_whole_when_piped():
    """Piped or captured output (not a tty) must keep parameter names on one line, so they can be grepped."""
    result = invoke("params")
    assert result.exit_code == 0
    assert "agricultural_tax_rate" in result.output
    assert "willingness_promotion" in result.output


def test_validate_a_finished_run(run_dir, tmp_path):
    _, out, _ = run_dir
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    result = invoke("validate", "--out", copy, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "model vs record" in result.output
    assert "population_m" in result.output and "grain_output_mt" in result.output
    assert "checks pass" in result.output
    table = pd.read_csv(copy / "validation.csv")
    assert {"target", "when", "model", "record", "error", "tolerance", "pass", "window"} <= set(table.columns)
    pop1952 = table[(table["target"] == "population_m") & (table["when"] == "1952")]
    assert len(pop1952) == 1 and pop1952["window"].iloc[0] == "calibration"
    assert abs(pop1952["record"].iloc[0] - 574.82) < 1e-9


def test_validate_refuses_a_failed_run(tmp_path):
    out = tmp_path / "failed"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    result = invoke("validate", "--out", out)
    assert result.exit_code == 2
    assert "failed" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("scale", ["0", "1.5", "-0.1"])
def test_run_rejects_scale_outside_zero_one(run_dir, tmp_path, scale):
    scenario, _, _ = run_dir
    out = tmp_path / "never"
    result = invoke("run", scenario, "--scale", scale, "--out", out, "--quiet")
    assert result.exit_code == 2
    assert "scale" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()  # nothing written for a rejected run


def test_run_rejects_a_negative_seed(run_dir, tmp_path, tiny_scale):
    scenario, _, _ = run_dir
    result = invoke("run", scenario, "--scale", tiny_scale, "--seed", "-1", "--out", tmp_path / "neg", "--quiet")
    assert result.exit_code == 2
    assert "seed" in result.output


def test_run_logs_progress_lines_when_stderr_is_not_a_terminal(tmp_path, tiny_writer, tiny_scale, monkeypatch):
    """Under nohup or a scheduler (stderr a file) a long run writes plain progress lines."""
    from hightide import cli

    monkeypatch.setattr(cli, "LOG_INTERVAL_SECONDS", 0.0)
    out = tmp_path / "out"
    result = invoke("run", tiny_writer(tmp_path), "--scale", tiny_scale, "--out", out)
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("simulating: ")]
    months = read_manifest(out)["months"]
    assert len(lines) == months
    assert lines[0].startswith(f"simulating: 1/{months} months, ") and "left" in lines[0]
    assert lines[-1].startswith(f"simulating: {months}/{months} months, ") and "left" not in lines[-1]


def test_progress_lines_are_throttled(capsys, monkeypatch):
    """Nothing for work shorter than the interval; once a line is written, the end is written too."""
    from hightide import cli

    monkeypatch.setattr(cli, "LOG_INTERVAL_SECONDS", 3600.0)
    quiet = cli._LineProgress("simulating", "months")
    for done in range(1, 13):
        quiet.update(done, 12)
    assert capsys.readouterr().err == ""
    clock = iter([0.0, 4000.0, 4001.0, 4002.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    slow = cli._LineProgress("running", "members")
    slow.update(1, 3)   # an hour later: written
    slow.update(2, 3)   # a second later: not
    slow.update(3, 3, "1 failed")  # the end: written
    err = capsys.readouterr().err.splitlines()
    assert err == ["running: 1/3 members, 1:06:40 elapsed, about 2:13:20 left",
                   "running: 3/3 members, 1 failed, 1:06:42 elapsed"]


def _record_runs(record_member, name: str, death_factor: float = 1.0):
    """Eight members whose annual tables are the record (1960 deaths scaled), for the ensemble
    validation's command line (the checks themselves are tested in tests/unit)."""
    import numpy as np

    from hightide.results.ensemble_validation import EnsembleRuns

    table = record_member(death_scale={1960: death_factor})
    prov = pd.DataFrame({"province": range(4), "year": 1960, "death_rate_permille": np.array([10.0, 20.0, 30.0, 60.0])})
    return EnsembleRuns(name=name, seeds=tuple(range(8)), annual=(table,) * 8, provincial=(prov,) * 8)


def test_validate_an_ensemble_prints_and_writes_the_famine_checks(tmp_path, monkeypatch, record_member):
    from hightide.results import ensemble_validation

    dirs = {tmp_path / "hist": _record_runs(record_member, "historical", 1.6),
            tmp_path / "cf": _record_runs(record_member, "exit_right", 1.2)}
    for d in dirs:
        d.mkdir()
    monkeypatch.setattr(ensemble_validation.EnsembleRuns, "load", classmethod(lambda cls, out: dirs[out]))
    result = invoke("validate", "--ensemble", tmp_path / "hist", "--counterfactual", tmp_path / "cf", env=WIDE)
    assert result.exit_code == 0, result.output
    assert "famine checks" in result.output and "exit_right reduces excess deaths" in result.output
    checks = pd.read_csv(tmp_path / "hist" / "famine_checks.csv")
    assert {"check", "requirement", "result", "pass"} <= set(checks.columns)
    assert checks.set_index("check").loc["exit_right reduces excess deaths", "pass"]
    targets = pd.read_csv(tmp_path / "hist" / "validation_ensemble.csv")
    assert {"model_q05", "model_q50", "model_q95", "members_pass"} <= set(targets.columns)
    assert not (tmp_path / "hist" / "report.html").exists()  # no bands here: nothing else to report


def test_validate_an_ensemble_rewrites_its_report(tmp_path, monkeypatch, record_member):
    """An ensemble directory (bands) gets its report rebuilt with the validation and famine checks."""
    from hightide.results import ensemble_validation

    hist = tmp_path / "hist"
    hist.mkdir()
    runs = _record_runs(record_member, "historical", 1.6)
    annual = runs.annual[0]
    pd.concat([annual[["year"]].assign(column=c, q05=annual[c], q50=annual[c], q95=annual[c])
               for c in ("grain_output_mt", "death_rate_permille")]).to_parquet(hist / "national_annual_bands.parquet")
    (hist / "ensemble.json").write_text(json.dumps({"status": "complete", "scenario": "historical", "runs": 8}))
    monkeypatch.setattr(ensemble_validation.EnsembleRuns, "load", classmethod(lambda cls, out: runs))
    result = invoke("validate", "--ensemble", hist, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "report:" in result.output
    html = (hist / "report.html").read_text("utf-8")
    checks = pd.read_csv(hist / "famine_checks.csv")
    assert f"Famine checks: {int(checks['pass'].sum())} of {len(checks)} pass" in html
    assert "excess deaths 1959-61" in html and "FAIL" in html


@pytest.mark.parametrize("args, message", [
    (["--counterfactual", "somewhere"], "--counterfactual needs --ensemble"),
    (["--ensemble", "somewhere", "--scale", "0.001"], "do not apply"),
])
def test_validate_ensemble_argument_errors(args, message):
    result = invoke("validate", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_validate_refuses_a_directory_that_is_not_an_ensemble(tmp_path):
    result = invoke("validate", "--ensemble", tmp_path)
    assert result.exit_code == 2
    assert "not a hightide ensemble directory" in result.output
