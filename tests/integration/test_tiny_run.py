"""The tiny scenario runs end to end with invariants checked every month, and its tables keep the contract."""

from __future__ import annotations

import numpy as np
import pytest

from hightide.results.tables import COLUMNS, CONTRACT_COLUMNS, GRAIN_YEAR_COLUMNS, PROVINCIAL_SKIP


def test_run_completes_with_checks(tiny_results):
    m = tiny_results.manifest
    assert m["status"] == "complete"
    assert m["scenario"] == "tiny"
    assert m["seed"] == 0 and m["scale"] == pytest.approx(0.0002)
    assert m["months"] == 24
    assert m["households_simulated"] > 0
    assert m["parameters"]["townships_min_per_province"] == 1.0
    assert m["finished"] >= m["started"]
    assert tiny_results.simulation.world.provinces.n == 28


def test_national_annual_has_contract_columns_and_years(tiny_results):
    df = tiny_results.national_annual
    assert list(df.columns) == ["year", *COLUMNS, *GRAIN_YEAR_COLUMNS]
    assert set(CONTRACT_COLUMNS) <= set(df.columns)
    assert df["year"].tolist() == [1952, 1953]
    assert not df[list(CONTRACT_COLUMNS)].isna().any().any()


def test_national_monthly_has_every_month(tiny_results):
    df = tiny_results.national_monthly
    assert list(df.columns) == ["year", "month", *COLUMNS]
    assert list(zip(df["year"], df["month"])) == [(y, m) for y in (1952, 1953) for m in range(1, 13)]
    assert not df[list(CONTRACT_COLUMNS)].isna().any().any()


def test_provincial_annual_has_every_province_and_year(tiny_results):
    df = tiny_results.provincial_annual
    expected_cols = ["province", "year", *[c for c in COLUMNS if c not in PROVINCIAL_SKIP], *GRAIN_YEAR_COLUMNS]
    assert list(df.columns) == expected_cols
    assert set(CONTRACT_COLUMNS) <= set(df.columns)
    assert df["province"].nunique() == 28
    assert len(df) == 28 * 2
    assert sorted(df["year"].unique().tolist()) == [1952, 1953]
    assert not df.duplicated(["province", "year"]).any()


def test_grain_years_sum_july_to_june_of_the_months(tiny_results):
    """The grain-year columns are the monthly flows of July to June, in the row of the year the
    grain year starts in; a grain year the run does not cover whole (1953/54 here) is missing."""
    monthly = tiny_results.national_monthly
    july_to_june = ((monthly["year"] == 1952) & (monthly["month"] >= 7)) | ((monthly["year"] == 1953)
                                                                          & (monthly["month"] <= 6))
    annual = tiny_results.national_annual.set_index("year")
    for grain_year, calendar in (("procurement_grain_year_mt", "procurement_mt"), ("resales_grain_year_mt", "resales_mt")):
        assert annual.loc[1952, grain_year] == pytest.approx(monthly.loc[july_to_june, calendar].sum(), rel=1e-9)
        assert np.isnan(annual.loc[1953, grain_year])
    assert annual.loc[1952, "procurement_grain_year_mt"] > 0
    prov = tiny_results.provincial_annual
    np.testing.assert_allclose(prov[prov["year"] == 1952][list(GRAIN_YEAR_COLUMNS)].sum().to_numpy(),
                               annual.loc[1952, list(GRAIN_YEAR_COLUMNS)].to_numpy(dtype=float), rtol=1e-9)
    assert prov[prov["year"] == 1953][list(GRAIN_YEAR_COLUMNS)].isna().all().all()


@pytest.mark.parametrize("column", ["population_m", "rural_population_m", "grain_output_mt", "procurement_mt",
                                    "agricultural_tax_mt", "resales_mt", "births_m", "deaths_m",
                                    "draft_animals_m", "rural_households_m", "n_mutual_aid_teams"])
