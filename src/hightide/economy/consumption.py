"""Monthly consumption from household stocks (MODEL.md §4.5).

Households smooth what they have over the months to the next harvest: they eat their need when
the stock allows, otherwise stock / months left. Stocks lose a little to pests and spoilage.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.calendar import months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.world.synthesis import adult_equivalents
from hightide.world.world import World


def monthly_need(params, hh, idx) -> np.ndarray:
    return params.food_need_kg_per_adult_equivalent / 12 * adult_equivalents(params, hh.children[idx], hh.adults[idx], hh.elderly[idx])


def ration(stock: np.ndarray, need: np.ndarray, months_left: np.ndarray) -> np.ndarray:
    """What a household eats this month: its need, or its stock spread over the months left."""
    return np.minimum(need, np.maximum(stock, 0.0) / np.maximum(months_left, 1))


def eat(world: World, ctx: StepContext) -> None:
    p, hh = ctx.params, world.households
    idx = np.flatnonzero(hh.active)
    prov = hh.province[idx]
    need = monthly_need(p, hh, idx)
    months_left = months_to_next_harvest_by_zone(world.provinces.zone[prov], ctx.cal_month)
    stock = hh.grain_kg[idx]
    eaten = ration(stock, need, months_left)
    stock = stock - eaten
    loss = stock * p.household_storage_loss_per_month
    hh.grain_kg[idx] = stock - loss
    ratio = np.divide(eaten, need, out=np.ones_like(need), where=need > 0)
    hh.food_ratio[idx] = (2.0 * hh.food_ratio[idx] + ratio) / 3.0
    w = world.weight
    ctx.add("consumption_kg", prov, eaten, w)
    ctx.add("household_loss_kg", prov, loss, w)
    ctx.add("food_need_kg", prov, need, w)
