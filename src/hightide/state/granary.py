"""The State's granary and unified supply (MODEL.md §4.4 (6), §4.5).

Each month the granary takes imports, feeds the towns at their ration, ships exports, and sells
back (resale) to rural households whose stock will not carry them to the next harvest. When grain
is short the claims are cut in that order of priority: towns, exports, rural resales.
"""

from __future__ import annotations

import numpy as np

from hightide.economy.consumption import monthly_need
from hightide.economy.distribution import settle
from hightide.engine.calendar import months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.world.world import World


def resale_request(params, stock: np.ndarray, need_month: np.ndarray, months_left: np.ndarray) -> np.ndarray:
    """Grain a deficit household is sold: enough to bring its stock to the target share of its need
    to the next harvest ([003] relief grain and resale to the ~10% grain-deficient households).
    Under the Leap's pressure part of the need is never reported upward (hunger_concealment)."""
    target = params.resale_target_share * need_month * months_left
    return np.maximum(target - stock, 0.0)


def urban_reserve(urban_need_month: np.ndarray, zones: np.ndarray, cal_month: int, max_months: float) -> float:
    """Grain the State keeps for the towns (to the next harvest, at most ``max_months``) before it
    resells to villages: urban supply came first (Lin & Yang 2000, urban bias; Walker 1984)."""
    months = min(float(months_to_next_harvest_by_zone(zones, cal_month).min()), max_months)
    return float(urban_need_month.sum() * months)


def supply(world: World, ctx: StepContext) -> None:
    p, hh, pol = ctx.params, world.households, ctx.policy
    n_prov = world.provinces.n
    imports = pol.grain_imports_mt_per_year * 1e9 / 12
    world.granary_kg += imports
    ctx.national["imports_kg"] = imports

    urban_need = world.urban_population * p.urban_ration_kg_per_capita / 12
    exports = pol.grain_exports_mt_per_year * 1e9 / 12
    idx = np.flatnonzero(hh.active)
    prov = hh.province[idx]
    need = monthly_need(p, hh, idx)
    months_left = months_to_next_harvest_by_zone(world.provinces.zone[prov], ctx.cal_month)
    # the State judges deficits on what was reported: phantom grain from inflated reports hides
    # real shortages (MODEL.md §4.1 the centre plans on what it is told)
    phantom = np.maximum(hh.reported_this_year_kg[idx] - hh.true_this_year_kg[idx], 0.0) * pol.report_credence
    request = resale_request(p, hh.grain_kg[idx] + phantom, need, months_left)
    resale_real = request * world.weight[prov]

    reserve = urban_reserve(urban_need, world.provinces.zone, ctx.cal_month, p.urban_reserve_months)
    paid_urban, paid_export, paid_resale = settle(
        np.array([world.granary_kg]),
        [np.array([urban_need.sum()]), np.array([exports]), np.array([resale_real.sum()])])
    paid_resale = np.minimum(paid_resale, max(world.granary_kg - reserve - paid_export[0], 0.0))
    paid_resale = paid_resale * (1.0 - p.hunger_concealment * pol.leap_pressure)
    u_frac = float(paid_urban[0] / urban_need.sum()) if urban_need.sum() > 0 else 1.0
    r_frac = float(paid_resale[0] / resale_real.sum()) if resale_real.sum() > 0 else 1.0
    urban_paid = urban_need * u_frac
    resold = request * r_frac
    hh.grain_kg[idx] += resold
    world.urban_food_ratio = np.full(n_prov, u_frac)
    world.granary_kg -= float(urban_paid.sum() + paid_export[0] + (resold * world.weight[prov]).sum())
    loss = world.granary_kg * p.state_storage_loss_per_month
    world.granary_kg -= loss
    ctx.flows["urban_supply_kg"] += urban_paid
    ctx.add("resale_kg", prov, resold, world.weight)
    ctx.national["exports_kg"] = float(paid_export[0])
    ctx.national["state_loss_kg"] = float(loss)
