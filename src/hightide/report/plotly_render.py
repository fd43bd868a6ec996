"""A :class:`~hightide.report.charts.Chart` as a Plotly figure (plain ``data``/``layout`` dicts).

The dicts are built directly, not through ``plotly.graph_objects``, which validates every property
and would make a report take seconds; the HTML page hands them to the inlined plotly.js.
"""

from __future__ import annotations

import numpy as np

from hightide.report.charts import Chart, Series

FEW_POINTS = 3


def _values(a) -> list:
    """A JSON-ready list: NaN and inf become null (a gap in the line)."""
    arr = np.asarray(a, dtype=float)
    return [float(v) if np.isfinite(v) else None for v in arr.tolist()]


def _rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _hover(s: Series, trace: dict) -> None:
    if s.hover is not None:
        trace["text"] = list(s.hover)
        trace["hovertemplate"] = "%{text}<br>%{y:.4g}<extra>" + s.label + "</extra>" if s.kind != "points" \
            else "%{text}<extra></extra>"
    else:
        trace["hovertemplate"] = "%{x}: %{y:.4g}<extra>" + s.label + "</extra>"


def _traces(s: Series, axis: int, panel_index: int, show_legend: bool) -> list[dict]:
    ref = {"xaxis": "x" if axis == 1 else f"x{axis}", "yaxis": "y" if axis == 1 else f"y{axis}"}
    common = {"name": s.label, "legendgroup": s.label, "showlegend": show_legend, **ref}
    if s.kind == "band":
        lower = {"type": "scatter", "mode": "lines", "x": _values(s.x), "y": _values(s.lo), "line": {"width": 0},
                 "hoverinfo": "skip", **common, "showlegend": False}
        upper = {"type": "scatter", "mode": "lines", "x": _values(s.x), "y": _values(s.hi), "line": {"width": 0},
                 "fill": "tonexty", "fillcolor": _rgba(s.color, 0.2), "hoverinfo": "skip", **common}
        return [lower, upper]
    trace = {"type": "scatter", "x": _values(s.x), "y": _values(s.y), **common}
    if s.kind == "line":  # with markers when there are too few points for a line to show (short runs)
        trace["mode"] = "lines+markers" if np.isfinite(s.y).sum() <= FEW_POINTS else "lines"
        trace["line"] = {"color": s.color, "width": 2}
        trace["marker"] = {"color": s.color, "size": 6}
    elif s.kind == "dash":  # the record: markers too, as some series have only a few years
        trace["mode"] = "lines+markers"
        trace["line"] = {"color": s.color, "width": 1.5, "dash": "dash"}
        trace["marker"] = {"color": s.color, "size": 4}
    elif s.kind == "area":
        trace["mode"] = "lines"
        trace["stackgroup"] = f"stack{panel_index}"
        trace["line"] = {"color": s.color, "width": 0.5}
        trace["fillcolor"] = _rgba(s.color, 0.85)
    elif s.kind == "points":
        trace["mode"] = "markers"
        trace["marker"] = {"color": list(s.colors) if s.colors else s.color, "size": 7,
                           "line": {"width": 1, "color": "white"}}
        if s.lo is not None and s.hi is not None:
            y = np.asarray(s.y, dtype=float)
            trace["error_y"] = {"type": "data", "symmetric": False, "array": _values(np.asarray(s.hi) - y),
                                "arrayminus": _values(y - np.asarray(s.lo)), "color": s.color, "thickness": 3,
                                "width": 0}
            trace["marker"] = {"color": s.color, "size": 3}
    elif s.kind == "interval_h":
        x = np.asarray(s.x, dtype=float)
        trace["mode"] = "markers"
        trace["marker"] = {"color": s.color, "size": 1, "opacity": 0}
        trace["error_x"] = {"type": "data", "symmetric": False, "array": _values(np.asarray(s.hi) - x),
                            "arrayminus": _values(x - np.asarray(s.lo)), "color": s.color, "thickness": 6, "width": 0}
        trace["hoverinfo"] = "skip"
    else:  # pragma: no cover - the Kind literal lists every kind
        raise ValueError(f"unknown series kind {s.kind!r}")
    if s.kind != "interval_h":
        _hover(s, trace)
    return [trace]


def _year_step(panel) -> int:
    xs = [np.asarray(s.x, dtype=float) for s in panel.series if len(s.x)]
    x = np.concatenate(xs) if xs else np.array([])
    x = x[np.isfinite(x)]
    span = float(x.max() - x.min()) if x.size else 0.0
    return 1 if span <= 8 else (2 if span <= 16 else 5)


