"""Fuzzing the scenario loader: whatever a file holds, ``load_scenario`` returns a Scenario or raises
ScenarioError, never any other exception.

Documents are generated as Python structures and written as TOML by a small writer below (keys always
quoted, so any key text is legal TOML), plus raw text that is mostly not TOML at all.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from hightide.errors import ScenarioError
from hightide.params import load_registry
from hightide.scenarios import Scenario, load_scenario
from hightide.scenarios.schema import POLICY_FIELDS, ScenarioMeta

# --------------------------------------------------------------------------- a tiny TOML writer


def toml_string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped, everything else literal."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_document(doc: dict) -> str:
    """Top-level scalars first, then tables ([name]) and arrays of tables ([[name]])."""
    lines = []
    for key, value in doc.items():
        if not isinstance(value, dict) and not (isinstance(value, list) and value and all(isinstance(x, dict) for x in value)):
            lines.append(f"{toml_string(key)} = {toml_value(value)}")
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{toml_string(key)}]")
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            for item in value:
                lines.append(f"[[{toml_string(key)}]]")
                lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- strategies

ALNUM = st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="_-")
short_text = st.text(max_size=12)
key_text = st.text(ALNUM, min_size=1, max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    short_text,
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(key_text, inner, max_size=3)),
                      max_leaves=6)
def mostly(valid, junk):
    """``valid`` about five draws in six, so that many generated files get past the first check.

    (``st.one_of(valid, valid, junk)`` would not do: Hypothesis merges equal branches.)"""
    return st.sampled_from((True,) * 5 + (False,)).flatmap(lambda ok: valid if ok else junk)


bad_months = st.one_of(
    st.sampled_from(["1951-12", "1953-13", "1953-00", "1953/11", "1953-1", "", "2101-01", "1899-12"]),
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1899, 2101), st.integers(0, 13)),
)
run_months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1952, 1957), st.integers(1, 12))
REGISTRY = load_registry()
in_range = st.sampled_from(sorted(REGISTRY)).flatmap(
    lambda n: st.tuples(st.just(n), st.floats(*REGISTRY[n].range)))
policy_fields = st.sampled_from(POLICY_FIELDS)
policy_values = st.one_of(st.booleans(), st.floats(0, 1), st.floats(-40, 40),
                          st.sampled_from(["free_market", "unified_purchase", "three_fixes", "communism"]), values)
# `base` is limited to strings of ordinary length here: non-string and over-long bases are known bugs
# (see test_bad_scenarios.py and the wild fuzz below)
safe_bases = mostly(st.sampled_from(["historical", "no_collectivization"]),
                    st.one_of(st.sampled_from(["nope", "", "missing.toml"]), st.text(ALNUM, max_size=20)))
unknown_meta_key = key_text.filter(lambda k: k not in ScenarioMeta.model_fields)
no_extra = st.just({})


def scenario_table(base_values):
    return st.fixed_dictionaries(
        {"name": mostly(st.just("fuzz"), st.one_of(st.text(ALNUM, max_size=10), values)),
         "description": mostly(st.just("fuzzed"), st.one_of(short_text, values))},
        optional={"start": mostly(st.sampled_from(["1952-01", "1953-01"]), st.one_of(bad_months, values)),
                  "end": mostly(st.sampled_from(["1953-12", "1955-12", "1957-12"]), st.one_of(bad_months, values)),
                  "scale": mostly(st.floats(0.0001, 1.0), st.one_of(st.floats(-1, 2), values)),
                  "seed": mostly(st.integers(0, 2**63 - 1), st.one_of(st.integers(-5, 2**64), values)),
                  "base": base_values,
                  "sources": mostly(st.lists(short_text, max_size=2), values)},
    ).flatmap(lambda d: mostly(no_extra, st.dictionaries(unknown_meta_key, values, max_size=2)).map(
        lambda extra: {**d, **extra}))


parameters_table = mostly(
    st.lists(in_range, max_size=4).map(dict),
    st.dictionaries(st.one_of(st.sampled_from(sorted(REGISTRY)), key_text),
                    st.one_of(st.floats(-10, 3000), st.integers(-10, 3000), values), max_size=4),
)
policy_table = st.dictionaries(mostly(policy_fields, key_text), policy_values, max_size=4)
timeline_event = st.fixed_dictionaries(
    {}, optional={"date": mostly(run_months, st.one_of(bad_months, values)), "note": short_text}
).flatmap(lambda d: st.dictionaries(mostly(policy_fields, key_text), policy_values, min_size=1, max_size=3).map(
    lambda e: {**d, **e}))
timeline_array = st.lists(timeline_event, min_size=1, max_size=4)


def documents(base_values, wild: bool):
    sections = {"scenario": scenario_table(base_values), "parameters": parameters_table, "policy": policy_table,
                "timeline": timeline_array}
    if wild:  # any section may also hold any value at all
        sections = {k: st.one_of(v, values) for k, v in sections.items()}
    required = {"scenario": sections.pop("scenario")} if not wild else {}
    return st.fixed_dictionaries(required, optional=sections).flatmap(
        lambda d: st.dictionaries(key_text, st.one_of(values, st.dictionaries(key_text, values, max_size=2)),
                                  max_size=1 if wild else 0).map(lambda extra: {**extra, **d}))


raw_text = st.one_of(st.text(max_size=200), st.builds(lambda a, b: a + b, st.just("[scenario]\n"), st.text(max_size=120)))

@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.toml"


def load_text(path: Path, text: str):
    path.write_text(text, encoding="utf-8")
    try:
        return load_scenario(path)
    except ScenarioError as err:
        assert err.file == str(path)  # every error names the file
        return err


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(doc=documents(safe_bases, wild=False))
def test_structured_documents_load_or_raise_scenario_error(fuzz_file, doc):
    got = load_text(fuzz_file, toml_document(doc))
    assert isinstance(got, (Scenario, ScenarioError))
    event("loaded" if isinstance(got, Scenario) else f"ScenarioError on {got.field}")  # --hypothesis-show-statistics


@FUZZ
@given(text=raw_text)
def test_arbitrary_text_loads_or_raises_scenario_error(fuzz_file, text):
    got = load_text(fuzz_file, text)
    assert isinstance(got, (Scenario, ScenarioError))


# The known bugs as explicit examples, so the xfail does not depend on what the random search happens
# to reach (its sequence shifts whenever the registry or the policy fields change).
KNOWN_BUGS = (
    {"policy": 3, "scenario": {"name": "w", "description": "d"}},
    {"timeline": 3, "scenario": {"name": "w", "description": "d"}},
    {"scenario": {"name": "w", "description": "d", "base": 3}},
)


def test_any_document_loads_or_raises_scenario_error(fuzz_file):
    # no shrinking: only finding a failure matters here, and shrinking one costs seconds
    @settings(max_examples=150, deadline=None, database=None, report_multiple_bugs=False,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(documents(values, wild=True))
    def wild(doc):
        got = load_text(fuzz_file, toml_document(doc))
        assert isinstance(got, (Scenario, ScenarioError))

    for doc in KNOWN_BUGS:
        wild = example(doc)(wild)
    wild()


def test_the_writer_round_trips(fuzz_file):
    """Control for the fuzz: the TOML writer produces what tomllib reads back."""
    import tomllib

    doc = {"scenario": {"name": "w", "description": "d \"q\" \n", "seed": 3, "scale": 0.5, "x": [1, {"a": True}]},
           "timeline": [{"date": "1953-01", "mutual_aid_promotion": 0.3}], "top": float("inf")}
    back = tomllib.loads(toml_document(doc))
    assert back == doc
    sc = load_text(fuzz_file, toml_document({"scenario": {"name": "w", "description": "d", "end": "1953-12"},
                                  "timeline": [{"date": "1953-01", "mutual_aid_promotion": 0.3}]}))
    assert isinstance(sc, Scenario) and sc.timeline[0].mutual_aid_promotion == 0.3
