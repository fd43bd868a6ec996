"""What each figure shows, said once for both renderers (Plotly in the HTML report, matplotlib for
``hightide plot`` and ``Results.plot``).

A :class:`Chart` is a list of :class:`Panel` s, each a list of :class:`Series` (lines, stacked areas,
ensemble bands, record points with their tolerance). Builders take a
:class:`~hightide.report.data.ReportData` and return a Chart, or None when the directory holds
nothing to draw for it (a bands-only ensemble has no provinces, say).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from hightide.report.data import ReportData, record_annual, record_points
from hightide.report.tiles import tile_positions
from hightide.results.validation import RANGES, TARGETS, Target

Kind = Literal["line", "dash", "area", "band", "points", "interval_h"]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies
MODEL = "#0072B2"
RECORD = "#222222"
REPORTED = "#D55E00"
TAX = "#E69F00"
PROCUREMENT = "#009E73"
RESALES = "#CC79A7"
PER_HEAD = "#56B4E9"
PASS = "#1a9850"
FAIL = "#d73027"
FORM_COLORS = {"individual": "#BBBBBB", "mutual_aid": "#56B4E9", "elementary_apc": "#009E73",
               "advanced_apc": "#E69F00", "commune": "#D55E00"}
FORM_LABELS = {"individual": "individual", "mutual_aid": "mutual-aid teams", "elementary_apc": "elementary APCs",
               "advanced_apc": "advanced APCs", "commune": "communes"}


@dataclass
class Series:
    """One trace. ``lo``/``hi`` are the band edges (kind band) or error-bar ends (points: on y;
    interval_h: on x). ``colors`` colours points one by one; ``hover`` labels each point."""

    label: str
    x: np.ndarray
    y: np.ndarray
    kind: Kind = "line"
    color: str = MODEL
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    colors: list[str] | None = None
    hover: list[str] | None = None
    legend: bool = True

    def __post_init__(self):
        self.x = np.asarray(self.x, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        if self.lo is not None:
            self.lo = np.asarray(self.lo, dtype=float)
        if self.hi is not None:
            self.hi = np.asarray(self.hi, dtype=float)

    @property
    def has_data(self) -> bool:
        values = self.lo if self.kind == "band" and self.lo is not None else self.y
        return bool(len(self.x)) and bool(np.isfinite(values).any())


@dataclass
class Panel:
    title: str
    unit: str = ""
    series: list[Series] = field(default_factory=list)
    log_y: bool = False
    y_ticks: tuple[list[float], list[str]] | None = None  # categorical rows (validation)
    x_title: str = ""
    x_lines: tuple[float, ...] = ()  # vertical reference lines

    @property
    def has_data(self) -> bool:
        return any(s.has_data for s in self.series)


@dataclass
class Chart:
    name: str
    title: str
    caption: str
    panels: list[Panel]
    columns: int = 1
    tiles: list[tuple[int, int]] | None = None  # (row, col) per panel: a tile map
    panel_height: int = 300

    @property
    def has_data(self) -> bool:
        return any(p.has_data for p in self.panels)

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, columns) of the panel grid."""
        if self.tiles:
            return max(r for r, _ in self.tiles) + 1, max(c for _, c in self.tiles) + 1
        cols = max(1, min(self.columns, len(self.panels)))
        return math.ceil(len(self.panels) / cols), cols

    def position(self, i: int) -> tuple[int, int]:
        if self.tiles:
            return self.tiles[i]
        _, cols = self.grid
        return divmod(i, cols)


# ---------------------------------------------------------------------------------------- helpers
def model_series(data: ReportData, column: str, label: str, color: str = MODEL, kind: Kind = "line",
                  scale: float = 1.0, band_label: str | None = None) -> list[Series]:
    """The run's annual series, with the ensemble's 5-95% band underneath when there is one."""
    out = []
    band = data.band(column)
    if band is not None:
        out.append(Series(band_label or f"{label} 5-95%", band.index, band["q50"] * scale, kind="band",
                          color=color, lo=band["q05"] * scale, hi=band["q95"] * scale))
    s = data.annual(column)
    if s is not None:
        out.append(Series(label, s.index, s.to_numpy() * scale, kind=kind, color=color))
    return out


def record_series(column: str, label: str, years: pd.Index | None, color: str = RECORD) -> list[Series]:
    r = record_annual(column)
    if years is not None and len(years):
        r = r[(r.index >= min(years)) & (r.index <= max(years))]
    return [Series(label, r.index, r.to_numpy(), kind="dash", color=color)] if len(r) else []


