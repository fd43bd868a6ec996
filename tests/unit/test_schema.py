"""scenarios/schema.py: months, policy events and the policy schedule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hightide.scenarios.schema import Policy, PolicyEvent, Scenario, ScenarioMeta, format_month, parse_month


@pytest.mark.parametrize("text, index", [("1952-01", 1952 * 12), ("1953-11", 1953 * 12 + 10), ("1966-12", 1966 * 12 + 11)])
def test_parse_and_format_month(text, index):
    assert parse_month(text) == index
    assert format_month(index) == text


@pytest.mark.parametrize("text", ["1953/11", "1953-1", "1953-13", "1953-00", "53-11", "1953-11-01", "", "1800-01"])
def test_parse_month_rejects(text):
    with pytest.raises(ValueError):
        parse_month(text)


def test_parse_month_rejects_non_ascii_digits():
    with pytest.raises(ValueError):
        parse_month("\u0661\u0669\u0665\u0663-\u0661\u0662")


def test_policy_event_must_change_something():
    with pytest.raises(ValidationError):
        PolicyEvent(date="1953-01", note="nothing")
    ev = PolicyEvent(date="1953-01", mutual_aid_promotion=0.3)
    assert ev.changes() == {"mutual_aid_promotion": 0.3}
    assert ev.month == 1953 * 12


def test_policy_schedule_carries_changes_forward():
    sc = Scenario(
        scenario=ScenarioMeta(name="s", description="d", start="1952-01", end="1956-12"),
        policy=Policy(procurement_regime="free_market", mutual_aid_promotion=0.5),
        timeline=[PolicyEvent(date="1955-08", procurement_regime="three_fixes"),
                  PolicyEvent(date="1953-11", procurement_regime="unified_purchase", mutual_aid_promotion=0.7)],
    )
    sched = sc.policy_schedule()
    assert sorted(sched) == [1952 * 12, 1953 * 12 + 10, 1955 * 12 + 7]
    assert sched[1953 * 12 + 10].procurement_regime == "unified_purchase"
    assert sched[1955 * 12 + 7].procurement_regime == "three_fixes"
    assert sched[1955 * 12 + 7].mutual_aid_promotion == 0.7  # carried forward


def test_policy_state_lookup():
    from hightide.state.policy import PolicySchedule

    sc = Scenario(scenario=ScenarioMeta(name="s", description="d", end="1955-12"),
                  timeline=[PolicyEvent(date="1953-11", procurement_regime="unified_purchase")])
    ps = PolicySchedule(sc)
    assert ps.at(1953 * 12 + 9).procurement_regime == "free_market"
    assert ps.at(1953 * 12 + 10).procurement_regime == "unified_purchase"
    assert ps.at(1955 * 12 + 11).procurement_regime == "unified_purchase"


@pytest.mark.parametrize("name, field, value, since", [
    ("exit_right", "exit_allowed", True, "1958-09"),
    ("no_mess_halls", "mess_halls", False, "1958-09"),
    ("no_mess_halls", "free_supply_share", 0.0, "1958-09"),
    ("flexible_procurement", "procurement_on_true_output", True, "1958-09"),
    ("mao_july_1955", "private_plot_share", 0.05, "1958-09"),
    ("mao_july_1955", "commune_townships", 0.0, "1958-09"),
    ("early_retreat", "private_plot_share", 0.05, "1959-08"),
    ("early_retreat", "free_supply_share", 0.0, "1959-08"),
    ("early_retreat", "campaign_technique_share", 0.0, "1959-08"),
    ("gradual_1955", "exit_allowed", True, "1958-09"),
    ("gradual_1955", "commune_townships", 0.0, "1958-09"),
    ("gradual_1955", "pressure", 0.15, "1955-10"),
    ("normal_weather", "weather_source", "random", "1952-01"),
    ("relief_sees_hunger", "relief_sees_hunger", True, "1952-01"),
])
def test_a_counterfactual_keeps_its_change_against_later_historical_events(name, field, value, since):
    """A counterfactual extends ``historical``; none of the base's later events may undo what it
    changes (a new event in the historical timeline must be matched in the counterfactuals that
    hold that field)."""
    from hightide.scenarios.loader import load_scenario
    from hightide.scenarios.schema import parse_month
    from hightide.state.policy import PolicySchedule

    scenario = load_scenario(name)
    schedule = PolicySchedule(scenario)
    for month in range(parse_month(since), scenario.end_month + 1):
        assert getattr(schedule.at(month), field) == value, (name, field, month)


def test_historical_ration_standards_are_cut_for_the_1960_61_grain_year_only():
    """The directives of 7 and 14 Sep 1960 lowered rural and urban rations for the rest of the
    1960/61 grain year (July-June); the 1961/62 year starts at the registry standards again."""
    from hightide.scenarios.loader import load_scenario
    from hightide.scenarios.schema import parse_month
    from hightide.state.policy import PolicySchedule

    schedule = PolicySchedule(load_scenario("historical"))
    for month, rural, urban in (("1960-08", 1.0, 1.0), ("1960-09", 0.8, 0.93), ("1961-06", 0.8, 0.93),
                                ("1961-07", 1.0, 1.0), ("1966-12", 1.0, 1.0)):
        pol = schedule.at(parse_month(month))
        assert (pol.rural_ration_factor, pol.urban_ration_factor) == (rural, urban), month


def test_historical_procurement_regimes_follow_the_grain_policy():
    """Free market to the unified purchase of Nov 1953 (the scenario's 1953-10 event), the Three
    Fixes from Aug 1955, the Leap's planned shares from the communes, and the Three Fixes again
    from the retreat of 1961 (Zhang Chen 2015: the 1961 round in Suiping) to the end."""
    from hightide.scenarios.loader import load_scenario
    from hightide.scenarios.schema import parse_month
    from hightide.state.policy import PolicySchedule

    schedule = PolicySchedule(load_scenario("historical"))
    for month, regime in (("1953-09", "free_market"), ("1954-01", "unified_purchase"), ("1955-08", "three_fixes"),
                          ("1958-09", "planned_share"), ("1960-12", "planned_share"), ("1961-01", "three_fixes"),
                          ("1966-12", "three_fixes")):
        assert schedule.at(parse_month(month)).procurement_regime == regime, month


def test_historical_water_works_follow_the_monthly_turnout():
    """Winter 1957-58: 60-70, 80 and 100 M peasants on the works in November, December and January
    (Peking Review, 4 Mar 1958) of ~308 M rural adults, until the spring sowing; none in October
    (the harvest month) or after March."""
    from hightide.scenarios.loader import load_scenario
    from hightide.scenarios.schema import parse_month
    from hightide.state.policy import PolicySchedule

    schedule = PolicySchedule(load_scenario("historical"))
    for month, share in (("1957-10", 0.0), ("1957-11", 0.21), ("1957-12", 0.26), ("1958-01", 0.32),
                         ("1958-03", 0.32), ("1958-04", 0.0)):
        assert schedule.at(parse_month(month)).water_conservancy_share == share, month
