"""Results declared up front, filled each month, finalised once (STYLE habit 10).

Each month the recorder stores per-province stocks (month end, real units) and the month's flows.
Tables for users are derived from these arrays in :mod:`hightide.results.tables`.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.context import FLOW_NAMES, StepContext
from hightide.world.households import NO_ORG
from hightide.world.organisations import ADVANCED_APC, COMMUNE, ELEMENTARY_APC, MUTUAL_AID
from hightide.world.world import World

STOCK_NAMES = (
    "rural_population", "rural_households", "hh_individual", "hh_mutual_aid", "hh_elementary_apc",
    "hh_advanced_apc", "hh_commune", "n_mutual_aid", "n_elementary_apc", "n_advanced_apc", "n_commune",
    "draft_animals", "household_grain_kg", "urban_population", "land_mu",
    "n_class_1", "n_class_2", "n_class_3", "n_yield_raised", "n_yield_flat", "n_yield_fell", "hh_coerced",
)
YIELD_FLAT_BAND = 0.05  # a co-operative's yield within +-5% of going it alone counts as "flat" [001 §VIII]
NATIONAL_NAMES = ("granary_kg", "imports_kg", "exports_kg", "state_loss_kg", "state_farm_kg", "state_farms")
FORMS = (("mutual_aid", MUTUAL_AID), ("elementary_apc", ELEMENTARY_APC), ("advanced_apc", ADVANCED_APC), ("commune", COMMUNE))


def stocks_of(world: World) -> np.ndarray:
    """Per-province stocks in real units, in STOCK_NAMES order. Shape (n_provinces, n_stocks)."""
    hh, orgs, n = world.households, world.organisations, world.provinces.n
    w = world.weight
    act = hh.active
    out = np.zeros((n, len(STOCK_NAMES)))
    col = {name: i for i, name in enumerate(STOCK_NAMES)}

    starts = hh.block_start

    def put(name, values):
        # households of a province occupy one contiguous block: block sums are province sums
        out[:, col[name]] = np.add.reduceat(np.asarray(values, dtype=np.float64), starts) * w

    put("rural_population", hh.persons() * act)
    put("rural_households", act.astype(np.float64))
    org_form = np.where(hh.org != NO_ORG, orgs.form[np.maximum(hh.org, 0)], -1)
    put("hh_individual", (act & (hh.org == NO_ORG)).astype(np.float64))
    for name, form in FORMS:
        put(f"hh_{name}", (act & (org_form == form)).astype(np.float64))
        live = orgs.active & (orgs.form == form)
        out[:, col[f"n_{name}"]] = np.bincount(orgs.province[live], weights=orgs.represents[live], minlength=n) * w
    coll = orgs.active & np.isin(orgs.form, (ELEMENTARY_APC, ADVANCED_APC, COMMUNE))
    assessed = coll & (orgs.quality > 0) & np.isfinite(orgs.yield_advantage)
    for c in (1, 2, 3):
        sel = assessed & (orgs.quality == c)
        out[:, col[f"n_class_{c}"]] = np.bincount(orgs.province[sel], weights=orgs.represents[sel], minlength=n) * w
    adv = orgs.yield_advantage
    for name, sel in (("n_yield_raised", assessed & (adv > YIELD_FLAT_BAND)),
                      ("n_yield_flat", assessed & (np.abs(adv) <= YIELD_FLAT_BAND)),
                      ("n_yield_fell", assessed & (adv < -YIELD_FLAT_BAND))):
        out[:, col[name]] = np.bincount(orgs.province[sel], weights=orgs.represents[sel], minlength=n) * w
    put("hh_coerced", (act & hh.coerced).astype(np.float64))
    put("draft_animals", hh.draft_animals * act)
    put("household_grain_kg", hh.grain_kg * act)
    put("land_mu", hh.land_mu * act)
    out[:, col["urban_population"]] = world.urban_population
    return out


class Recorder:
    """Holds the monthly arrays of a run."""

    def __init__(self, start_month: int, n_months: int, n_provinces: int):
        self.start_month = start_month
        self.stocks = np.full((n_months, n_provinces, len(STOCK_NAMES)), np.nan)
        self.flows = np.full((n_months, n_provinces, len(FLOW_NAMES)), np.nan)
        self.national = np.full((n_months, len(NATIONAL_NAMES)), np.nan)
        self.initial_stocks = None
        self.initial_granary = None

    def record_initial(self, world: World) -> None:
        self.initial_stocks = stocks_of(world)
        self.initial_granary = world.granary_kg

    def record(self, world: World, ctx: StepContext) -> None:
        t = ctx.month - self.start_month
        self.stocks[t] = stocks_of(world)
        self.flows[t] = np.stack([ctx.flows[name] for name in FLOW_NAMES], axis=1)
        ctx.national["state_farms"] = ctx.policy.state_farms
        self.national[t] = [world.granary_kg] + [ctx.national.get(k, 0.0) for k in NATIONAL_NAMES[1:]]

    @property
    def months_recorded(self) -> int:
        return int(np.sum(~np.isnan(self.national[:, 0])))