def _years(data: ReportData) -> pd.Index | None:
    s = data.annual("population_m")
    if s is None and data.bands is not None:
        return pd.Index(sorted(data.bands["year"].unique()))
    return None if s is None else s.index


def _month_labels(x: np.ndarray) -> list[str]:
    """x = year + month/12 (month end) -> 'YYYY-MM'."""
    months = np.rint(x * 12).astype(int) - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in months]


# ------------------------------------------------------------------------------- model vs record
TARGET_TITLES = {
    "population_m": ("Population", "million"),
    "grain_output_mt": ("Grain output", "Mt"),
    "birth_rate_permille": ("Birth rate", "per 1000"),
    "death_rate_permille": ("Death rate", "per 1000"),
    "procurement_mt": ("Procurement (gross)", "Mt"),
    "draft_animals_m": ("Draft animals", "million"),
    "share_mutual_aid_pct": ("Households in mutual-aid teams", "% of rural households"),
    "n_apcs": ("Co-operatives (all APCs)", "number"),
    "share_apc_pct": ("Households in co-operatives", "% of rural households"),
    "share_advanced_apc_pct": ("Households in advanced APCs", "% of rural households"),
    "apc_size": ("Households per co-operative", "households"),
    "share_commune_pct": ("Households in communes", "% of rural households"),
    "n_communes": ("People's communes", "number"),
}


def _tolerance_interval(t: Target, record: float) -> tuple[float, float]:
    if t.kind == "rel":
        return record * (1 - t.tolerance), record * (1 + t.tolerance)
    if t.kind == "abs":
        return record - t.tolerance, record + t.tolerance
    if t.kind == "min":
        return t.tolerance, max(record, t.tolerance)
    return RANGES[t.column]


def _when(when: str) -> tuple[int, int | None]:
    """'1955' -> (1955, None); '1955-07' -> (1955, 7)."""
    text = str(when)
    return (int(text[:4]), int(text[5:7])) if "-" in text else (int(text), None)


def _check_x(when: str) -> float:
    """Where a check sits on the time axis: the year, or month end for a dated point."""
    year, month = _when(when)
    return float(year) if month is None else year + month / 12


def _target_of(column: str, when: str) -> Target | None:
    year, month = _when(when)
    for t in TARGETS:
        if t.column == column and year in t.years and t.month == month:
            return t
    return None


def targets_chart(data: ReportData) -> Chart | None:
    """One panel per validated series: the model (or ensemble band), the record, and each check with
    its tolerance (error bar on the record) and the model's value coloured pass/fail."""
    validation = data.validation()
    years = _years(data)
    groups: dict[str, list[Target]] = {}
    for t in TARGETS:
        groups.setdefault(t.column, []).append(t)
    panels = []
    for column, targets in groups.items():
        title, unit = TARGET_TITLES.get(column, (column, ""))
        panel = Panel(title, unit)
        t0 = targets[0]
        if t0.table == "national_series":
            panel.series += model_series(data, column, "model")
            panel.series += record_series(t0.record, "record", years)
        else:
            m = data.monthly(column)
            if m is not None:
                panel.series.append(Series("model", m.index, m.to_numpy(), hover=_month_labels(m.index)))
            else:  # ensemble without monthly tables: year-end values
                for s in model_series(data, column, "model"):
                    s.x = s.x + 1.0
                    panel.series.append(s)
            pts = record_points(t0.record)
            if years is not None and len(years):
                pts = pts[(pts["x"] > min(years)) & (pts["x"] <= max(years) + 1)]
            if column == "apc_size":
                lo, hi = RANGES["apc_size"]
                pts = pd.DataFrame({"x": [1955 + 7 / 12], "value": [(lo + hi) / 2], "date": ["1955-07"]})
                if years is not None and len(years) and not min(years) <= 1955 <= max(years):
                    pts = pts.iloc[0:0]
            if len(pts):
                panel.series.append(Series("record", pts["x"], pts["value"], kind="points", color=RECORD,
                                           hover=[f"record {d}" for d in pts["date"]]))
        if validation is not None:
            rows = validation[validation["target"] == column]
            if len(rows):
                x = [_check_x(w) for w in rows["when"]]
                intervals = [_tolerance_interval(_target_of(column, w) or t0, r)
                             for w, r in zip(rows["when"], rows["record"])]
                panel.series.append(Series(
                    "tolerance", x, rows["record"], kind="points", color="#888888",
                    lo=[a for a, _ in intervals], hi=[b for _, b in intervals],
                    hover=[f"{w}: record {r:.4g}, tolerance {tol}" for w, r, tol in
                           zip(rows["when"], rows["record"], rows["tolerance"])]))
                panel.series.append(Series(
                    "check (green pass, red fail)", x, rows["model"], kind="points", color=PASS,
                    colors=[PASS if ok else FAIL for ok in rows["pass"]],
                    hover=[f"{w}: model {m:.4g} vs record {r:.4g} ({e}, tol {tol}): {'pass' if ok else 'FAIL'}"
                           for w, m, r, e, tol, ok in zip(rows["when"], rows["model"], rows["record"], rows["error"],
                                                           rows["tolerance"], rows["pass"])]))
        # a panel is about the model: without it (a derived count an ensemble has no band of) leave it out
        if any(s.label.startswith("model") and s.has_data for s in panel.series):
            panels.append(panel)
    if not panels:
        return None
    return Chart("targets", "Model and record",
                 "Every validated series: the model (blue; with its 5-95% band for an ensemble), the record "
                 "(black), and each validation check: the record's tolerance as a grey bar, the model's value "
                 "green where it passes and red where it fails.", panels, columns=3, panel_height=260)


