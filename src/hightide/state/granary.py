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
from hightide.engine.kernels import slot_pieces
from hightide.engine.provincial import national_total
from hightide.world.world import World


def resale_request(params, stock: np.ndarray, need_month: np.ndarray, months_left: np.ndarray) -> np.ndarray:
    """Grain a deficit household is sold: enough to bring its stock to the target share of its need
    to the next harvest ([003] relief grain and resale to the ~10% grain-deficient households).
    Under the Leap's pressure part of the need is never reported upward (hunger_concealment)."""
    target = params.resale_target_share * need_month * months_left
    return np.maximum(target - stock, 0.0)


def phantom_grain(reported, true, reported_last, true_last, credence: float, visibly_hungry=None) -> np.ndarray:
    """Grain the State believes each household holds beyond its stock: the believed part
    (``credence``) of what its claims overstate. A harvest's claims stand until the household's
    next harvest replaces them, not until the new year: last year's claims count until its first
    harvest of this year. Where relief sees hunger, a visibly hungry household (``visibly_hungry``)
    is believed to hold nothing beyond its stock (Policy.relief_sees_hunger: Mao's comment of April
    1959 on the spring famine, 25.17 M people short of grain in 15 provinces, as secondary accounts
    quote it; the Twelve Articles, Nov 1960). Float32, as the household arrays hold the claims."""
    harvested = (reported > 0) | (true > 0)
    excess = np.where(harvested, reported - true, reported_last - true_last)
    phantom = np.maximum(excess, np.float32(0.0)) * np.float32(credence)
    if visibly_hungry is not None:
        phantom = np.where(visibly_hungry, np.float32(0.0), phantom)
    return phantom


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


@nb.njit(cache=True, inline="always")
def _phantom_of(i, reported, true, reported_last, true_last, credence):
    """``phantom_grain`` of household i (before the visible-hunger rule)."""
    if reported[i] > 0 or true[i] > 0:
        excess = reported[i] - true[i]
    else:
        excess = reported_last[i] - true_last[i]
    return max(excess, np.float32(0.0)) * credence


@nb.njit(cache=True, inline="always")
def _request_of(i, children, adults, elderly, grain, reported, true, reported_last, true_last, credence, food_ratio,
                sees_hunger, hunger_threshold, need_per_ae, ae_child, ae_elderly, target_share, months_left):
    """``resale_request`` of household i: its stock plus the phantom grain the State believes it
    holds (``_phantom_of``), against the target share of its need to the next harvest (simulated
    kg). Where relief sees hunger (``Policy.relief_sees_hunger``), a visibly hungry household (last
    month's food ratio below ``hunger_threshold``) is judged on its stock alone."""
    need = need_per_ae * (adults[i] + ae_child * children[i] + ae_elderly * elderly[i])
    if sees_hunger and food_ratio[i] < hunger_threshold:
        phantom = np.float32(0.0)
    else:
        phantom = _phantom_of(i, reported, true, reported_last, true_last, credence)
    return max(target_share * need * months_left - (grain[i] + phantom), 0.0)


@nb.njit(cache=True, parallel=True)
def _requests(pieces, bounds, active, children, adults, elderly, grain, reported, true, reported_last, true_last, credence,
              food_ratio, sees_hunger, hunger_threshold, need_per_ae, ae_child, ae_elderly, target_share, months_left_p,
              weight):
    """``resale_request`` of every active household in one pass, provinces (whole pieces,
    ``kernels.slot_pieces``) in parallel: the requests in real kg summed per province in slot
    order (households asking nothing add zeros, which change no sum)."""
    real_p = np.zeros(months_left_p.size)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            p = pieces[q, 0]
            months_left = months_left_p[p]
            w = weight[p]
            total = 0.0
            for i in range(pieces[q, 1], pieces[q, 2]):
                if active[i]:
                    total += _request_of(i, children, adults, elderly, grain, reported, true, reported_last, true_last,
                                         credence, food_ratio, sees_hunger, hunger_threshold, need_per_ae, ae_child,
                                         ae_elderly, target_share, months_left) * w
            real_p[p] = total
    return real_p


@nb.njit(cache=True, parallel=True)
def _sell(pieces, bounds, active, children, adults, elderly, grain, reported, true, reported_last, true_last, credence,
          food_ratio, sees_hunger, hunger_threshold, need_per_ae, ae_child, ae_elderly, target_share, months_left_p,
          weight, frac, by_province, real_p):
    """Sell request x frac to each household that asks (its request computed again, as
    ``_requests`` computed it: nothing changes the households in between): adds it to its grain,
    to ``by_province`` (simulated kg) and in real kg to ``real_p``, in slot order; provinces (whole
    pieces) in parallel. Keeping no list of the households that ask spares a month two arrays as
    long as the population (~2 GB at full scale in a famine, when most ask)."""
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            p = pieces[q, 0]
            months_left = months_left_p[p]
            w = weight[p]
            sold = by_province[p]
            sold_real = real_p[p]
            for i in range(pieces[q, 1], pieces[q, 2]):
                if not active[i]:
                    continue
                request = _request_of(i, children, adults, elderly, grain, reported, true, reported_last, true_last,
                                      credence, food_ratio, sees_hunger, hunger_threshold, need_per_ae, ae_child,
                                      ae_elderly, target_share, months_left)
                # households asking nothing add zeros (no branch: asking or not is a coin toss to
                # the processor in a famine); a zero changes no sum and no stock
                resold = request * frac
                grain[i] += resold
                sold += resold
                sold_real += resold * w
            by_province[p] = sold
            real_p[p] = sold_real


class _Resale:
    """The month's resale requests of every active household, computed in one compiled pass
    (``_requests``) and again, household by household, in the sale (``_sell``); the national
    totals are per-province sums in province order (``StepContext.gather``)."""

    def __init__(self, world: World, ctx: StepContext):
        self.world, self.ctx = world, ctx
        self.by_province = np.zeros(world.provinces.n)
        p, hh, pol = ctx.params, world.households, ctx.policy
        months_left = months_to_next_harvest_by_zone(world.provinces.zone, ctx.cal_month).astype(np.float64)
        self._inputs = (*slot_pieces(hh, whole=True), hh.active, hh.children, hh.adults, hh.elderly, hh.grain_kg,
                        hh.reported_this_year_kg, hh.true_this_year_kg, hh.reported_last_year_kg,
                        hh.true_last_year_kg, np.float32(pol.report_credence), hh.food_ratio,
                        bool(pol.relief_sees_hunger), np.float32(p.hunger_threshold),
                        p.food_need_kg_per_adult_equivalent / 12, p.adult_equivalent_child, p.adult_equivalent_elderly,
                        p.resale_target_share, months_left, world.weight)

    def total_request(self) -> float:
        real_p = _requests(*self._inputs)
        return national_total(self.ctx.gather("resale_request", real_p))

    def sell(self, frac: float) -> float:
        """Sell each household request x frac (``total_request`` first; nothing in between may
        change the households)."""
        real_p = np.zeros(self.world.provinces.n)
        if frac > 0.0:
            _sell(*self._inputs, float(frac), self.by_province, real_p)
        return national_total(self.ctx.gather("resale_sold", real_p))
