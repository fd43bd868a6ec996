"""The parameter registry: every number a rule reads, with its default, range, unit and source."""

from hightide.params.registry import Parameter, ParameterSet, load_registry, resolve

__all__ = ["Parameter", "ParameterSet", "load_registry", "resolve"]
