"""The Leap's campaign techniques: deep ploughing and close planting (MODEL.md §4.3).

The CC's directive on deep ploughing and soil improvement (29 Aug 1958) asked that all land that
could be deep-ploughed be turned a chi or more deep within two to three years, and close planting
was one of the eight points of the 'Eight-Character Charter' for agriculture; each level raised
the depth and the pace. Ploughing a chi and a half deep buries the worked topsoil under raw,
infertile and often saline subsoil, and over-dense sowing starves the plants (Yang 2012: close-
planted fields in Anhui fell from 400 jin per mu to under 200; Hinton 1984, pp. 236-245). The
campaign faded as the famine spread and was ended with 'blind direction of production' under the
Twelve Articles (Nov 1960).

Here the scenario gives the share of grain land the campaign reaches in a year
(``Policy.campaign_technique_share``), pushed harder by radical provincial leaderships (as their
exaggeration is, ``planning.exaggeration``). The land it has reached carries the damage, which
heals with a half-life (``soil_recovery_half_life_years``: raw soil needs years of manuring);
output on it is lower by ``campaign_technique_yield_loss``.
"""

from __future__ import annotations

import numpy as np

from hightide.engine.context import StepContext
from hightide.world.world import World


def reach_per_month(annual_share: float, radicalism: np.ndarray) -> np.ndarray:
    """Share of the not yet damaged land the campaign reaches this month, per province: the
    scenario's annual share, scaled by the leadership's radicalism as exaggeration is
    (``planning.exaggeration``), spread evenly over the year."""
    annual = np.clip(annual_share * np.maximum(1.0 + radicalism, 0.0), 0.0, 1.0)
    return 1.0 - (1.0 - annual) ** (1.0 / 12.0)


def damaged_share_next(damage: np.ndarray, reach: np.ndarray, half_life_years: float) -> np.ndarray:
    """Next month's damaged share of the land: what heals (halving every ``half_life_years``)
    goes, and the campaign reaches ``reach`` of the undamaged rest. Stays within [0, 1]."""
    kept = damage * 0.5 ** (1.0 / (12.0 * half_life_years)) if half_life_years > 0 else np.zeros_like(damage)
    return kept + reach * (1.0 - kept)


def yield_factor(params, damage: np.ndarray) -> np.ndarray:
    """Output per province relative to undamaged land: 1 - loss x damaged share."""
    return 1.0 - params.campaign_technique_yield_loss * damage


def update(world: World, ctx: StepContext) -> None:
    """Move each province's damaged share of land by a month: healing, then this month's reach."""
    p = ctx.params
    reach = reach_per_month(ctx.policy.campaign_technique_share, world.radicalism(p))
    world.soil_damage = damaged_share_next(world.soil_damage, reach, p.soil_recovery_half_life_years)
