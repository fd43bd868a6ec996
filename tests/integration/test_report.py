"""The run report and the report/plot/docs commands (issue 8), end to end without a browser (the
browser tests in tests/browser open what these write)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hightide import api
from hightide.cli import app
from hightide.report import REPORT, ReportData, charts, write_report
from hightide.report.docs import generate

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_writer, tiny_scale):
    """A tiny run written by the CLI (so with its report); tests must not modify it."""
    base = tmp_path_factory.mktemp("report")
    out = base / "run"
    result = invoke("run", tiny_writer(base), "--scale", tiny_scale, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def quarter(tmp_path_factory) -> Path:
    """Three months of the tiny scenario: for tests that need a run, not its results."""
    path = tmp_path_factory.mktemp("quarter") / "quarter.toml"
    path.write_text('[scenario]\nname = "quarter"\nbase = "historical"\ndescription = "Three months."\n'
                    'end = "1952-03"\n\n[parameters]\ntownships_min_per_province = 1.0\n', "utf-8")
    return path


def _figures(html: str) -> dict:
    m = re.search(r"const FIGURES=(\{.*?\});const CONFIG=", html, re.DOTALL)
    assert m, "no figure data in the page"
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_every_run_writes_a_self_contained_report(run_dir):
    html = (run_dir / REPORT).read_text("utf-8")
    assert "plotly.js v" in html[:20000]  # the library is inlined ...
    assert not re.search(r"<script[^>]+src=", html)  # ... and nothing is fetched
    assert not re.search(r"<link[^>]+href=", html)
    figures = _figures(html)
    assert set(figures) == {f"fig-{n}" for n in charts.FIGURES}
    for div, fig in figures.items():
        assert fig["data"], div
        assert f"id='{div}'" in html
    for section in ("targets", "forms", "grain", "demography", "provinces", "validation", "manifest"):
        assert f"<section id='{section}'" in html


def test_report_shows_validation_and_manifest(run_dir):
    html = (run_dir / REPORT).read_text("utf-8")
    v = ReportData.load(run_dir).validation()
    assert f"<b>{int(v['pass'].sum())} / {len(v)}</b>checks pass" in html
    assert html.count("<tr class='pass'>") + html.count("<tr class='fail'>") == len(v)
    m = json.loads((run_dir / "manifest.json").read_text("utf-8"))
    assert f"<th>households_simulated</th><td>{m['households_simulated']:,}</td>" in html
    assert "townships_min_per_province" in html  # the parameter the tiny scenario changes
    # the time each process took, year by year, one row a year of the run, its total first
    table = html.split("Time per process, year by year")[1].split("<tbody>")[1].split("</table>")[0]
    years = list(m["process_seconds_by_year"])
    assert years and table.count("<tr><th>") == len(years) and all(f"<tr><th>{y}</th>" in table for y in years)
    first = years[0]
    assert f"<tr><th>{first}</th><td class='num'>{sum(m['process_seconds_by_year'][first].values()):.2f}</td>" in table


def test_report_command_rebuilds_it(run_dir, tmp_path):
    target = tmp_path / "again.html"
    result = invoke("report", run_dir, "--out", target)
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 1_000_000
    assert _figures(target.read_text("utf-8")).keys() == _figures((run_dir / REPORT).read_text("utf-8")).keys()


def test_report_of_an_incomplete_run_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"status": "running"}), "utf-8")
    result = invoke("report", tmp_path)
    assert result.exit_code == 2
    assert "not complete" in result.output


def test_a_failing_report_is_a_warning_and_the_run_keeps_its_tables(tmp_path, quarter, tiny_scale, monkeypatch,
                                                                     capsys):
    import hightide.report.html as report_html

    def broken(data):
        raise RuntimeError("no figures today")

    monkeypatch.setattr(report_html, "render", broken)
    res = api.run(quarter, scale=tiny_scale, out=tmp_path / "r")
    assert res.manifest["status"] == "complete"
    assert not (tmp_path / "r" / REPORT).exists()
    assert api.Results.load(tmp_path / "r").national_annual.equals(res.national_annual)
    err = capsys.readouterr().err
    assert "could not write" in err and "no figures today" in err and "hightide report" in err


def test_no_report_option(tmp_path, quarter, tiny_scale):
    result = invoke("run", quarter, "--scale", tiny_scale, "--out", tmp_path / "r", "--quiet", "--no-report")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "national_annual.parquet").exists() and not (tmp_path / "r" / REPORT).exists()


def _bands(table: pd.DataFrame, keys: list[str], columns) -> pd.DataFrame:
    """Bands as `hightide ensemble` writes them: KEYS..., column, q05, q50, q95."""
    frames = []
    for c in columns:
        frames.append(table[keys].assign(column=c, q05=0.95 * table[c], q50=table[c], q95=1.05 * table[c]))
    return pd.concat(frames, ignore_index=True)


def test_report_of_an_ensemble_directory_shows_bands(tmp_path, tiny_results):
    """The layout of `hightide ensemble`: ensemble.json, national and provincial bands, no run tables."""
    cols = ("grain_output_mt", "death_rate_permille", "population_m", "rural_grain_per_capita_kg")
    _bands(tiny_results.national_annual, ["year"], cols).to_parquet(tmp_path / "national_annual_bands.parquet")
    _bands(tiny_results.provincial_annual, ["province", "year"], cols).to_parquet(
        tmp_path / "provincial_annual_bands.parquet")
    (tmp_path / "ensemble.json").write_text(json.dumps({"kind": "hightide-ensemble", "status": "complete",
                                                        "scenario": "tiny", "runs": 4, "base_seed": 0}))
    html = write_report(tmp_path).read_text("utf-8")
    assert "tiny, base seed 0, ensemble of 4" in html
    figures = _figures(html)
    grain = figures["fig-grain"]
    assert any(t["name"] == "output (true) 5-95%" and t.get("fill") == "tonexty" for t in grain["data"])
    tiles = figures["fig-provinces"]
    assert sum(t["name"] == "province 5-95%" and t.get("fill") == "tonexty" for t in tiles["data"]) == 28
    assert "No validation here" in html


def test_report_of_an_ensemble_shows_its_validation_and_famine_checks(tmp_path, tiny_results):
    """After `hightide validate --ensemble DIR`: the per-year table (median, 5-95% band, share of
    members passing) and the famine checks, with their failures, in the ensemble's report."""
    _bands(tiny_results.national_annual, ["year"], ["grain_output_mt"]).to_parquet(
        tmp_path / "national_annual_bands.parquet")
    (tmp_path / "ensemble.json").write_text(json.dumps({"status": "complete", "scenario": "historical", "runs": 8}))
    pd.DataFrame([
        {"target": "grain_output_mt", "when": "1959", "model_q05": 140.0, "model_q50": 149.4, "model_q95": 156.0,
         "record": 170.0, "error": "-12.1%", "tolerance": "±12%", "pass": False, "members_pass": 0.25,
         "window": "out-of-sample", "issue": "state"},
        {"target": "population_m", "when": "1955", "model_q05": 615.6, "model_q50": 616.9, "model_q95": 618.1,
         "record": 614.65, "error": "+0.4%", "tolerance": "±2%", "pass": True, "members_pass": 1.0,
         "window": "calibration", "issue": "foundation"},
    ]).to_csv(tmp_path / "validation_ensemble.csv", index=False)
    pd.DataFrame([
        {"check": "grain trough", "requirement": "in 1960 or 1961", "result": "1960; in 26 of 32 members", "pass": True},
        {"check": "excess deaths 1959-61", "requirement": "median between 15 and 45 million",
         "result": "14.3 M [7.7 to 19.3]", "pass": False},
    ]).to_csv(tmp_path / "famine_checks.csv", index=False)
    html = write_report(tmp_path).read_text("utf-8")
    assert "No validation here" not in html
    assert "Famine checks: 1 of 2 pass" in html and "14.3 M [7.7 to 19.3]" in html
    assert "<th>median</th>" in html and "140 to 156" in html and "25%" in html
    assert "<b>1 / 2</b>checks pass" in html and "<b>1 / 2</b>famine checks pass" in html
    val = _figures(html)["fig-validation"]
    band = next(t for t in val["data"] if t["name"] == "members 5-95% ÷ record")
    lo = sorted(1.0 - m for m in band["error_x"]["arrayminus"])  # the bars sit on x = 1: lo = 1 - arrayminus
    hi = sorted(1.0 + p for p in band["error_x"]["array"])
    assert lo == pytest.approx(sorted([140.0 / 170.0, 615.6 / 614.65]))
    assert hi == pytest.approx(sorted([156.0 / 170.0, 618.1 / 614.65]))
    assert any(t["name"].startswith("median ÷ record") for t in val["data"])


