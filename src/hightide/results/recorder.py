"""Results declared up front, filled each month, finalised once (STYLE habit 10).

Each month the recorder stores per-province stocks (month end, real units) and the month's flows.
Tables for users are derived from these arrays in :mod:`hightide.results.tables`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine.context import FLOW_NAMES, StepContext
from hightide.engine.kernels import masked_pairwise_sum, slot_pieces, tally_form
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


@nb.njit(cache=True)
def _block_sum(values, active, a, b, u):
    """``np.add.reduceat`` of values x active over slots a..b-1 (its first value plus NumPy's
    pairwise sum of the rest); slots from u on are unused (zeros). (Numba's cache of this module
    does not follow changes to ``masked_pairwise_sum`` in another file: edit this one with it.)"""
    if b <= a:
        return 0.0
    first = np.float64(values[a]) if (a < u and active[a]) else 0.0
    return first + masked_pairwise_sum(values, active, a + 1, b - a - 1, u)


@nb.njit(cache=True, parallel=True)
def _household_stocks(pieces, bounds, starts, ends, used, active, org, org_form, coerced, children, adults, elderly,
                      animals, grain, land):
    """Per province block: persons, households, households by form (none, then FORMS), coerced
    households (integer counts, exact in any order), and draft animals, grain and land summed as
    ``np.add.reduceat`` sums a block (its first value plus NumPy's pairwise sum of the rest),
    inactive and unused slots counting as zeros. Provinces (whole pieces, ``kernels.slot_pieces``)
    in parallel."""
    n_prov = starts.size
    counts = np.zeros((n_prov, 8))  # persons, households, individual, 4 forms, coerced
    sums = np.zeros((n_prov, 3))
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            p = pieces[q, 0]
            a, b, u = starts[p], ends[p], starts[p] + used[p]
            persons = coerced_p = 0
            c0 = c1 = c2 = c3 = c4 = c5 = c6 = 0  # outside any organisation, then forms 0..5
            for i in range(a, u):
                live = np.int64(active[i])
                persons += live * (np.int64(children[i]) + adults[i] + elderly[i])
                coerced_p += live & np.int64(coerced[i])
                c0, c1, c2, c3, c4, c5, c6 = tally_form(i, active, org, org_form, c0, c1, c2, c3, c4, c5, c6)
            counts[p, 0] = persons
            counts[p, 1] = c0 + c1 + c2 + c3 + c4 + c5 + c6
            counts[p, 2] = c0
            counts[p, 3], counts[p, 4], counts[p, 5], counts[p, 6] = c2, c3, c4, c5  # forms MUTUAL_AID..COMMUNE (1-4)
            counts[p, 7] = coerced_p
            sums[p, 0] = _block_sum(animals, active, a, b, u)
            sums[p, 1] = _block_sum(grain, active, a, b, u)
            sums[p, 2] = _block_sum(land, active, a, b, u)
    return counts, sums


@nb.njit(cache=True)
def _organisation_stocks(starts, used, active, province, form, represents, quality, advantage, band, n_prov):
    """Per province: organisations by form (MUTUAL_AID..COMMUNE), assessed co-operatives by class
    and by yield raised / flat / fell, each counted as the real organisations it represents, summed
    in slot order as ``np.bincount`` sums them."""
    out = np.zeros((n_prov, 10))
    for p in range(starts.size):
        for i in range(starts[p], starts[p] + used[p]):
            if not active[i]:
                continue
            f = form[i]
            pv = province[i]
            r = np.float64(represents[i])
            if MUTUAL_AID <= f <= COMMUNE:
                out[pv, f - MUTUAL_AID] += r
            if ELEMENTARY_APC <= f <= COMMUNE and quality[i] > 0 and np.isfinite(advantage[i]):
                if 1 <= quality[i] <= 3:
                    out[pv, 3 + quality[i]] += r
                adv = advantage[i]
                if adv > band:
                    out[pv, 7] += r
                if abs(adv) <= band:
                    out[pv, 8] += r
                if adv < -band:
                    out[pv, 9] += r
    return out


def stocks_of(world: World) -> np.ndarray:
    """Per-province stocks in real units, in STOCK_NAMES order. Shape (n_provinces, n_stocks)."""
    hh, orgs, n = world.households, world.organisations, world.provinces.n
    w = world.weight
    out = np.zeros((n, len(STOCK_NAMES)))
    col = {name: i for i, name in enumerate(STOCK_NAMES)}
    # households of a province occupy one contiguous block: block sums are province sums
    counts, sums = _household_stocks(*slot_pieces(hh, whole=True), hh.block_start, hh.block_end, hh.used, hh.active,
                                     hh.org, orgs.form, hh.coerced, hh.children, hh.adults, hh.elderly, hh.draft_animals,
                                     hh.grain_kg, hh.land_mu)
    for j, name in enumerate(("rural_population", "rural_households", "hh_individual")):
        out[:, col[name]] = counts[:, j] * w
    for j, (name, _) in enumerate(FORMS):
        out[:, col[f"hh_{name}"]] = counts[:, 3 + j] * w
    out[:, col["hh_coerced"]] = counts[:, 7] * w
    for j, name in enumerate(("draft_animals", "household_grain_kg", "land_mu")):
        out[:, col[name]] = sums[:, j] * w
    org_out = _organisation_stocks(orgs.block_start, orgs.used, orgs.active, orgs.province, orgs.form, orgs.represents,
                                   orgs.quality, orgs.yield_advantage, np.float32(YIELD_FLAT_BAND), n)
    for j, (name, _) in enumerate(FORMS):
        out[:, col[f"n_{name}"]] = org_out[:, j] * w
    for c in (1, 2, 3):
        out[:, col[f"n_class_{c}"]] = org_out[:, 3 + c] * w
    for j, name in enumerate(("n_yield_raised", "n_yield_flat", "n_yield_fell")):
        out[:, col[name]] = org_out[:, 7 + j] * w
    out[:, col["urban_population"]] = world.urban_population
    return out


def month_record(world: World, ctx: StepContext) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """What the recorder keeps of a month: per-province stocks (``stocks_of``), per-province flows
    (FLOW_NAMES order) and the national values (NATIONAL_NAMES order)."""
    ctx.national["state_farms"] = ctx.policy.state_farms
    flows = np.stack([ctx.flows[name] for name in FLOW_NAMES], axis=1)
    return stocks_of(world), flows, [world.granary_kg] + [ctx.national.get(k, 0.0) for k in NATIONAL_NAMES[1:]]


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
        self.store(ctx.month, *month_record(world, ctx))

    def store(self, month: int, stocks: np.ndarray, flows: np.ndarray, national: list[float]) -> None:
        """Keep one month's per-province stocks and flows and national values (``month_record``)."""
        t = month - self.start_month
        self.stocks[t] = stocks
        self.flows[t] = flows
        self.national[t] = national

    @property
    def months_recorded(self) -> int:
        return int(np.sum(~np.isnan(self.national[:, 0])))
