"""Rules of the State, the Leap and the famine, on small hand-made cases (MODEL.md §4.1, §4.3-§4.6)."""

from types import SimpleNamespace

import numpy as np
import pytest

from hightide.economy import distribution, production
from hightide.economy.consumption import mess_hall_ration
from hightide.economy.demography import herd_rate
from hightide.economy.harvest import labour_diverted_share, management_luck
from hightide.institutions.cooperatives import accounting_units
from hightide.institutions.state_farms import state_farm_output
from hightide.params import resolve
from hightide.scenarios.schema import Policy
from hightide.state import planning
from hightide.state.granary import urban_reserve
from hightide.world.organisations import ADVANCED_APC, COMMUNE, ELEMENTARY_APC


@pytest.fixture(scope="module")
def p():
    return resolve()


# --- reporting and planning ------------------------------------------------------------------
def test_exaggeration_grows_with_pressure_and_radicalism(p):
    rad = np.array([-2.0, 0.0, 0.5])
    assert planning.exaggeration(p, 0.0, rad).tolist() == [0.0, 0.0, 0.0]
    e = planning.exaggeration(p, 1.0, rad)
    assert e[0] == 0.0  # radicalism below -1 cannot make reports smaller than the truth
    assert e[1] == pytest.approx(p.exaggeration_scale)
    assert e[2] == pytest.approx(1.5 * p.exaggeration_scale)


def test_believed_output_discounts_claims_by_credence():
    true, claimed = np.array([200.0]), np.array([375.0])
    assert planning.believed_output(true, claimed, 1.0)[0] == 375.0
    assert planning.believed_output(true, claimed, 0.0)[0] == 200.0
    assert planning.believed_output(true, claimed, 0.3)[0] == pytest.approx(252.5)  # Lushan: ~250


def test_planned_quota_is_a_share_of_the_basis_higher_for_radicals(p):
    basis = np.array([1000.0, 1000.0, 1000.0])
    q = planning.planned_gross_quota(p, basis, np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.5, 0.5]))
    assert q[0] == pytest.approx(p.planned_procurement_share * 500)
    assert q[1] == pytest.approx((p.planned_procurement_share + p.radicalism_procurement) * 500)
    assert q[2] == q[0]  # moderate leaders do not lower the plan's share


def test_planned_share_purchase_is_quota_less_tax_whatever_the_harvest(p):
    kw = dict(reported_output=np.array([0.0, 0.0]), normal_output=np.zeros(2), retention=np.zeros(2),
              stock=np.zeros(2), need_to_next_harvest=np.zeros(2), seed=np.zeros(2), feed=np.zeros(2))
    got = distribution.purchase_request("planned_share", p, tax=np.array([30.0, 80.0]),
                                        planned_gross=np.array([100.0, 50.0]), **kw)
    assert got.tolist() == [70.0, 0.0]


def test_stock_feedback_only_cuts_purchases(p):
    world = SimpleNamespace(urban_population=np.array([1e6]), granary_kg=0.0)
    target = 1e6 * p.urban_ration_kg_per_capita / 12 * p.state_stock_target_months
    unified = Policy(procurement_regime="unified_purchase")
    assert planning.procurement_adjustment(p, world, unified) == 1.0  # short of target: never raised
    world.granary_kg = 1.5 * target
    assert planning.procurement_adjustment(p, world, unified) == pytest.approx(1 - 0.5 * p.procurement_feedback)
    world.granary_kg = 100 * target
    assert planning.procurement_adjustment(p, world, unified) == 0.25
    assert planning.procurement_adjustment(p, world, Policy(procurement_regime="planned_share")) == 1.0


def test_urban_reserve_is_capped_in_months():
    need = np.array([10.0, 20.0])  # towns' need per month
    zones = np.array([0, 1])
    # November: next harvest is June (wheat zone) -> 7 months, capped at 3
    assert urban_reserve(need, zones, 11, max_months=3.0) == 90.0
    # September: next harvest October -> 1 month
    assert urban_reserve(need, zones, 9, max_months=3.0) == 30.0


def test_default_reserve_carries_the_towns_to_the_next_harvest(params):
    """The grain year: by default the State holds the towns' ration all the way to the next harvest
    (after October: June in the wheat zone, 8 months), not a few months of it."""
    need = np.array([10.0, 20.0])
    zones = np.array([0, 1])
    assert params.urban_reserve_months >= 8
    assert urban_reserve(need, zones, 10, max_months=params.urban_reserve_months) == 30.0 * 8


# --- consumption, labour, herds ----------------------------------------------------------------
def test_mess_halls_overeat_while_stocks_look_ample_then_ration():
    need, months = np.array([10.0, 10.0, 10.0]), np.array([4.0, 4.0, 4.0])
    served = mess_hall_ration(np.array([100.0, 30.0, 5.0]), need, months, overeating=0.3)
    assert served[0] == pytest.approx(13.0)  # 100 > 40: eat 30% above need
    assert served[1] == pytest.approx(7.5)  # 30 < 40: ration 30 / 4
    assert served[2] == pytest.approx(1.25)
    assert np.all(served <= np.array([100.0, 30.0, 5.0]))