def test_report_of_an_ensemble_without_validation_says_how_to_add_it(tmp_path, tiny_results):
    _bands(tiny_results.national_annual, ["year"], ["grain_output_mt"]).to_parquet(
        tmp_path / "national_annual_bands.parquet")
    (tmp_path / "ensemble.json").write_text(json.dumps({"status": "complete", "scenario": "historical", "runs": 8}))
    html = write_report(tmp_path).read_text("utf-8")
    assert "No validation here" in html and "hightide validate --ensemble DIR" in html


def test_report_of_an_unfinished_ensemble_is_refused(tmp_path, tiny_results):
    _bands(tiny_results.national_annual, ["year"], ["population_m"]).to_parquet(
        tmp_path / "national_annual_bands.parquet")
    (tmp_path / "ensemble.json").write_text(json.dumps({"status": "running"}))
    result = invoke("report", tmp_path)
    assert result.exit_code == 2 and "not complete" in result.output


# ------------------------------------------------------------------------------------ plot
def test_plot_list_names_every_figure():
    result = invoke("plot", "--list")
    assert result.exit_code == 0
    for name in charts.FIGURES:
        assert name in result.output


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_plot_writes_a_figure(run_dir, tmp_path, fmt, magic):
    target = tmp_path / f"forms.{fmt}"
    result = invoke("plot", run_dir, "--figure", "forms", "--format", fmt, "--out", target)
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(magic)