def _time_range(chart: Chart) -> list[float] | None:
    """One x range for every time panel of a chart, so the years line up from panel to panel."""
    xs = [np.asarray(s.x, dtype=float) for p in chart.panels if not p.x_title for s in p.series if s.has_data]
    x = np.concatenate(xs) if xs else np.array([])
    x = x[np.isfinite(x)]
    if not x.size:
        return None
    pad = max(0.15, 0.02 * float(x.max() - x.min()))
    return [float(x.min()) - pad, float(x.max()) + pad]


def to_plotly(chart: Chart) -> dict:
    """``{"data": [...], "layout": {...}}`` for ``Plotly.newPlot``."""
    rows, cols = chart.grid
    tiles = chart.tiles is not None
    title_px, legend_px, bottom_px = (16 if tiles else 24), 40, (20 if tiles else 30)
    plot_px = rows * chart.panel_height  # the paper area: plotly's paper coordinates exclude the margins
    height = plot_px + legend_px + bottom_px
    hgap = 0.012 if tiles else (0.06 if cols > 1 else 0.0)
    vgap_top = title_px / plot_px
    vgap_bottom = (18 if tiles else 26) / plot_px
    data: list[dict] = []
    layout: dict = {
        "height": height, "margin": {"l": 60 if not chart.panels[0].y_ticks else 230, "r": 20,
                                      "t": legend_px, "b": bottom_px},
        "legend": {"orientation": "h", "x": 0, "y": 1, "yanchor": "bottom", "font": {"size": 11}},
        "hovermode": "closest", "annotations": [], "shapes": [], "plot_bgcolor": "#fafafa",
        "font": {"family": "system-ui, sans-serif", "size": 11},
    }
    seen: set[str] = set()
    y_all = []
    x_range = _time_range(chart)
    for i, panel in enumerate(chart.panels):
        r, c = chart.position(i)
        k = i + 1
        x0, x1 = c / cols + hgap / 2, (c + 1) / cols - hgap / 2
        y1 = 1 - r / rows - vgap_top
        y0 = 1 - (r + 1) / rows + vgap_bottom
        xa = {"domain": [x0, x1], "anchor": "y" if k == 1 else f"y{k}", "gridcolor": "#e5e5e5", "zeroline": False}
        ya = {"domain": [max(y0, 0.0), y1], "anchor": "x" if k == 1 else f"x{k}", "gridcolor": "#e5e5e5",
              "zeroline": False}
        if panel.x_title:
            xa["title"] = {"text": panel.x_title}
        else:  # a time axis in years: whole-year ticks, never '1952 1952 1952'; one range for all panels
            xa["tickformat"] = "d"
            xa["dtick"] = _year_step(panel)
            if x_range:
                xa["range"] = x_range
        if panel.log_y:
            ya["type"] = "log"
        if panel.y_ticks:
            ya["tickvals"], ya["ticktext"] = list(panel.y_ticks[0]), list(panel.y_ticks[1])
            ya["tickfont"] = {"size": 10}
        if tiles:  # small: ticks every five years, level, so they never run into the tile below
            xa.update({"tickfont": {"size": 8}, "dtick": 5 if xa.get("dtick", 1) > 1 else 1, "tickangle": 0})
            ya.update({"tickfont": {"size": 8}, "nticks": 3})
        elif panel.unit:
            ya["title"] = {"text": panel.unit, "font": {"size": 10}}
        layout["xaxis" if k == 1 else f"xaxis{k}"] = xa
        layout["yaxis" if k == 1 else f"yaxis{k}"] = ya
        layout["annotations"].append({
            "text": f"<b>{_esc(panel.title)}</b>", "x": (x0 + x1) / 2, "y": y1, "xref": "paper", "yref": "paper",
            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 10 if tiles else 12}})
        for xl in panel.x_lines:
            layout["shapes"].append({"type": "line", "xref": "x" if k == 1 else f"x{k}",
                                     "yref": ("y" if k == 1 else f"y{k}") + " domain",
                                     "x0": xl, "x1": xl, "y0": 0, "y1": 1, "line": {"color": "#666", "dash": "dot"}})
        for s in panel.series:
            if not s.has_data:
                continue
            show = s.legend and s.label not in seen
            seen.add(s.label)
            data += _traces(s, k, i, show)
            if tiles:
                y_all.append(np.asarray(s.y, dtype=float))
    if tiles and y_all:
        y = np.concatenate(y_all)
        y = y[np.isfinite(y)]
        if y.size:
            lo, hi = float(y.min()), float(y.max())
            pad = 0.05 * (hi - lo or 1.0)
            for i in range(len(chart.panels)):
                layout["yaxis" if i == 0 else f"yaxis{i + 1}"]["range"] = [min(0.0, lo - pad), hi + pad]
    return {"data": data, "layout": layout}


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
