"""Grain and people are conserved month by month (MODEL.md §4.4), and the invariant check can fail.

Every identity is checked on two runs, both with the invariant check after every month: the tiny
two-year run, and the whole historical scenario 1952-1966 (collectivisation, the Leap, the
famine and the retreat) on one township per province (~25 s).
"""

from __future__ import annotations

import numpy as np
import pytest

from hightide.engine import invariants
from hightide.engine.context import FLOW_NAMES, StepContext
from hightide.engine.step import step
from hightide.params import resolve
from hightide.results.recorder import NATIONAL_NAMES, STOCK_NAMES
from hightide.scenarios import load_scenario
from hightide.state.policy import PolicySchedule
from hightide.world.synthesis import build_world

F = {name: i for i, name in enumerate(FLOW_NAMES)}
S = {name: i for i, name in enumerate(STOCK_NAMES)}
N = {name: i for i, name in enumerate(NATIONAL_NAMES)}
# Co-operatives put grain into their accumulation fund: an outflow from household grain, where the
# engine records it (the flow does not exist before the institutions issue).
HAS_ACCUMULATION = "accumulation_kg" in F
# State farms deliver their grain straight to the State's granary (national, not provincial).
HAS_STATE_FARMS = "state_farm_kg" in N


FULL_HISTORICAL = """\
[scenario]
name = "historical_small"
base = "historical"
description = "The whole historical timeline on one township per province, for tests."

[parameters]
townships_min_per_province = 1.0
"""


@pytest.fixture(scope="module", params=["tiny", "full_historical"])
def results(request, tiny_results, tiny_scale, tmp_path_factory):
    if request.param == "tiny":
        return tiny_results
    import hightide.api

    path = tmp_path_factory.mktemp("full") / "historical_small.toml"
    path.write_text(FULL_HISTORICAL, encoding="utf-8")
    res = hightide.api.run(path, scale=tiny_scale, seed=0, check=True)
    assert res.manifest["status"] == "complete"
    return res


@pytest.fixture(scope="module")
def rec(results):
    return results.simulation.recorder


def test_full_historical_run_has_its_famine(results):
    """The whole run is not a quiet one: the conservation checks above cover the famine years."""
    d = results.national_annual.set_index("year")
    if d.index.max() < 1966:
        pytest.skip("the tiny run ends in 1953")
    assert d.loc[1960, "death_rate_permille"] > 1.5 * d.loc[1957, "death_rate_permille"]
    assert d.loc[1960, "grain_output_mt"] < 0.9 * d.loc[1957, "grain_output_mt"]


def _stock_series(rec, name):
    """(months + 1, provinces): the initial stock then each month-end stock."""
    return np.concatenate([rec.initial_stocks[None, :, S[name]], rec.stocks[:, :, S[name]]], axis=0)


def _flow(rec, name):
    return rec.flows[:, :, F[name]]


def _accumulation(rec):
    return _flow(rec, "accumulation_kg") if HAS_ACCUMULATION else np.zeros(rec.flows.shape[:2])


def _state_farm(rec):
    return rec.national[:, N["state_farm_kg"]] if HAS_STATE_FARMS else np.zeros(rec.national.shape[0])


def test_recorder_is_complete(rec, results):
    assert rec.months_recorded == results.manifest["months"] in (24, 180)
    assert not np.isnan(rec.stocks).any() and not np.isnan(rec.flows).any() and not np.isnan(rec.national).any()


def test_household_grain_identity_every_month_every_province(rec):
    stock = _stock_series(rec, "household_grain_kg")
    change = np.diff(stock, axis=0)
    flows = (_flow(rec, "production_kg") - _flow(rec, "tax_kg") - _flow(rec, "purchase_kg") - _flow(rec, "seed_kg")
             - _flow(rec, "feed_kg") + _flow(rec, "resale_kg") - _flow(rec, "consumption_kg")
             - _flow(rec, "household_loss_kg") - _flow(rec, "estate_kg") - _accumulation(rec))
    np.testing.assert_allclose(change, flows, rtol=0, atol=1e-9 * stock.max())
    # and the identity is not trivially 0 = 0: grain moves every month
    assert np.all(np.abs(_flow(rec, "consumption_kg").sum(axis=1)) > 0)
    assert _flow(rec, "production_kg").sum() > 1e11


def test_state_granary_identity_every_month(rec):
    granary = np.concatenate([[rec.initial_granary], rec.national[:, N["granary_kg"]]])
    change = np.diff(granary)
    f = rec.flows.sum(axis=1)
    flows = (f[:, F["tax_kg"]] + f[:, F["purchase_kg"]] + rec.national[:, N["imports_kg"]] + f[:, F["estate_kg"]]
             + _state_farm(rec) - f[:, F["urban_supply_kg"]] - rec.national[:, N["exports_kg"]] - f[:, F["resale_kg"]]
             - rec.national[:, N["state_loss_kg"]])
    np.testing.assert_allclose(change, flows, rtol=0, atol=1e-9 * granary.max())
    assert np.all(granary >= -1e-3)


def test_grain_is_conserved_over_the_whole_run(rec):
    """Household stocks + granary at the end = at the start + production + imports - everything used or lost."""
    f = rec.flows.sum(axis=(0, 1))
    start = rec.initial_stocks[:, S["household_grain_kg"]].sum() + rec.initial_granary
    end = rec.stocks[-1, :, S["household_grain_kg"]].sum() + rec.national[-1, N["granary_kg"]]
    sources = f[F["production_kg"]] + rec.national[:, N["imports_kg"]].sum() + _state_farm(rec).sum()
    sinks = (f[F["seed_kg"]] + f[F["feed_kg"]] + f[F["consumption_kg"]] + f[F["household_loss_kg"]]
             + f[F["urban_supply_kg"]] + rec.national[:, N["exports_kg"]].sum() + rec.national[:, N["state_loss_kg"]].sum()
             + _accumulation(rec).sum())
    assert end - start == pytest.approx(sources - sinks, rel=1e-9, abs=1e-9 * start)


