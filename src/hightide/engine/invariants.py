"""Invariant checks, switched on with ``check=True`` (STYLE habit 9; MODEL.md §4.4).

After every month: grain in household stocks and in the State's granary changes exactly by the
recorded flows; rural and urban people change exactly by births, deaths and migrants; households
by those formed and died out; nothing is negative; every member belongs to a live organisation
of its own township.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hightide.engine.context import StepContext
from hightide.errors import HightideError
from hightide.world.households import NO_ORG
from hightide.world.organisations import COMMUNE
from hightide.world.world import World


class InvariantError(HightideError):
    """A conservation law or a state constraint was broken: a bug in the model."""


@dataclass
class Snapshot:
    household_grain: float
    granary: float
    rural_people: float
    urban_people: float
    households: float

    @classmethod
    def take(cls, world: World) -> "Snapshot":
        hh, w = world.households, world.household_weight()
        act = hh.active
        return cls(
            household_grain=float(np.sum(hh.grain_kg * act * w)),
            granary=float(world.granary_kg),
            rural_people=float(np.sum(hh.persons() * act * w)),
            urban_people=float(world.urban_population.sum()),
            households=float(np.sum(act * w)),
        )


def _close(a: float, b: float, what: str, month: int, scale: float) -> None:
    tol = 1e-7 * max(abs(scale), 1.0) + 1e-6
    if abs(a - b) > tol:
        raise InvariantError(f"{what} not conserved in month {month // 12}-{month % 12 + 1:02d}: "
                             f"change {a:.6f} vs flows {b:.6f} (diff {a - b:.6f})")


def check(before: Snapshot, world: World, ctx: StepContext) -> None:
    after = Snapshot.take(world)
    f = {k: float(v.sum()) for k, v in ctx.flows.items()}
    n = ctx.national
    hh_grain = (f["production_kg"] - f["tax_kg"] - f["purchase_kg"] - f["seed_kg"] - f["feed_kg"] - f["accumulation_kg"]
                + f["resale_kg"] - f["consumption_kg"] - f["household_loss_kg"] - f["estate_kg"])
    _close(after.household_grain - before.household_grain, hh_grain, "household grain", ctx.month, before.household_grain)
    state = (f["tax_kg"] + f["purchase_kg"] + n.get("imports_kg", 0.0) + f["estate_kg"] + n.get("state_farm_kg", 0.0)
             - f["urban_supply_kg"] - n.get("exports_kg", 0.0) - f["resale_kg"] - n.get("state_loss_kg", 0.0))
    _close(after.granary - before.granary, state, "state granary", ctx.month, before.granary + f["production_kg"])
    _close(after.rural_people - before.rural_people, f["births"] - f["deaths"] - f["migrants"], "rural people", ctx.month, before.rural_people)
    _close(after.urban_people - before.urban_people, f["urban_births"] - f["urban_deaths"] + f["migrants"], "urban people", ctx.month, before.urban_people)
    _close(after.households - before.households, f["households_formed"] - f["households_extinct"], "households", ctx.month, before.households)
    _non_negative(world, ctx)


def _non_negative(world: World, ctx: StepContext) -> None:
    hh, orgs = world.households, world.organisations
    act = hh.active
    month = f"{ctx.month // 12}-{ctx.month % 12 + 1:02d}"
    if world.granary_kg < -1e-3:
        raise InvariantError(f"state granary negative in {month}: {world.granary_kg}")
    if np.any(hh.grain_kg[act] < -1e-6):
        raise InvariantError(f"negative household grain stock in {month}")
    for name in ("children", "adults", "elderly"):
        if np.any(hh.arrays[name] < 0):
            raise InvariantError(f"negative {name} in {month}")
    if np.any(world.urban_population < 0):
        raise InvariantError(f"negative urban population in {month}")
    members = np.flatnonzero(act & (hh.org != NO_ORG))
    org = hh.org[members]
    if np.any(~orgs.active[org]):
        raise InvariantError(f"household belongs to a dissolved organisation in {month}")
    commune = orgs.form[org] == COMMUNE
    if np.any((orgs.township[org] != hh.township[members]) & ~commune):
        raise InvariantError(f"member lives outside its organisation's township in {month}")
    if np.any(orgs.province[org] != hh.province[members]):
        raise InvariantError(f"member lives outside its commune's province in {month}")
    if np.any(hh.org[~act & hh.used_mask()] != NO_ORG):
        raise InvariantError(f"an extinct household still belongs to an organisation in {month}")