def test_plot_several_figures_into_a_directory(run_dir, tmp_path):
    result = invoke("plot", run_dir, "-f", "grain", "-f", "demography", "--out", tmp_path / "figs", "--dpi", "40")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["demography.png", "grain.png"]


@pytest.mark.parametrize("args, message", [
    (["--figure", "nope"], "unknown figure 'nope'"),
    (["--figure", "grain", "--format", "bmp"], "unknown --format"),
    ([], "name a figure"),
])
def test_plot_errors(run_dir, args, message):
    result = invoke("plot", run_dir, *args)
    assert result.exit_code == 2
    assert message in result.output


# ------------------------------------------------------------------------------------ docs
def test_committed_reference_docs_are_up_to_date():
    for name, text in generate().items():
        path = ROOT / "docs" / name
        assert path.is_file(), f"{path} missing: run `hightide docs`"
        assert path.read_text("utf-8") == text, f"{path} is out of date: run `hightide docs`"


def test_docs_check_flags_a_stale_file(tmp_path):
    assert invoke("docs", "--out", tmp_path).exit_code == 0
    assert invoke("docs", "--out", tmp_path, "--check").exit_code == 0
    (tmp_path / "parameters.md").write_text("old", "utf-8")
    result = invoke("docs", "--out", tmp_path, "--check")
    assert result.exit_code == 1 and "parameters.md" in result.output


def test_parameter_reference_lists_every_parameter():
    from hightide.params import load_registry

    text = generate()["parameters.md"]
    for name, p in load_registry().items():
        assert f"| `{name}` | {p.default:g} |" in text


def test_scenario_reference_lists_every_lever():
    from hightide.scenarios.schema import POLICY_FIELDS

    text = generate()["scenarios.md"]
    for lever in POLICY_FIELDS:
        assert f"| `{lever}` |" in text