def test_rural_and_urban_people_identities_every_month_every_province(rec):
    rural = _stock_series(rec, "rural_population")
    urban = _stock_series(rec, "urban_population")
    np.testing.assert_allclose(np.diff(rural, axis=0),
                               _flow(rec, "births") - _flow(rec, "deaths") - _flow(rec, "migrants"),
                               rtol=0, atol=1e-9 * rural.max())
    np.testing.assert_allclose(np.diff(urban, axis=0),
                               _flow(rec, "urban_births") - _flow(rec, "urban_deaths") + _flow(rec, "migrants"),
                               rtol=0, atol=1e-9 * urban.max())
    assert _flow(rec, "deaths").sum() > 0 and _flow(rec, "births").sum() > 0 and _flow(rec, "migrants").sum() > 0


def test_household_count_identity_every_month(rec):
    hh = _stock_series(rec, "rural_households")
    np.testing.assert_allclose(np.diff(hh, axis=0), _flow(rec, "households_formed") - _flow(rec, "households_extinct"),
                               rtol=0, atol=1e-9 * hh.max())
    assert _flow(rec, "households_formed").sum() > 0  # family division happened (February)


def test_population_identity_from_the_monthly_table(results, rec):
    """In the user-facing table: population change = births - deaths (migrants move within the nation)."""
    df = results.national_monthly
    init = (rec.initial_stocks[:, S["rural_population"]].sum() + rec.initial_stocks[:, S["urban_population"]].sum()) / 1e6
    pop = np.concatenate([[init], df["population_m"].to_numpy()])
    np.testing.assert_allclose(np.diff(pop), (df["births_m"] - df["deaths_m"]).to_numpy(), rtol=0, atol=1e-9 * pop.max())


def test_household_grain_identity_from_the_monthly_table_in_harvest_months(results, rec):
    """Table columns and recorder agree: stock change = output - procurement - seed/feed + resales - (eaten, lost, estates)."""
    df = results.national_monthly
    f = rec.flows.sum(axis=1)
    used = (f[:, F["consumption_kg"]] + f[:, F["household_loss_kg"]] + f[:, F["estate_kg"]]
            + _accumulation(rec).sum(axis=1)) / 1e9
    init = rec.initial_stocks[:, S["household_grain_kg"]].sum() / 1e9
    stock = np.concatenate([[init], df["household_grain_stock_mt"].to_numpy()])
    household_output = df["grain_output_mt"].to_numpy() - _state_farm(rec) / 1e9  # the national column includes state farms
    rhs = household_output - (df["procurement_mt"] + df["seed_feed_mt"] - df["resales_mt"]).to_numpy() - used
    np.testing.assert_allclose(np.diff(stock), rhs, rtol=0, atol=1e-9 * stock.max())


# --------------------------------------------------------------------------- the check can fail


@pytest.fixture
def one_month(tiny_path):
    """World, context and snapshot around one stepped month (June 1952: a harvest month), unchecked."""
    sc = load_scenario(tiny_path)
    params = resolve(sc.parameters)
    world = build_world(params, 0.0002, 0, sc.start_month)
    schedule = PolicySchedule(sc)
    month = sc.start_month + 5
    ctx = StepContext(month=month, start_month=sc.start_month, policy=schedule.at(month), params=params, seed=0,
                      n_provinces=world.provinces.n)
    before = invariants.Snapshot.take(world)
    step(world, ctx)
    return before, world, ctx


def test_check_passes_on_an_honest_month(one_month):
    before, world, ctx = one_month
    assert ctx.flows["production_kg"].sum() > 0  # a harvest happened, so the grain identity is exercised
    invariants.check(before, world, ctx)


def _first_active(world):
    return int(np.flatnonzero(world.households.active)[0])


def _add_grain(world):
    world.households.grain_kg[_first_active(world)] += 1000.0


def _add_granary(world):
    world.granary_kg += 1e6


def _add_child(world):
    world.households.children[_first_active(world)] += 1


def _add_urban(world):
    world.urban_population[3] += 1000.0


def _spawn_household(world):
    hh = world.households
    slot = hh.claim_slots(0, 1)[0]
    hh.active[slot] = True  # a household from nowhere (0 persons, 0 grain): only the count changes


def _negative_stock(world):
    # move grain between two households so the totals still balance but one stock goes negative
    hh = world.households
    a, b = np.flatnonzero(hh.active & (hh.province == 0))[:2]
    amount = hh.grain_kg[a] + 50.0
    hh.grain_kg[a] -= amount
    hh.grain_kg[b] += amount


def _dead_org(world):
    hh, orgs = world.households, world.organisations
    members = np.flatnonzero(hh.active & (hh.org >= 0))
    assert members.size, "the tiny world organises teams in its first months"
    orgs.active[hh.org[members[0]]] = False


@pytest.mark.parametrize("corrupt, what", [
    (_add_grain, "household grain"),
    (_add_granary, "state granary"),
    (_add_child, "rural people"),
    (_add_urban, "urban people"),
    (_spawn_household, "households"),
    (_negative_stock, "negative household grain"),
    (_dead_org, "dissolved organisation"),
])
def test_check_raises_on_corrupted_state(one_month, corrupt, what):
    before, world, ctx = one_month
    corrupt(world)
    with pytest.raises(invariants.InvariantError, match=what):
        invariants.check(before, world, ctx)
