"""economy/demography.py: baseline mortality, hunger, fertility, monthly probabilities."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hightide.economy.demography import (
    baseline_factor, fertility_multiplier, hunger_multiplier, hunger_shortfall, monthly_probability,
)
from hightide.engine import kernels
from hightide.params import resolve


def _small_pieces(starts, used, provinces=None):
    """Pieces of at most 37 slots of the given province blocks, dealt to three threads: a pass over
    them must give what one walk over each whole province gives."""
    old = kernels.PIECE_SLOTS, kernels.MIN_PIECE_SLOTS
    kernels.PIECE_SLOTS, kernels.MIN_PIECE_SLOTS = 37, 1
    try:
        return kernels.slot_pieces(SimpleNamespace(block_start=starts, used=used), provinces, threads=3)
    finally:
        kernels.PIECE_SLOTS, kernels.MIN_PIECE_SLOTS = old


def test_baseline_factor_is_one_in_1952_and_falls_to_the_floor(params):
    assert baseline_factor(params, 0.0) == pytest.approx(1.0)
    assert baseline_factor(params, -3.0) == pytest.approx(1.0)  # never above the 1952 level
    assert baseline_factor(params, 200.0) == pytest.approx(params.mortality_floor, abs=1e-9)
    values = [baseline_factor(params, t) for t in range(0, 15)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert all(v > params.mortality_floor for v in values)


def test_baseline_factor_paper_value():
    p = resolve({"mortality_floor": 0.5, "mortality_decline_rate": 0.5})
    # 0.5 + 0.5 exp(-0.5 x 2) = 0.5 + 0.5 / e
    assert baseline_factor(p, 2.0) == pytest.approx(0.5 + 0.5 * np.exp(-1.0))


def test_hunger_shortfall_paper_values():
    p = resolve({"hunger_threshold": 0.8})
    got = hunger_shortfall(p, np.array([1.2, 0.8, 0.6, 0.4, 0.0, -1.0]))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.25, 0.5, 1.0, 1.0])


def test_hunger_multiplier_is_one_when_fed_and_quadratic_in_shortfall():
    p = resolve({"hunger_mortality_scale": 20.0})
    np.testing.assert_allclose(hunger_multiplier(p, np.array([0.0, 0.5, 1.0])), [1.0, 6.0, 21.0])


def test_fertility_multiplier_falls_linearly_and_stops_at_zero():
    p = resolve({"hunger_fertility_slope": 2.0})
    np.testing.assert_allclose(fertility_multiplier(p, np.array([0.0, 0.25, 0.5, 0.9])), [1.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("annual", [0.0, 0.007, 0.024, 0.07, 0.3])
def test_twelve_monthly_probabilities_compound_to_the_annual_one(annual):
    m = monthly_probability(annual)
    assert 1 - (1 - m) ** 12 == pytest.approx(annual, rel=1e-12, abs=1e-15)


def test_multiplier_scales_the_hazard():
    # hazard doubles: survival over the year is squared
    annual = 0.1
    m2 = monthly_probability(annual, 2.0)
    assert 1 - (1 - m2) ** 12 == pytest.approx(1 - 0.9**2, rel=1e-12)


@given(st.floats(0.0, 1.0), st.floats(0.0, 200.0))
def test_monthly_probability_is_a_probability(annual, mult):
    m = monthly_probability(annual, mult)
    assert 0.0 <= m <= 1.0


def test_monthly_probability_is_vectorised():
    got = monthly_probability(np.array([0.0, 0.05]), np.array([1.0, 3.0]))
    assert got.shape == (2,)
    assert got[0] == 0.0 and got[1] == pytest.approx(monthly_probability(0.05, 3.0))


def test_compiled_herd_growth_is_the_array_rule():
    """``_herds`` + NumPy's powers give each herd (1 + max(herd_rate, -0.99)) ** (1/12), as the
    array rule does (float32 factors), bit for bit: common-rate herds by one power, others each."""
    from hightide.economy.demography import _herds, _scale_herds, herd_rate, hunger_shortfall
    from hightide.world.organisations import COMMUNE, ELEMENTARY_APC, MUTUAL_AID

    p = resolve({})
    g = np.random.default_rng(3)
    n = 5000
    active = g.random(n) < 0.9
    animals = np.where(g.random(n) < 0.7, g.gamma(1.0, 1.0, n), 0.0).astype(np.float32)
    org_form = np.array([MUTUAL_AID, ELEMENTARY_APC, COMMUNE, MUTUAL_AID], dtype=np.int8)
    org = g.integers(-1, 4, n).astype(np.int32)
    effort = np.where(g.random(n) < 0.5, 1.0, g.uniform(0.5, 1.0, n)).astype(np.float32)
    food_ratio = np.where(g.random(n) < 0.6, 1.0, g.uniform(0.2, 1.0, n)).astype(np.float32)
    # the array rule
    has = np.flatnonzero(active & (animals > 0))
    o = org[has]
    pooled = (o >= 0) & np.isin(org_form[np.maximum(o, 0)], (ELEMENTARY_APC, COMMUNE))
    rate = herd_rate(p, effort[has].astype(float), pooled, hunger_shortfall(p, food_ratio[has].astype(float)))
    want = animals.copy()
    want[has] = animals[has] * np.power(1.0 + np.maximum(rate, -0.99), 1 / 12).astype(np.float32)
    # the compiled pass, two provinces
    common = 1.0 + max(p.draft_animal_growth_per_year, -0.99)
    got = animals.copy()
    pieces, bounds = _small_pieces(np.array([0, 2000]), np.array([2000, 3000]), np.array([0, 1]))
    idx, growth = _herds(pieces, bounds, active, got, org, org_form,
                         effort, food_ratio, p.draft_animal_growth_per_year, p.collective_herd_neglect,
                         p.hunger_slaughter, p.hunger_threshold, common,
                         np.float32(np.power(np.array([common]), 1 / 12)[0]))
    _scale_herds(idx, got, np.power(growth, 1 / 12).astype(np.float32))
    assert 0 < idx.size < has.size
    np.testing.assert_array_equal(got, want)


def test_compiled_hunger_probabilities_are_the_array_rules():
    """``_hungry_probabilities`` (arithmetic compiled, log1p and expm1 by NumPy) gives, bit for bit,
    ``monthly_probability`` with ``hunger_multiplier`` scaled by the vulnerabilities (deaths, of the
    food ratio's ``hunger_shortfall``) and the province's birth rate (births), negated;
    ``_excess_deaths`` the bincount of expected deaths beyond the fed probabilities."""
    from types import SimpleNamespace

    from hightide.economy.demography import (
        _excess_deaths, _hungry_probabilities, baseline_factor, hunger_multiplier, hunger_shortfall,
        monthly_probability)

    p = resolve({})
    g = np.random.default_rng(11)
    n = 3000
    food_ratio = g.uniform(0.0, 1.0, n).astype(np.float32)
    th = np.float32(p.hunger_threshold)
    hungry = np.flatnonzero(food_ratio < th)
    children, adults, elderly = (g.integers(0, 5, n).astype(np.int8) for _ in range(3))
    province = np.sort(g.integers(0, 4, n)).astype(np.int8)  # provinces hold contiguous slot blocks
    birth_rate_p = p.fertility_per_working_adult * np.array([1.0, 0.8, 0.35, 0.0])
    base = baseline_factor(p, 1959.5 - 1952)
    short = hunger_shortfall(p, food_ratio[hungry].astype(np.float64))
    hm = hunger_multiplier(p, short)
    want = np.stack([
        monthly_probability(p.mortality_child * base, 1.0 + (hm - 1.0) * p.hunger_vulnerability_child),
        monthly_probability(p.mortality_adult * base, hm),
        monthly_probability(p.mortality_elderly * base, 1.0 + (hm - 1.0) * p.hunger_vulnerability_elderly),
        monthly_probability(birth_rate_p[province[hungry]]),
    ])
    log_surv = np.array([-np.log1p(-np.clip(rate * base, 0.0, 0.999))
                         for rate in (p.mortality_child, p.mortality_adult, p.mortality_elderly)])
    hh = SimpleNamespace(food_ratio=food_ratio, province=province)
    got = _hungry_probabilities(p, hh, hungry, log_surv, birth_rate_p)
    assert hungry.size > 100
    np.testing.assert_array_equal(-got, want)
    p_fed = np.array([monthly_probability(p.mortality_child * base), monthly_probability(p.mortality_adult * base),
                      monthly_probability(p.mortality_elderly * base)])
    excess = (children[hungry] * (want[0] - p_fed[0]) + adults[hungry] * (want[1] - p_fed[1])
              + elderly[hungry] * (want[2] - p_fed[2]))
    block_start = np.searchsorted(province, np.arange(4))  # each province's first slot
    got_excess = _excess_deaths(hungry, province, block_start, children, adults, elderly, got, p_fed, 4)
    np.testing.assert_array_equal(got_excess, np.bincount(province[hungry], weights=excess, minlength=4))


def test_births_answer_the_hunger_of_conception_deaths_the_hunger_of_now(params):
    """Mortality follows the household's hunger now; births its province's rate, set by the
    hunger of the month of conception: a household starving now has the births of its province,
    and the famine's birth trough follows its death peak (Ashton et al. 1984)."""
    from types import SimpleNamespace

    from hightide.economy.demography import _hungry_probabilities

    th = params.hunger_threshold
    hh = SimpleNamespace(food_ratio=np.array([th / 2, th / 2, th / 4], dtype=np.float32),
                         province=np.array([0, 1, 1], dtype=np.int8))
    log_surv = np.array([0.01, 0.005, 0.05])
    rates = params.fertility_per_working_adult * np.array([1.0, 0.5])
    p = -_hungry_probabilities(params, hh, np.array([0, 1, 2]), log_surv, rates)
    np.testing.assert_allclose(p[3], monthly_probability(rates[[0, 1, 1]]), rtol=1e-12)
    assert p[1, 0] == p[1, 1] < p[1, 2]  # adults die of today's hunger
    assert p[1, 0] > -np.expm1(-log_surv[1] / 12)


def test_conceptions_are_born_nine_months_later_in_their_province():
    """The multiplier recorded for a month (``record_conceptions``) is the one this month's births
    read (``conceived_multiplier``) exactly ``GESTATION_MONTHS`` months later, province by
    province; 1 before the run has that many months."""
    from hightide.economy.demography import GESTATION_MONTHS, conceived_multiplier, record_conceptions

    world = SimpleNamespace(provinces=SimpleNamespace(n=2), conception_fertility=None)
    lag = int(GESTATION_MONTHS)
    seen = []
    for month in range(2 * lag):
        seen.append(conceived_multiplier(world))
        record_conceptions(world, np.array([1.0 - 0.01 * month, 0.5]))
    seen = np.array(seen)
    np.testing.assert_array_equal(seen[:lag], np.ones((lag, 2)))
    np.testing.assert_allclose(seen[lag:, 0], 1.0 - 0.01 * np.arange(lag))
    np.testing.assert_array_equal(seen[lag:, 1], np.full(lag, 0.5))


def test_hungry_and_conceptions_in_one_pass_whatever_the_pieces():
    """``_find_hungry_and_conceive`` lists the active households below the hunger threshold (as
    ``active_below``) and sums per province the working adults and their fertility multiplier
    (``fertility_multiplier`` of ``hunger_shortfall``) in fixed point: the same sums in whole
    provinces and in pieces of 37 slots on three threads, within a rounding per household of the
    float sum; ``conception_multiplier`` is their ratio (1 where a province has no adults)."""
    from hightide.economy.demography import (
        CONCEPTION_SCALE, _find_hungry_and_conceive, conception_multiplier, fertility_multiplier, hunger_shortfall)
    from hightide.engine.kernels import active_below

    p = resolve({})
    g = np.random.default_rng(3)
    n = 900
    starts, used = np.array([0, 300, 300, 700]), np.array([250, 0, 380, 190])
    active = g.random(n) < 0.9
    adults = g.integers(0, 6, n).astype(np.int8)
    food = g.uniform(0.3, 1.2, n).astype(np.float32)
    th = np.float32(p.hunger_threshold)
    province = np.zeros(n, dtype=np.int64)
    for k, (a, m) in enumerate(zip(starts, used)):
        province[a:a + m] = k
    for provinces in (np.array([0, 1, 2, 3]), np.array([2, 3])):
        whole = kernels.slot_pieces(SimpleNamespace(block_start=starts, used=used), provinces, threads=1, whole=True)
        got_w, sums_w = _find_hungry_and_conceive(*whole, 4, active, adults, food, th, p.hunger_fertility_slope)
        got, sums = _find_hungry_and_conceive(*_small_pieces(starts, used, provinces), 4, active, adults, food, th,
                                              p.hunger_fertility_slope)
        slots = SimpleNamespace(block_start=starts, used=used, active=active)
        np.testing.assert_array_equal(got, active_below(slots, provinces, food, th))
        np.testing.assert_array_equal(got_w, got)
        np.testing.assert_array_equal(sums, sums_w)
        live = np.zeros(n, dtype=bool)
        for k in provinces:
            live[starts[k]:starts[k] + used[k]] = True
        live &= active
        m = fertility_multiplier(p, hunger_shortfall(p, food.astype(np.float64)))
        want = np.bincount(province[live], weights=adults[live] * m[live], minlength=4)
        np.testing.assert_allclose(sums[:, 0] / CONCEPTION_SCALE, want, atol=live.sum() / CONCEPTION_SCALE)
        np.testing.assert_array_equal(sums[:, 1], np.bincount(province[live], weights=adults[live], minlength=4))
        ratio = conception_multiplier(sums)
        assert ratio[1] == 1.0 and (ratio[provinces[provinces != 1]] < 1.0).all()
        assert 0 < got.size < active.sum()


def test_persons_and_households_with_adults_without_listing_them():
    """Persons per province (as ``np.bincount``) and the count of each province's ``_with_adults``
    households from one pass; the households at drawn ranks of that list found without building it;
    and the ranks drawn from a count are the positions ``Generator.choice`` draws from the list
    (the same stream use), so migration moves the same households as when it listed them."""
    from hightide.economy.demography import _eligible_at, _persons_and_eligible, _with_adults

    g = np.random.default_rng(5)
    n = 700
    starts, used = np.array([0, 200, 200, 500]), np.array([150, 0, 260, 200])
    active = g.random(n) < 0.9
    children, adults, elderly = (g.integers(0, 4, n).astype(np.int8) for _ in range(3))
    province = np.repeat(np.arange(4), np.diff(np.append(starts, n)))
    in_use = np.zeros(n, dtype=bool)
    for a, k in zip(starts, used):
        in_use[a:a + k] = True
    live = active & in_use
    persons_want = np.bincount(province[live], weights=(children.astype(int) + adults + elderly)[live], minlength=4)
    for minimum in (1, 2):
        pieces, bounds = _small_pieces(starts, used)
        persons, counts, piece_counts = _persons_and_eligible(pieces, bounds, 4, active, children, adults, elderly,
                                                              minimum)
        np.testing.assert_array_equal(persons, persons_want)
        np.testing.assert_array_equal(np.bincount(pieces[:, 0], weights=piece_counts, minlength=4), counts)
        wanted, drawn = [], []
        for pv in range(4):
            a = starts[pv]
            listed = _with_adults(active, adults, a, a + used[pv], minimum, starts, used)
            assert counts[pv] == listed.size
            k = min(7, listed.size)
            wanted.append(np.sort(np.random.default_rng(pv).choice(listed, size=k, replace=False)))
            drawn.append(np.sort(np.random.default_rng(pv).choice(int(counts[pv]), size=k, replace=False)))
        first = np.cumsum([0] + [r.size for r in drawn])
        got = _eligible_at(pieces, bounds, piece_counts, first, np.concatenate(drawn).astype(np.int64), active,
                           adults, minimum)
        np.testing.assert_array_equal(got, np.concatenate(wanted))
        assert counts.sum() == (live & (adults >= minimum)).sum() > 0


def test_heirs_are_the_drawn_rank_among_the_living_of_the_township():
    """Each dead household's heir is the floor(u x n)-th of the n living households of its
    township in slot order (-1 when none lives there); provinces without a dead household are not
    walked, which changes nothing."""
    from hightide.economy.demography import _heirs

    g = np.random.default_rng(11)
    n = 1200
    starts, used = np.array([0, 300, 300, 800]), np.array([280, 0, 450, 390])
    n_townships = 20  # three villages each
    village_township = np.repeat(np.arange(n_townships), 3).astype(np.int32)
    village = np.zeros(n, dtype=np.int32)
    for pv, (a, k) in enumerate(zip(starts, used)):  # province pv holds townships 5pv..5pv+4
        village[a:a + k] = g.integers(15 * pv, 15 * pv + 15, k)
    village[village_township[village] == 12] = 36  # township 12 all but emptied below
    active = g.random(n) < 0.9
    in_use = np.zeros(n, dtype=bool)
    for a, k in zip(starts, used):
        in_use[a:a + k] = True
    township = village_township[village]
    active[township == 12] = False
    dead = np.sort(g.choice(np.flatnonzero(in_use & ~active), 25, replace=False)).astype(np.int64)
    dead = np.append(dead, np.flatnonzero(in_use & (township == 12))[:2])
    dead.sort()
    u = g.random(dead.size)
    with_dead = np.unique(np.searchsorted(starts, dead, side="right") - 1)
    heir = _heirs(*kernels.slot_pieces(SimpleNamespace(block_start=starts, used=used), with_dead, threads=2, whole=True),
                  active, village, village_township, dead, u, n_townships)
    for j, d in enumerate(dead):
        living = np.flatnonzero(in_use & active & (township == township[d]))
        want = living[int(u[j] * living.size)] if living.size else -1
        assert heir[j] == want
    assert (heir == -1).sum() >= 1 and (heir >= 0).sum() > 10


def _fed_segment(seed=5, n=3000, hungry_share=0.2):
    """A segment of ``n`` slots: bands 0-6, a tenth empty, some hungry; its fed households."""
    from hightide.economy.demography import _fed_of_segment

    g = np.random.default_rng(seed)
    band = g.integers(0, 7, n).astype(np.int8)
    active = g.random(n) >= 0.1
    hungry = np.flatnonzero(active & (g.random(n) < hungry_share)).astype(np.int64)
    fed = np.empty(n, dtype=np.int64)
    n_fed = _fed_of_segment(0, n, active, hungry, fed)
    return band, active, hungry, fed, n_fed


def _stream(month):
    from hightide.engine import rng, streams

    return np.array(rng.stream_start(streams.stream_heads(7, "fed_births")[0], 3, np.uint32(month)), dtype=np.uint64)


def test_fed_of_segment_leaves_out_the_empty_and_the_hungry():
    band, active, hungry, fed, n_fed = _fed_segment()
    want = np.setdiff1d(np.flatnonzero(active), hungry)
    np.testing.assert_array_equal(fed[:n_fed], want)


@pytest.mark.parametrize("p", [0.002, 0.01, 0.05])
def test_fed_events_happen_to_each_household_with_probability_n_p(p):
    """Walked (the segment's largest band 6 times p below ``WALK_BELOW``: 0.012, 0.06) or drawn
    household by household (0.3), a household of n members has one event with probability n p:
    over 300 months the events of households of each size are within 4.5 standard deviations of
    n p per household-month, and the walk's draws are far fewer than the households."""
    from hightide.economy.demography import WALK_BELOW, _fed_events

    band, active, hungry, fed, n_fed = _fed_segment()
    slots, counts = np.empty(band.size, dtype=np.int64), np.empty(band.size, dtype=np.int64)
    months = 300
    events = np.zeros(band.size)
    for month in range(months):
        k = _fed_events(_stream(month), fed, n_fed, 0, band.size, band, 6, p, WALK_BELOW, slots, counts)
        assert np.all(counts[:k] == 1) and np.all(np.diff(slots[:k]) > 0)
        events[slots[:k]] += counts[:k]
    assert events[hungry].sum() == 0 and events[~active].sum() == 0
    members = band[fed[:n_fed]].astype(np.float64)
    got = events[fed[:n_fed]]
    for size in range(7):
        exposed = (members == size).sum() * months
        expected = exposed * size * p
        sd = np.sqrt(expected * (1 - size * p)) if expected else 0.0
        assert abs(got[members == size].sum() - expected) <= 4.5 * sd + 1e-9, size
    assert (6 * p < WALK_BELOW) == (p < 0.05)


@given(a=st.integers(0, 3000), width=st.integers(0, 3000), p=st.sampled_from([0.004, 0.03, 0.1]))
def test_fed_events_of_part_of_a_segment_are_those_of_the_whole(a, width, p):
    """The slots ``a:b`` of a segment, asked for alone (a piece's share of a segment it shares with
    the next piece), have the events the whole segment's walk (or draws) give them."""
    from hightide.economy.demography import WALK_BELOW, _fed_events

    band, active, hungry, fed, n_fed = _fed_segment()
    b = min(a + width, band.size)
    slots, counts = np.empty(band.size, dtype=np.int64), np.empty(band.size, dtype=np.int64)
    k = _fed_events(_stream(11), fed, n_fed, 0, band.size, band, 6, p, WALK_BELOW, slots, counts)
    inside = (slots[:k] >= a) & (slots[:k] < b)
    want_slots, want_counts = slots[:k][inside], counts[:k][inside]
    k = _fed_events(_stream(11), fed, n_fed, a, b, band, 6, p, WALK_BELOW, slots, counts)
    np.testing.assert_array_equal(slots[:k], want_slots)
    np.testing.assert_array_equal(counts[:k], want_counts)
