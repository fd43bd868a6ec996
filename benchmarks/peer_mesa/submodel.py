"""The shared sub-model of the peer comparison, and hightide's engine running it.

One province, 36 months from January 1953. Every month a share of households reconsider mutual
aid (more in the slack season): willingness as ``hightide.institutions.membership.willingness``
(class, attitude, shortage of hands, no animals, promotion, the village's organised share); team
members who no longer want it leave, households outside who want it join, joiners of a village
form teams of about ``mutual_aid_team_size`` (fewer than the minimum join a team of their village),
teams that shrink below the minimum dissolve. In the slack season each team becomes an elementary
co-operative with probability ``APC_CONVERSION``. In October everyone harvests: households alone
keep the output of their own land and labour; teams pool labour and animals over their members'
land and pay for labour exchanged (``production.labour_exchange``); a co-operative pools its
members' output and pays a land dividend by land and the rest by work points
(``collective.distribute_elementary``). Recorded: the monthly shares in teams and co-operatives
and the harvest (output, income by class, counts).

The inputs (households of the province, parameters) come from hightide's synthesis and registry;
both implementations read the same ``Inputs``. This module's ``run_hightide`` uses hightide's
rules and kernels on arrays: that is the engine the Mesa model is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hightide.economy import collective, production
from hightide.engine import streams
from hightide.engine.calendar import SLACK_SEASON
from hightide.institutions.membership import labour_shortage, willingness
from hightide.institutions.mutual_aid import group_into_teams
from hightide.params import resolve
from hightide.world.households import LANDLORD
from hightide.world.synthesis import build_world, labour_power

START_MONTH = 1953 * 12  # January 1953
N_MONTHS = 36
PROMOTION = 0.5  # mutual-aid promotion in force (historical timeline, 1953-55 roughly)
APC_CONVERSION = 0.05  # chance a team turns into an elementary co-operative in a slack month (sub-model)
HARVEST_MONTH = 10
INDIVIDUAL, TEAM, APC = 0, 1, 2


@dataclass
class Inputs:
    """Households of one province (arrays) and the parameters both implementations use."""

    klass: np.ndarray
    attitude: np.ndarray
    land: np.ndarray
    labour: np.ndarray
    animals: np.ndarray
    village: np.ndarray
    tfp: float
    params: object

    @property
    def n(self) -> int:
        return self.klass.size


def province_inputs(scale: float = 0.01, seed: int = 0, province: int | None = None) -> Inputs:
    """The households of one province (the largest by default) as hightide synthesises them."""
    params = resolve()
    world = build_world(params, scale, seed, START_MONTH)
    hh = world.households
    if province is None:
        province = int(np.argmax(hh.used))
    sl = slice(int(hh.block_start[province]), int(hh.block_start[province] + hh.used[province]))
    village = hh.village[sl].astype(np.int64)
    return Inputs(klass=hh.klass[sl].astype(np.int64), attitude=hh.attitude[sl].astype(np.float64),
                  land=hh.land_mu[sl].astype(np.float64),
                  labour=labour_power(params, hh.children[sl], hh.adults[sl], hh.elderly[sl]).astype(np.float64),
                  animals=hh.draft_animals[sl].astype(np.float64), village=village - village.min(),
                  tfp=float(world.productivity[province]), params=params)


def summary(form: np.ndarray, n_teams: int, n_apcs: int) -> dict:
    return {"share_team": float(np.mean(form == TEAM)), "share_apc": float(np.mean(form == APC)),
            "teams": int(n_teams), "apcs": int(n_apcs)}


def harvest_summary(inputs: Inputs, income: np.ndarray, output_total: float) -> dict:
    by_class = [float(income[inputs.klass == k].mean()) if np.any(inputs.klass == k) else 0.0 for k in range(5)]
    return {"output": float(output_total), "income_by_class": by_class, "mean_income": float(income.mean())}


def run_hightide(inputs: Inputs, seed: int) -> dict:
    """The sub-model on hightide's arrays and rules; draws from hightide's named streams."""
    p = inputs.params
    n, n_vill = inputs.n, int(inputs.village.max()) + 1
    org = np.full(n, -1, dtype=np.int64)  # team or co-operative index
    org_form = np.zeros(0, dtype=np.int64)  # TEAM / APC per organisation index
    org_village = np.zeros(0, dtype=np.int64)
    mean_lpm = inputs.labour.sum() / max(inputs.land.sum(), 1e-9)
    shortage = labour_shortage(inputs.labour, inputs.land, mean_lpm)
    monthly, harvests = [], []
    for t in range(N_MONTHS):
        month = START_MONTH + t
        cal = month % 12 + 1
        prob = p.decision_probability_campaign if cal in SLACK_SEASON else p.decision_probability_other
        u = streams.generator(seed, "peer_organising", 0, month).random(n)
        idx = np.flatnonzero((u < prob) & (inputs.klass != LANDLORD))
        form = np.where(org >= 0, org_form[np.maximum(org, 0)] if org_form.size else 0, INDIVIDUAL)
        share_v = (np.bincount(inputs.village, weights=org >= 0, minlength=n_vill)
                   / np.maximum(np.bincount(inputs.village, minlength=n_vill), 1))
        w = willingness(p, klass=inputs.klass[idx], attitude=inputs.attitude[idx], shortage=shortage[idx],
                        animals=inputs.animals[idx], promotion=PROMOTION, neighbours_share=share_v[inputs.village[idx]])
        org[idx[(form[idx] == TEAM) & (w < -p.exit_hysteresis)]] = -1
        joiners = idx[(org[idx] < 0) & (w > 0)]
        if joiners.size:
            team, team_village = group_into_teams(inputs.village[joiners], u[joiners], p.mutual_aid_team_size,
                                                  int(p.mutual_aid_min_size))
            live = np.flatnonzero(org_form == TEAM)
            some_team = np.full(n_vill, -1, dtype=np.int64)
            some_team[org_village[live]] = live
            alone = team < 0
            org[joiners[alone]] = some_team[inputs.village[joiners[alone]]]
            base = org_form.size
            org[joiners[~alone]] = base + team[~alone]
            org_form = np.concatenate([org_form, np.full(team_village.size, TEAM)])
            org_village = np.concatenate([org_village, team_village])
        size = np.bincount(org[org >= 0], minlength=org_form.size)
        gone = (org_form == TEAM) & (size < p.mutual_aid_min_size)
        org_form[gone] = -1  # dissolved
        org[(org >= 0) & gone[np.maximum(org, 0)]] = -1
        if cal in SLACK_SEASON and org_form.size:
            v = streams.generator(seed, "peer_conversion", 0, month).random(org_form.size)
            org_form[(org_form == TEAM) & (v < APC_CONVERSION)] = APC
        form = np.where(org >= 0, org_form[np.maximum(org, 0)] if org_form.size else 0, INDIVIDUAL)
        monthly.append(summary(form, np.sum(org_form == TEAM), np.sum(org_form == APC)))
        if cal == HARVEST_MONTH:
            harvests.append(_harvest_hightide(inputs, org, form))
    return {"monthly": monthly, "harvests": harvests}


def _harvest_hightide(inputs: Inputs, org: np.ndarray, form: np.ndarray) -> dict:
    p = inputs.params
    income = inputs.tfp * production.factor_index(p, inputs.land, inputs.labour, inputs.animals)
    output_total = float(income.sum())
    for f, bonus in ((TEAM, p.mutual_aid_pooling_bonus), (APC, p.apc_scale_bonus)):
        members = np.flatnonzero(form == f)
        if members.size == 0:
            continue
        ids, unit = np.unique(org[members], return_inverse=True)
        labour_used, animals_used = production.pooled_inputs(unit, inputs.land[members], inputs.labour[members],
                                                             inputs.animals[members], ids.size)
        out = inputs.tfp * production.factor_index(p, inputs.land[members], labour_used, animals_used) * (1.0 + bonus)
        output_total += float(out.sum() - income[members].sum())
        if f == TEAM:
            income[members] = out + production.labour_exchange(p, unit, out, inputs.labour[members], labour_used, ids.size)
        else:
            pooled = np.bincount(unit, weights=out, minlength=ids.size)
            income[members] = collective.distribute_elementary(pooled, unit, inputs.land[members], inputs.labour[members],
                                                               p.land_dividend_share, ids.size)
    return harvest_summary(inputs, income, output_total)