# ------------------------------------------------------------------------------- households by form
FORMS = ("individual", "mutual_aid", "elementary_apc", "advanced_apc", "commune")


def forms_chart(data: ReportData) -> Chart | None:
    """Households by form over time (stacked, monthly) and the number of organisations (log scale)."""
    shares = Panel("Rural households by form", "% of rural households")
    for form in FORMS:
        col = f"share_{form}_pct"
        m = data.monthly(col)
        if m is not None:
            shares.series.append(Series(FORM_LABELS[form], m.index, m.to_numpy(), kind="area",
                                        color=FORM_COLORS[form], hover=_month_labels(m.index)))
        else:
            a = data.annual(col)
            if a is not None:
                shares.series.append(Series(FORM_LABELS[form], a.index + 1.0, a.to_numpy(), kind="area",
                                            color=FORM_COLORS[form]))
    counts = Panel("Organisations", "number (log scale)", log_y=True)
    years = _years(data)
    for form, col, record_col, factor in (("mutual_aid", "n_mutual_aid_teams", "n_mutual_aid_teams_thousand", 1000),
                                          ("elementary_apc", "n_elementary_apcs", "n_apc_elementary", 1),
                                          ("advanced_apc", "n_advanced_apcs", "n_apc_advanced", 1),
                                          ("commune", "n_communes", "n_communes", 1)):
        m = data.monthly(col)
        if m is not None:
            counts.series.append(Series(FORM_LABELS[form], m.index, m.where(m > 0).to_numpy(),
                                        color=FORM_COLORS[form], hover=_month_labels(m.index), legend=False))
        pts = record_points(record_col)
        if years is not None and len(years):
            pts = pts[(pts["x"] > min(years)) & (pts["x"] <= max(years) + 1)]
        pts = pts[pts["value"] > 0]
        if len(pts):
            counts.series.append(Series(f"record: {FORM_LABELS[form]}", pts["x"], pts["value"] * factor,
                                        kind="points", color=FORM_COLORS[form], legend=False,
                                        hover=[f"record {d}: {FORM_LABELS[form]}" for d in pts["date"]]))
    panels = [p for p in (shares, counts) if p.has_data]
    if not panels:
        return None
    return Chart("forms", "Households by form",
                 "Share of rural households individual, in mutual-aid teams, elementary and advanced "
                 "co-operatives and communes (month end); below, the number of organisations with the record's "
                 "counts as dots.", panels, columns=1, panel_height=330)


# ------------------------------------------------------------------------------- grain
def grain_chart(data: ReportData) -> Chart | None:
    """The grain balance: output true and reported, tax, procurement, resales; rural food per head."""
    years = _years(data)
    flows = Panel("Grain balance", "Mt per year")
    # reported first: where reports are honest the true line is drawn over it and stays visible
    flows.series += model_series(data, "grain_output_reported_mt", "output (reported)", REPORTED)
    flows.series += model_series(data, "grain_output_mt", "output (true)", MODEL)
    flows.series += model_series(data, "procurement_mt", "procurement (gross)", PROCUREMENT)
    flows.series += model_series(data, "agricultural_tax_mt", "agricultural tax", TAX)
    flows.series += model_series(data, "resales_mt", "resales to the countryside", RESALES)
    flows.series += record_series("grain_output_mt", "record: output", years, RECORD)
    flows.series += record_series("grain_procurement_gross_mt", "record: procurement", years, PROCUREMENT)
    food = Panel("Rural food grain per head", "kg per person per year")
    food.series += model_series(data, "rural_grain_per_capita_kg", "rural food grain per head", PER_HEAD)
    panels = [p for p in (flows, food) if p.has_data]
    if not panels:
        return None
    return Chart("grain", "Grain balance",
                 "True and reported output, the State's take (agricultural tax and gross procurement, as the "
                 "record counts it), resales to the countryside, and the grain rural people ate. Dashed: the "
                 "record.", panels, columns=1, panel_height=330)


