"""Rules of the co-operatives, on small hand-made cases ([001 §III, §V]; MODEL.md §4.2, §4.4)."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hightide.economy import collective
from hightide.institutions import cooperatives
from hightide.params import resolve
from hightide.scenarios.schema import Policy


# --- withdrawal and dissolution [001 §III] ---------------------------------------------------
def test_some_want_out_they_withdraw_the_rest_carry_on():
    org = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    wants = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    leaves, dissolved = cooperatives.withdrawal_outcome(org, wants, 1, nearly_all=0.9, min_size=3)
    assert leaves.tolist() == wants.tolist()
    assert not dissolved[0]


def test_majority_wants_out_majority_withdraws_minority_carries_on():
    # the six-household co-operative in Hebei: three old middle peasants quit, three poor stay
    org = np.zeros(6, dtype=int)
    wants = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    leaves, dissolved = cooperatives.withdrawal_outcome(org, wants, 1, nearly_all=0.9, min_size=3)
    assert leaves.tolist() == [True, True, True, False, False, False]
    assert not dissolved[0]
    wants = np.array([1, 1, 1, 1, 0, 0], dtype=bool)  # 4 of 6 out: still not "nearly all"
    leaves, dissolved = cooperatives.withdrawal_outcome(org, wants, 1, nearly_all=0.9, min_size=2)
    assert leaves.sum() == 4 and not dissolved[0]


def test_dissolved_only_when_all_or_nearly_all_want_out():
    org = np.zeros(10, dtype=int)
    wants = np.ones(10, dtype=bool)
    wants[0] = False  # 9 of 10 = nearly all
    leaves, dissolved = cooperatives.withdrawal_outcome(org, wants, 1, nearly_all=0.9, min_size=2)
    assert dissolved[0] and leaves.all()


def test_too_few_left_to_carry_on_dissolves():
    org = np.zeros(6, dtype=int)
    wants = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    _, dissolved = cooperatives.withdrawal_outcome(org, wants, 1, nearly_all=0.9, min_size=3)
    assert dissolved[0]


def test_withdrawal_rule_is_per_cooperative():
    org = np.array([0, 0, 0, 1, 1, 1])
    wants = np.array([1, 1, 1, 0, 0, 1], dtype=bool)
    leaves, dissolved = cooperatives.withdrawal_outcome(org, wants, 2, nearly_all=0.9, min_size=2)
    assert dissolved.tolist() == [True, False]
    assert leaves.tolist() == [True, True, True, False, False, True]


# --- distribution within the unit -------------------------------------------------------------
def test_land_dividend_and_work_points_split_every_kilogram():
    unit = np.array([0, 0, 1, 1, 1])
    remainder = np.array([1000.0, 600.0])
    land = np.array([10.0, 30.0, 5.0, 5.0, 0.0])
    work = np.array([3.0, 1.0, 1.0, 1.0, 2.0])
    got = collective.distribute_elementary(remainder, unit, land, work, dividend_share=0.3, n_units=2)
    # unit 0: dividend 300 by land 10:30 -> 75, 225; labour 700 by 3:1 -> 525, 175
    assert got[:2] == pytest.approx([600.0, 400.0])
    # unit 1: dividend 180 by land 5:5:0 -> 90, 90, 0; labour 420 by 1:1:2 -> 105, 105, 210
    assert got[2:] == pytest.approx([195.0, 195.0, 210.0])
    assert np.bincount(unit, weights=got) == pytest.approx(remainder)


def test_advanced_pays_basic_ration_first_then_work_points():
    unit = np.zeros(3, dtype=int)
    ration = np.array([100.0, 100.0, 200.0])
    work = np.array([1.0, 0.0, 3.0])
    got = collective.distribute_advanced(np.array([800.0]), unit, ration, work, 1)
    assert got == pytest.approx([100 + 100, 100 + 0, 200 + 300])
    short = collective.distribute_advanced(np.array([200.0]), unit, ration, work, 1)
    assert short == pytest.approx([50.0, 50.0, 100.0])  # ration cut pro rata, nothing for work points


def test_unit_claims_are_settled_in_order_and_conserve():
    out = np.array([1000.0, 100.0])
    paid = collective.unit_claims(out, tax=np.array([150.0, 80.0]), purchase=np.array([300.0, 50.0]),
                                  seed=np.array([70.0, 7.0]), feed=np.array([20.0, 2.0]),
                                  accumulation_share=0.04, welfare_share=0.02)
    assert [p[0] for p in paid] == pytest.approx([150, 300, 70, 20, 40, 20])
    assert [p[1] for p in paid] == pytest.approx([80, 20, 0, 0, 0, 0])  # tax first, purchase cut
    assert sum(paid)[0] <= out[0] and sum(paid)[1] == pytest.approx(100.0)


def test_share_by_with_zero_weights_shares_equally():
    got = collective.share_by(np.zeros(4), np.array([0, 0, 0, 1]), np.array([90.0, 5.0]), 2)
    assert got == pytest.approx([30.0, 30.0, 30.0, 5.0])


# --- control figures, admission and effort ----------------------------------------------------
def test_control_figures_allotted_by_capacity_with_minority_exemption():
    pol = Policy(apc_control_figure=0.1, margin=0.5)
    early = np.array([True, False, False, True])
    minority = np.array([False, False, True, False])
    t = cooperatives.provincial_targets(pol, early, minority, capacity_early=2.0)
    assert t[0] == pytest.approx(t[3]) and t[0] == pytest.approx(2 * t[1])
    assert t[2] == 0.0
    assert t[0] == pytest.approx(0.15 * 2.0 / 1.5)


def test_effort_falls_with_size_and_coercion():
    p = resolve()
    e = cooperatives.effort(p, np.array([7.0, 26.0, 160.0, 5000.0]), np.zeros(4))
    assert e[0] == pytest.approx(1.0) and np.all(np.diff(e) < 0)
    coerced = cooperatives.effort(p, np.array([26.0]), np.array([1.0]))
    assert coerced[0] == pytest.approx(e[1] * p.coerced_effort)


def test_losing_the_exit_right_steps_productivity_down_over_a_year():
    p = resolve()
    assert cooperatives.no_exit_factor(p, 0) == 1.0
    assert cooperatives.no_exit_factor(p, 6) == pytest.approx(1 - p.no_exit_tfp_loss / 2)
    assert cooperatives.no_exit_factor(p, 12) == cooperatives.no_exit_factor(p, 40) == pytest.approx(1 - p.no_exit_tfp_loss)


def test_admission_order_poor_first_rich_only_when_complete():
    """Class line [001 §V]: at a low control figure only poor and lower-middle households (and
    willing upper-middle ones) enter; landlords and rich peasants stay out until
    co-operativisation is basically complete."""
    from hightide.engine.context import StepContext
    from hightide.world.households import LANDLORD, RICH, UPPER_MIDDLE
    from hightide.world.synthesis import build_world

    p = resolve({"townships_min_per_province": 1.0})
    world = build_world(p, 0.0002, 0, 1955 * 12)
    hh = world.households
    pol = Policy(cooperatives_allowed=True, apc_control_figure=0.3, pressure=1.0, margin=0.0)
    for month in (1955 * 12 + 10, 1955 * 12 + 11):
        ctx = StepContext(month=month, start_month=1955 * 12, policy=pol, params=p, seed=0, n_provinces=world.provinces.n)
        cooperatives.organise(world, ctx)
    member = hh.active & (hh.org >= 0)
    assert member.sum() > 0
    assert not np.any(member & np.isin(hh.klass, (RICH, LANDLORD)))
    share_poor = member[hh.active & (hh.klass <= 1)].mean()
    share_upper = member[hh.active & (hh.klass == UPPER_MIDDLE)].mean()
    assert share_poor > share_upper


def test_quality_class_thresholds_and_output_class_from_cadres_alone():
    from hightide.institutions.cooperatives import quality_class

    assert quality_class(np.array([1.0, 0.41, 0.4, 0.0, -1.2, -1.21, -3.0])).tolist() == [1, 1, 2, 2, 2, 3, 3]
    # standard-normal competence gives roughly the seeds' split (about a third good, a tenth poor)
    c = np.random.default_rng(0).normal(size=200_000)
    shares = np.bincount(quality_class(c), minlength=4)[1:] / c.size
    assert 0.30 < shares[0] < 0.38 and 0.08 < shares[2] < 0.15


def test_effort_is_the_running_mean_of_the_growing_season():
    """Effort moves only April-September, as the running mean of the season's monthly incentive
    (restarting each April): a commune founded in the harvest month or the slack season does not
    touch the crop already grown (MODEL.md §3, §4.3)."""
    from hightide.engine.context import StepContext
    from hightide.institutions import incentives

    p = resolve({"townships_min_per_province": 1.0})
    from hightide.world.synthesis import build_world

    world = build_world(p, 0.0002, 0, 1958 * 12)
    hh = world.households
    live = hh.active.copy()
    hh.effort[live] = 0.5  # last season's mean, far from this season's incentive (1 outside collectives)

    def month(cal, industry=0.0):
        pol = Policy(rural_industry_share=industry)
        ctx = StepContext(month=1958 * 12 + cal - 1, start_month=1958 * 12, policy=pol, params=p, seed=0,
                          n_provinces=world.provinces.n)
        incentives.update_effort(world, ctx)

    for cal in (10, 11, 12, 1, 2, 3):  # harvest month and slack season: nothing moves
        month(cal, industry=0.5)
        assert np.all(hh.effort[live] == np.float32(0.5))
    month(4, industry=0.2)  # April restarts the mean at this month's incentive
    np.testing.assert_allclose(hh.effort[live], 0.8, rtol=1e-6)
    month(5, industry=0.0)  # the second month: the mean of 0.8 and 1.0
    np.testing.assert_allclose(hh.effort[live], 0.9, rtol=1e-6)


def test_private_plots_count_for_the_season_that_grew_the_crop():
    """The plots' share a harvest sees is the growing season's mean: plots returned in June (as
    in 1959) are a third of the June wheat's season and two thirds of the autumn crop's; plots
    taken in October do not touch the crop already grown; the mean restarts in April."""
    from hightide.engine.context import StepContext
    from hightide.institutions import incentives
    from hightide.world.synthesis import build_world

    p = resolve({"townships_min_per_province": 1.0})
    world = build_world(p, 0.0002, 0, 1959 * 12)
    world.private_plot_season = 0.05  # last season's, for a harvest before this April
    seen = {}
    for cal, plots in ((1, 0.0), (3, 0.0), (4, 0.0), (5, 0.0), (6, 0.05), (7, 0.05), (8, 0.05), (9, 0.05), (10, 0.0)):
        ctx = StepContext(month=1959 * 12 + cal - 1, start_month=1959 * 12, policy=Policy(private_plot_share=plots),
                          params=p, seed=0, n_provinces=world.provinces.n)
        incentives.update_effort(world, ctx)
        seen[cal] = world.private_plot_season
    assert seen[1] == seen[3] == 0.05  # the slack season changes nothing
    assert seen[4] == 0.0  # April restarts the mean
    assert seen[6] == pytest.approx(0.05 / 3)  # the June harvest
    assert seen[9] == pytest.approx(0.05 * 4 / 6) == seen[10]  # the October harvest: taken back too late
    assert incentives.season_mean(0.2, 0.5, 4) == 0.5 and incentives.season_mean(0.2, 0.5, 5) == pytest.approx(0.35)


@pytest.mark.parametrize("elasticity", [1.0, 0.5, 2.0])
def test_the_hungry_put_less_work_into_the_season(elasticity):
    """Work capacity falls with intake below the hunger threshold (Strauss 1986): the season's
    effort is the incentive times min(food ratio / threshold, 1) ** hunger_labour_elasticity (at
    elasticity 1 the kernel takes the ratio itself, without ``pow``)."""
    from hightide.engine.context import StepContext
    from hightide.institutions import incentives
    from hightide.world.synthesis import build_world

    p = resolve({"townships_min_per_province": 1.0, "hunger_labour_elasticity": elasticity})
    world = build_world(p, 0.0002, 0, 1958 * 12)
    hh = world.households
    live = np.flatnonzero(hh.active)
    hungry, fed = live[::2], live[1::2]
    hh.food_ratio[hungry] = np.float32(p.hunger_threshold / 2)
    hh.food_ratio[fed] = np.float32(p.hunger_threshold + 0.05)
    ctx = StepContext(month=1958 * 12 + 3, start_month=1958 * 12, policy=Policy(), params=p, seed=0,
                      n_provinces=world.provinces.n)
    incentives.update_effort(world, ctx)  # April: the season's first month
    np.testing.assert_allclose(hh.effort[fed], 1.0, rtol=1e-6)
    np.testing.assert_allclose(hh.effort[hungry], 0.5 ** p.hunger_labour_elasticity, rtol=1e-5)


def test_enrolment_and_check_ups_by_chunks_of_provinces_change_nothing(monkeypatch):
    """``_enrol`` and ``_check_up`` work through chunks of whole provinces (to bound their
    temporaries at full scale); one province per chunk gives the same households, co-operatives
    and cadres as one chunk for the nation, through the high tide and the withdrawals of the
    winter of 1956-57."""
    from hightide.engine import kernels
    from hightide.engine.simulation import simulate
    from hightide.scenarios.loader import load_scenario

    scenario = load_scenario("historical")
    scenario = scenario.model_copy(update={
        "scenario": scenario.scenario.model_copy(update={"end": "1957-06"}),
        "parameters": {**scenario.parameters, "townships_min_per_province": 1.0}})

    def state(limit):
        monkeypatch.setattr(cooperatives, "province_chunks",
                            lambda slots, provinces=None: kernels.province_chunks(slots, provinces, limit=limit))
        world = simulate(scenario, scale=0.0002, seed=3).world
        hh, orgs = world.households, world.organisations
        return [hh.org, hh.joined_month, hh.coerced, hh.draft_animals, orgs.active, orgs.form, orgs.village,
                orgs.cadre_competence, orgs.founded_month]

    one_chunk, per_province = state(1 << 40), state(1)
    from hightide.world.organisations import ELEMENTARY_APC

    assert np.count_nonzero(one_chunk[5][one_chunk[4]] >= ELEMENTARY_APC) > 10  # co-operatives were founded
    for a, b in zip(one_chunk, per_province):
        np.testing.assert_array_equal(a, b)


def _norm_months(norm, incentive, persistence, months, member=True):
    """Run ``incentives._move_toward`` for ``months`` growing months on one household (a member of
    a one-household unit whose incentive is ``incentive``, or an individual), fed, no rural industry."""
    from hightide.institutions import incentives
    from hightide.world.organisations import ADVANCED_APC

    norm_arr, effort = np.array([norm], dtype=np.float32), np.array([1.0], dtype=np.float32)
    members = np.array([0] if member else [], dtype=np.int64)
    for k in range(1, months + 1):
        incentives._move_toward(np.array([[0, 0, 1]]), np.array([0, 1]), np.array([True]), effort, norm_arr, members,
                                np.zeros(members.size, dtype=np.int64), np.array([0], dtype=np.int32),
                                np.array([ADVANCED_APC], dtype=np.int8), np.array([incentive]), 0.3, 0.0, 0.0,
                                float(k), incentives.norm_rate(persistence), np.array([1.0], dtype=np.float32),
                                0.85, 1.0)
    return float(norm_arr[0]), float(effort[0])


def test_work_norm_closes_all_but_the_persistence_of_the_gap_in_a_season():
    """A member's work norm moves toward its unit's incentives by partial adjustment (Fischbacher,
    Gächter & Fehr 2001; Nerlove 1958): after a whole growing season the share ``effort_persistence``
    of the gap is left; with persistence 0 the norm is the incentive at once (the model before the
    norm); the season's effort is the running mean of the norm."""
    from hightide.institutions import incentives

    norm, effort = _norm_months(1.0, 0.6, 0.5, 6)
    assert norm == pytest.approx(0.6 + 0.5 * 0.4, rel=1e-6)
    rate = incentives.norm_rate(0.5)
    path = [1.0 - 0.4 * (1.0 - (1.0 - rate) ** k) for k in range(1, 7)]
    assert effort == pytest.approx(np.mean(path), rel=1e-6)
    assert _norm_months(1.0, 0.6, 0.0, 1)[0] == pytest.approx(0.6, rel=1e-6)
    assert _norm_months(0.6, 1.0, 0.5, 12)[0] == pytest.approx(1.0 - 0.4 * 0.25, rel=1e-6)  # recovery: two seasons


