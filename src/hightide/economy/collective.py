"""Collective production and distribution in co-operatives and communes (MODEL.md §4.3-§4.4).

The unit pools its members' land, labour and animals under unified management; effort falls
with the unit's size and with coerced members. Claims on the harvest are settled at the unit in
order (tax, State purchase, seed, feed, accumulation fund, welfare fund) and the rest is shared:
elementary co-operatives pay a land dividend by land shares and the rest by work points;
advanced co-operatives and communes pay a basic ration first and the rest by work points
[001 §V; 003; MODEL.md §4.4 (4)]. Every kilogram is accounted for.
"""

from __future__ import annotations

import numpy as np

from hightide.economy.distribution import settle


def share_by(weights: np.ndarray, unit: np.ndarray, amount_per_unit: np.ndarray, n_units: int) -> np.ndarray:
    """Split each unit's ``amount`` among its members in proportion to ``weights`` (equal shares
    when all weights of a unit are zero). Sums back to ``amount_per_unit`` exactly (to rounding)."""
    total = np.bincount(unit, weights=weights, minlength=n_units)
    count = np.bincount(unit, minlength=n_units).astype(np.float64)
    w = np.where(total[unit] > 0, weights / np.where(total[unit] > 0, total[unit], 1.0), 1.0 / np.maximum(count[unit], 1))
    return amount_per_unit[unit] * w


def distribute_elementary(remainder: np.ndarray, unit: np.ndarray, land: np.ndarray, work_points: np.ndarray,
                          dividend_share: float, n_units: int) -> np.ndarray:
    """Land dividend by land shares plus labour pay by work points, in the co-operative's ratio
    [001 §V (2); 003 elementary co-operatives pool land as shares]."""
    return (share_by(land, unit, remainder * dividend_share, n_units)
            + share_by(work_points, unit, remainder * (1.0 - dividend_share), n_units))


def distribute_advanced(remainder: np.ndarray, unit: np.ndarray, ration_need: np.ndarray, work_points: np.ndarray,
                        n_units: int) -> np.ndarray:
    """A basic grain ration first (cut pro rata when the harvest cannot cover it), then work
    points (MODEL.md §2.2: advanced APC, work points after a basic ration; Model Regulations 1956)."""
    need = np.bincount(unit, weights=ration_need, minlength=n_units)
    ration_pool = np.minimum(remainder, need)
    return (share_by(ration_need, unit, ration_pool, n_units)
            + share_by(work_points, unit, remainder - ration_pool, n_units))


def unit_claims(output: np.ndarray, tax: np.ndarray, purchase: np.ndarray, seed: np.ndarray, feed: np.ndarray,
                accumulation_share: float, welfare_share: float) -> list[np.ndarray]:
    """Settle a unit's claims on its harvest in order; returns paid [tax, purchase, seed, feed,
    accumulation, welfare] per unit (MODEL.md §4.4 (1)-(3))."""
    return settle(output, [tax, purchase, seed, feed, accumulation_share * output, welfare_share * output])
