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
from hightide.engine.kernels import PW_BLOCK, PW_STACK, pairwise_close, pairwise_plan
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

    urban_food = world.urban_population * p.urban_food_ration_kg_per_capita / 12
    urban_other = world.urban_population * max(p.urban_ration_kg_per_capita - p.urban_food_ration_kg_per_capita, 0.0) / 12
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


@nb.njit(cache=True)
def _requests(starts, used, active, children, adults, elderly, grain, reported, true, credence, need_per_ae,
              ae_child, ae_elderly, target_share, months_left_p, slots, ranks, requests):
    """``resale_request`` of every active household (stock plus believed phantom grain against
    the target share of its need to the next harvest), in one pass: the households that ask
    (request > 0) go to ``slots``, their rank among the active households to ``ranks`` and their
    request to ``requests``. Returns (active households, households that ask). A stock of -0.0
    of a household that does not ask becomes +0.0, as adding its zero sale would make it."""
    n_active = 0
    n_ask = 0
    zero32 = np.float32(0.0)
    for p in range(starts.size):
        months_left = months_left_p[p]
        for i in range(starts[p], starts[p] + used[p]):
            if not active[i]:
                continue
            need = need_per_ae * (adults[i] + ae_child * children[i] + ae_elderly * elderly[i])
            phantom = max(reported[i] - true[i], zero32) * credence
            request = max(target_share * need * months_left - (grain[i] + phantom), 0.0)
            if request > 0.0:
                slots[n_ask] = i
                ranks[n_ask] = n_active
                requests[n_ask] = request
                n_ask += 1
            elif grain[i] == 0.0:
                grain[i] += 0.0
            n_active += 1
    return n_active, n_ask


@nb.njit(cache=True)
def _sparse_total(n_active, slots, ranks, requests, n_ask, province, weight, sell, frac, grain, by_province):
    """``np.sum`` over every active household (in slot order) of request x weight (not ``sell``) or,
    selling, of (request x frac) x weight while each asking household gets request x frac (added
    to ``by_province``, simulated kg): the pairwise sum of NumPy with zeros for the households that
    do not ask, so only the blocks holding an asking household are summed."""
    leaf_len, leaf_join = pairwise_plan(n_active)
    buf = np.empty(PW_BLOCK)
    stack = np.empty(PW_STACK)
    depth = 0
    first = 0  # rank of the leaf's first household
    r = 0
    for leaf in range(leaf_len.size):
        m = leaf_len[leaf]
        if r < n_ask and ranks[r] < first + m:
            buf[:m] = 0.0
            while r < n_ask and ranks[r] < first + m:
                i = slots[r]
                pv = province[i]
                if sell:
                    resold = requests[r] * frac
                    grain[i] += resold
                    by_province[pv] += resold
                    buf[ranks[r] - first] = resold * weight[pv]
                else:
                    buf[ranks[r] - first] = requests[r] * weight[pv]
                r += 1
            depth = pairwise_close(buf, m, stack, depth, leaf_join[leaf])
        else:  # a block of zeros sums to zero
            stack[depth] = 0.0
            depth += 1
            for _ in range(leaf_join[leaf]):
                depth -= 1
                stack[depth - 1] = stack[depth - 1] + stack[depth]
        first += m
    return stack[0] if leaf_len.size else 0.0


class _Resale:
    """The month's resale requests: one compiled pass over the households keeps those that ask
    (most do not in a normal month); totals and sales then touch only them."""

    def __init__(self, world: World, ctx: StepContext):
        self.world, self.ctx = world, ctx
        self.by_province = np.zeros(world.provinces.n)
        p, hh, pol = ctx.params, world.households, ctx.policy
        months_left = months_to_next_harvest_by_zone(world.provinces.zone, ctx.cal_month).astype(np.float64)
        n = int(hh.used.sum())
        index = np.int32 if hh.capacity < 2**31 else np.int64
        self.slots, self.ranks, self.requests = np.empty(n, dtype=index), np.empty(n, dtype=index), np.empty(n)
        self.n_active, self.n_ask = _requests(
            hh.block_start, hh.used, hh.active, hh.children, hh.adults, hh.elderly, hh.grain_kg,
            hh.reported_this_year_kg, hh.true_this_year_kg, np.float32(pol.report_credence),
            p.food_need_kg_per_adult_equivalent / 12, p.adult_equivalent_child, p.adult_equivalent_elderly,
            p.resale_target_share, months_left, self.slots, self.ranks, self.requests)

    def total_request(self) -> float:
        """Total request in real kg."""
        return self._run(False, 0.0)

    def sell(self, frac: float) -> float:
        """Sell request x frac to each household; returns the real kg sold."""
        return self._run(True, frac)

    def _run(self, sell: bool, frac: float) -> float:
        hh = self.world.households
        return float(_sparse_total(self.n_active, self.slots, self.ranks, self.requests, self.n_ask, hh.province,
                                   self.world.weight, sell, float(frac), hh.grain_kg, self.by_province))
