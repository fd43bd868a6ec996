"""The mechanism decomposition end to end at tiny scale: arms, pairing, files, resume and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hightide.cli import app
from hightide.errors import HightideError
from hightide.experiments.decomposition import ARMS_DIR, decompose
from hightide.experiments.ensembles import Ensemble

SCALE = 0.0002
SHORT = """\
[scenario]
name = "short"
base = "historical"
description = "The historical timeline to 1958-12 on one township per province (tests)."
end = "1958-12"

[parameters]
townships_min_per_province = 1.0
"""
MECHS = ["harvest_losses", "rural_industry", "weather"]
OUTCOMES = ["grain_output_1958_mt"]


@pytest.fixture(scope="module")
def decomposed(tmp_path_factory):
    d = tmp_path_factory.mktemp("dec")
    path = d / "short.toml"
    path.write_text(SHORT, encoding="utf-8")
    statuses = []
    res = decompose(path, mechanisms=MECHS, outcomes=OUTCOMES, runs=2, scale=SCALE, out=d / "out", workers=0,
                    on_member=lambda done, total, m, status: statuses.append((done, total, status)))
    return path, res, statuses


def test_every_arm_runs_the_same_seeds_and_the_effects_are_theirs(decomposed):
    _, res, statuses = decomposed
    run = ("scenario", *MECHS[:2], "all")
    arms = {name: Ensemble.load(res.out / ARMS_DIR / name) for name in run}
    seeds = {name: list(e.members["seed"]) for name, e in arms.items()}
    assert all(s == seeds["scenario"] for s in seeds.values())  # paired: common random numbers
    assert [s[:2] for s in statuses] == [(i, 8) for i in range(1, 9)]
    grain = {name: res.members[name]["grain_output_1958_mt"].to_numpy() for name in (*run, "weather")}
    # crops lost at the October 1958 harvest with 28% of adults at the furnaces; hands drawn into
    # commune industry from September: each of the two lowers 1958 output in every pair
    for name in MECHS[:2]:
        assert (grain["scenario"] < grain[name]).all()
    # the disaster series starts in 1959, after this run: the weather arm would be the scenario
    # itself, so it is not run and its effect is 0
    assert res.inert == ["weather"] and not (res.out / ARMS_DIR / "weather").exists()
    np.testing.assert_array_equal(grain["weather"], grain["scenario"])
    assert (grain["all"] > grain["harvest_losses"]).all() and (grain["all"] > grain["rural_industry"]).all()
    e = res.effects.set_index("mechanism")
    assert list(e.index) == [*MECHS, "all"] and (e["outcome"] == "grain_output_1958_mt").all()
    assert list(e["acts"]) == [True, True, False, True] and e.at["weather", "effect_q95"] == 0.0
    for name in (*MECHS, "all"):
        assert e.at[name, "effect_q50"] == pytest.approx(pd.Series(grain["scenario"] - grain[name]).median())
    written = pd.read_csv(res.out / "decomposition.csv")
    assert len(written) == 4 and (res.out / "decomposition.png").stat().st_size > 5000
    assert list(written["acts"]) == [True, True, False, True]


def test_running_again_reuses_every_arm(decomposed):
    path, res, _ = decomposed
    statuses = []
    again = decompose(path, mechanisms=MECHS, outcomes=OUTCOMES, runs=2, scale=SCALE, out=res.out, workers=0,
                      on_member=lambda done, total, m, status: statuses.append(status))
    assert statuses == ["reused"] * 8
    pd.testing.assert_frame_equal(again.effects, res.effects)


def test_the_cli_prints_the_effects_and_lists_the_mechanisms(decomposed, tmp_path):
    path, res, _ = decomposed
    runner = CliRunner()
    out = runner.invoke(app, ["decompose", str(path), "--mechanisms", ",".join(MECHS), "--outcomes", OUTCOMES[0],
                              "--runs", "2", "--scale", str(SCALE), "--workers", "0", "--out", str(res.out)])
    assert out.exit_code == 0, out.output
    assert "harvest_losses" in out.output and "grain output 1958" in out.output and "decomposition.csv" in out.output
    assert "identical to the scenario" in out.output and "weather" in out.output
    listed = runner.invoke(app, ["decompose", "--list"])
    assert listed.exit_code == 0 and "campaign_technique_yield_loss" in listed.output
    bad = runner.invoke(app, ["decompose", str(path), "--mechanisms", "sunspots", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown mechanism" in bad.output


def test_an_outcome_the_runs_cannot_give_is_an_error(tmp_path):
    path = tmp_path / "late.toml"
    path.write_text(SHORT.replace('end = "1958-12"', 'start = "1957-01"\nend = "1961-12"'), encoding="utf-8")
    with pytest.raises(HightideError, match="undefined in some runs"):
        decompose(path, mechanisms=["harvest_losses"], outcomes=["excess_deaths_1959_61_m"], runs=1, scale=SCALE,
                  out=tmp_path / "out", workers=0)


def test_another_mechanism_list_on_the_same_out_names_the_arm_to_remove(decomposed):
    path, res, _ = decomposed
    with pytest.raises(HightideError, match=r"remove .*arms/all to run just that arm again"):
        decompose(path, mechanisms=[*MECHS, "free_supply"], outcomes=OUTCOMES, runs=2, scale=SCALE, out=res.out,
                  workers=0)
