"""Report figures (issue 8): what each chart draws, the record parsing, ensemble bands, the tile map,
and both renderers (Plotly dicts, matplotlib files)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hightide.report import charts, static
from hightide.report.data import (
    ReportData,
    derived_columns,
    record_annual,
    record_points,
)
from hightide.report.plotly_render import to_plotly
from hightide.report.tiles import TILES, tile_positions


@pytest.fixture(scope="module")
def data(tiny_results) -> ReportData:
    return ReportData.from_results(tiny_results)


def _bands(annual: pd.DataFrame, columns) -> pd.DataFrame:
    """Bands as an ensemble writes them: year, column, q05, q50, q95."""
    rows = []
    for c in columns:
        for y, v in zip(annual["year"], annual[c]):
            rows.append({"year": y, "column": c, "q05": 0.9 * v, "q50": v, "q95": 1.1 * v})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ record
def test_record_points_read_months_and_seasons():
    pts = record_points("n_apc_total")
    by_date = dict(zip(pts["date"], pts["value"]))
    assert by_date["1954-spring"] == 100000  # season -> April
    x = dict(zip(pts["date"], pts["x"]))
    assert x["1954-spring"] == pytest.approx(1954 + 4 / 12)
    assert x["1955-12"] == pytest.approx(1956.0)  # month end
    assert "1957-12" not in by_date  # '~750000-789000' is a range written as text: left out
    assert record_points("no_such_column").empty


def test_record_annual_is_numeric_by_year():
    s = record_annual("grain_output_mt")
    assert s.index.min() <= 1952 and s.index.max() >= 1966
    assert s.loc[1952] == pytest.approx(163.92)
    assert record_annual("no_such_column").empty


def test_derived_columns_add_all_apcs_and_size():
    df = pd.DataFrame({"n_elementary_apcs": [10.0, 0.0], "n_advanced_apcs": [5.0, 0.0],
                       "share_elementary_apc_pct": [10.0, 0.0], "share_advanced_apc_pct": [20.0, 0.0],
                       "rural_households_m": [1.0, 1.0]})
    out = derived_columns(df)
    assert out["n_apcs"].tolist() == [15.0, 0.0]
    assert out["share_apc_pct"].tolist() == [30.0, 0.0]
    assert out["apc_size"].iloc[0] == pytest.approx(0.3 * 1e6 / 15)
    assert np.isnan(out["apc_size"].iloc[1])  # no co-operatives: no size, not a division by zero


# ------------------------------------------------------------------------------------ charts
@pytest.mark.parametrize("name", list(charts.FIGURES))
def test_every_figure_has_data_for_a_run(data, name):
    chart = charts.build(name, data)
    assert chart is not None and chart.has_data, name
    assert all(p.has_data for p in chart.panels), [p.title for p in chart.panels if not p.has_data]


def test_unknown_figure_names_the_figures(data):
    with pytest.raises(KeyError, match="figures: targets"):
        charts.build("nope", data)


def test_validation_keeps_only_checks_in_the_run_window(data):
    v = data.validation()
    years = {int(str(w)[:4]) for w in v["when"]}
    assert years <= {1952, 1953}  # the tiny run covers 1952-53: 1960 is not a failure of it
    assert np.isfinite(v["model"].astype(float)).all()


def test_targets_chart_marks_each_check_pass_or_fail(data):
    chart = charts.targets_chart(data)
    v = data.validation()
    checks = [s for p in chart.panels for s in p.series if s.label.startswith("check")]
    assert sum(len(s.x) for s in checks) == len(v)
    colours = [c for s in checks for c in s.colors]
    assert colours.count(charts.PASS) == int(v["pass"].sum())
    assert colours.count(charts.FAIL) == int((~v["pass"]).sum())


def test_tolerance_interval_contains_record_for_every_kind(data):
    chart = charts.targets_chart(data)
    for p in chart.panels:
        for s in p.series:
            if s.label == "tolerance":
                assert (s.lo <= s.y + 1e-9).all() and (s.y <= s.hi + 1e-9).all(), p.title


def test_forms_shares_stack_to_one_hundred(data):
    chart = charts.forms_chart(data)
    areas = [s for s in chart.panels[0].series if s.kind == "area"]
    assert [s.label for s in areas] == [charts.FORM_LABELS[f] for f in charts.FORMS]
    total = np.sum([s.y for s in areas], axis=0)
    np.testing.assert_allclose(total, 100.0, atol=1e-6)


def test_bands_only_directory_draws_medians_and_bands(tmp_path, tiny_results):
    """An ensemble directory with nothing but bands: national charts from q50 with 5-95% bands;
    no provinces, no validation."""
    annual = tiny_results.national_annual
    cols = ["grain_output_mt", "procurement_mt", "death_rate_permille", "birth_rate_permille", "population_m"]
    _bands(annual, cols).to_parquet(tmp_path / "national_annual_bands.parquet")
    d = ReportData.load(tmp_path)
    assert d.is_ensemble and d.validation() is None
    grain = charts.grain_chart(d)
    bands = [s for s in grain.panels[0].series if s.kind == "band"]
    assert {s.label for s in bands} == {"output (true) 5-95%", "procurement (gross) 5-95%"}
    line = next(s for s in grain.panels[0].series if s.label == "output (true)")
    np.testing.assert_allclose(line.y, annual["grain_output_mt"].to_numpy())
    assert charts.provinces_chart(d) is None
    assert charts.build("targets", d).has_data


def test_run_with_bands_draws_both(tmp_path, tiny_results):
    d = ReportData.from_results(tiny_results)
    d.bands = _bands(tiny_results.national_annual, ["grain_output_mt"])
    panel = charts.grain_chart(d).panels[0]
    labels = [s.label for s in panel.series]
    band = labels.index("output (true) 5-95%")
    assert panel.series[band].kind == "band"
    assert labels[band + 1] == "output (true)" and panel.series[band + 1].kind == "line"  # the run over its band


def test_bands_file_without_its_columns_is_refused(tmp_path):
    from hightide.errors import OutputError

    pd.DataFrame({"year": [1952], "column": ["x"], "median": [1.0]}).to_parquet(
        tmp_path / "national_annual_bands.parquet")
    with pytest.raises(OutputError, match="q05"):
        ReportData.load(tmp_path)


def test_empty_directory_is_refused(tmp_path):
    from hightide.errors import OutputError

    with pytest.raises(OutputError, match="nothing to report"):
        ReportData.load(tmp_path)


def test_comparison_chart_has_a_line_per_run(data):
    chart = charts.comparison_chart({"a": data, "b": data})
    labels = {s.label for s in chart.panels[0].series}
    assert {"a", "b", "record"} <= labels


# ------------------------------------------------------------------------------------ tiles
def test_tiles_are_distinct_and_cover_the_model_provinces(tiny_results):
    assert len(set(TILES.values())) == len(TILES)
    provinces = sorted(tiny_results.provincial_annual["province"].unique())
    pos = tile_positions(provinces)
    assert set(pos) == set(provinces)
    assert all(p in TILES for p in provinces)  # every model province has its place on the map


def test_unknown_province_goes_below_the_map():
    pos = tile_positions(["Hebei", "Atlantis"])
    assert pos["Hebei"] == TILES["Hebei"]
    assert pos["Atlantis"][0] > max(r for r, _ in TILES.values())


# ------------------------------------------------------------------------------------ renderers
@pytest.mark.parametrize("name", list(charts.FIGURES))
def test_plotly_figure_is_json_and_every_panel_has_axes_and_traces(data, name):
    chart = charts.build(name, data)
    fig = to_plotly(chart)
    json.dumps(fig, allow_nan=False)  # what the page embeds: strict JSON, gaps as null
    n = len(chart.panels)
    assert all(("xaxis" if k == 1 else f"xaxis{k}") in fig["layout"] for k in range(1, n + 1))
    used = {t.get("yaxis", "y") for t in fig["data"]}
    assert len(used) == sum(p.has_data for p in chart.panels)
    for t in fig["data"]:
        values = t.get("y") or []
        assert any(v is not None for v in values), t["name"]


def test_plotly_domains_stay_inside_the_figure(data):
    for name in charts.FIGURES:
        layout = to_plotly(charts.build(name, data))["layout"]
        for key, axis in layout.items():
            if key.startswith(("xaxis", "yaxis")):
                lo, hi = axis["domain"]
                assert 0.0 <= lo < hi <= 1.0, (name, key, axis["domain"])


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_static_figure_files(data, tmp_path, fmt):
    path = static.save(charts.build("grain", data), tmp_path / f"grain.{fmt}")
    head = path.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in path.read_bytes()[:2000]
    assert path.stat().st_size > 5000


def test_static_tile_map_renders(data, tmp_path):
    path = static.save(charts.build("provinces", data), tmp_path / "p.png", dpi=50)
    from PIL import Image

    im = Image.open(path)
    assert im.size[0] > 300 and im.size[1] > 200


def test_static_rejects_unknown_format(data, tmp_path):
    with pytest.raises(ValueError, match="formats"):
        static.save(charts.build("grain", data), tmp_path / "g.bmp")


def test_net_procurement_is_drawn_by_grain_year_as_the_record_counts_it(data, tiny_results):
    """The net-procurement line is gross less resales over the grain year (July-June) where the
    run has the grain-year columns, and by calendar year for older runs without them."""
    annual = tiny_results.national_annual.set_index("year")
    chart = charts.procurement_chart(data)
    net = next(s for p in chart.panels for s in p.series if s.label.startswith("net procurement"))
    assert net.label == "net procurement (grain year, less resales)"
    want = (annual["procurement_grain_year_mt"] - annual["resales_grain_year_mt"]).dropna()
    assert list(net.x) == list(want.index) == [1952]
    np.testing.assert_allclose(np.asarray(net.y, dtype=float), want.to_numpy())
    old = tiny_results.national_annual.drop(columns=["procurement_grain_year_mt", "resales_grain_year_mt"])
    old_data = ReportData(directory=None, tables={**data.tables, "national_annual": old})
    old_net = next(s for p in charts.procurement_chart(old_data).panels for s in p.series
                   if s.label.startswith("net procurement"))
    assert old_net.label == "net procurement (less resales)" and len(old_net.x) == 2
