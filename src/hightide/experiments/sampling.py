"""Parameter uncertainty: draw each member's parameters from the registry's ranges or from a file
of draws (e.g. a posterior sample), seeded per member (:func:`hightide.experiments.seeds.member_rng`).

A spec names what is sampled:

- ``calibrated``: the registry's calibrated parameters, uniform within their ranges;
- ``all``: every behavioural parameter (the technical ones in :data:`NOT_SAMPLED` stay fixed);
- ``group:NAME``: one registry group (``group:demography``);
- ``a,b,c``: these parameters;
- a path to a ``.csv`` or ``.parquet`` file with one column per parameter and one row per draw:
  each member takes one row, chosen with its own generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hightide.errors import ScenarioError
from hightide.experiments.seeds import member_rng
from hightide.params import load_registry, resolve

#: numerical settings, not statements about the world: never sampled by ``all``
NOT_SAMPLED = ("townships_min_per_province", "household_capacity_factor")
MAX_REDRAWS = 100


@dataclass
class ParameterSampler:
    """Draws one set of parameter overrides per member."""

    spec: str
    names: tuple[str, ...] = ()
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    draws: pd.DataFrame | None = None

    @classmethod
    def from_spec(cls, spec: str, fixed: dict[str, float] | None = None) -> ParameterSampler:
        """Parse ``spec``; ``fixed`` overrides (the scenario's own) are never sampled."""
        registry = load_registry()
        fixed = fixed or {}
        text = str(spec).strip()
        path = Path(text)
        if path.suffix in (".csv", ".parquet"):
            if not path.is_file():
                raise ScenarioError(f"no such file of parameter draws: {path}", field="sample_params")
            draws = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            unknown = [c for c in draws.columns if c not in registry]
            if unknown:
                raise ScenarioError(f"{path}: columns {', '.join(unknown)} are not registry parameters",
                                    field="sample_params")
            if draws.empty:
                raise ScenarioError(f"{path} holds no draws", field="sample_params")
            for _, row in draws.iterrows():  # names and ranges, once
                resolve(row.to_dict(), where=f"{path.name}")
            return cls(spec=str(path), names=tuple(draws.columns), draws=draws.reset_index(drop=True))
        if text == "calibrated":
            names = [n for n, p in registry.items() if p.calibrated]
        elif text == "all":
            names = [n for n in registry if n not in NOT_SAMPLED]
        elif text.startswith("group:"):
            group = text.split(":", 1)[1]
            names = [n for n, p in registry.items() if p.group == group]
            if not names:
                groups = sorted({p.group for p in registry.values()})
                raise ScenarioError(f"no parameter group {group!r}; groups: {', '.join(groups)}", field="sample_params")
        else:
            names = [n.strip() for n in text.split(",") if n.strip()]
            unknown = [n for n in names if n not in registry]
            if unknown or not names:
                raise ScenarioError(f"unknown parameter(s) {', '.join(unknown) or text!r}: give 'calibrated', 'all', "
                                    "'group:NAME', names separated by commas, or a .csv/.parquet file of draws",
                                    field="sample_params")
        names = [n for n in names if n not in fixed]
        return cls(spec=text, names=tuple(names), ranges={n: registry[n].range for n in names})

    def draw(self, base_seed: int, index: int, fixed: dict[str, float] | None = None) -> dict[str, float]:
        """Member ``index``'s overrides; redrawn (deterministically) if a draw breaks a registry
        constraint such as the class shares summing below 100%."""
        rng = member_rng(base_seed, index)
        fixed = fixed or {}
        if self.draws is not None:
            row = self.draws.iloc[int(rng.integers(len(self.draws)))]
            return {k: float(v) for k, v in row.items()}
        for _ in range(MAX_REDRAWS):
            values = {n: float(rng.uniform(*self.ranges[n])) for n in self.names}
            try:
                resolve({**fixed, **values})
            except ScenarioError:
                continue
            return values
        raise ScenarioError(f"could not draw parameters satisfying the registry's constraints in {MAX_REDRAWS} tries "
                            f"(spec {self.spec!r})", field="sample_params")
