"""State farms (MODEL.md §2.2; [001 §II]): land, number and mechanisation are policy inputs (the
seed gives the First Five-Year Plan figures for 1957: 3,038 farms on 16.87 M mu, 141 mechanised on
7.58 M mu). Their workers are State employees; their grain goes to the State's granary.
"""

from __future__ import annotations

from hightide.engine.context import StepContext
from hightide.engine.provincial import national_total, province_sums
from hightide.world.world import World


def state_farm_output(params, land_mu: float, mechanised_share: float, peasant_yield_per_mu: float) -> float:
    """Grain of state farms at one harvest: their land at the peasant yield of the same harvest,
    scaled up on mechanised farms ([001 §II, §VII])."""
    ratio = mechanised_share * params.mechanised_yield_ratio + (1.0 - mechanised_share) * params.state_farm_yield_ratio
    return land_mu * peasant_yield_per_mu * ratio


def harvest(world: World, ctx: StepContext, peasant_output_kg: float, peasant_land_mu: float) -> None:
    pol = ctx.policy
    if pol.state_farm_land_m_mu <= 0 or peasant_land_mu <= 0:
        return
    out = state_farm_output(ctx.params, pol.state_farm_land_m_mu * 1e6 * peasant_land_mu / world_land(world, ctx),
                            pol.state_farm_mechanised_share, peasant_output_kg / peasant_land_mu)
    world.granary_kg += out
    ctx.national["state_farm_kg"] = ctx.national.get("state_farm_kg", 0.0) + out


def world_land(world: World, ctx: StepContext | None = None) -> float:
    """Peasant land of the whole country (weighted), mu: per-province sums in province order
    (through ``ctx.gather`` when given, so a province shard gets the nation's)."""
    land = province_sums(world.households, world.households.land_mu) * world.weight
    if ctx is not None:
        land = ctx.gather("peasant_land", land)
    return national_total(land)
