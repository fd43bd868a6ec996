"""Static figures (PNG, SVG, PDF) for papers: a :class:`~hightide.report.charts.Chart` drawn with
matplotlib's Agg backend (no display needed). ``hightide plot`` and ``Results.plot`` use this."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hightide.report.charts import Chart, Panel, Series

FORMATS = ("png", "svg", "pdf")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _draw_series(ax, s: Series, stack: list[np.ndarray], handles: dict) -> None:
    if not s.has_data:
        return
    label = s.label if s.legend else None
    if s.kind == "line":  # with markers when there are too few points for a line to show (short runs)
        few = np.isfinite(s.y).sum() <= 3
        (h,) = ax.plot(s.x, s.y, color=s.color, lw=1.8, label=label, marker="o" if few else None, ms=4)
    elif s.kind == "dash":  # the record: markers too, as some series have only a few years
        (h,) = ax.plot(s.x, s.y, color=s.color, lw=1.2, ls="--", marker="o", ms=2.5, label=label)
    elif s.kind == "band":
        h = ax.fill_between(s.x, s.lo, s.hi, color=s.color, alpha=0.2, lw=0, label=label)
    elif s.kind == "area":
        base = stack[0] if stack else np.zeros_like(s.y)
        top = base + np.nan_to_num(s.y)
        h = ax.fill_between(s.x, base, top, color=s.color, alpha=0.9, lw=0.3, label=label)
        stack[:] = [top]
    elif s.kind == "points":
        if s.lo is not None and s.hi is not None:
            err = np.vstack([s.y - s.lo, s.hi - s.y])
            h = ax.errorbar(s.x, s.y, yerr=err, fmt="none", ecolor=s.color, elinewidth=3, alpha=0.7, label=label)
        else:
            h = ax.scatter(s.x, s.y, c=s.colors if s.colors else s.color, s=18, zorder=5, edgecolors="white",
                           linewidths=0.5, label=label)
    elif s.kind == "interval_h":
        h = ax.hlines(s.y, s.lo, s.hi, color=s.color, lw=4, alpha=0.6, label=label)
    else:  # pragma: no cover - the Kind literal lists every kind
        raise ValueError(f"unknown series kind {s.kind!r}")
    if label and label not in handles:
        handles[label] = h


def _draw_panel(ax, panel: Panel, handles: dict, small: bool) -> None:
    stack: list[np.ndarray] = []
    for s in panel.series:
        _draw_series(ax, s, stack, handles)
    ax.set_title(panel.title, fontsize=7 if small else 10)
    if panel.log_y:
        ax.set_yscale("log")
    if panel.y_ticks:
        ax.set_yticks(panel.y_ticks[0], panel.y_ticks[1], fontsize=6)
    elif panel.unit and not small:
        ax.set_ylabel(panel.unit, fontsize=8)
    if panel.x_title:
        ax.set_xlabel(panel.x_title, fontsize=8)
    for xl in panel.x_lines:
        ax.axvline(xl, color="#666666", ls=":", lw=1)
    ax.tick_params(labelsize=5 if small else 8)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    if not panel.y_ticks and not panel.x_title:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=3 if small else 8, integer=True))


def render(chart: Chart):
    """A matplotlib Figure of ``chart``."""
    plt = _pyplot()
    rows, cols = chart.grid
    tiles = chart.tiles is not None
    if tiles:
        size = (1.5 * cols, 1.25 * rows + 0.8)
    elif chart.panels[0].y_ticks:
        size = (8.5, max(4.0, 0.16 * len(chart.panels[0].y_ticks[0]) + 1.2))
    else:
        size = (4.2 * cols if cols > 1 else 9.0, 2.9 * rows + 0.9)
    fig = plt.figure(figsize=size)
    grid = fig.add_gridspec(rows, cols)
    axes = []  # only the cells that hold a panel: a tile map leaves half its grid empty
    handles: dict = {}
    for i, panel in enumerate(chart.panels):
        r, c = chart.position(i)
        ax = fig.add_subplot(grid[r, c])
        axes.append(ax)
        _draw_panel(ax, panel, handles, small=tiles)
    if tiles:  # one scale for every tile, so provinces compare at a glance
        ys = [np.asarray(s.y, dtype=float) for p in chart.panels for s in p.series]
        y = np.concatenate(ys) if ys else np.array([])
        y = y[np.isfinite(y)]
        if y.size:
            lo, hi = min(0.0, float(y.min())), float(y.max())
            for ax in axes:
                ax.set_ylim(lo, hi + 0.05 * (hi - lo or 1.0))
    fig.suptitle(chart.title, fontsize=12)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 5), fontsize=8,
                   frameon=False)
    legend_in = 0.3 * ((len(handles) + 4) // 5) + 0.15 if handles else 0.1
    if tiles:  # tight_layout over dozens of axes is slow and gains nothing on a regular grid
        fig.subplots_adjust(left=0.04, right=0.99, top=1 - 0.5 / size[1], bottom=legend_in / size[1] + 0.03,
                            wspace=0.35, hspace=0.55)
    else:
        fig.tight_layout(rect=(0, min(legend_in / size[1], 0.25), 1, 1 - 0.1 / size[1]))
    return fig


def save(chart: Chart, path: str | Path, fmt: str | None = None, dpi: int = 150) -> Path:
    """Render ``chart`` and write it to ``path`` (format from ``fmt`` or the file's suffix)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "png").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; formats: {', '.join(FORMATS)}")
    from hightide.results.store import atomic_write

    fig = render(chart)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))
    finally:
        _pyplot().close(fig)
    return path
