"""Effort: what members put into the growing season under their unit's incentives (MODEL.md §4.3).

Each month a household's current incentive is set by its unit: monitoring weakens with the size
of the unit that shares the harvest (Lin 1990; Putterman 1987), coerced members work less,
without the right to withdraw the discipline of exit is gone (Lin 1990), and free supply cuts the
link between work and food; labour drawn all year into commune industry and works is not in the
fields. Effort at a harvest is the mean over the growing season, so a change of organisation in
August moves the autumn harvest only a little.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.context import StepContext
from hightide.institutions import cooperatives
from hightide.institutions.cooperatives import is_collective
from hightide.world.households import NO_ORG
from hightide.world.organisations import COMMUNE
from hightide.world.world import World

GROWING_SEASON_MONTHS = 6.0  # April-September for the autumn crop (MODEL.md §3)


def current_effort(world: World, ctx: StepContext, idx: np.ndarray) -> np.ndarray:
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    e = np.ones(idx.size)
    org = hh.org[idx]
    form = np.where(org != NO_ORG, orgs.form[np.maximum(org, 0)], -1)
    coll = is_collective(form)
    if coll.any():
        acc = cooperatives.accounting_units(hh, orgs, idx[coll], pol, p.production_team_size)
        size = np.bincount(acc).astype(np.float64)
        coerced = np.bincount(acc, weights=hh.coerced[idx[coll]]) / size
        free = np.where(form[coll] == COMMUNE, pol.free_supply_share, 0.0)
        e[coll] = cooperatives.effort(p, size, coerced)[acc] * (1.0 - p.free_supply_effort_loss * free)
    return e * (1.0 - pol.rural_industry_share)


def update_effort(world: World, ctx: StepContext) -> None:
    hh = world.households
    idx = np.flatnonzero(hh.active)
    cur = current_effort(world, ctx, idx)
    hh.effort[idx] += ((cur - hh.effort[idx]) / GROWING_SEASON_MONTHS).astype(np.float32)
