"""The run report: one self-contained HTML file (plotly.js inlined, no network, no other files).

Sections: model and record, households by form, grain balance, procurement, births and deaths,
provinces (tile maps), the validation table, and the manifest (scenario, timeline, parameters that
differ from the registry, timings).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from functools import lru_cache
from pathlib import Path

from hightide import __version__
from hightide.report import charts
from hightide.report.data import ReportData
from hightide.report.plotly_render import to_plotly
from hightide.results import store

REPORT = "report.html"
#: figures of the report, in page order (the validation chart sits with the validation table)
PAGE_FIGURES = ("targets", "forms", "grain", "procurement", "demography", "provinces", "provinces_grain")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;background:#fff}
header{background:#1f3b57;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px} header p{margin:2px 0;opacity:.9}
nav{position:sticky;top:0;background:#f3f5f7;border-bottom:1px solid #ddd;padding:6px 28px;z-index:10;font-size:13px}
nav a{margin-right:14px;color:#1f3b57;text-decoration:none} nav a:hover{text-decoration:underline}
main{padding:10px 28px 40px;max-width:1400px}
section{margin:26px 0} h2{font-size:18px;border-bottom:2px solid #1f3b57;padding-bottom:4px}
p.caption{color:#555;font-size:13px;max-width:900px}
table{border-collapse:collapse;font-size:12px} th,td{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f3f5f7} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.pass td.ok{color:#1a7f37;font-weight:600} tr.fail td.ok{color:#c62828;font-weight:600} tr.fail{background:#fff4f4}
.summary{display:flex;gap:18px;flex-wrap:wrap;margin:10px 0}
.card{background:#f3f5f7;border-radius:6px;padding:8px 14px;font-size:13px} .card b{display:block;font-size:18px}
details{margin:8px 0} summary{cursor:pointer;color:#1f3b57} pre{background:#f7f7f7;padding:10px;overflow:auto;font-size:11px}
.note{color:#777;font-size:12px}
"""


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _json_for_script(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


# ---------------------------------------------------------------------------------------- sections
def _validation_section(data: ReportData) -> tuple[str, dict]:
    v = data.validation()
    figs = {}
    checks = data.famine_checks()
    if v is None:
        hint = ("run <code>hightide validate --ensemble DIR</code> to add the ensemble's validation and famine checks"
                if data.is_ensemble else "the directory holds no national monthly and annual tables")
        return (f"<section id='validation'><h2>Validation</h2><p class='note'>No validation here: {hint}.</p>"
                f"{_famine_checks_html(checks)}</section>"), figs
    ensemble = "members_pass" in v.columns
    n, n_pass = len(v), int(v["pass"].sum())
    by_window = v.groupby("window")["pass"].agg(["sum", "count"])
    cards = [f"<div class='card'><b>{n_pass} / {n}</b>checks pass</div>"]
    for window, row in by_window.iterrows():
        cards.append(f"<div class='card'><b>{int(row['sum'])} / {int(row['count'])}</b>{_e(window)}</div>")
    if checks is not None:
        cards.append(f"<div class='card'><b>{int(checks['pass'].sum())} / {len(checks)}</b>famine checks pass</div>")
    cols = (("target", "when", "model", "5-95%", "record", "error", "tolerance", "pass", "members", "window", "issue")
            if ensemble else ("target", "when", "model", "record", "error", "tolerance", "pass", "window", "issue", "note"))
    head = "".join(f"<th>{'median' if (ensemble and c == 'model') else c}</th>" for c in cols)
    body = []
    for _, r in v.iterrows():
        cells = []
        for c in cols:
            if c == "pass":
                cells.append(f"<td class='ok'>{'pass' if r['pass'] else 'FAIL'}</td>")
            elif c in ("model", "record"):
                cells.append(f"<td class='num'>{_fmt(float(r[c]))}</td>")
            elif c == "5-95%":
                cells.append(f"<td class='num'>{_fmt(float(r['model_q05']))} to {_fmt(float(r['model_q95']))}</td>")
            elif c == "members":
                cells.append(f"<td class='num'>{float(r['members_pass']):.0%}</td>")
            else:
                cells.append(f"<td>{_e(r[c])}</td>")
        body.append(f"<tr class='{'pass' if r['pass'] else 'fail'}'>{''.join(cells)}</tr>")
    chart = charts.validation_chart(data)
    fig_html = ""
    if chart is not None and chart.has_data:
        figs["fig-validation"] = to_plotly(chart)
        fig_html = "<div id='fig-validation' class='chart'></div>"
    how = ("; each target is judged on the median across the ensemble's members, beside their 5-95% band and the "
           "share of members that pass on their own (<code>hightide validate --ensemble</code>)" if ensemble else "")
    return (f"<section id='validation'><h2>Validation</h2><p class='caption'>Model against the record with the "
            f"tolerances of <code>results/validation.py</code>; the calibration window is 1952-1957, everything "
            f"after it is out of sample{how}.</p><div class='summary'>{''.join(cards)}</div>{fig_html}"
            f"{_famine_checks_html(checks)}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"), figs


def _famine_checks_html(checks) -> str:
    """The famine checks of ``hightide validate --ensemble`` (results/ensemble_validation.py)."""
    if checks is None or checks.empty:
        return ""
    rows = "".join(
        f"<tr class='{'pass' if r['pass'] else 'fail'}'><td>{_e(r['check'])}</td><td>{_e(r['requirement'])}</td>"
        f"<td>{_e(r['result'])}</td><td class='ok'>{'pass' if r['pass'] else 'FAIL'}</td></tr>"
        for _, r in checks.iterrows())
    return (f"<h3 id='famine-checks'>Famine checks: {int(checks['pass'].sum())} of {len(checks)} pass</h3>"
            "<p class='caption'>The checks of the State and grain-economy issue on the ensemble (median across "
            "members, 5-95% band in brackets; counterfactual ensembles compared member by member when they share "
            "the seeds), as <code>results/ensemble_validation.py</code> states them.</p>"
            f"<table><thead><tr><th>check</th><th>requirement</th><th>result</th><th>pass</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _changed_parameters(params: dict) -> list[tuple[str, float, float, str]]:
    from hightide.params import load_registry

    registry = load_registry()
    out = []
    for name, value in params.items():
        p = registry.get(name)
        if p is not None and isinstance(value, (int, float)) and float(value) != p.default:
            out.append((name, float(value), p.default, p.unit))
    return out


def _timeline_rows(scenario: dict) -> str:
    rows = []
    for ev in scenario.get("timeline", []) or []:
        changes = ", ".join(f"{k} = {v}" for k, v in ev.items() if k not in ("date", "note", "source") and v is not None)
        rows.append(f"<tr><td>{_e(ev.get('date', ''))}</td><td>{_e(changes)}</td><td>{_e(ev.get('note', ''))}</td>"
                    f"<td>{_e(ev.get('source', ''))}</td></tr>")
    if not rows:
        return ""
    return ("<details><summary>Policy timeline (" + str(len(rows)) + " events)</summary><table><thead><tr><th>date</th>"
            "<th>changes</th><th>note</th><th>source</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            "</details>")


def _fact(key: str, value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key.endswith("_bytes"):
        return f"{value / 1e6:,.0f} MB"
    if isinstance(value, int) and not isinstance(value, bool) and key == "households_simulated":
        return f"{value:,}"
    return _fmt(value)


def _time_by_year(m: dict) -> str:
    """The seconds each process took, year by year (the manifest's ``process_seconds_by_year``), as a
    collapsed table: processes by their total, dearest first; empty when the manifest has none."""
    by_year = m.get("process_seconds_by_year") or {}
    totals = m.get("process_seconds") or {}
    if not by_year or not totals:
        return ""
    names = sorted(totals, key=lambda k: -totals[k])
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = "".join(f"<tr><th>{_e(y)}</th><td class='num'>{sum(t.values()):.2f}</td>"
                   + "".join(f"<td class='num'>{t.get(n, 0.0):.2f}</td>" for n in names) + "</tr>"
                   for y, t in by_year.items())
    return (f"<details><summary>Time per process, year by year (s; the time-stepping)</summary><table><thead><tr>"
            f"<th>year</th><th>all</th>{head}</tr></thead><tbody>{rows}</tbody></table></details>")


def _manifest_section(data: ReportData) -> str:
    m = data.manifest
    if not m:
        return "<section id='manifest'><h2>Manifest</h2><p class='note'>No manifest.json here.</p></section>"
    keys = ("scenario", "status", "seed", "scale", "version", "python", "started", "finished", "wall_seconds",
            "build_seconds", "simulation_seconds", "households_simulated", "months", "checkpoint_every",
            "memory_estimate_bytes", "disk_estimate_bytes")
    facts = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fact(k, m[k]))}</td></tr>" for k in keys if k in m)
    extra = [k for k, v in m.items() if k not in keys and not isinstance(v, (dict, list))]
    facts += "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(m[k]))}</td></tr>" for k in extra)
    sc = m.get("scenario_resolved") or {}
    desc = (sc.get("scenario") or {}).get("description", "")
    parts = ["<section id='manifest'><h2>Manifest</h2>"]
    if desc:
        parts.append(f"<p class='caption'>{_e(desc)}</p>")
    parts.append(f"<table>{facts}</table>")
    params = m.get("parameters") or {}
    if params:
        changed = _changed_parameters(params)
        if changed:
            rows = "".join(f"<tr><td>{_e(n)}</td><td class='num'>{v:g}</td><td class='num'>{d:g}</td><td>{_e(u)}</td></tr>"
                           for n, v, d, u in changed)
            parts.append(f"<h3>Parameters that differ from the registry</h3><table><thead><tr><th>parameter</th>"
                         f"<th>value</th><th>default</th><th>unit</th></tr></thead><tbody>{rows}</tbody></table>")
        else:
            parts.append("<p class='note'>Every parameter at its registry default.</p>")
    if sc.get("policy"):
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in sc["policy"].items())
        parts.append(f"<details><summary>Policy at the start</summary><table>{rows}</table></details>")
    parts.append(_timeline_rows(sc))
    parts.append(_time_by_year(m))
    parts.append("<details><summary>Full manifest (JSON)</summary><pre>"
                 + _e(json.dumps(m, indent=2, default=str)) + "</pre></details></section>")
    return "".join(parts)