def test_work_norm_outside_collectives_is_one_at_once():
    """Households farming for their own crop (alone or in a mutual-aid team) have no team to free
    ride on: a household that left its co-operative works fully in the first growing month."""
    assert _norm_months(0.6, 0.6, 0.5, 1, member=False)[0] == 1.0


def test_work_norm_rate_refuses_a_norm_that_never_moves():
    from hightide.institutions import incentives

    with pytest.raises(ValueError, match="effort_persistence"):
        incentives.norm_rate(1.0)
    assert incentives.norm_rate(0.0) == 1.0


def test_admissible_candidates_are_the_array_rule():
    """The compiled admissibility of enrolment candidates is the rule as arrays: poor and
    lower-middle, willing upper-middle, rich and landlords where co-operativisation is basically
    complete; without a township plan not the five-guarantee households nor the badly off; and
    willingness above the pressure threshold."""
    from hightide.institutions.cooperatives import BADLY_OFF_LABOUR_PER_PERSON, BASICALLY_COMPLETE, _admissible
    from hightide.world.households import LOWER_MIDDLE, RICH, UPPER_MIDDLE

    g = np.random.default_rng(4)
    n = 5000
    province = g.integers(0, 3, n).astype(np.int8)
    share = np.array([0.5, 0.85, 0.8])
    klass = g.integers(0, 5, n).astype(np.int8)
    children, adults, elderly = (g.integers(0, 4, n).astype(np.int8) for _ in range(3))
    five = g.random(n) < 0.05
    cand = np.sort(g.choice(n, 3000, replace=False))
    w = g.normal(0.0, 1.0, cand.size)
    for strong_only in (False, True):
        got = _admissible(cand, w, province, share, klass, children, adults, elderly, five, strong_only, 0.4, 0.3, -0.5)
        k = klass[cand]
        want = (k <= LOWER_MIDDLE) | ((k == UPPER_MIDDLE) & (w > 0)) | ((k >= RICH) & (share[province[cand]] >= BASICALLY_COMPLETE))
        if strong_only:
            persons = children[cand].astype(np.int32) + adults[cand] + elderly[cand]
            labour = adults[cand] + 0.4 * children[cand] + 0.3 * elderly[cand]
            want &= ~five[cand] & (labour / np.maximum(persons, 1) >= BADLY_OFF_LABOUR_PER_PERSON)
        want &= w > -0.5
        np.testing.assert_array_equal(got, want)
        assert 0 < got.sum() < got.size


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_releasing_dissolved_members_is_the_array_rule(data):
    """``membership.release_members`` (one pass over pieces of provinces) frees exactly the active members of
    the dead organisations, as the masks over every slot did, and counts them per province."""
    from hightide.engine import kernels
    from hightide.institutions.membership import release_members
    from hightide.world.households import NO_ORG

    n_prov = data.draw(st.integers(1, 4))
    used = np.array(data.draw(st.lists(st.integers(0, 60), min_size=n_prov, max_size=n_prov)), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(used + 3)[:-1]))
    n, n_orgs = int(starts[-1] + used[-1] + 3), 12
    org = np.array(data.draw(st.lists(st.integers(-1, n_orgs - 1), min_size=n, max_size=n)), dtype=np.int32)
    active = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    dead = np.array(data.draw(st.lists(st.booleans(), min_size=n_orgs, max_size=n_orgs)))
    joined = np.arange(n, dtype=np.int32)
    coerced = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    province = np.repeat(np.arange(n_prov), used + 3)[:n]
    in_use = np.zeros(n, dtype=bool)
    for a, u in zip(starts, used):
        in_use[a:a + u] = True
    expected = np.flatnonzero(in_use & active & (org != NO_ORG) & dead[np.maximum(org, 0)])
    want_org, want_joined, want_coerced = org.copy(), joined.copy(), coerced.copy()
    want_org[expected], want_joined[expected], want_coerced[expected] = NO_ORG, -1, False
    slots = SimpleNamespace(block_start=starts, used=used)
    pieces, bounds = kernels.slot_pieces(slots, threads=data.draw(st.integers(1, 3)))
    counts = release_members(pieces, bounds, active, org, joined, coerced, True, dead, n_prov)
    np.testing.assert_array_equal(org, want_org)
    np.testing.assert_array_equal(joined, want_joined)
    np.testing.assert_array_equal(coerced, want_coerced)
    np.testing.assert_array_equal(counts, np.bincount(province[expected], minlength=n_prov).astype(float))


def test_outside_forms_of_some_provinces_is_their_part_of_the_list():
    """``outside_forms`` for chosen provinces lists their part of the nation's list, nothing else."""
    from hightide.engine.kernels import outside_forms
    from hightide.engine.simulation import simulate
    from hightide.scenarios.loader import load_scenario

    scenario = load_scenario("historical")
    scenario = scenario.model_copy(update={"scenario": scenario.scenario.model_copy(update={"end": "1956-02"})})
    world = simulate(scenario, scale=0.0002, seed=3).world
    hh = world.households
    everyone = outside_forms(world, cooperatives.COLLECTIVE_FORMS)
    assert 0 < everyone.size < np.count_nonzero(hh.active)
    for chosen in ([0], [1, 2], list(range(world.provinces.n))):
        part = outside_forms(world, cooperatives.COLLECTIVE_FORMS, provinces=np.array(chosen))
        np.testing.assert_array_equal(part, everyone[np.isin(hh.province[everyone], chosen)])
