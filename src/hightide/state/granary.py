"""The State's granary and unified supply (MODEL.md §4.4 (6), §4.5).

Each month the granary takes imports, feeds the towns at their ration, ships exports, meets the
sells back (resale) to rural households whose stock will not carry them to the next harvest, and
meets the State's other non-farm uses (industry, army, brewing). When grain is short the claims
are cut in that order of priority: the towns' food ration, exports, rural resales, other uses
(Lin & Yang 2000: urban residents had a legally protected ration, villagers only what was left;
the Three Fixes of 1955 fixed the sales to deficit households with the purchase quota [001
commentary], while the State's industrial and other uses were cut in 1960-61, Walker 1984).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.economy.distribution import settle
from hightide.engine.calendar import months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.engine.kernels import compact_segments, province_bounds
from hightide.engine.provincial import national_total
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


def allocate(stock: float, food: float, exports: float, other: float, resales: float,
             reserve: float) -> tuple[float, float, float, float]:
    """Split the granary between the month's claims in order of priority: the towns' food ration,
    exports, rural resales (the fixed sales of the Three Fixes), the State's other uses; resales
    and other uses wait while the stock left would not carry the towns' ration ahead (``reserve``)
    (Lin & Yang 2000, urban bias). Returns (food, exports, other uses, resales) paid."""
    paid_food, paid_export, paid_resale, paid_other = (
        float(x[0]) for x in settle(np.array([stock]), [np.array([v]) for v in (food, exports, resales, other)]))
    free = max(stock - paid_food - paid_export - reserve, 0.0)
    paid_resale = min(paid_resale, free)
    paid_other = min(paid_other, free - paid_resale)
    return paid_food, paid_export, paid_other, paid_resale


def supply(world: World, ctx: StepContext) -> None:
    p, pol = ctx.params, ctx.policy
    n_prov = world.provinces.n
    imports = pol.grain_imports_mt_per_year * 1e9 / 12
    world.granary_kg += imports
    ctx.national["imports_kg"] = imports

    urban_food = world.urban_population * p.urban_food_ration_kg_per_capita * pol.urban_ration_factor / 12
    urban_other = (world.urban_population * max(p.urban_ration_kg_per_capita - p.urban_food_ration_kg_per_capita, 0.0)
                   * pol.urban_ration_factor / 12)
    exports = pol.grain_exports_mt_per_year * 1e9 / 12
    # the State judges deficits on what was reported: phantom grain from inflated reports hides
    # real shortages (MODEL.md §4.1 the centre plans on what it is told)
    resale = _Resale(world, ctx)
    resale_total = resale.total_request()  # real kg

    reserve = max(urban_reserve(urban_food, world.provinces.zone, ctx.cal_month, p.urban_reserve_months) - urban_food.sum(), 0.0)
    paid_food, paid_export, paid_other, paid_resale = allocate(
        world.granary_kg, float(urban_food.sum()), exports, float(urban_other.sum()), resale_total, reserve)
    paid_resale = paid_resale * (1.0 - p.hunger_concealment * pol.leap_pressure)
    u_frac = paid_food / urban_food.sum() if urban_food.sum() > 0 else 1.0
    o_frac = paid_other / urban_other.sum() if urban_other.sum() > 0 else 1.0
    r_frac = paid_resale / resale_total if resale_total > 0 else 1.0
    urban_paid = urban_food * u_frac + urban_other * o_frac
    resold_total = resale.sell(r_frac)  # households get request x r_frac; real kg
    world.urban_food_ratio = np.full(n_prov, u_frac)
    world.granary_kg -= float(urban_paid.sum() + paid_export + resold_total)
    loss = world.granary_kg * p.state_storage_loss_per_month
    world.granary_kg -= loss
    ctx.flows["urban_supply_kg"] += urban_paid
    ctx.flows["resale_kg"] += resale.by_province * world.weight
    ctx.national["exports_kg"] = float(paid_export)
    ctx.national["state_loss_kg"] = float(loss)


@nb.njit(cache=True, parallel=True)
def _requests(starts, used, active, children, adults, elderly, grain, reported, true, credence, need_per_ae, ae_child,
              ae_elderly, target_share, months_left_p, weight):
    """``resale_request`` for every active household (stock plus believed phantom grain against
    the target share of its need to the next harvest), in one pass, provinces in parallel. Returns
    the households that ask for grain (ascending slots) with their requests (simulated kg), and the
    requests in real kg summed per province in slot order (households asking nothing add zeros,
    which change no sum)."""
    zero32 = np.float32(0.0)
    n_prov = starts.size
    base = np.zeros(n_prov, dtype=np.int64)
    for p in range(1, n_prov):
        base[p] = base[p - 1] + used[p - 1]
    counts = np.zeros(n_prov, dtype=np.int64)
    n = base[n_prov - 1] + used[n_prov - 1] if n_prov else 0
    slots = np.empty(n, dtype=np.int64)
    requests = np.empty(n)
    real_p = np.zeros(n_prov)
    for p in nb.prange(n_prov):  # a province's households fill its block
        months_left = months_left_p[p]
        w = weight[p]
        total = 0.0
        k = base[p]
        for i in range(starts[p], starts[p] + used[p]):
            if not active[i]:
                continue
            need = need_per_ae * (adults[i] + ae_child * children[i] + ae_elderly * elderly[i])
            phantom = max(reported[i] - true[i], zero32) * credence
            request = max(target_share * need * months_left - (grain[i] + phantom), 0.0)
            slots[k] = i  # kept when it asks (no branch: half the households may ask, at random)
            requests[k] = request
            k += request > 0.0
            total += request * w
        real_p[p] = total
        counts[p] = k - base[p]
    compact_segments(requests, base, counts)
    k = compact_segments(slots, base, counts)
    return slots[:k].copy(), requests[:k].copy(), real_p


@nb.njit(cache=True, parallel=True)
def _sell(slots, requests, frac, province, grain, weight, by_province, real_p):
    """Sell request x frac to each household that asked: adds it to its grain, to ``by_province``
    (simulated kg) and in real kg to ``real_p``, in slot order (the other households would get
    and add zeros); a province's households (one run of the ascending ``slots``) per thread."""
    bounds = province_bounds(slots, province)
    for r in nb.prange(bounds.size - 1):
        for k in range(bounds[r], bounds[r + 1]):
            i = slots[k]
            pv = province[i]
            resold = requests[k] * frac
            grain[i] += resold
            by_province[pv] += resold
            real_p[pv] += resold * weight[pv]


