"""Distribution of the harvest as rules in code (MODEL.md §4.4).

Claims on a household's grain are computed as requests and settled once, in order, so that grain
is conserved by construction (STYLE habit 6): agricultural tax, State purchase, seed, feed; the
rest stays in the household's stock.
"""

from __future__ import annotations

import numpy as np

from hightide.params import ParameterSet


def settle(available: np.ndarray, claims: list[np.ndarray]) -> list[np.ndarray]:
    """Pay ``claims`` in priority order from ``available``; a claim is cut when grain runs out."""
    remaining = np.maximum(available, 0.0).astype(np.float64, copy=True)
    paid = []
    for claim in claims:
        p = np.minimum(np.maximum(claim, 0.0), remaining)
        remaining -= p
        paid.append(p)
    return paid


def tax_due(params: ParameterSet, land: np.ndarray, normal_yield_per_mu: np.ndarray, season_share: np.ndarray) -> np.ndarray:
    """Agricultural tax at a fixed rate on the normal yield of the land, not on actual output
    ([003] taxation according to fixed rates; Agricultural Tax Regulations 1958: 15.5%)."""
    return params.agricultural_tax_rate * normal_yield_per_mu * land * season_share


def food_norm(params: ParameterSet, policy) -> float:
    """The rural ration standard in force, kg of raw grain a head a year: the registry's retention
    norm times the policy's ``rural_ration_factor`` ([003]; Three Fixes 1955; the CC directive of
    7 Sep 1960 on lowering the rural and urban ration standards)."""
    return params.retention_food_norm_kg_per_capita * policy.rural_ration_factor


def retention_norm(params: ParameterSet, persons: np.ndarray, land: np.ndarray, animals: np.ndarray,
                   season_share: np.ndarray, ration_factor: float = 1.0) -> np.ndarray:
    """Grain left to the producer when a quota is set: food by the norm (times the policy's
    ``rural_ration_factor``), seed and feed ([003]; Three Fixes 1955)."""
    return (params.retention_food_norm_kg_per_capita * ration_factor * persons
            + params.seed_kg_per_mu * land
            + params.feed_kg_per_animal_year * animals) * season_share


def purchase_request(regime: str, params: ParameterSet, *, reported_output, normal_output, tax,
                     retention, stock, need_to_next_harvest, seed, feed, planned_gross=None, true_output=None,
                     above_normal_share: float = 0.0) -> np.ndarray:
    """What the State (or the market) takes beyond the tax after a harvest.

    - free_market (before Nov 1953): households sell a share of their surplus above their own
      needs to the next harvest, and hoard the rest [003];
    - unified_purchase (from Nov 1953): quota = rate x (reported output - tax - retention norms)
      ([003] planned purchase and supply of grain; MODEL.md §4.4 (2));
    - three_fixes (from Aug 1955): the same on the fixed normal output, not this year's report:
      the unit's assessed normal annual output of all its land (Jiangxi implementing rules of the
      State Council's provisional measures, 20 Sep 1955, Arts. 2-3), fixed anew in rounds (1955,
      1958, 1961: Zhang Chen 2015); the model assesses it at every harvest, on the land as it then
      is, damage included, and its labour and animals (``harvest_kernels.products``). A unit not in
      deficit (normal output covering tax and retention) also sells ``above_normal_share`` of its
      true output above its normal output: the increased purchase of the 1956 bumper areas and of
      the State Council's supplementary regulations of 11 Oct 1957 (generally 40% of the increase;
      a deficit unit is resold less instead, as its stock is higher);
    - planned_share (the Leap): the plan's gross quota less the tax, whatever the harvest
      (Meng, Qian & Yared 2015).
    """
    if regime == "planned_share":
        return np.maximum(planned_gross - tax, 0.0)
    if regime == "free_market":
        surplus = stock + reported_output - tax - seed - feed - need_to_next_harvest
        return params.free_market_sale_share * np.maximum(surplus, 0.0)
    margin = (normal_output if regime == "three_fixes" else reported_output) - tax - retention
    request = params.procurement_surplus_rate * np.maximum(margin, 0.0)
    if regime == "three_fixes" and above_normal_share > 0.0:
        above = above_normal_share * np.maximum(true_output - normal_output, 0.0)
        request = request + np.where(margin >= 0.0, above, 0.0)
    return request
