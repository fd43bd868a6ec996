"""The decomposition's arms: each differs from the scenario in its mechanism's switch and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hightide.errors import HightideError
from hightide.experiments.decomposition import (
    ALL_ARM,
    MECHANISMS,
    SCENARIO_ARM,
    Hold,
    Mechanism,
    decompose,
    effect_table,
    hold_input,
    switched_off,
)
from hightide.experiments.scenario_tools import prepare
from hightide.params import load_registry
from hightide.scenarios.schema import POLICY_FIELDS, parse_month


@pytest.fixture(scope="module")
def base():
    return prepare("historical", end="1961-12")


def policy_by_month(sc):
    schedule = sc.policy_schedule()
    keys = sorted(schedule)
    return {m: schedule[max(k for k in keys if k <= m)] for m in range(sc.start_month, sc.end_month + 1)}


def changed_fields(a, b):
    pa, pb = policy_by_month(a), policy_by_month(b)
    return {f for m in pa for f in POLICY_FIELDS if getattr(pa[m], f) != getattr(pb[m], f)}


@pytest.mark.parametrize("name", list(MECHANISMS))
def test_an_arm_changes_its_mechanism_and_nothing_else(base, name):
    m = MECHANISMS[name]
    arm = switched_off(base, [m], f"historical-without-{name}")
    registry = load_registry()
    assert all(p in registry and registry[p].range[0] <= v <= registry[p].range[1] for p, v in m.parameters.items())
    assert arm.parameters == {**base.parameters, **m.parameters}
    held = {h.field for h in m.holds}
    assert changed_fields(base, arm) == held  # every held input does change in the historical scenario
    assert arm.name == f"historical-without-{name}" and arm.scenario.end == base.scenario.end


def test_a_hold_from_the_start_sets_the_base_policy_and_strips_the_events(base):
    arm = hold_input(base, Hold("rural_industry_share", 0.0))
    assert all(p.rural_industry_share == 0.0 for p in policy_by_month(arm).values())
    assert all(e.rural_industry_share is None for e in arm.timeline)
    # events that set other fields as well keep them (1958-09 also sets backyard steel)
    steel = [e for e in arm.timeline if e.date == "1958-09" and e.backyard_steel_mt is not None]
    assert steel and steel[0].backyard_steel_mt == 5.35
    assert changed_fields(base, arm) == {"rural_industry_share"}


def test_a_hold_from_a_date_keeps_the_value_in_force_before_it(base):
    arm = hold_input(base, Hold("sown_area_factor", None, "1959-01"))
    before, after = policy_by_month(base), policy_by_month(arm)
    in_1958 = before[parse_month("1958-12")].sown_area_factor
    for m, p in after.items():
        expected = before[m].sown_area_factor if m < parse_month("1959-01") else in_1958
        assert p.sown_area_factor == expected
    assert in_1958 != before[parse_month("1959-06")].sown_area_factor  # the scenario does cut it


def test_an_event_left_setting_nothing_is_dropped():
    sc = prepare("historical", end="1961-12")
    arm = hold_input(sc, Hold("weather_source", "random"))
    assert all(e.changes() for e in arm.timeline)
    assert len(arm.timeline) <= len(sc.timeline)


def test_unknown_or_repeated_mechanisms_and_outcomes_are_refused(tmp_path):
    with pytest.raises(HightideError, match="unknown mechanism"):
        decompose("historical", mechanisms=["weather", "sunspots"], out=tmp_path)
    with pytest.raises(HightideError, match="named twice"):
        decompose("historical", mechanisms=["weather", "weather"], out=tmp_path)
    with pytest.raises(HightideError, match="unknown outcome"):
        decompose("historical", outcomes=["happiness"], out=tmp_path)
    with pytest.raises(HightideError, match="unknown policy field"):
        hold_input(prepare("historical"), Hold("weather_luck", 1.0))


def test_effects_are_paired_differences_with_their_band_and_share():
    ref = pd.DataFrame({"grain_output_1959_mt": [150.0, 140.0, 145.0, 160.0],
                        "excess_deaths_1959_61_m": [20.0, 10.0, 16.0, 30.0]})
    arm = ref + pd.DataFrame({"grain_output_1959_mt": [5.0, 1.0, 3.0, 7.0],
                              "excess_deaths_1959_61_m": [-4.0, -1.0, -2.0, -9.0]})
    mech = {"x": Mechanism("x", "a mechanism", "a source", {"monitoring_loss": 0.0})}
    t = effect_table({SCENARIO_ARM: ref, "x": arm, ALL_ARM: arm * 0.5}, list(ref.columns), mech).set_index(
        ["mechanism", "outcome"])
    g = t.loc[("x", "grain_output_1959_mt")]
    assert g["effect_q50"] == pytest.approx(-4.0)  # median of -5, -1, -3, -7
    assert g["effect_q05"] == pytest.approx(np.quantile([-5, -1, -3, -7], 0.05))
    assert g["effect_q95"] == pytest.approx(np.quantile([-5, -1, -3, -7], 0.95))
    assert g["with_q50"] == pytest.approx(147.5) and g["without_q50"] == pytest.approx(151.5)
    assert g["share_pct_q50"] == pytest.approx(np.median(100 * np.array([-5, -1, -3, -7]) / ref.iloc[:, 0]))
    d = t.loc[("x", "excess_deaths_1959_61_m")]
    assert d["effect_q50"] == pytest.approx(3.0) and d["share_pct_q50"] == pytest.approx(
        np.median([20.0, 10.0, 12.5, 30.0]))
    assert t.loc[(ALL_ARM, "grain_output_1959_mt"), "label"] == "all of the above" and len(t) == 4


def test_a_hold_for_a_span_gives_the_scenario_back_after_it(base):
    arm = hold_input(base, Hold("urban_net_migration_m_per_year", None, "1958-01", "1960-12"))
    before, after = policy_by_month(base), policy_by_month(arm)
    since, until = parse_month("1958-01"), parse_month("1960-12")
    held = before[since - 1].urban_net_migration_m_per_year
    assert held == 5.0  # 1957's net migration to the towns
    for m, p in after.items():
        expected = held if since <= m <= until else before[m].urban_net_migration_m_per_year
        assert p.urban_net_migration_m_per_year == expected
    assert before[parse_month("1959-06")].urban_net_migration_m_per_year == 13.3
    with pytest.raises(HightideError, match="ends before it begins"):
        hold_input(base, Hold("urban_net_migration_m_per_year", None, "1959-01", "1958-12"))


def test_arms_that_would_not_fit_in_memory_are_refused_before_any_run(monkeypatch, tmp_path):
    from hightide.engine import memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10 * 2**20)
    with pytest.raises(memory.ResourceLimitError, match="side by side|needs about"):
        decompose("historical", mechanisms=["weather"], scale=0.05, workers=2, out=tmp_path / "d")
    assert not (tmp_path / "d").exists()
    with pytest.raises(HightideError, match="scale"):
        decompose("historical", mechanisms=["weather"], scale=2.0, out=tmp_path / "d")


def test_a_hold_outside_the_run_changes_nothing():
    short = prepare("historical", end="1958-12")
    assert hold_input(short, Hold("sown_area_factor", None, "1959-01")) == short
    arm = switched_off(short, [MECHANISMS["sown_area_cut"], MECHANISMS["urban_recruitment"]])
    assert changed_fields(short, arm) == {"urban_net_migration_m_per_year"}


def test_an_arm_acts_only_where_its_switch_changes_the_run(base):
    """``acts``: a parameter set to another value, or an input held to another value in some month
    of the run, makes an arm differ from the scenario; a hold outside the run, or of an input the
    scenario never moves from the held value, does not."""
    from hightide.experiments.decomposition import acts

    assert acts(base, switched_off(base, [MECHANISMS["harvest_losses"]]))
    assert acts(base, switched_off(base, [MECHANISMS["weather"]]))  # the disaster series from 1959
    short = prepare("historical", end="1958-12")
    assert not acts(short, switched_off(short, [MECHANISMS["weather"]]))  # ... after this run
    assert not acts(base, hold_input(base, Hold("rural_industry_share", 0.0, "1952-01", "1958-08")))
    assert acts(base, hold_input(base, Hold("rural_industry_share", 0.0, "1952-01", "1958-09")))
    assert not acts(base, prepare(base, parameters={"harvest_loss_per_diverted": base.parameters.get(
        "harvest_loss_per_diverted", load_registry()["harvest_loss_per_diverted"].default)}))