def test_labour_away_from_fields_from_steel_and_works(p):
    hh = SimpleNamespace(adults=np.array([2, 2, 0], dtype=np.int16), active=np.array([True, True, False]),
                         block_start=np.array([0]), block_end=np.array([3]), used=np.array([2]))
    world = SimpleNamespace(households=hh, weight=np.array([50e6]))  # 200 M adults
    ctx = SimpleNamespace(params=p, policy=Policy(backyard_steel_mt=1.0, water_conservancy_share=0.02),
                          gather=lambda name, values: values)  # one process: every province is here
    assert labour_diverted_share(world, ctx) == pytest.approx(p.persons_per_backyard_mt * 1e6 / 200e6 + 0.02)
    ctx.policy = Policy()
    assert labour_diverted_share(world, ctx) == 0.0
    ctx.policy = Policy(backyard_steel_mt=50.0)
    assert labour_diverted_share(world, ctx) == 0.9  # never everyone


def test_couples_apart_stop_conceptions_and_the_births_fall_nine_months_later(p):
    """Labour away on the works keeps couples apart: this month's births answer the share apart
    GESTATION_MONTHS ago (Ashton et al. 1984), scaled by ``separation_per_labour_away`` and never
    above everyone."""
    from hightide.economy.demography import GESTATION_MONTHS, couples_apart_at_conception

    hh = SimpleNamespace(adults=np.array([2, 2], dtype=np.int16), active=np.array([True, True]),
                         block_start=np.array([0]), block_end=np.array([2]), used=np.array([2]))
    world = SimpleNamespace(households=hh, weight=np.array([50e6]), couples_apart=())  # 200 M adults
    ctx = SimpleNamespace(params=p, policy=Policy(water_conservancy_share=0.15), gather=lambda name, values: values)
    lag = int(GESTATION_MONTHS)
    seen = [couples_apart_at_conception(world, ctx) for _ in range(lag)]
    assert seen == [0.0] * lag  # nobody conceived apart before the works began
    ctx.policy = Policy()
    seen = [couples_apart_at_conception(world, ctx) for _ in range(lag + 1)]
    assert seen[:lag] == pytest.approx([p.separation_per_labour_away * 0.15] * lag)
    assert seen[lag] == 0.0  # the works ended nine months before
    ctx.params = resolve({"separation_per_labour_away": 2.0})
    ctx.policy = Policy(water_conservancy_share=0.6)
    assert max(couples_apart_at_conception(world, ctx) for _ in range(lag + 1)) == 1.0


def test_herds_grow_when_cared_for_and_fall_when_neglected_or_hungry(p):
    r = herd_rate(p, effort=np.array([1.0, 0.6, 1.0]), pooled=np.array([False, True, False]),
                  shortfall=np.array([0.0, 0.0, 0.4]))
    assert r[0] == pytest.approx(p.draft_animal_growth_per_year)
    assert r[1] == pytest.approx(p.draft_animal_growth_per_year - p.collective_herd_neglect * 0.4)
    assert r[2] == pytest.approx(p.draft_animal_growth_per_year - p.hunger_slaughter * 0.4)


def test_state_farm_output_scales_with_land_and_mechanisation(p):
    plain = state_farm_output(p, 1e6, 0.0, 100.0)
    assert plain == pytest.approx(1e8 * p.state_farm_yield_ratio)
    mixed = state_farm_output(p, 1e6, 0.5, 100.0)
    assert mixed == pytest.approx(1e8 * (0.5 * p.mechanised_yield_ratio + 0.5 * p.state_farm_yield_ratio))


# --- weather and management luck ---------------------------------------------------------------
def test_disaster_shock_from_the_official_series(p):
    assert production.disaster_shock(p, 1955) is None  # blank in the series: random weather
    expected = np.log(1 - p.disaster_loss_per_affected * (65.46 / 150 - production.NORMAL_AFFECTED_SHARE))
    assert production.disaster_shock(p, 1960) == pytest.approx(expected)
    assert production.disaster_shock(p, 1960) < production.disaster_shock(p, 1965) < 0.05


def test_management_luck_is_keyed_and_mean_one(p):
    orgs = SimpleNamespace(capacity=20000, block_start=np.array([0, 10000]), block_end=np.array([10000, 20000]))
    a = management_luck(p, 0, 1959, orgs)
    assert np.array_equal(a, management_luck(p, 0, 1959, orgs))
    assert not np.array_equal(a, management_luck(p, 0, 1960, orgs))
    assert a.mean() == pytest.approx(1.0, abs=0.005)
    off = resolve({"unit_management_sd": 0.0})
    assert np.all(management_luck(off, 0, 1959, orgs) == 1.0)


# --- accounting units --------------------------------------------------------------------------
def test_accounting_units_unit_brigade_team():
    # org 0 elementary (villages 5, 6); org 1 commune with 5 members in village 7 and 2 in village 8
    hh = SimpleNamespace(org=np.array([0, 0, 1, 1, 1, 1, 1, 1, 1]), village=np.array([5, 6, 7, 7, 7, 7, 7, 8, 8]),
                         province=np.zeros(9, dtype=np.int16), block_start=np.array([0]))
    orgs = SimpleNamespace(form=np.array([ELEMENTARY_APC, COMMUNE]))
    members = np.arange(9)

    def groups(level, team=2):
        return len(np.unique(accounting_units(hh, orgs, members, Policy(accounting_unit=level), team)))

    assert groups("unit") == 2
    assert groups("brigade") == 3  # the elementary co-operative stays whole; the commune splits by village
    assert groups("team") == 1 + 3 + 1  # village 7: teams of 2, 2, 1; village 8: one team
    orgs.form[1] = ADVANCED_APC
    assert groups("brigade") == 3  # sub-co-operatives in a big advanced co-operative