def _header(data: ReportData) -> str:
    m = data.manifest
    bits = []
    if m.get("households_simulated"):
        bits.append(f"{int(m['households_simulated']):,} households simulated")
    if m.get("months"):
        bits.append(f"{m['months']} months")
    if m.get("wall_seconds") is not None:
        bits.append(f"{m['wall_seconds']:.1f} s")
    if data.is_ensemble:
        bits.append("bands: 5-95% of the ensemble")
    where = f"<p>{_e(data.directory)}</p>" if data.directory else ""
    return (f"<header><h1>hightide report: {_e(data.title)}</h1><p>{_e(' · '.join(bits))}</p>{where}</header>")


# ---------------------------------------------------------------------------------------- page
def render(data: ReportData) -> str:
    """The whole report page as a string."""
    figures: dict[str, dict] = {}
    sections, nav = [], []
    for name in PAGE_FIGURES:
        chart = charts.build(name, data)
        if chart is None or not chart.has_data:
            continue
        div = f"fig-{name}"
        figures[div] = to_plotly(chart)
        nav.append(f"<a href='#{name}'>{_e(chart.title)}</a>")
        sections.append(f"<section id='{name}'><h2>{_e(chart.title)}</h2><p class='caption'>{_e(chart.caption)}</p>"
                        f"<div id='{div}' class='chart'></div></section>")
    val_html, val_figs = _validation_section(data)
    figures.update(val_figs)
    sections.append(val_html)
    nav += ["<a href='#validation'>Validation</a>", "<a href='#manifest'>Manifest</a>"]
    sections.append(_manifest_section(data))
    made = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    # one chart per task, so the page paints and scrolls while the rest are drawn; <body
    # data-rendered="N"> says when all N are done (the browser tests wait for it)
    script = (f"const FIGURES={_json_for_script(figures)};const CONFIG={_json_for_script(PLOTLY_CONFIG)};"
              "const todo=Object.entries(FIGURES);let done=0;"
              "function next(){if(!todo.length){document.body.dataset.rendered=String(done);return;}"
              "const [id,f]=todo.shift();Plotly.newPlot(id,f.data,f.layout,CONFIG).then(()=>{done++;"
              "setTimeout(next,0);});}next();")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>hightide report: {_e(data.title)}</title><style>{CSS}</style>"
            f"<script>{_plotly_js()}</script></head><body>{_header(data)}<nav>{''.join(nav)}</nav><main>"
            f"{''.join(sections)}<p class='note'>Made by hightide {__version__} on {made}. "
            f"Self-contained: this file needs no network.</p></main><script>{script}</script></body></html>")


def write_report(directory: str | Path, out: str | Path | None = None, data: ReportData | None = None) -> Path:
    """(Re)build the report of the run, ensemble or comparison in ``directory``; returns its path
    (``directory/report.html`` unless ``out`` says otherwise). Written atomically."""
    directory = Path(directory)
    data = data or ReportData.load(directory)
    page = render(data)
    path = Path(out) if out is not None else directory / REPORT
    store.atomic_write(path, lambda tmp: tmp.write_text(page, "utf-8"))
    return path