class _Resale:
    """The month's resale requests of every active household, computed in one compiled pass
    (``_requests``: the households that ask, usually few, are kept for the sale); the national
    totals are per-province sums in province order (``StepContext.gather``)."""

    def __init__(self, world: World, ctx: StepContext):
        self.world, self.ctx = world, ctx
        self.by_province = np.zeros(world.provinces.n)
        self._asking = None

    def total_request(self) -> float:
        p, hh, pol = self.ctx.params, self.world.households, self.ctx.policy
        months_left = months_to_next_harvest_by_zone(self.world.provinces.zone, self.ctx.cal_month).astype(np.float64)
        slots, requests, real_p = _requests(
            hh.block_start, hh.used, hh.active, hh.children, hh.adults, hh.elderly, hh.grain_kg,
            hh.reported_this_year_kg, hh.true_this_year_kg, np.float32(pol.report_credence),
            p.food_need_kg_per_adult_equivalent / 12, p.adult_equivalent_child, p.adult_equivalent_elderly,
            p.resale_target_share, months_left, self.world.weight)
        self._asking = slots, requests
        return national_total(self.ctx.gather("resale_request", real_p))

    def sell(self, frac: float) -> float:
        """Sell each household request x frac (``total_request`` first; nothing in between may
        change the households)."""
        slots, requests = self._asking
        real_p = np.zeros(self.world.provinces.n)
        hh = self.world.households
        _sell(slots, requests, float(frac), hh.province, hh.grain_kg, self.world.weight, self.by_province, real_p)
        return national_total(self.ctx.gather("resale_sold", real_p))
