"""What one month's processes share: the date, policy, parameters, seed and the month's flows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hightide.engine.kernels import group_count, group_sum
from hightide.params import ParameterSet
from hightide.scenarios.schema import Policy

#: Flows every process may add to, per province, in real (weighted) units: kg or persons or counts.
FLOW_NAMES = (
    "production_kg", "reported_production_kg", "tax_kg", "purchase_kg", "seed_kg", "feed_kg",
    "resale_kg", "consumption_kg", "household_loss_kg", "estate_kg", "urban_supply_kg",
    "exports_kg", "imports_kg", "state_loss_kg",
    "births", "deaths", "hunger_deaths", "urban_births", "urban_deaths", "migrants",
    "households_formed", "households_extinct",
    "joined", "left", "mat_dissolved", "withdrawn", "dissolved", "food_need_kg",
    "coop_joined", "accumulation_kg", "welfare_kg",
)


class Exchange:
    """How a shard's processes get every province's value of a per-province aggregate."""

    def gather(self, name: str, values: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class StepContext:
    month: int  # month index (year*12 + month-1)
    start_month: int
    policy: Policy
    params: ParameterSet
    seed: int
    n_provinces: int
    initial: bool = False  # the settling month before the run: every household decides once
    flows: dict[str, np.ndarray] = field(default_factory=dict)
    national: dict[str, float] = field(default_factory=dict)
    exchange: Exchange | None = None  # a shard's link to the centre (None: every province is here)

    def __post_init__(self):
        if not self.flows:
            self.flows = {name: np.zeros(self.n_provinces) for name in FLOW_NAMES}

    @property
    def year(self) -> int:
        return self.month // 12

    @property
    def cal_month(self) -> int:
        return self.month % 12 + 1

    @property
    def years_elapsed(self) -> float:
        return (self.month - self.start_month) / 12.0

    def gather(self, name: str, values: np.ndarray) -> np.ndarray:
        """Per-province ``values`` (first axis: province) of every province. In one process the
        world holds every province and they are returned as they are; in a province shard (see
        :mod:`hightide.engine.sharding`) each province's row comes from the shard that owns it, so
        what is computed from the result is the same on any number of shards. Every read across
        provinces (national sums, shares, totals) goes through here, at a point every shard reaches."""
        return values if self.exchange is None else self.exchange.gather(name, values)

    def add(self, name: str, province: np.ndarray, values: np.ndarray, weight: np.ndarray) -> None:
        """Add per-household ``values`` (simulated units) to a flow, weighted to real units by province."""
        sums = group_sum(province, values, self.n_provinces)
        self.flows[name] += sums * weight

    def add_count(self, name: str, province: np.ndarray, weight: np.ndarray) -> None:
        """Add one (simulated) per entry of ``province`` to a flow, weighted to real units."""
        self.flows[name] += group_count(province, self.n_provinces) * weight
