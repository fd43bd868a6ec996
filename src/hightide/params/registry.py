"""Load the parameter registry (``parameters.toml``) and apply scenario overrides.

Rules read parameters only through a :class:`ParameterSet`; the registry is the single place
where a default, its plausible range, unit and source are written down (STYLE habit 7).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Mapping

from pydantic import BaseModel, ConfigDict, model_validator

from hightide.errors import ScenarioError


class Parameter(BaseModel):
    """One registry entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    group: str
    default: float
    range: tuple[float, float]
    unit: str
    source: str
    calibrated: bool
    description: str

    @model_validator(mode="after")
    def _default_in_range(self) -> "Parameter":
        lo, hi = self.range
        if not lo <= self.default <= hi:
            raise ValueError(f"{self.name}: default {self.default} outside range [{lo}, {hi}]")
        return self


@lru_cache(maxsize=1)
def load_registry() -> dict[str, Parameter]:
    """Read the bundled registry, validating every entry."""
    text = resources.files("hightide.params").joinpath("parameters.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    return {name: Parameter(name=name, **entry) for name, entry in raw.items()}


class ParameterSet:
    """Resolved parameter values with attribute access; unknown names are an error."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, float]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> float:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r} in the registry") from None

    def __setattr__(self, name, value):  # pragma: no cover - guard
        raise AttributeError("ParameterSet is read-only")

    def as_dict(self) -> dict[str, float]:
        return dict(self._values)


def resolve(overrides: Mapping[str, float] | None = None, *, where: str = "parameters") -> ParameterSet:
    """Registry defaults with ``overrides`` applied; names and ranges are checked."""
    registry = load_registry()
    values = {name: p.default for name, p in registry.items()}
    for name, value in (overrides or {}).items():
        if name not in registry:
            close = sorted(n for n in registry if n.split("_")[0] == name.split("_")[0])[:8]
            hint = f" Similar names: {', '.join(close)}." if close else ""
            raise ScenarioError(
                f"unknown parameter {name!r}.{hint} Run `hightide params` for the full list.",
                field=f"{where}.{name}",
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"expected a number, got {value!r}", field=f"{where}.{name}")
        lo, hi = registry[name].range
        if not lo <= float(value) <= hi:
            raise ScenarioError(
                f"{value} is outside the allowed range [{lo}, {hi}] ({registry[name].unit})",
                field=f"{where}.{name}",
            )
        values[name] = float(value)
    _check_shares(values, where)
    return ParameterSet(values)


#: Shares that must leave a positive remainder (the poor peasants) within 100% of households.
CLASS_SHARES = ("class_share_lower_middle", "class_share_upper_middle", "class_share_rich", "class_share_landlord")


def _check_shares(values: Mapping[str, float], where: str) -> None:
    total = sum(values[k] for k in CLASS_SHARES)
    if total >= 1.0:
        raise ScenarioError(
            f"class shares add up to {total:.0%} of households, leaving none for poor peasants; "
            f"{' + '.join(CLASS_SHARES)} must be below 100% ([001 §VI]: poor and not well-off 60-70%)",
            field=f"{where}.class_share_*",
        )
