"""Branching (issue 5): a counterfactual started from a kept checkpoint of another run equals the
full run of the counterfactual, when the two share their policy up to the branch date."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from hightide import api
from hightide.cli import app
from hightide.engine import checkpoint as ckpt
from hightide.errors import OutputError
from hightide.experiments.branching import BranchError, branch
from hightide.scenarios.schema import parse_month

SCALE = 0.0002
AT = "1953-04"
COUNTERFACTUAL = textwrap.dedent(
    """\
    [scenario]
    name = "early_push"
    base = "{base}"
    description = "Co-operatives pushed from April 1953 instead of the spring retreat (test)."

    [[timeline]]
    date = "1953-04"
    apc_control_figure = 0.08
    pressure = 0.5
    mutual_aid_promotion = 0.9
    """
)


@pytest.fixture(scope="module")
def paths(tiny_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("branch")
    cf = d / "early_push.toml"
    cf.write_text(COUNTERFACTUAL.format(base=tiny_path.as_posix()), encoding="utf-8")
    return tiny_path, cf, d


@pytest.fixture(scope="module")
def source(paths):
    tiny, _, d = paths
    return api.run(tiny, scale=SCALE, seed=0, out=d / "source", keep_checkpoints=f"{AT},1953-09")


@pytest.fixture(scope="module")
def full_counterfactual(paths):
    _, cf, _ = paths
    return api.run(cf, scale=SCALE, seed=0)


def test_keeping_checkpoints_changes_no_table_and_they_outlive_the_run(source, tiny_results):
    for name in ("national_annual", "national_monthly", "provincial_annual"):
        pd.testing.assert_frame_equal(source.tables[name], tiny_results.tables[name], check_exact=True)
    assert ckpt.dated(source.out) == [AT, "1953-09"]
    assert not (source.out / ckpt.CHECKPOINT_DIR).exists()  # the rolling checkpoint is gone, the dated ones stay
    info = json.loads((ckpt.dated_directory(source.out, AT) / ckpt.INFO_FILE).read_text())
    assert info["next_month"] == AT and info["months_done"] == 15


def test_branched_run_equals_the_full_counterfactual(paths, source, full_counterfactual, tmp_path):
    _, cf, _ = paths
    res = branch(cf, source.out, AT, out=tmp_path / "branched")
    for name in ("national_annual", "national_monthly", "provincial_annual"):
        pd.testing.assert_frame_equal(res.tables[name], full_counterfactual.tables[name], check_exact=True)
    # and the counterfactual really differs from the source after the branch date
    m = res.national_monthly
    after = (m["year"] * 12 + m["month"] - 1) >= parse_month(AT)
    src = source.national_monthly
    assert (m.loc[after, "share_mutual_aid_pct"] != src.loc[after, "share_mutual_aid_pct"]).all()
    pd.testing.assert_frame_equal(m.loc[~after], src.loc[~after], check_exact=True)
    manifest = json.loads((tmp_path / "branched" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["branched_from"] == {"run": str(source.out), "scenario": "tiny", "at": AT, "months_skipped": 15}


def test_branch_after_the_scenarios_diverge_is_refused(paths, source, tmp_path):
    _, cf, _ = paths
    with pytest.raises(BranchError, match=r"differ before 1953-09: policy in 1953-04"):
        branch(cf, source.out, "1953-09", out=tmp_path / "late")


def test_branch_without_a_kept_checkpoint_names_the_command_that_makes_one(paths, source, tmp_path):
    _, cf, _ = paths
    with pytest.raises(BranchError, match=r"kept no checkpoint at 1953-02 \(it has 1953-04, 1953-09\).*--keep-checkpoints 1953-02"):
        branch(cf, source.out, "1953-02", out=tmp_path / "none")
    with pytest.raises(BranchError, match="seed of the run"):
        branch(cf, source.out, AT, out=tmp_path / "seed", seed=5)


def test_cli_branch(paths, source, full_counterfactual, tmp_path):
    _, cf, _ = paths
    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["run", str(cf), "--branch-from", str(source.out), "--at", AT, "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    pd.testing.assert_frame_equal(api.Results.load(out).national_annual, full_counterfactual.national_annual,
                                  check_exact=True)
    r = CliRunner().invoke(app, ["run", str(cf), "--at", AT, "-q"])
    assert r.exit_code == 2 and "go together" in r.output


def test_parse_keep():
    start, end = parse_month("1952-01"), parse_month("1955-12")
    assert ckpt.parse_keep("yearly", start, end) == ["1953-01", "1954-01", "1955-01"]
    assert ckpt.parse_keep("1954-07, 1953-02,1954-07", start, end) == ["1953-02", "1954-07"]
    assert ckpt.parse_keep(None, start, end) == []
    for bad in ("1952-01", "1956-01", "1953-13", "soon"):
        with pytest.raises(OutputError):
            ckpt.parse_keep(bad, start, end)
