"""What :class:`hightide.api.Results` offers a notebook beyond its tables: tidy pandas views, an
xarray Dataset, the record beside the model, and figures (matplotlib or Plotly) by name.

The methods on ``Results`` are thin wrappers over these functions, which take the results object.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hightide.report import charts
from hightide.report.data import ReportData, derived_columns, record_annual
from hightide.results.validation import TARGETS


def _data(res) -> ReportData:
    return ReportData(directory=res.out, manifest=dict(res.manifest), tables=dict(res.tables))


def annual(res, column: str | None = None) -> pd.DataFrame | pd.Series:
    """National annual table indexed by year (with the derived ``n_apcs``, ``share_apc_pct`` and
    ``apc_size``), or one column of it as a Series."""
    df = derived_columns(res.national_annual).set_index("year")
    return df if column is None else df[column]


def monthly(res, column: str | None = None) -> pd.DataFrame | pd.Series:
    """National monthly table indexed by the first day of each month (a DatetimeIndex)."""
    df = derived_columns(res.national_monthly)
    index = pd.to_datetime(pd.DataFrame({"year": df["year"], "month": df["month"], "day": 1}))
    df = df.drop(columns=["year", "month"]).set_index(pd.DatetimeIndex(index, name="month"))
    return df if column is None else df[column]


def provinces(res, column: str) -> pd.DataFrame:
    """One column of the provincial table, wide: a row per year, a column per province."""
    t = res.provincial_annual
    if column not in t.columns:
        raise KeyError(f"no provincial column {column!r}; columns: {', '.join(c for c in t.columns if c != 'province')}")
    return t.pivot(index="year", columns="province", values=column)


def record(column: str | None = None) -> pd.DataFrame | pd.Series:
    """The national record (data/history/national_series.csv) by year, or one series of it. Model
    column names are accepted where a validation target maps them (``procurement_mt`` ->
    ``grain_procurement_gross_mt``)."""
    from hightide.results.validation import load_history

    nat = load_history("national_series").set_index("year")
    if column is None:
        return nat
    return record_annual(_record_name(column)).copy()


def _record_name(column: str) -> str:
    for t in TARGETS:
        if t.column == column and t.table == "national_series":
            return t.record
    return column


def compare(res, column: str) -> pd.DataFrame:
    """Model and record side by side by year, with the relative error."""
    model = annual(res, column)
    rec = record(column)
    if rec.empty:
        raise KeyError(f"the national record has no series for {column!r}")
    df = pd.DataFrame({"model": model, "record": rec}).loc[model.index.min():model.index.max()]
    df["error"] = (df["model"] - df["record"]) / df["record"]
    return df


def validation(res) -> pd.DataFrame:
    """The validation checks that fall within the run's period."""
    v = _data(res).validation()
    return v if v is not None else pd.DataFrame()


def to_xarray(res, table: str = "provincial_annual"):
    """An xarray Dataset of one table: ``provincial_annual`` (dims province, year; the default),
    ``national_annual`` (dim year) or ``national_monthly`` (dim time). The manifest's scenario,
    seed, scale and version are attributes."""
    import xarray as xr

    if table == "provincial_annual":
        ds = xr.Dataset.from_dataframe(res.provincial_annual.set_index(["province", "year"]))
    elif table == "national_annual":
        ds = xr.Dataset.from_dataframe(res.national_annual.set_index("year"))
    elif table == "national_monthly":
        df = monthly(res)
        df.index.name = "time"
        ds = xr.Dataset.from_dataframe(df)
    else:
        raise ValueError(f"unknown table {table!r}; tables: provincial_annual, national_annual, national_monthly")
    m = res.manifest
    ds.attrs.update({k: m[k] for k in ("scenario", "seed", "scale", "version") if k in m})
    return ds


def _chart(res, name: str):
    data = _data(res)
    if name in charts.FIGURES:
        chart = charts.build(name, data)
        if chart is None:
            raise ValueError(f"figure {name!r} has nothing to draw for this run")
        return chart
    if name in res.national_annual.columns or name in ("n_apcs", "share_apc_pct", "apc_size"):
        panel = charts.Panel(name)
        panel.series += charts.model_series(data, name, "model")
        s = record(name)
        years = annual(res, name).index
        s = s[(s.index >= years.min()) & (s.index <= years.max())]
        if len(s):
            panel.series.append(charts.Series("record", s.index, s.to_numpy(), kind="dash", color=charts.RECORD))
        return charts.Chart(name, name, "", [panel])
    raise KeyError(f"no figure or column {name!r}; figures: {', '.join(charts.FIGURES)}; or any column of "
                   "national_annual")


def plot(res, name: str = "targets"):
    """A matplotlib Figure: a named figure (``hightide plot --list``) or any national annual column
    against the record."""
    from hightide.report import static

    return static.render(_chart(res, name))


def plotly(res, name: str = "targets"):
    """The same as :func:`plot`, as an interactive plotly Figure (for notebooks)."""
    import plotly.graph_objects as go

    from hightide.report.plotly_render import to_plotly

    return go.Figure(to_plotly(_chart(res, name)))


def report(res, path: str | Path | None = None) -> Path:
    """Write the HTML report (to ``path``, default the run's ``report.html``); returns its path."""
    from hightide.report import write_report

    if path is None and res.out is None:
        raise ValueError("this run has no output directory: give report(path=...)")
    directory = res.out if res.out is not None else Path(path).parent
    return write_report(directory, out=path, data=_data(res))
