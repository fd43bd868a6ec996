"""The interactive dashboard (a Streamlit script; start it with ``hightide serve``).

Choose a bundled scenario, edit its policy timeline (dates and switches) and parameters within
their registry ranges, run it at a small scale with a progress bar, and compare it with the
historical run and the record. Runs happen in memory: the page reads and writes no files, and
offers no path, upload or download.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from hightide.errors import HightideError
from hightide.params import load_registry
from hightide.report import charts
from hightide.report.data import ReportData
from hightide.report.editing import (
    TIMELINE_COLUMNS,
    Edits,
    edited_scenario,
    key_parameters,
    lever_help,
    same_inputs,
    timeline_rows,
)
from hightide.report.plotly_render import to_plotly
from hightide.scenarios import bundled_scenarios, load_scenario
from hightide.scenarios.schema import POLICY_FIELDS

FIRST_YEAR, LAST_YEAR = 1952, 1966
SCALES = (0.00005, 0.002)  # small: a run of 1952-66 at 0.0002 takes some 15 s


def _param_input(name: str, value: float, scenario: str) -> float:
    p = load_registry()[name]
    lo, hi = (float(v) for v in p.range)
    step = (hi - lo) / 100 or 0.01
    digits = min(8, max(2, 1 - math.floor(math.log10(step))))  # enough to show one step
    return st.number_input(
        name, min_value=lo, max_value=hi, value=float(value), step=step, format=f"%.{digits}f",
        key=f"param-{scenario}-{name}",
        help=f"{p.description} Unit: {p.unit}. Allowed: {lo:g} to {hi:g} (default {p.default:g}). Source: {p.source}")


def _run(scenario, scale: float, seed: int, label: str):
    """Run in memory with a progress bar; returns the Results."""
    import hightide

    bar = st.progress(0.0, text=f"{label}: building the world")

    def on_month(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{label}: month {done} of {total}")

    res = hightide.run(scenario, scale=scale, seed=seed, on_month=on_month)
    bar.progress(1.0, text=f"{label}: {res.manifest['months']} months done in {res.manifest['wall_seconds']:.1f} s")
    return res


def _historical_scenario(end: str):
    sc = load_scenario("historical")
    return sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"end": end})})


def _historical(end: str, scale: float, seed: int):
    """The historical scenario over the same window, scale and seed (kept for this session)."""
    cache = st.session_state.setdefault("historical_runs", {})
    key = (end, scale, seed)
    if key not in cache:
        cache[key] = _run(_historical_scenario(end), scale, seed, "historical (for comparison)")
    return cache[key]


def main() -> None:
    st.set_page_config(page_title="hightide dashboard", layout="wide")
    st.title("hightide: collectivisation, 1952-1966")
    scenarios = bundled_scenarios()
    names = list(scenarios)
    registry = load_registry()
    with st.sidebar:
        st.header("Scenario")
        name = st.selectbox("Scenario", names, index=names.index("historical") if "historical" in names else 0,
                            key="scenario")
        st.caption(scenarios[name])
        base = load_scenario(name)
        keys = key_parameters() + [k for k in base.parameters if k not in key_parameters()]
        more = st.multiselect("More parameters to edit", [n for n in registry if n not in keys],
                              key=f"more-{name}", help="Any parameter of the registry, within its allowed range.")
        st.divider()
        st.caption("Runs stay in memory; this page reads and writes no files.")

    with st.form(f"edits-{name}"):
        c1, c2, c3 = st.columns(3)
        last_year = c1.number_input("Last year", min_value=FIRST_YEAR, max_value=LAST_YEAR,
                                    value=int(base.scenario.end[:4]), step=1, key=f"end-{name}",
                                    help="The run covers January 1952 to December of this year.")
        scale = c2.number_input("Scale (share of townships)", min_value=SCALES[0], max_value=SCALES[1],
                                value=0.0002, step=0.00005, format="%.5f", key="scale",
                                help="Small scales run in seconds; every province keeps a few townships.")
        seed = c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=int(base.scenario.seed), step=1,
                               key="seed")
        st.subheader("Policy timeline")
        st.caption("One row per change: the month (YYYY-MM), the policy lever, its new value (true/false for "
                   "switches), a note and its source. Add or delete rows at will; a change stays in force until "
                   "changed again.")
        table = st.data_editor(
            pd.DataFrame(timeline_rows(base), columns=list(TIMELINE_COLUMNS)),
            num_rows="dynamic", hide_index=True, key=f"timeline-{name}",
            column_config={
                "date": st.column_config.TextColumn("date", help="YYYY-MM", validate=r"^[0-9]{4}-[0-9]{2}$",
                                                    required=True),
                "lever": st.column_config.SelectboxColumn("lever", options=list(POLICY_FIELDS), required=True),
                "value": st.column_config.TextColumn("value", required=True),
                "note": st.column_config.TextColumn("note"),
                "source": st.column_config.TextColumn("source"),
            })
        with st.expander("What the levers mean"):
            st.markdown("\n".join(f"- **{f}**: {lever_help(f)}" for f in POLICY_FIELDS))
        st.subheader("Parameters")
        st.caption("The calibrated parameters (fitted on 1952-57), those the scenario sets, and any chosen in the "
                   "sidebar; each within its registry range.")
        values = {}
        cols = st.columns(3)
        for i, pname in enumerate(keys + list(more)):
            with cols[i % 3]:
                values[pname] = _param_input(pname, base.parameters.get(pname, registry[pname].default), name)
        submitted = st.form_submit_button("Run", type="primary")

    if submitted:
        overrides = {k: v for k, v in values.items() if v != registry[k].default or k in base.parameters}
        try:
            sc = edited_scenario(Edits(base=name, end=f"{int(last_year)}-12", parameters=overrides,
                                       timeline=table.to_dict("records")))
            res = _run(sc, float(scale), int(seed), name)
            same = same_inputs(sc, _historical_scenario(sc.scenario.end))
            if same:  # this is the historical run: keep it as the comparison for later runs
                st.session_state.setdefault("historical_runs", {})[(sc.scenario.end, float(scale), int(seed))] = res
            hist = res if same else _historical(sc.scenario.end, float(scale), int(seed))
        except HightideError as exc:
            st.error(str(exc))
            st.stop()
        st.session_state["last"] = {"label": name, "tables": res.tables, "manifest": res.manifest,
                                    "historical": None if same else hist.tables}

    last = st.session_state.get("last")
    if not last:
        st.info("Choose a scenario, edit it, and press Run. A run of one year at scale 0.0002 takes a few seconds.")
        return
    run = ReportData(directory=None, manifest=last["manifest"], tables=last["tables"])
    runs = {last["label"]: run}
    if last["historical"] is not None:
        runs["historical"] = ReportData(directory=None, manifest={}, tables=last["historical"])
    m = last["manifest"]
    st.subheader(f"{last['label']}: {m['households_simulated']:,} households, {m['months']} months, "
                 f"scale {m['scale']:g}, seed {m['seed']}")
    comparison = charts.comparison_chart(runs)
    if comparison is not None:
        st.plotly_chart(to_plotly(comparison), key="chart-comparison", config={"displaylogo": False})
    forms = charts.forms_chart(run)
    if forms is not None:
        st.plotly_chart(to_plotly(forms), key="chart-forms", config={"displaylogo": False})
    v = run.validation()
    if v is not None and len(v):
        st.subheader(f"Validation: {int(v['pass'].sum())} of {len(v)} checks in the run's window pass")
        st.dataframe(v, hide_index=True)


if __name__ == "__main__":  # Streamlit runs this file as __main__
    main()
