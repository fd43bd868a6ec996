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
