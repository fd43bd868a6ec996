"""Effort: what members put into the growing season under their unit's incentives (MODEL.md §4.3).

Each month a household's current incentive is set by its unit: monitoring weakens with the size
of the unit that shares the harvest (Lin 1990; Putterman 1987), coerced members work less,
without the right to withdraw the discipline of exit is gone (Lin 1990), and free supply cuts the
link between work and food; labour drawn all year into commune industry and works is not in the
fields; and the hungry work less (Strauss 1986; Dasgupta & Ray 1986). Members do not jump to
their unit's incentives: their work norm moves part of the way each growing month (conditional
cooperation, Fischbacher, Gächter & Fehr 2001; partial adjustment, Nerlove 1958), so the
communes' losses and the return of team accounting reach the crops over two or three seasons.
Effort at a harvest is the running mean over the growing season (April-September, MODEL.md
§3): it moves only in those months, so a change of organisation in August moves the autumn
harvest only a little, and one in the harvest month or the slack season not until the next
growing season (the crop is grown by then; hands missing at the harvest itself lose part of the
crop instead, ``harvest.labour_diverted_share``). The mean restarts each April.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine.context import StepContext
from hightide.engine.kernels import LIGHT_CHUNKS, count_and_sum_at, members_of_forms, province_chunks, slot_pieces
from hightide.institutions import cooperatives
from hightide.institutions.cooperatives import COLLECTIVE_FORMS
from hightide.world.organisations import COMMUNE
from hightide.world.world import World

GROWING_SEASON = (4, 5, 6, 7, 8, 9)  # April-September, the autumn crop's season (MODEL.md §3)


@nb.njit(cache=True, parallel=True)
def _move_toward(pieces, bounds, active, effort, norm, members, units, org, org_form, unit_effort, free_loss, free_share,
                 rural_industry, season, norm_rate, food_ratio, hunger_threshold, hunger_elasticity):
    """Move the j-th collective member's work norm a share ``norm_rate`` toward its unit's incentive
    (the unit's effort less the free-supply loss in a commune); everyone else works for their own
    crop, so their norm is 1 at once. Then move each active household's effort a 1/k step (the
    k-th month of the season: a running mean, k = 1 restarts it) toward the norm less the share
    of labour in rural industry, times the work capacity of the hungry,
    min(food ratio / threshold, 1) ** elasticity (at elasticity 1, the ratio itself: ``pow(x, 1)``
    is x, without libm's ``pow`` for each hungry household). Pieces of provinces
    (``kernels.slot_pieces``) in parallel: nothing is summed."""
    first_member = np.searchsorted(members, pieces[:, 1])
    proportional = hunger_elasticity == 1.0
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            j = first_member[q]
            for i in range(pieces[q, 1], pieces[q, 2]):
                if not active[i]:
                    continue
                if j < members.size and members[j] == i:
                    free = free_share if org_form[org[i]] == COMMUNE else 0.0
                    social = unit_effort[units[j]] * (1.0 - free_loss * free)
                    nrm = np.float64(norm[i]) + (social - np.float64(norm[i])) * norm_rate
                    j += 1
                else:
                    nrm = 1.0
                norm[i] = np.float32(nrm)
                cur = nrm * (1.0 - rural_industry)
                fed = min(np.float64(food_ratio[i]) / hunger_threshold, 1.0)
                if fed < 1.0:
                    cur *= fed if proportional else fed ** hunger_elasticity
                effort[i] = effort[i] + np.float32((cur - np.float64(effort[i])) / season)


def season_mean(mean: float, current: float, cal_month: int) -> float:
    """The running mean over the growing season so far, after this month (restarts each April):
    what a harvest's effort and private plots stand for is the season that grew it."""
    k = GROWING_SEASON.index(cal_month) + 1
    return mean + (current - mean) / k


def norm_rate(persistence: float) -> float:
    """The share of the gap between the work norm and its unit's incentives closed in one month of
    the growing season, so that a whole season (six months) leaves the share ``persistence`` of it
    (partial adjustment, Nerlove 1958)."""
    if not 0.0 <= persistence < 1.0:
        raise ValueError(f"effort_persistence must be in [0, 1), got {persistence}")
    return 1.0 - persistence ** (1.0 / len(GROWING_SEASON))


def update_effort(world: World, ctx: StepContext) -> None:
    """Members of a collective: a work norm moving toward their unit's effort (``cooperatives.effort``
    of its size and coerced share) less the free-supply loss in communes, closing all but
    ``effort_persistence`` of the gap in a season (``norm_rate``); everyone: less the labour drawn into
    rural industry, and less again when hungry (work capacity falls with intake: Strauss 1986
    finds an output elasticity of about a third to calories at low intakes, i.e. about one for
    labour at ``elasticity_labour``). Only in growing-season months, so the crop reflects the
    hunger of the months it was grown in, not that of the lean weeks before the harvest. The
    private plots' share of members' land is averaged over the same months
    (``World.private_plot_season``): plots returned in June (as in 1959) count a third for the
    June wheat and two thirds for the autumn crop, and plots taken in September (as in 1958)
    leave most of the season's crop grown."""
    if ctx.cal_month not in GROWING_SEASON:
        return
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    world.private_plot_season = season_mean(world.private_plot_season, pol.private_plot_share, ctx.cal_month)
    # provinces in chunks of whole provinces (a unit's members are in one province): the members and
    # their units are listed for one chunk at a time, not for the whole population
    for chunk in province_chunks(hh, largest_times=LIGHT_CHUNKS):
        members = members_of_forms(hh, orgs, COLLECTIVE_FORMS, provinces=chunk)
        units = cooperatives.accounting_units(hh, orgs, members, pol, p.production_team_size,
                                              villages=world.province_villages())
        n = int(units.max()) + 1 if units.size else 0
        size, coerced = count_and_sum_at(units, hh.coerced, members, n, hh.block_start)
        coerced /= size
        _move_toward(*slot_pieces(hh, chunk), hh.active, hh.effort, hh.work_norm, members, units, hh.org,
                     orgs.form, cooperatives.effort(p, size, coerced), p.free_supply_effort_loss, pol.free_supply_share,
                     pol.rural_industry_share, float(GROWING_SEASON.index(ctx.cal_month) + 1),
                     norm_rate(p.effort_persistence), hh.food_ratio,
                     p.hunger_threshold, p.hunger_labour_elasticity)
        del members, units, size, coerced
