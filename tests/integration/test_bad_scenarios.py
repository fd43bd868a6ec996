"""Bad scenario input: exit code 2, no traceback, and a message naming the file and the field.

Each case is checked twice: through the CLI (``hightide run FILE``) and through
``hightide.scenarios.load_scenario`` (ScenarioError with ``.file`` and ``.field``).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hightide.cli import app
from hightide.errors import ScenarioError
from hightide.scenarios import load_scenario

runner = CliRunner()

HEAD = '[scenario]\nname = "bad"\ndescription = "a bad scenario"\nstart = "1952-01"\nend = "1953-12"\n'


def with_head(extra: str = "", **replace: str) -> str:
    text = HEAD
    for old, new in replace.items():
        text = text.replace(old, new)
    return text + extra


EVENT = '[[timeline]]\ndate = "1953-01"\n'

# id -> (scenario text, field named in the error, words the message must contain)
CASES = {
    "unknown_section": (with_head('[bogus]\nx = 1\n'), "bogus", ["unknown section", "allowed"]),
    "unknown_key_in_scenario": (with_head('colour = "red"\n'), "scenario.colour", ["unknown key", "allowed"]),
    "unknown_key_in_policy": (with_head('[policy]\nbogus_lever = 1\n'), "policy.bogus_lever", ["unknown key", "mutual_aid_allowed"]),
    "unknown_key_in_timeline_event": (with_head(EVENT + 'mutual_aid_promotion = 0.3\nbogus = 1\n'), "timeline[0].bogus",
                                      ["unknown key", "allowed"]),
    "unknown_parameter": (with_head('[parameters]\nno_such_param = 1.0\n'), "parameters.no_such_param", ["unknown parameter"]),
    "parameter_out_of_range": (with_head('[parameters]\nagricultural_tax_rate = -0.1\n'), "parameters.agricultural_tax_rate",
                               ["-0.1", "range"]),
    "parameter_not_a_number": (with_head('[parameters]\nagricultural_tax_rate = "high"\n'), "parameters.agricultural_tax_rate",
                               ["number"]),
    "seed_wrong_type": (with_head('seed = "abc"\n'), "scenario.seed", ["integer"]),
    "bad_date_format": (with_head(**{'end = "1953-12"': 'end = "1953/11"'}), "scenario.end", ["YYYY-MM", "1953/11"]),
    "month_13": (with_head(**{'end = "1953-12"': 'end = "1953-13"'}), "scenario.end", ["1953-13"]),
    "timeline_bad_date": (with_head('[[timeline]]\ndate = "1953/01"\nmutual_aid_promotion = 0.3\n'), "timeline[0].date",
                          ["YYYY-MM"]),
    "timeline_date_outside_run": (with_head('[[timeline]]\ndate = "1955-01"\nmutual_aid_promotion = 0.3\n'),
                                  "timeline[0].date", ["1955-01", "outside"]),
    "conflicting_events": (with_head(EVENT + 'mutual_aid_promotion = 0.3\n' + EVENT + 'mutual_aid_promotion = 0.4\n'),
                           "timeline[1].mutual_aid_promotion", ["conflicting", "0.3", "0.4"]),
    "procurement_regime_not_allowed": (with_head('[policy]\nprocurement_regime = "communism"\n'),
                                       "policy.procurement_regime", ["free_market", "unified_purchase", "three_fixes"]),
    "procurement_regime_not_allowed_in_event": (with_head(EVENT + 'procurement_regime = "communism"\n'),
                                                "timeline[0].procurement_regime", ["three_fixes"]),
    "scale_zero": (with_head('scale = 0\n'), "scenario.scale", ["greater than 0"]),
    "scale_above_one": (with_head('scale = 1.5\n'), "scenario.scale", ["less than or equal to 1"]),
    "missing_scenario_table": ('[policy]\nmutual_aid_allowed = true\n', "scenario", ["missing"]),
    "scenario_missing_name": ('[scenario]\ndescription = "d"\n', "scenario.name", ["missing"]),
    "event_changes_nothing": (with_head(EVENT + 'note = "nothing"\n'), "timeline[0]", ["changes no policy field"]),
    "start_before_1952": (with_head(**{'start = "1952-01"': 'start = "1951-06"'}), "scenario", ["1952-01"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_load_scenario_names_file_and_field(scenario_file, case):
    text, field, words = CASES[case]
    path = scenario_file(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == field
    for word in words:
        assert word in err.message, (word, err.message)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_exits_2_naming_file_and_field(scenario_file, tmp_path, case):
    text, field, _ = CASES[case]
    path = scenario_file(text)
    out = tmp_path / "never"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert str(path) in result.output
    assert f"field `{field}`" in result.output
    assert not out.exists()


def test_malformed_toml(scenario_file, tmp_path):
    path = scenario_file(HEAD + '[policy\nmutual_aid_allowed = true\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert "not valid TOML" in info.value.message and "line 6" in info.value.message
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert str(path) in result.output and "line 6" in result.output


def test_end_before_start(scenario_file, tmp_path):
    path = scenario_file(with_head(**{'start = "1952-01"': 'start = "1953-06"', 'end = "1953-12"': 'end = "1952-12"'}))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(path)
    assert err.field is not None and err.field.startswith("scenario")
    assert "end 1952-12 is before start 1953-06" in err.message
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(path) in result.output and "before start" in result.output


def test_unknown_bundled_scenario_name(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario("no_such_scenario")
    assert "no_such_scenario" in str(info.value)
    assert "historical" in str(info.value) and "no_collectivization" in str(info.value)
    result = runner.invoke(app, ["run", "no_such_scenario", "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "no_such_scenario" in result.output and "historical" in result.output


def test_a_directory_named_like_a_bundled_scenario_does_not_hide_it(tmp_path, monkeypatch):
    """`hightide ensemble historical --out historical`, then `... exit_right`: the ensemble's
    directory ./historical is not the scenario exit_right's base names."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "historical").mkdir()
    assert load_scenario("historical").name == "historical"
    derived = load_scenario("exit_right")
    assert derived.name == "exit_right" and derived.scenario.start == "1952-01"


