"""Results for notebooks (issue 8): pandas and xarray accessors, the record beside the model, and
figures by name."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")


def test_annual_is_indexed_by_year_with_derived_columns(tiny_results):
    df = tiny_results.annual()
    assert df.index.name == "year" and df.index.tolist() == [1952, 1953]
    np.testing.assert_allclose(df["share_apc_pct"], df["share_elementary_apc_pct"] + df["share_advanced_apc_pct"])
    s = tiny_results.annual("grain_output_mt")
    assert isinstance(s, pd.Series) and s.equals(tiny_results.national_annual.set_index("year")["grain_output_mt"])


def test_monthly_has_a_datetime_index(tiny_results):
    df = tiny_results.monthly()
    assert isinstance(df.index, pd.DatetimeIndex) and len(df) == 24
    assert df.index[0] == pd.Timestamp("1952-01-01") and df.index[-1] == pd.Timestamp("1953-12-01")
    assert tiny_results.monthly("population_m").iloc[-1] == pytest.approx(
        tiny_results.national_monthly["population_m"].iloc[-1])


def test_provinces_is_wide(tiny_results):
    wide = tiny_results.provinces("death_rate_permille")
    assert wide.shape == (2, 28)
    assert wide.loc[1953, "Hebei"] == pytest.approx(tiny_results.provincial_annual.query(
        "province == 'Hebei' and year == 1953")["death_rate_permille"].iloc[0])
    with pytest.raises(KeyError, match="no provincial column"):
        tiny_results.provinces("state_grain_stock_mt")


def test_compare_maps_model_columns_to_the_record(tiny_results):
    df = tiny_results.compare("procurement_mt")  # record: grain_procurement_gross_mt
    assert list(df.columns) == ["model", "record", "error"]
    assert df.loc[1953, "record"] == pytest.approx(47.46)
    assert df.loc[1953, "error"] == pytest.approx((df.loc[1953, "model"] - 47.46) / 47.46)


def test_validation_is_the_run_window(tiny_results):
    v = tiny_results.validation()
    assert len(v) and set(v.columns) >= {"target", "when", "model", "record", "pass"}


@pytest.mark.parametrize("table, dims", [("provincial_annual", {"province": 28, "year": 2}),
                                         ("national_annual", {"year": 2}), ("national_monthly", {"time": 24})])
def test_to_xarray(tiny_results, table, dims):
    ds = tiny_results.to_xarray(table)
    assert dict(ds.sizes) == dims
    assert ds.attrs["scenario"] == "tiny" and ds.attrs["seed"] == 0
    assert "grain_output_mt" in ds


def test_to_xarray_rejects_unknown_tables(tiny_results):
    with pytest.raises(ValueError, match="unknown table"):
        tiny_results.to_xarray("weekly")


def test_plot_by_figure_or_column(tiny_results):
    import matplotlib.pyplot as plt

    fig = tiny_results.plot("demography")
    assert len(fig.axes) == 3
    plt.close(fig)
    fig = tiny_results.plot("grain_output_mt")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["model", "record"]
    plt.close(fig)
    with pytest.raises(KeyError, match="no figure or column"):
        tiny_results.plot("nonsense")


def test_plotly_figure(tiny_results):
    fig = tiny_results.plotly("grain")
    assert {t.name for t in fig.data} >= {"output (true)", "procurement (gross)", "record: output"}


def test_report_needs_a_path_without_an_output_directory(tiny_results, tmp_path):
    with pytest.raises(ValueError, match="path"):
        tiny_results.report()
    path = tiny_results.report(tmp_path / "r.html")
    assert path.stat().st_size > 1_000_000
