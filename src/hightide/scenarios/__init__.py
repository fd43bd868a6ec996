"""Scenario files: metadata, run settings, parameter overrides and a dated policy timeline."""

from hightide.scenarios.loader import bundled_scenarios, load_scenario
from hightide.scenarios.schema import Policy, PolicyEvent, Scenario, ScenarioMeta

__all__ = ["Policy", "PolicyEvent", "Scenario", "ScenarioMeta", "bundled_scenarios", "load_scenario"]