def test_missing_scenario_file(tmp_path):
    missing = tmp_path / "missing.toml"
    result = runner.invoke(app, ["run", str(missing), "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert str(missing) in result.output


def test_base_that_does_not_exist_names_the_file_and_the_missing_base(scenario_file, tmp_path):
    path = scenario_file(with_head('base = "no_such_base"\n'))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert "no_such_base" in info.value.message
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(path) in result.output and "no_such_base" in result.output


def test_base_that_does_not_exist_names_the_field(scenario_file):
    path = scenario_file(with_head('base = "no_such_base"\n'))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "scenario.base"


def test_scenario_inheriting_from_itself(scenario_file):
    path = scenario_file(with_head('base = "SELF"\n'), name="loop.toml")
    path.write_text(path.read_text().replace("SELF", str(path)))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "scenario.base"
    assert "inherits from itself" in info.value.message


def test_a_valid_derived_scenario_loads(scenario_file):
    """Control: the head used above is itself valid, so each failure above is due to its one defect."""
    sc = load_scenario(scenario_file(with_head(EVENT + 'mutual_aid_promotion = 0.3\n')))
    assert sc.name == "bad"
    assert [e.date for e in sc.timeline] == ["1953-01"]
    derived = load_scenario(scenario_file(with_head('base = "historical"\n'), name="derived.toml"))
    assert derived.policy.procurement_regime == "free_market"
    assert all("1952-01" < e.date <= "1953-12" for e in derived.timeline)


# --------------------------------------------------------------------------- bugs found


@pytest.mark.parametrize("value", ["3", "[1, 2]", "true"])
def test_non_string_base_is_a_scenario_error(scenario_file, value):
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(with_head(f"base = {value}\n")))
    assert info.value.field == "scenario.base"


def test_very_long_scenario_name_is_a_scenario_error():
    with pytest.raises(ScenarioError):
        load_scenario("x" * 300)


@pytest.mark.parametrize("section", ["policy = 3", "policy = [1]", "timeline = 3"])
def test_non_table_sections_are_scenario_errors(scenario_file, section):
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(section + "\n" + HEAD))
    assert info.value.field in ("policy", "timeline")


def test_parameters_not_a_table_is_a_scenario_error(scenario_file):
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file("parameters = 3\n" + HEAD))
    assert info.value.field == "parameters"


def test_cli_error_keeps_bracketed_section_names(scenario_file, tmp_path):
    path = scenario_file('[policy]\nmutual_aid_allowed = true\n')
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2
    assert "missing [scenario] table" in result.output


def test_cli_error_with_markup_like_text_does_not_crash(scenario_file, tmp_path):
    path = scenario_file('["[/x]"]\na = 1\n' + HEAD)
    with pytest.raises(ScenarioError):  # the loader itself is right
        load_scenario(path)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "never"), "--quiet"])
    assert result.exit_code == 2
    assert "[/x]" in result.output


def test_class_share_ranges_always_leave_poor_peasants():
    """Within the registry's ranges the class shares can never reach 100%, so poor peasants (the
    remainder, [001 §VI]) always exist; the cross-check guards against a range being widened."""
    from hightide.errors import ScenarioError
    from hightide.params import load_registry
    from hightide.params.registry import CLASS_SHARES, _check_shares

    reg = load_registry()
    assert sum(reg[k].range[1] for k in CLASS_SHARES) < 1.0
    with pytest.raises(ScenarioError) as err:
        _check_shares({"class_share_lower_middle": 0.5, "class_share_upper_middle": 0.3,
                       "class_share_rich": 0.1, "class_share_landlord": 0.1}, "parameters")
    assert err.value.field == "parameters.class_share_*" and "100%" in err.value.message
