"""The dashboard's scenario edits as data (no browser): timeline rows <-> events, values typed by
lever, parameters within the registry, and when two scenarios drive the model the same."""

from __future__ import annotations

import pytest

from hightide.errors import ScenarioError
from hightide.report.editing import (
    Edits,
    edited_scenario,
    events_from_rows,
    key_parameters,
    lever_help,
    lever_kind,
    parse_value,
    same_inputs,
    timeline_rows,
)
from hightide.scenarios import bundled_scenarios, load_scenario


@pytest.mark.parametrize("name", list(bundled_scenarios()))
def test_unchanged_rows_rebuild_the_same_scenario(name):
    base = load_scenario(name)
    sc = edited_scenario(Edits(base=name, end=base.scenario.end, parameters=dict(base.parameters),
                               timeline=timeline_rows(base)))
    assert same_inputs(sc, base)
    assert sc.policy_schedule() == base.policy_schedule()


def _policy_at(sc, year: int, month: int):
    schedule = sc.policy_schedule()
    return schedule[max(m for m in schedule if m <= year * 12 + month - 1)]


def test_a_changed_switch_changes_the_policy_from_its_date():
    base = load_scenario("historical")
    assert _policy_at(base, 1959, 6).mess_halls is True  # the record: mess halls 1958-61
    rows = [r for r in timeline_rows(base) if r["lever"] != "mess_halls"]
    rows.append({"date": "1959-01", "lever": "mess_halls", "value": "false", "note": "closed early"})
    sc = edited_scenario(Edits("historical", "1966-12", {}, rows))
    assert not same_inputs(sc, base)
    assert _policy_at(sc, 1959, 6).mess_halls is False
    assert _policy_at(sc, 1955, 6) == _policy_at(base, 1955, 6)  # nothing else moved


def test_rows_of_one_date_make_one_event_with_joined_notes():
    events = events_from_rows([
        {"date": "1955-07", "lever": "pressure", "value": "0.5", "note": "high tide"},
        {"date": "1955-07", "lever": "exit_allowed", "value": "no", "note": "no exit"},
        {"date": "", "lever": "", "value": "", "note": ""},  # a blank row the editor adds
        {"date": "1953-01", "lever": "procurement_regime", "value": "unified_purchase", "note": ""},
    ])
    assert [e["date"] for e in events] == ["1953-01", "1955-07"]
    assert events[1]["pressure"] == 0.5 and events[1]["exit_allowed"] is False
    assert events[1]["note"] == "high tide; no exit"


@pytest.mark.parametrize("row, message", [
    ({"date": "1955-13", "lever": "pressure", "value": "0.5"}, "month must be 01-12"),
    ({"date": "1955-07", "lever": "pressur", "value": "0.5"}, "unknown policy lever"),
    ({"date": "1955-07", "lever": "exit_allowed", "value": "maybe"}, "true or false"),
    ({"date": "1955-07", "lever": "procurement_regime", "value": "barter"}, "one of free_market"),
    ({"date": "1955-07", "lever": "pressure", "value": "lots"}, "needs a number"),
])
def test_bad_rows_name_the_row_and_what_is_allowed(row, message):
    with pytest.raises(ScenarioError, match=message) as info:
        events_from_rows([row])
    assert "timeline row 1" in str(info.value)


def test_a_lever_set_twice_on_one_date_is_an_error():
    with pytest.raises(ScenarioError, match="set twice"):
        events_from_rows([{"date": "1955-07", "lever": "pressure", "value": "0.5"},
                          {"date": "1955-07", "lever": "pressure", "value": "0.6"}])


def test_out_of_range_lever_value_is_refused_by_the_schema():
    with pytest.raises(ScenarioError, match="less than or equal to 1"):
        edited_scenario(Edits("historical", "1966-12", {},
                              [{"date": "1955-07", "lever": "pressure", "value": "7"}]))


def test_parameters_outside_their_range_are_refused():
    with pytest.raises(ScenarioError, match="outside the allowed range"):
        edited_scenario(Edits("historical", "1966-12", {"campaign_speed": 99.0}, []))


def test_run_window_is_checked():
    with pytest.raises(ScenarioError):
        edited_scenario(Edits("historical", "1951-12", {}, []))


def test_parse_value_by_kind():
    assert lever_kind("mess_halls")[0] == "bool" and parse_value("mess_halls", "TRUE") is True
    assert lever_kind("accounting_unit") == ("choice", ("unit", "brigade", "team"))
    assert parse_value("pressure", " 0.25 ") == 0.25
    assert "Allowed: 0 to 1." in lever_help("pressure")
    assert "Allowed: unit, brigade, team." in lever_help("accounting_unit")


def test_key_parameters_are_the_calibrated_ones():
    from hightide.params import load_registry

    keys = key_parameters()
    assert keys and all(load_registry()[k].calibrated for k in keys)
