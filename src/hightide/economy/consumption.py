"""Monthly consumption from household stocks (MODEL.md §4.5).

Households smooth what they have over the months to the next harvest: they eat their need when
the stock allows, otherwise stock / months left. Stocks lose a little to pests and spoilage.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine.calendar import months_to_next_harvest_by_zone
from hightide.engine.context import StepContext
from hightide.engine.kernels import (LIGHT_CHUNKS, deal, deal_runs, members_of_forms, piece_bases, piece_provinces,
                                     piece_windows, province_bounds, province_chunks, slot_pieces, thread_count)
from hightide.world.synthesis import adult_equivalents
from hightide.institutions.cooperatives import accounting_units
from hightide.world.organisations import COMMUNE
from hightide.world.world import World


def monthly_need(params, hh, idx) -> np.ndarray:
    return params.food_need_kg_per_adult_equivalent / 12 * adult_equivalents(params, hh.children[idx], hh.adults[idx], hh.elderly[idx])


#: slots eaten at once (``eat``): 24 B kept a slot of a cut province, 48 MiB, under the heap
#: threshold of ``memory.tune_allocator`` (512 MiB)
EAT_WINDOW_SLOTS = 1 << 21


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


@nb.njit(cache=True, parallel=True)
def _hall_sums(members, units, n_units, province, block_start, children, adults, elderly, grain, need_per_ae, ae_child,
               ae_elderly, months_left_p, n_threads=1):
    """Per mess hall: the pooled stock and need of its members (``monthly_need``), and the months
    to the next harvest of its province. A hall's members are in one province: provinces
    (``kernels.province_bounds`` of the ascending ``members``) in parallel, each summed in order."""
    stock_u = np.zeros(n_units)
    need_u = np.zeros(n_units)
    months_u = np.zeros(n_units)
    bounds = province_bounds(members, block_start)
    order_r, cuts_r = deal_runs(bounds, n_threads)  # provinces balanced over the threads
    for th_r in nb.prange(cuts_r.size - 1):
        for q_r in range(cuts_r[th_r], cuts_r[th_r + 1]):
            r = order_r[q_r]
            if bounds[r + 1] == bounds[r]:
                continue
            months = months_left_p[province[members[bounds[r]]]]
            # the current hall's sums in registers while its members follow each other (sums in
            # memory made each member wait on the last one's store); each hall's sum is in slot order
            u_now = units[bounds[r]]
            stock = stock_u[u_now]
            need = need_u[u_now]
            for j in range(bounds[r], bounds[r + 1]):
                i = members[j]
                u = units[j]
                if u != u_now:
                    stock_u[u_now] = stock
                    need_u[u_now] = need
                    months_u[u_now] = months
                    u_now = u
                    stock = stock_u[u]
                    need = need_u[u]
                stock += grain[i]
                need += need_per_ae * (adults[i] + ae_child * children[i] + ae_elderly * elderly[i])
            stock_u[u_now] = stock
            need_u[u_now] = need
            months_u[u_now] = months
    return stock_u, need_u, months_u


@nb.njit(cache=True, parallel=True)
def _eat(pieces, bounds, starts, used, active, children, adults, elderly, grain, food_ratio, need_per_ae, ae_child,
         ae_elderly, months_left_p, storage_loss, members, units, stock_u, need_u, served_u, flows):
    """One month of eating, household by household, as the rules above say: need by adult
    equivalents (``monthly_need``), ``ration`` from the own stock, or the mess hall's serving split
    by need; storage loss; the 3-month mean food ratio. ``flows[p]`` adds (eaten, loss, need),
    each summed over the province's households in slot order. Pieces of provinces
    (``kernels.slot_pieces``) eat in parallel; a province in one piece sums as it goes, one in
    several keeps each household's three amounts and adds them afterwards to its running sums in
    one walk (provinces in parallel), so the sums are those of one pass however the provinces are
    cut and whichever window of pieces (``EAT_WINDOW_SLOTS``) comes first."""
    if pieces.shape[0] == 0:
        return
    first_member = np.searchsorted(members, pieces[:, 1])
    base, n = piece_bases(pieces)
    first = piece_provinces(pieces)
    whole = np.zeros(pieces.shape[0], dtype=np.bool_)
    for q in range(pieces.shape[0]):
        pv = pieces[q, 0]
        whole[q] = (pieces[q, 1] == starts[pv]) & (pieces[q, 2] == starts[pv] + used[pv])
    amounts = np.empty((n, 3))  # pages of whole provinces' slots are never touched
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            months_left = months_left_p[pieces[q, 0]]
            j = first_member[q]
            keep = not whole[q]
            eaten_p = 0.0
            loss_p = 0.0
            need_p = 0.0
            for i in range(pieces[q, 1], pieces[q, 2]):
                k = base[q] + i - pieces[q, 1]
                if not active[i]:
                    if keep:
                        amounts[k, 0] = amounts[k, 1] = amounts[k, 2] = 0.0
                    continue
                need = need_per_ae * (adults[i] + ae_child * children[i] + ae_elderly * elderly[i])
                stock = grain[i]
                if j < members.size and members[j] == i:
                    u = units[j]
                    frac = need / need_u[u] if need_u[u] > 0 else 0.0
                    eaten = served_u[u] * frac
                    stock = (stock_u[u] - served_u[u]) * frac + eaten
                    j += 1
                else:
                    eaten = min(need, max(stock, 0.0) / max(months_left, 1))
                stock = stock - eaten
                loss = stock * storage_loss
                grain[i] = stock - loss
                ratio = min(eaten / need if need > 0 else 1.0, 1.0)
                food_ratio[i] = np.float32((2.0 * np.float64(food_ratio[i]) + ratio) / 3.0)
                if keep:
                    amounts[k, 0] = eaten
                    amounts[k, 1] = loss
                    amounts[k, 2] = need
                else:
                    eaten_p += eaten
                    loss_p += loss
                    need_p += need
            if not keep:
                flows[pieces[q, 0], 0] += eaten_p
                flows[pieces[q, 0], 1] += loss_p
                flows[pieces[q, 0], 2] += need_p
    # a province's pieces are consecutive: its amounts are one run, from its first piece's base
    for r in nb.prange(first.size - 1):
        if whole[first[r]]:
            continue
        pv = pieces[first[r], 0]
        eaten_p = flows[pv, 0]
        loss_p = flows[pv, 1]
        need_p = flows[pv, 2]
        end = base[first[r + 1]] if first[r + 1] < pieces.shape[0] else n
        for k in range(base[first[r]], end):
            eaten_p += amounts[k, 0]
            loss_p += amounts[k, 1]
            need_p += amounts[k, 2]
        flows[pv, 0] = eaten_p
        flows[pv, 1] = loss_p
        flows[pv, 2] = need_p


def eat(world: World, ctx: StepContext) -> None:
    """Households eat from their stocks (``ration``); commune members eat in mess halls (one per
    production team) while the policy keeps them open (``mess_hall_ration``, shares by need).
    Provinces are handled in chunks of whole provinces (a hall's members are in one province),
    which changes nothing but the memory the month needs: the members and their halls are
    listed for one chunk at a time, not for the whole population."""
    p, hh = ctx.params, world.households
    months_left = months_to_next_harvest_by_zone(world.provinces.zone, ctx.cal_month)
    need_per_ae = p.food_need_kg_per_adult_equivalent / 12
    flows = np.zeros((world.provinces.n, 3))
    for chunk in province_chunks(hh, largest_times=LIGHT_CHUNKS):
        members = np.zeros(0, dtype=np.int64)
        units = np.zeros(0, dtype=np.int64)
        s_u = n_u = served = np.zeros(0)
        if ctx.policy.mess_halls:
            members = members_of_forms(hh, world.organisations, (COMMUNE,), provinces=chunk)
            if members.size:
                units = accounting_units(hh, world.organisations, members, ctx.policy, p.production_team_size,
                                         level="team", villages=world.province_villages())
                s_u, n_u, ml_u = _hall_sums(members, units, int(units.max()) + 1, hh.province, hh.block_start,
                                            hh.children, hh.adults, hh.elderly, hh.grain_kg, need_per_ae,
                                            p.adult_equivalent_child, p.adult_equivalent_elderly,
                                            months_left.astype(np.float64), thread_count())
                served = mess_hall_ration(s_u, n_u, ml_u, p.mess_hall_overeating)
        # a window of pieces at a time: the amounts a cut province keeps (24 B a slot) stay under the
        # allocator's threshold, so each window reuses the last one's pages (memory.tune_allocator)
        for window in piece_windows(slot_pieces(hh, chunk)[0], EAT_WINDOW_SLOTS):
            _eat(window, deal(window), hh.block_start, hh.used, hh.active, hh.children, hh.adults, hh.elderly,
                 hh.grain_kg, hh.food_ratio, need_per_ae, p.adult_equivalent_child, p.adult_equivalent_elderly,
                 months_left, p.household_storage_loss_per_month, members, units, s_u, n_u, served, flows)
        del members, units, s_u, n_u, served
    w = world.weight
    ctx.flows["consumption_kg"] += flows[:, 0] * w
    ctx.flows["household_loss_kg"] += flows[:, 1] * w
    ctx.flows["food_need_kg"] += flows[:, 2] * w