def procurement_chart(data: ReportData) -> Chart | None:
    """The State's take as a share of output, net procurement, the State's granary and trade."""
    years = _years(data)
    share = Panel("Procurement as a share of output", "%")
    out, rep, proc = (data.annual(c) for c in ("grain_output_mt", "grain_output_reported_mt", "procurement_mt"))
    if proc is not None and out is not None:
        share.series.append(Series("of true output", out.index, 100 * proc / out.where(out > 0), color=MODEL))
    if proc is not None and rep is not None:
        share.series.append(Series("of reported output", rep.index, 100 * proc / rep.where(rep > 0),
                                   color=REPORTED))
    r_out, r_proc = record_annual("grain_output_mt"), record_annual("grain_procurement_gross_mt")
    r = (100 * r_proc / r_out).dropna()
    if years is not None and len(years):
        r = r[(r.index >= min(years)) & (r.index <= max(years))]
    if len(r):
        share.series.append(Series("record: of output", r.index, r.to_numpy(), kind="dash", color=RECORD))
    net = Panel("Net procurement, the State's granary and trade", "Mt")
    # by grain year (July-June), as the record's net series counts it; calendar years for runs
    # written before the grain-year columns
    gross_gy, resales_gy = data.annual("procurement_grain_year_mt"), data.annual("resales_grain_year_mt")
    resales = data.annual("resales_mt")
    if gross_gy is not None and resales_gy is not None:
        net_gy = (gross_gy - resales_gy).dropna()
        net.series.append(Series("net procurement (grain year, less resales)", net_gy.index, net_gy,
                                 color=PROCUREMENT))
    elif proc is not None and resales is not None:
        net.series.append(Series("net procurement (less resales)", proc.index, proc - resales, color=PROCUREMENT))
    net.series += record_series("grain_procurement_net_mt", "record: net procurement", years, PROCUREMENT)
    net.series += model_series(data, "state_grain_stock_mt", "State granary (year end)", TAX)
    net.series += model_series(data, "grain_exports_mt", "exports", RESALES)
    net.series += model_series(data, "grain_imports_mt", "imports", PER_HEAD)
    panels = [p for p in (share, net) if p.has_data]
    if not panels:
        return None
    return Chart("procurement", "Procurement",
                 "How much of the harvest the State took, measured against the true and the reported harvest "
                 "(quotas set on exaggerated reports take a larger share of the true one); net procurement, "
                 "the State's stock and foreign trade.", panels, columns=1, panel_height=300)


def demography_chart(data: ReportData) -> Chart | None:
    """Births and deaths (rates against the record, counts with hunger deaths) and population."""
    years = _years(data)
    rates = Panel("Birth and death rates", "per 1000")
    rates.series += model_series(data, "birth_rate_permille", "birth rate", PROCUREMENT)
    rates.series += model_series(data, "death_rate_permille", "death rate", FAIL)
    rates.series += record_series("birth_rate_permille", "record: birth rate", years, PROCUREMENT)
    rates.series += record_series("death_rate_permille", "record: death rate", years, FAIL)
    counts = Panel("Births and deaths", "million per year")
    counts.series += model_series(data, "births_m", "births", PROCUREMENT)
    counts.series += model_series(data, "deaths_m", "deaths", FAIL)
    counts.series += model_series(data, "hunger_deaths_m", "of which from hunger", "#7f0000")
    pop = Panel("Population", "million")
    pop.series += model_series(data, "population_m", "population", MODEL)
    pop.series += record_series("population_total_m", "record: population", years, RECORD)
    pop.series += model_series(data, "rural_population_m", "rural population", PER_HEAD)
    panels = [p for p in (rates, counts, pop) if p.has_data]
    if not panels:
        return None
    return Chart("demography", "Births and deaths",
                 "Birth and death rates against the record (dashed), births and deaths with those from hunger, "
                 "and the population.", panels, columns=1, panel_height=280)


