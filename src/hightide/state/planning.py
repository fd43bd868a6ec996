"""Planning, pressure and reporting (MODEL.md §4.1; [003]; [002]; [004]).

Each province's leadership has a radicalism trait drawn at the start (Kung & Chen 2011 give the
spread) and builds zeal from its own history: running ahead of the nation in the co-operative
campaigns under high pressure. Under the Leap's pressure cadres report output inflated by
(1 + exaggeration), more so in radical provinces; the centre plans on what it is told.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.context import StepContext
from hightide.engine.kernels import form_counts, form_share
from hightide.institutions.cooperatives import COLLECTIVE_FORMS
from hightide.world.world import World

HIGH_PRESSURE = 0.5


def exaggeration(params, leap_pressure: float, radicalism: np.ndarray) -> np.ndarray:
    """Reported/true - 1 per province: grows with pressure and the leadership's radicalism
    (MODEL.md §4.1 two faces of pressure; Fan, Xiong & Zhou 2016 for the 1958 peak ~0.9)."""
    return params.exaggeration_scale * leap_pressure * np.maximum(1.0 + radicalism, 0.0)


def update(world: World, ctx: StepContext) -> None:
    """Roll reports over at the new year, build zeal, and set this month's exaggeration."""
    hh, pol = world.households, ctx.policy
    if ctx.cal_month == 1:
        for a, n in zip(hh.block_start, hh.used):  # the used slots of each province block
            sl = slice(int(a), int(a + n))
            hh.reported_last_year_kg[sl] = hh.reported_this_year_kg[sl]
            hh.reported_this_year_kg[sl] = 0.0
            hh.true_last_year_kg[sl] = hh.true_this_year_kg[sl]
            hh.true_this_year_kg[sl] = 0.0
    if pol.pressure >= HIGH_PRESSURE:
        counts = ctx.gather("form_counts", form_counts(world))  # the nation's share needs every province
        w = world.weight
        total = counts.sum(axis=1)
        share = form_share(counts, COLLECTIVE_FORMS)
        national = float((share * total * w).sum() / max((total * w).sum(), 1))
        world.zeal += np.maximum(share - national, 0.0) / 12.0
    world.exaggeration = exaggeration(ctx.params, pol.leap_pressure, world.radicalism(ctx.params))
    world.months_without_exit = 0 if pol.exit_allowed else world.months_without_exit + 1


def planned_gross_quota(params, basis: np.ndarray, radicalism: np.ndarray, season_share: np.ndarray) -> np.ndarray:
    """The Leap's quota (tax + purchase) for a harvest: a share of the basis output (last year's
    report, or the true harvest under flexible procurement), higher in radical provinces
    (Meng, Qian & Yared 2015: rigid quotas; Kung & Chen 2011: +3 points under radical leaders)."""
    share = params.planned_procurement_share + params.radicalism_procurement * np.maximum(radicalism, 0.0)
    return share * basis * season_share


def procurement_adjustment(params, world: World, policy) -> float:
    """Purchase quotas of the ordinary regimes cut when the granary is above the State's target
    stock (Walker 1984); never raised above the rule's quota to refill it: in the crisis the State
    imported instead (MODEL.md §5). The Leap's plan ignores the stock."""
    if policy.procurement_regime not in ("unified_purchase", "three_fixes"):
        return 1.0
    target = (world.urban_population.sum() * params.urban_ration_kg_per_capita * policy.urban_ration_factor / 12
              * params.state_stock_target_months)
    gap = (target - world.granary_kg) / max(target, 1.0)
    return float(np.clip(1.0 + params.procurement_feedback * gap, 0.25, 1.0))


def believed_output(true_kg: np.ndarray, reported_kg: np.ndarray, credence: float) -> np.ndarray:
    """What the planners take last year's output to have been: the claim, discounted as far as the
    centre has stopped believing it (the Lushan revision of Aug 1959 cut the 1958 claim from 375
    to 250 Mt against ~200 true: credence ~0.3)."""
    return true_kg + credence * (reported_kg - true_kg)
