"""Parts of the experiments (issue 5): parameter sampling, scenario helpers, bundled counterfactuals."""

from __future__ import annotations

import pandas as pd
import pytest

from hightide.errors import ScenarioError
from hightide.experiments.branching import shared_past_differences
from hightide.experiments.outcomes import excess_deaths_m
from hightide.experiments.sampling import NOT_SAMPLED, ParameterSampler
from hightide.experiments.scenario_tools import (
    prepare,
    read_params_file,
    write_params_file,
)
from hightide.params import load_registry, resolve
from hightide.scenarios import bundled_scenarios, load_scenario
from hightide.scenarios.schema import parse_month


def test_sampler_draws_within_ranges_deterministically_per_member():
    reg = load_registry()
    s = ParameterSampler.from_spec("calibrated")
    assert set(s.names) == {n for n, p in reg.items() if p.calibrated}
    a, b, again = s.draw(0, 1), s.draw(0, 2), s.draw(0, 1)
    assert a == again and a != b and a != s.draw(1, 1)
    for draw in (a, b):
        assert all(reg[n].range[0] <= v <= reg[n].range[1] for n, v in draw.items())


def test_sampler_all_respects_the_registry_constraints():
    s = ParameterSampler.from_spec("all")
    assert not set(NOT_SAMPLED) & set(s.names)
    for i in range(20):
        resolve(s.draw(3, i))  # class shares below 100% etc.: redrawn when needed


def test_sampler_groups_lists_files_and_errors(tmp_path):
    assert all(load_registry()[n].group == "demography" for n in ParameterSampler.from_spec("group:demography").names)
    fixed = {"tfp_growth_per_year": 0.03}
    assert ParameterSampler.from_spec("tfp_growth_per_year,weather_sd_national", fixed=fixed).names == (
        "weather_sd_national",)
    draws = pd.DataFrame({"tfp_growth_per_year": [0.01, 0.02, 0.03], "weather_sd_national": [0.02, 0.03, 0.04]})
    path = tmp_path / "posterior.csv"
    draws.to_csv(path, index=False)
    s = ParameterSampler.from_spec(str(path))
    rows = [s.draw(0, i) for i in range(10)]
    assert all(r in draws.to_dict("records") for r in rows) and len({tuple(r.values()) for r in rows}) > 1
    for bad in ("group:nope", "no_such_parameter", str(tmp_path / "missing.csv")):
        with pytest.raises(ScenarioError):
            ParameterSampler.from_spec(bad)
    pd.DataFrame({"tfp_growth_per_year": [0.5]}).to_csv(tmp_path / "out_of_range.csv", index=False)
    with pytest.raises(ScenarioError, match="outside the allowed range"):
        ParameterSampler.from_spec(str(tmp_path / "out_of_range.csv"))


def test_prepare_and_parameter_files(tmp_path):
    sc = prepare("historical", end="1958-12", parameters={"tfp_growth_per_year": 0.03})
    assert sc.scenario.end == "1958-12" and sc.parameters["tfp_growth_per_year"] == 0.03
    assert all(e.month <= parse_month("1958-12") for e in sc.timeline)
    with pytest.raises(ScenarioError, match="after the scenario's own end"):
        prepare(sc, end="1960-12")
    with pytest.raises(ScenarioError, match="outside the allowed range"):
        prepare("historical", parameters={"tfp_growth_per_year": 9.0})
    write_params_file(tmp_path / "p.toml", {"tfp_growth_per_year": 0.031}, "a header\nsecond line")
    assert read_params_file(tmp_path / "p.toml") == {"tfp_growth_per_year": 0.031}
    assert (tmp_path / "p.toml").read_text().startswith("# a header\n# second line\n")
    (tmp_path / "bad.toml").write_text("[parameters]\nnot_a_parameter = 1\n")
    with pytest.raises(ScenarioError, match="unknown parameter"):
        read_params_file(tmp_path / "bad.toml")


@pytest.mark.parametrize("name,diverges", [("mao_july_1955", "1955-10"), ("early_retreat", "1959-08"),
                                            ("relief_sees_hunger", "1958-05")])
def test_bundled_counterfactuals_follow_history_until_their_change(name, diverges):
    hist, cf = load_scenario("historical"), load_scenario(name)
    assert name in bundled_scenarios()
    at = parse_month(diverges)
    assert shared_past_differences(hist, cf, at) == []
    assert shared_past_differences(hist, cf, at + 1)  # and they do change there


def test_mao_july_1955_holds_the_speech_targets():
    from hightide.state.policy import PolicySchedule

    s = PolicySchedule(load_scenario("mao_july_1955"))
    at = lambda m: s.at(parse_month(m))
    assert at("1956-06").apc_control_figure == pytest.approx(0.3) and at("1956-06").margin == 0.0
    assert at("1957-06").apc_control_figure == 0.4 and at("1958-06").apc_control_figure == 0.5
    assert at("1960-06").apc_control_figure == 1.0
    assert at("1959-01").commune_townships == 0.0 and at("1959-01").private_plot_share == 0.05
    assert at("1958-01").advanced_control_figure <= 0.05 < at("1961-01").advanced_control_figure


def test_early_retreat_brings_the_retreat_to_lushan():
    from hightide.state.policy import PolicySchedule

    s = PolicySchedule(load_scenario("early_retreat"))
    p = s.at(parse_month("1959-09"))
    assert (p.leap_pressure, p.procurement_regime, p.mess_halls, p.free_supply_share, p.backyard_steel_mt) == (
        0.1, "three_fixes", False, 0.0, 0.0)
    assert s.at(parse_month("1960-06")).backyard_steel_mt == 0.0
    assert s.at(parse_month("1960-12")).free_supply_share == 0.0
    assert s.at(parse_month("1959-09")).report_credence == 0.3  # the Lushan revision itself stands


def test_excess_deaths_against_the_runs_own_baseline():
    years = list(range(1955, 1963))
    pop = [600.0] * len(years)
    rate = [10.0] * len(years)
    deaths = [6.0] * len(years)
    deaths[4] += 10.0  # 1959: 10 M above a flat 10 per 1000
    df = pd.DataFrame({"year": years, "population_m": pop, "death_rate_permille": rate, "deaths_m": deaths})
    assert excess_deaths_m(df) == pytest.approx(10.0)
    assert pd.isna(excess_deaths_m(df[df["year"] <= 1960]))


def test_compare_lists_each_outcome_once_whatever_the_last_year():
    """The named outcomes and the last year's columns: where a named outcome is a column in that
    year (population 1966, the end of the historical window), it is listed once."""
    from hightide.experiments.compare import FINAL_COLUMNS, outcome_labels

    for year in (1952, 1961, 1966):
        texts = [label for label, _ in outcome_labels(year).values()]
        assert len(texts) == len(set(texts)), year
        for _, label, _ in FINAL_COLUMNS:
            assert f"{label} {year}" in texts
    assert "population_m@1966" not in outcome_labels(1966) and "population_m@1961" in outcome_labels(1961)