# ------------------------------------------------------------------------------- provinces
def _province_record(column: str) -> pd.DataFrame | None:
    """Provincial death rates 1954-57 from data/inputs/provinces.csv (the world's input table)."""
    if column != "death_rate_permille":
        return None
    from importlib import resources

    with resources.files("hightide.data").joinpath("inputs/provinces.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh)
    cols = {int(c.split("_")[2]): c for c in df.columns if c.startswith("death_rate_") and c.endswith("_permille")}
    if not cols:
        return None
    out = df.set_index("province")[[cols[y] for y in sorted(cols)]]
    out.columns = sorted(cols)
    return out.T


def _tiles_chart(data: ReportData, name: str, column: str, title: str, unit: str, caption: str) -> Chart | None:
    wide = data.provincial(column)
    if wide is None:
        return None
    # an ensemble without a run's provincial table: its median with the 5-95% band
    banded = "provincial_annual" not in data.tables and data.provincial_bands is not None
    lo, hi = (data.provincial(column, "q05"), data.provincial(column, "q95")) if banded else (None, None)
    record = _province_record(column)
    positions = tile_positions(list(wide.columns))
    national = data.annual(column)
    panels, tiles = [], []
    for province, pos in positions.items():
        p = Panel(province, unit)
        if national is not None:
            p.series.append(Series("national", national.index, national.to_numpy(), color="#BBBBBB",
                                   legend=len(panels) == 0))
        if lo is not None and hi is not None and province in lo.columns:
            p.series.append(Series("province 5-95%", wide.index, wide[province].to_numpy(), kind="band",
                                   color=MODEL, lo=lo[province].to_numpy(), hi=hi[province].to_numpy(),
                                   legend=len(panels) == 0))
        p.series.append(Series("province", wide.index, wide[province].to_numpy(), color=MODEL,
                               legend=len(panels) == 0))
        if record is not None and province in record.columns:
            r = record[province].dropna()
            r = r[(r.index >= wide.index.min()) & (r.index <= wide.index.max())]
            if len(r):
                p.series.append(Series("record", r.index, r.to_numpy(), kind="points", color=RECORD,
                                       legend=False))
        panels.append(p)
        tiles.append(pos)
    return Chart(name, title, caption, panels, tiles=tiles, panel_height=130)


def provinces_chart(data: ReportData) -> Chart | None:
    """Death rate by province, on a tile map laid out roughly as the provinces lie."""
    return _tiles_chart(data, "provinces", "death_rate_permille", "Death rate by province", "per 1000",
                        "Death rate per 1000 in each province (blue), with the national rate (grey) and the "
                        "provincial record for 1954-57 where the input data has it (dots). Tiles are placed "
                        "roughly where the provinces lie.")


def provinces_grain_chart(data: ReportData) -> Chart | None:
    """Rural food grain per head by province, on the tile map."""
    return _tiles_chart(data, "provinces_grain", "rural_grain_per_capita_kg", "Rural food grain per head by province",
                        "kg", "Grain eaten per rural person per year in each province (blue) and nationally "
                        "(grey).")


# ------------------------------------------------------------------------------- validation
def validation_chart(data: ReportData) -> Chart | None:
    """Each check as model / record with its tolerance interval (also / record), pass or fail."""
    v = data.validation()
    if v is None or v.empty:
        return None
    rows = []
    for _, r in v.iterrows():
        t = _target_of(r["target"], r["when"])
        if t is None or not np.isfinite(r["record"]) or r["record"] == 0:
            continue
        lo, hi = _tolerance_interval(t, r["record"])
        title = TARGET_TITLES.get(r["target"], (r["target"],))[0]
        band = ((r["model_q05"] / r["record"], r["model_q95"] / r["record"]) if "model_q05" in v.columns
                else (np.nan, np.nan))
        rows.append((f"{title} {r['when']}", r["model"] / r["record"], lo / r["record"], hi / r["record"],
                     bool(r["pass"]), r["window"], *band))
    if not rows:
        return None
    rows = rows[::-1]  # first check at the top
    pos = list(range(len(rows)))
    labels = [r[0] for r in rows]
    panel = Panel("Model / record for every check", "", y_ticks=(pos, labels), x_title="model ÷ record",
                  x_lines=(1.0,))
    panel.series.append(Series("tolerance", [1.0] * len(rows), pos, kind="interval_h", color="#999999",
                               lo=[r[2] for r in rows], hi=[r[3] for r in rows]))
    ensemble = "model_q05" in v.columns
    if ensemble:
        panel.series.append(Series("members 5-95% ÷ record", [1.0] * len(rows), pos, kind="interval_h",
                                   color=PER_HEAD, lo=[r[6] for r in rows], hi=[r[7] for r in rows]))
    panel.series.append(Series(("median" if ensemble else "model") + " ÷ record (green pass, red fail)",
                               [r[1] for r in rows], pos, kind="points",
                               color=PASS, colors=[PASS if r[4] else FAIL for r in rows],
                               hover=[f"{r[0]} ({r[5]}): {r[1]:.3f}, {'pass' if r[4] else 'FAIL'}" for r in rows]))
    n_pass = sum(r[4] for r in rows)
    return Chart("validation", f"Validation: {n_pass} of {len(rows)} checks pass",
                 "Each check of results/validation.py as the model's value divided by the record's, with the "
                 "interval the tolerance allows (grey); green passes, red fails."
                 + (" For an ensemble the point is the median across members and the blue bar their 5-95% band."
                    if ensemble else ""), [panel],
                 panel_height=max(300, 16 * len(rows) + 60))


# ------------------------------------------------------------------------------- comparisons
COMPARE_SERIES = (
    ("grain_output_mt", "Grain output", "Mt", "grain_output_mt"),
    ("procurement_mt", "Procurement (gross)", "Mt", "grain_procurement_gross_mt"),
    ("rural_grain_per_capita_kg", "Rural food grain per head", "kg per year", None),
    ("death_rate_permille", "Death rate", "per 1000", "death_rate_permille"),
    ("population_m", "Population", "million", "population_total_m"),
    ("share_collective_pct", "Households in co-operatives or communes", "% (year end)", None),
)
RUN_COLORS = (MODEL, "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9")


def _collective(data: ReportData) -> pd.Series | None:
    parts = [data.annual(c) for c in ("share_elementary_apc_pct", "share_advanced_apc_pct", "share_commune_pct")]
    if any(p is None for p in parts):
        return None
    return parts[0] + parts[1] + parts[2]


def comparison_chart(runs: dict[str, ReportData]) -> Chart | None:
    """Key national series of several runs side by side with the record (the dashboard's chart; a
    comparison directory's report can use it too). The first run is drawn in the model colour."""
    panels = []
    years = None
    for d in runs.values():
        y = _years(d)
        if y is not None:
            years = y if years is None else years.union(y)
    colors = dict(zip(runs, RUN_COLORS * 4))
    for column, title, unit, record in COMPARE_SERIES:
        panel = Panel(title, unit)
        for label, d in reversed(runs.items()):  # the first run drawn last, on top
            color = colors[label]
            if column == "share_collective_pct":
                s = _collective(d)
                if s is not None:
                    panel.series.append(Series(label, s.index, s.to_numpy(), color=color))
            else:
                panel.series += model_series(d, column, label, color, band_label=f"{label} 5-95%")
        if record:
            panel.series += record_series(record, "record", years)
        if panel.has_data:
            panels.append(panel)
    if not panels:
        return None
    return Chart("comparison", "Runs compared", "Key national series of each run, and the record (dashed).",
                 panels, columns=2, panel_height=260)


@dataclass(frozen=True)
class FigureDef:
    name: str
    description: str
    build: Callable[[ReportData], Chart | None]


FIGURES: dict[str, FigureDef] = {f.name: f for f in (
    FigureDef("targets", "model vs record for every validated series, with tolerances and pass/fail", targets_chart),
    FigureDef("forms", "households by form over time (stacked, monthly) and organisation counts", forms_chart),
    FigureDef("grain", "grain balance: output true and reported, tax, procurement, resales, food per head",
              grain_chart),
    FigureDef("procurement", "procurement as a share of true and reported output; net procurement, stocks, trade",
              procurement_chart),
    FigureDef("demography", "birth and death rates vs the record, births and deaths, population", demography_chart),
    FigureDef("provinces", "death rate by province (tile map)", provinces_chart),
    FigureDef("provinces_grain", "rural food grain per head by province (tile map)", provinces_grain_chart),
    FigureDef("validation", "every validation check: model / record against its tolerance", validation_chart),
)}


def build(name: str, data: ReportData) -> Chart | None:
    """The named chart for ``data`` (KeyError names the figures there are)."""
    try:
        fig = FIGURES[name]
    except KeyError:
        raise KeyError(f"no figure {name!r}; figures: {', '.join(FIGURES)}") from None
    return fig.build(data)
