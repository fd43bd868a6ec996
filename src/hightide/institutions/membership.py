"""Willingness to pool: who wants to join, who wants out (MODEL.md §4.2; [001 §V])."""

from __future__ import annotations

import numpy as np

from hightide.params import ParameterSet
from hightide.world.households import LANDLORD, LOWER_MIDDLE, POOR, RICH, UPPER_MIDDLE


def class_bonus(params: ParameterSet, klass: np.ndarray) -> np.ndarray:
    """Poor and lower-middle peasants are keen, the well-to-do waver, rich peasants resist [001 §V-§VI]."""
    table = np.zeros(5)
    table[POOR] = params.willingness_poor
    table[LOWER_MIDDLE] = params.willingness_lower_middle
    table[UPPER_MIDDLE] = params.willingness_upper_middle
    table[RICH] = params.willingness_rich
    table[LANDLORD] = params.willingness_rich
    return table[klass]


def labour_shortage(labour: np.ndarray, land: np.ndarray, mean_labour_per_mu: np.ndarray) -> np.ndarray:
    """1 - (labour per mu / provincial mean), floored at 0: households short of hands [001 §V]."""
    per_mu = np.divide(labour, land, out=np.zeros_like(labour, dtype=np.float64), where=land > 0)
    short = np.clip(1.0 - per_mu / mean_labour_per_mu, 0.0, 1.0)
    return np.where(land > 0, short, 0.0)  # no land, no shortage of hands for it


def willingness(params: ParameterSet, *, klass, attitude, shortage, animals, promotion: float,
                neighbours_share) -> np.ndarray:
    """Willingness index: act when > 0 (join) or < -exit_hysteresis (leave)."""
    return (params.willingness_base + class_bonus(params, klass) + attitude
            + params.willingness_labour_shortage * shortage
            + params.willingness_no_animals * (animals < 0.5)
            + params.willingness_promotion * promotion
            + params.willingness_neighbours * neighbours_share)


def found(world, month: int, first_member: np.ndarray, village: np.ndarray, form: int) -> np.ndarray:
    """Create organisations of ``form``, one per founding household, in the founders' provinces'
    slot blocks, township and ``village``. Returns their ids."""
    hh, orgs = world.households, world.organisations
    prov = hh.province[first_member]
    ids = np.empty(first_member.size, dtype=np.int64)
    for pv in np.unique(prov):
        sel = np.flatnonzero(prov == pv)
        ids[sel] = orgs.claim(int(pv), sel.size)
    orgs.active[ids] = True
    orgs.form[ids] = form
    orgs.province[ids] = prov
    orgs.township[ids] = hh.township[first_member]
    orgs.village[ids] = village
    orgs.founded_month[ids] = month
    orgs.quality[ids] = 0
    orgs.yield_advantage[ids] = np.nan  # not assessed until its first harvest
    orgs.represents[ids] = 1.0
    return ids
