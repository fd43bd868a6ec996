"""Monthly consumption from household stocks (MODEL.md §4.5).

Households smooth what they have over the months to the next harvest: they eat their need when
the stock allows, otherwise stock / months left. Stocks lose a little to pests and spoilage.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.calendar import months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.world.synthesis import adult_equivalents
from hightide.institutions.cooperatives import accounting_units
from hightide.world.households import NO_ORG
from hightide.world.organisations import COMMUNE
from hightide.world.world import World


def monthly_need(params, hh, idx) -> np.ndarray:
    return params.food_need_kg_per_adult_equivalent / 12 * adult_equivalents(params, hh.children[idx], hh.adults[idx], hh.elderly[idx])


def ration(stock: np.ndarray, need: np.ndarray, months_left: np.ndarray) -> np.ndarray:
    """What a household eats this month: its need, or its stock spread over the months left."""
    return np.minimum(need, np.maximum(stock, 0.0) / np.maximum(months_left, 1))


def mess_hall_ration(stock_u: np.ndarray, need_u: np.ndarray, months_left_u: np.ndarray, overeating: float) -> np.ndarray:
    """What a mess hall serves in a month from its pooled stock: while the stock looks ample (more
    than the need to the next harvest) everyone eats above need; then it rations
    (Chang & Wen 1997: overeating after the 1958 harvest, then hunger)."""
    ample = stock_u > need_u * months_left_u
    served = np.where(ample, need_u * (1.0 + overeating), np.minimum(need_u, stock_u / np.maximum(months_left_u, 1)))
    return np.minimum(served, np.maximum(stock_u, 0.0))


def eat(world: World, ctx: StepContext) -> None:
    p, hh = ctx.params, world.households
    idx = np.flatnonzero(hh.active)
    prov = hh.province[idx]
    need = monthly_need(p, hh, idx)
    months_left = months_to_next_harvest_by_zone(world.provinces.zone[prov], ctx.cal_month)
    stock = hh.grain_kg[idx]
    eaten = ration(stock, need, months_left)
    if ctx.policy.mess_halls:
        hall = _mess_hall_members(world, idx)
        if hall.any():
            m = idx[hall]
            unit = accounting_units(hh, world.organisations, m, ctx.policy, p.production_team_size, level="team")
            n = int(unit.max()) + 1
            s_u = np.bincount(unit, weights=stock[hall], minlength=n)
            n_u = np.bincount(unit, weights=need[hall], minlength=n)
            ml_u = np.zeros(n)
            ml_u[unit] = months_left[hall]
            served = mess_hall_ration(s_u, n_u, ml_u, p.mess_hall_overeating)
            frac = np.divide(need[hall], n_u[unit], out=np.zeros(hall.sum()), where=n_u[unit] > 0)
            eaten[hall] = served[unit] * frac
            stock[hall] = (s_u[unit] - served[unit]) * frac + eaten[hall]  # pooled: stocks shared by need
    stock = stock - eaten
    loss = stock * p.household_storage_loss_per_month
    hh.grain_kg[idx] = stock - loss
    ratio = np.divide(eaten, need, out=np.ones_like(need), where=need > 0)
    ratio = np.minimum(ratio, 1.0)  # eating above need does not bank health
    hh.food_ratio[idx] = (2.0 * hh.food_ratio[idx] + ratio) / 3.0
    w = world.weight
    ctx.add("consumption_kg", prov, eaten, w)
    ctx.add("household_loss_kg", prov, loss, w)
    ctx.add("food_need_kg", prov, need, w)


def _mess_hall_members(world: World, idx: np.ndarray) -> np.ndarray:
    hh, orgs = world.households, world.organisations
    org = hh.org[idx]
    return (org != NO_ORG) & (orgs.form[np.maximum(org, 0)] == COMMUNE)