def test_provinces_add_up_to_the_nation(tiny_results, column):
    national = tiny_results.national_annual.set_index("year")
    nat = national[column]
    if column == "grain_output_mt" and "state_farm_output_mt" in national:
        nat = nat - national["state_farm_output_mt"]  # state farms are national, in no province
    prov = tiny_results.provincial_annual.groupby("year")[column].sum()
    np.testing.assert_allclose(prov.loc[nat.index].to_numpy(), nat.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("column", ["grain_output_mt", "procurement_mt", "agricultural_tax_mt", "resales_mt",
                                    "births_m", "deaths_m", "urban_supply_mt", "seed_feed_mt",
                                    "grain_exports_mt", "migrants_m"])
def test_annual_flows_are_sums_of_monthly_flows(tiny_results, column):
    annual = tiny_results.national_annual.set_index("year")[column]
    monthly = tiny_results.national_monthly.groupby("year")[column].sum()
    np.testing.assert_allclose(monthly.loc[annual.index].to_numpy(), annual.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("column", ["population_m", "household_grain_stock_mt", "state_grain_stock_mt",
                                    "share_mutual_aid_pct", "n_mutual_aid_teams"])
def test_annual_stocks_are_december_values(tiny_results, column):
    annual = tiny_results.national_annual.set_index("year")[column]
    dec = tiny_results.national_monthly.query("month == 12").set_index("year")[column]
    np.testing.assert_allclose(dec.loc[annual.index].to_numpy(), annual.to_numpy(), rtol=1e-12)


def test_derived_columns_are_consistent(tiny_results):
    for df in (tiny_results.national_annual, tiny_results.national_monthly):
        np.testing.assert_allclose(df["population_m"], df["rural_population_m"] + df["urban_population_m"], rtol=1e-12)
        np.testing.assert_allclose(df["procurement_mt"], df["agricultural_tax_mt"] + df["state_purchase_mt"], rtol=1e-12)
        shares = df[["share_individual_pct", "share_mutual_aid_pct", "share_elementary_apc_pct",
                     "share_advanced_apc_pct", "share_commune_pct"]].sum(axis=1)
        np.testing.assert_allclose(shares, 100.0, rtol=1e-9)


def test_harvests_only_in_harvest_months(tiny_results):
    df = tiny_results.national_monthly
    harvest_months = {6, 7, 10}  # wheat-zone summer, rice-zone summer, autumn
    assert (df.loc[~df["month"].isin(harvest_months), "grain_output_mt"] == 0).all()
    assert (df.loc[df["month"].isin(harvest_months), "grain_output_mt"] > 0).all()
    assert (df.loc[~df["month"].isin(harvest_months), "procurement_mt"] == 0).all()


def test_policy_timeline_shows_in_the_flows(tiny_results):
    """Exports follow the timeline (1.53 Mt/yr in 1952, 1.83 in 1953) whenever the granary can pay."""
    df = tiny_results.national_annual.set_index("year")
    assert 0 < df.loc[1952, "grain_exports_mt"] <= 1.53 + 1e-9
    assert 0 < df.loc[1953, "grain_exports_mt"] <= 1.83 + 1e-9
    assert df.loc[1952, "grain_imports_mt"] == 0.0
    # mutual aid is allowed and promoted (0.5) from the start: some households organise in 1952
    assert df.loc[1952, "share_mutual_aid_pct"] > 0


def test_magnitudes_are_plausible(tiny_results):
    """Loose sanity bounds (not validation): China 1952-53 had ~575-590 M people and ~160-170 Mt of grain."""
    df = tiny_results.national_annual.set_index("year")
    assert df["population_m"].between(540, 620).all()
    assert df["grain_output_mt"].between(120, 210).all()
    assert df["birth_rate_permille"].between(20, 50).all()
    assert df["death_rate_permille"].between(5, 35).all()
    assert (df["household_grain_stock_mt"] > 0).all()
