"""Side-by-side comparison of scenarios, runs and ensembles: a table of outcomes and a figure.

Each subject is a run directory, an ensemble directory, or a scenario (run here, in memory). For
an ensemble the table gives the median and the 5-95% range across members; when two ensembles have
the same member seeds (same base seed, scale and size), the difference from the first subject is
taken member by member (common random numbers: the policy's effect, not seed noise) before its
quantiles are taken. The figure shows a few national series with 5-95% bands for ensembles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hightide.errors import HightideError
from hightide.experiments import ensembles
from hightide.experiments.outcomes import OUTCOMES, evaluate
from hightide.experiments.scenario_tools import prepare
from hightide.results import store

#: (column, label) drawn in the figure; "collectivised" is APCs plus communes
FIGURE_SERIES = (("grain_output_mt", "grain output, Mt"), ("death_rate_permille", "death rate, per 1000"),
                 ("population_m", "population, million"), ("collectivised_pct", "households in APCs or communes, %"))


#: columns also compared in the last year all subjects reach (column, label, unit)
FINAL_COLUMNS = (("population_m", "population", "million"), ("grain_output_mt", "grain output", "Mt"),
                 ("procurement_mt", "procurement", "Mt"), ("death_rate_permille", "death rate", "per 1000"))


@dataclass
class Subject:
    """One thing compared: its label, kind and the tables of its run(s)."""

    label: str
    kind: str  # "run", "ensemble" or "scenario"
    annual: list[pd.DataFrame]
    monthly: list[pd.DataFrame]
    seeds: list[int] = field(default_factory=list)
    scale: float | None = None
    source: str = ""

    def outcomes(self, final_year: int | None = None) -> pd.DataFrame:
        """One row per member, one column per outcome (and the FINAL_COLUMNS in ``final_year``)."""
        rows = []
        for a, m in zip(self.annual, self.monthly):
            row = evaluate(a, m)
            if final_year is not None:
                last = a.loc[a["year"] == final_year]
                row.update({f"{c}@{final_year}": float(last[c].iloc[0]) if len(last) else np.nan
                            for c, _, _ in FINAL_COLUMNS})
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass
class Comparison:
    subjects: list[Subject]
    table: pd.DataFrame  # long: subject, kind, members, outcome, q05, q50, q95, diff_q05, diff_q50, diff_q95, paired
    out: Path | None = None

    def wide(self) -> pd.DataFrame:
        """Outcome x subject, as text: 'median [5%, 95%]' (single runs: the value)."""
        rows = {}
        for _, r in self.table.iterrows():
            text = (f"{r['q50']:.2f}" if r["members"] == 1 or np.isnan(r["q05"])
                    else f"{r['q50']:.2f} [{r['q05']:.2f}, {r['q95']:.2f}]")
            rows.setdefault(r["outcome"], {})[r["subject"]] = text
        return pd.DataFrame(rows).T[[s.label for s in self.subjects]]


def load_subject(arg: str | Path, *, scale: float | None = None, seed: int | None = None, end: str | None = None,
                 params: dict | None = None) -> Subject:
    """A run directory, an ensemble directory, or a scenario to run now (at ``scale``, ``seed``)."""
    path = Path(arg)
    if path.is_dir() and ensembles.is_ensemble(path):
        ens = ensembles.Ensemble.load(path)
        return Subject(ens.manifest["scenario"], "ensemble", ens.member_tables("national_annual"),
                       ens.member_tables("national_monthly"), [int(s) for s in ens.members["seed"]],
                       float(ens.manifest["scale"]), str(path))
    if path.is_dir() and (path / store.MANIFEST).is_file():
        manifest, tables = store.read_complete_run(path)
        return Subject(manifest["scenario"], "run", [tables["national_annual"]], [tables["national_monthly"]],
                       [int(manifest["seed"])], float(manifest["scale"]), str(path))
    if path.is_dir():
        raise HightideError(f"{path} is neither a run directory (manifest.json) nor an ensemble (ensemble.json)")
    from hightide import api

    sc = prepare(str(arg), end=end, parameters=params)
    res = api.run(sc, scale=scale, seed=seed)
    return Subject(sc.name, "scenario", [res.national_annual], [res.national_monthly], [int(res.manifest["seed"])],
                   float(res.manifest["scale"]), str(arg))


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return (np.nan, np.nan, np.nan)
    if len(values) == 1:
        return (np.nan, float(values[0]), np.nan)
    q = np.quantile(values, ensembles.QUANTILES)
    return float(q[0]), float(q[1]), float(q[2])


def outcome_labels(final_year: int) -> dict[str, tuple[str, str]]:
    """(label, unit) of every outcome compared: the named ``OUTCOMES``, then ``FINAL_COLUMNS`` in
    the subjects' last year, except where a named outcome already is that column in that year
    (population 1966 at the end of the historical window)."""
    labels = {name: (o.label, o.unit) for name, o in OUTCOMES.items()}
    named = {label for label, _ in labels.values()}
    for column, label, unit in FINAL_COLUMNS:
        if f"{label} {final_year}" not in named:
            labels[f"{column}@{final_year}"] = (f"{label} {final_year}", unit)
    return labels


def paired(a: Subject, b: Subject) -> bool:
    """True when member i of ``a`` and ``b`` share seed and scale (common random numbers)."""
    return a.seeds == b.seeds and a.scale == b.scale and len(a.seeds) > 0


def compare(subjects: list[str | Path | Subject], *, scale: float | None = None, seed: int | None = None,
            end: str | None = None, params: dict | None = None, out: str | Path | None = None) -> Comparison:
    """Compare subjects (run dirs, ensemble dirs, scenarios); write ``compare.csv`` and
    ``compare.png`` into ``out`` when given."""
    if not subjects:
        raise HightideError("nothing to compare: give scenarios, run directories or ensemble directories")
    subs = [s if isinstance(s, Subject) else load_subject(s, scale=scale, seed=seed, end=end, params=params)
            for s in subjects]
    seen: dict[str, int] = {}
    for s in subs:  # distinct labels
        seen[s.label] = seen.get(s.label, 0) + 1
        if seen[s.label] > 1:
            s.label = f"{s.label} ({seen[s.label]})"
    base = subs[0]
    final_year = int(min(a["year"].max() for s in subs for a in s.annual))
    labels = outcome_labels(final_year)
    base_out = base.outcomes(final_year)
    rows = []
    for s in subs:
        o = s.outcomes(final_year)
        pair = s is not base and paired(base, s)
        for name in labels:
            if o[name].isna().all() and base_out[name].isna().all():
                continue  # the runs end before this outcome
            q05, q50, q95 = _quantiles(o[name].to_numpy(dtype=float))
            if s is base:
                d = (np.nan, np.nan, np.nan)
            elif pair:
                d = _quantiles(o[name].to_numpy(dtype=float) - base_out[name].to_numpy(dtype=float))
            else:  # unpaired: difference of medians only
                d = (np.nan, q50 - _quantiles(base_out[name].to_numpy(dtype=float))[1], np.nan)
            rows.append({"subject": s.label, "kind": s.kind, "members": len(s.annual), "outcome": name,
                         "label": labels[name][0], "unit": labels[name][1], "q05": q05, "q50": q50,
                         "q95": q95, "diff_q05": d[0], "diff_q50": d[1], "diff_q95": d[2], "paired": pair})
    comp = Comparison(subs, pd.DataFrame(rows), Path(out) if out is not None else None)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        store.atomic_write(out / "compare.csv", lambda tmp: comp.table.to_csv(tmp, index=False, float_format="%.6g"))
        figure(subs, out / "compare.png")
    return comp


def _series(s: Subject, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    frames = []
    for a in s.annual:
        v = (a["share_elementary_apc_pct"] + a["share_advanced_apc_pct"] + a["share_commune_pct"]
             if column == "collectivised_pct" else a[column])
        frames.append(pd.Series(v.to_numpy(dtype=float), index=a["year"].to_numpy()))
    df = pd.concat(frames, axis=1)
    years = df.index.to_numpy()
    if df.shape[1] == 1:
        v = df.iloc[:, 0].to_numpy()
        return years, v, v, v
    q = np.nanquantile(df.to_numpy(), ensembles.QUANTILES, axis=1)
    return years, q[0], q[1], q[2]


def figure(subjects: list[Subject], path: Path) -> Path:
    """Four national series, one line per subject (median), 5-95% bands for ensembles."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    for ax, (column, title) in zip(axes, FIGURE_SERIES):
        for i, s in enumerate(subjects):
            years, lo, mid, hi = _series(s, column)
            color = f"C{i % 10}"
            label = s.label + (f" (median of {len(s.annual)}, 5-95%)" if len(s.annual) > 1 else "")
            ax.plot(years, mid, color=color, label=label, lw=1.6)
            if len(s.annual) > 1:
                ax.fill_between(years, lo, hi, color=color, alpha=0.2, lw=0)
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    store.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path
