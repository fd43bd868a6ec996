"""params/registry.py: every parameter documented and in range; overrides checked."""

from __future__ import annotations

import pytest

from hightide.errors import ScenarioError
from hightide.params import ParameterSet, load_registry, resolve

REGISTRY = load_registry()


def test_registry_is_not_empty():
    assert len(REGISTRY) > 50
    assert "agricultural_tax_rate" in REGISTRY


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_entry_is_documented_and_default_in_range(name):
    p = REGISTRY[name]
    lo, hi = p.range
    assert lo <= hi
    assert lo <= p.default <= hi
    assert p.source.strip(), f"{name} has no source"
    assert p.unit.strip(), f"{name} has no unit"
    assert p.description.strip(), f"{name} has no description"
    assert p.group.strip()


def test_resolve_without_overrides_gives_the_defaults():
    values = resolve().as_dict()
    assert values == {name: p.default for name, p in REGISTRY.items()}


def test_resolve_applies_an_override_within_range():
    ps = resolve({"agricultural_tax_rate": 0.2, "seed_kg_per_mu": 10})
    assert ps.agricultural_tax_rate == 0.2
    assert ps.seed_kg_per_mu == 10.0 and isinstance(ps.seed_kg_per_mu, float)
    assert ps.persons_per_household == REGISTRY["persons_per_household"].default


@pytest.mark.parametrize("name", ["agricultural_tax_rate", "weather_sd_national"])
def test_range_ends_are_allowed(name):
    lo, hi = REGISTRY[name].range
    assert getattr(resolve({name: lo}), name) == lo
    assert getattr(resolve({name: hi}), name) == hi


def test_resolve_rejects_unknown_names_naming_the_field():
    with pytest.raises(ScenarioError) as info:
        resolve({"agricultural_tax_rat": 0.1})
    assert info.value.field == "parameters.agricultural_tax_rat"
    assert "agricultural_tax_rat" in str(info.value)
    assert "agricultural_tax_rate" in str(info.value)  # the similar-names hint


@pytest.mark.parametrize("value", [-0.1, 0.31, 1e9, float("inf"), float("nan")])
def test_resolve_rejects_out_of_range_values_naming_the_field(value):
    with pytest.raises(ScenarioError) as info:
        resolve({"agricultural_tax_rate": value})
    assert info.value.field == "parameters.agricultural_tax_rate"
    assert "range" in info.value.message


@pytest.mark.parametrize("value", ["0.1", True, None, [0.1]])
def test_resolve_rejects_non_numbers(value):
    with pytest.raises(ScenarioError) as info:
        resolve({"agricultural_tax_rate": value})
    assert info.value.field == "parameters.agricultural_tax_rate"


def test_resolve_uses_the_where_prefix():
    with pytest.raises(ScenarioError) as info:
        resolve({"nope": 1.0}, where="overrides")
    assert info.value.field == "overrides.nope"


def test_parameter_set_is_read_only_and_rejects_unknown_attributes():
    ps = resolve()
    with pytest.raises(AttributeError):
        ps.no_such_parameter
    with pytest.raises(AttributeError):
        ps.agricultural_tax_rate = 0.2
    assert isinstance(ps, ParameterSet)
