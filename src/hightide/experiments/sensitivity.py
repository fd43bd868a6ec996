"""Global sensitivity: Morris elementary effects (SALib) of chosen outcomes over the registry's
ranges of a set of parameters.

Morris (1991) screening costs r (k + 1) runs for k parameters and r trajectories, against
N (2k + 2) for Sobol indices with N in the hundreds: at a few seconds a run, it is the method that
fits a bounded budget. μ* (mean absolute elementary effect; Campolongo et al. 2007) ranks the
parameters' influence on each outcome; σ large next to μ* means interactions or non-linearity.
All points run with the same seed (common random numbers), so the effects are those of the
parameters, not of seed noise. The points are ordinary ensemble members (``DIR/members/``): the
design is resumable and runs on Dask like an ensemble.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hightide.errors import HightideError
from hightide.experiments.members import Member, MemberStore, run_members
from hightide.experiments.outcomes import OUTCOMES, evaluate
from hightide.experiments.scenario_tools import prepare
from hightide.params import load_registry
from hightide.results import store

#: Levers of the famine and the high tide whose values the sources pin down least (registry ranges)
DEFAULT_PARAMETERS = ("exaggeration_scale", "hunger_concealment", "mess_hall_overeating", "hunger_mortality_scale",
                      "persons_per_backyard_mt", "campaign_speed", "pressure_reach", "willingness_base")
DEFAULT_OUTCOMES = ("excess_deaths_1959_61_m", "apc_share_1956_12_pct", "grain_output_1960_mt")
NUM_LEVELS = 4


@dataclass
class Sensitivity:
    out: Path
    indices: pd.DataFrame  # outcome, parameter, mu_star, mu_star_conf, sigma, mu, rank
    design: pd.DataFrame  # one row per run: parameters and outcomes


def problem(names: list[str]) -> dict:
    registry = load_registry()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise HightideError(f"unknown parameter(s): {', '.join(unknown)} (see `hightide params`)")
    return {"num_vars": len(names), "names": list(names), "bounds": [list(registry[n].range) for n in names]}


def sensitivity(scenario="historical", *, parameters: list[str] | None = None, outcomes: list[str] | None = None,
                trajectories: int = 6, scale: float = 0.0002, seed: int = 0, out: str | Path = "runs/sensitivity",
                workers: int = 1, scheduler: str | None = None, force: bool = False,
                on_member: Callable | None = None) -> Sensitivity:
    """Morris indices of ``outcomes`` over the registry ranges of ``parameters``; writes
    ``sensitivity.csv``, ``design.csv`` and ``sensitivity.png`` into ``out``. Runs already in
    ``out/members`` are reused (resume); ``force`` discards them first."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    names = list(parameters or DEFAULT_PARAMETERS)
    outcome_names = list(outcomes or DEFAULT_OUTCOMES)
    unknown = [o for o in outcome_names if o not in OUTCOMES]
    if unknown:
        raise HightideError(f"unknown outcome(s) {', '.join(unknown)}; known: {', '.join(OUTCOMES)}")
    if trajectories < 2:
        raise HightideError("Morris needs at least 2 trajectories")
    prob = problem(names)
    end = f"{max(OUTCOMES[o].last_year for o in outcome_names)}-12"
    sc = prepare(scenario, end=end)
    X = sample.sample(prob, N=trajectories, num_levels=NUM_LEVELS, seed=seed)
    members = [Member(i, seed, {n: float(x) for n, x in zip(names, row)}) for i, row in enumerate(X)]
    out = Path(out)
    if force and (out / "members").exists():
        shutil.rmtree(out / "members")
    report = run_members(sc, members, scale=scale, root=out, workers=workers, scheduler=scheduler,
                         on_member=on_member)
    if report.failed:
        first = next(iter(report.failed.items()))
        raise HightideError(f"{len(report.failed)} of {len(members)} runs failed (run {first[0]}: {first[1]}); run "
                            "the same command again to retry them")
    ms = MemberStore(out)
    Y = pd.DataFrame([evaluate(ms.table(m, "national_annual"), ms.table(m, "national_monthly"), outcome_names)
                      for m in members])
    design = pd.concat([pd.DataFrame(X, columns=names), Y], axis=1)
    rows = []
    for o in outcome_names:
        y = Y[o].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            raise HightideError(f"outcome {o} is undefined in some runs (does the run reach {end}?)")
        res = analyze.analyze(prob, X, y, num_levels=NUM_LEVELS, seed=seed)
        order = np.argsort(-np.asarray(res["mu_star"]))
        rank = np.empty(len(names), dtype=int)
        rank[order] = np.arange(1, len(names) + 1)
        for j, n in enumerate(names):
            rows.append({"outcome": o, "label": OUTCOMES[o].label, "unit": OUTCOMES[o].unit, "parameter": n,
                         "mu_star": float(res["mu_star"][j]), "mu_star_conf": float(res["mu_star_conf"][j]),
                         "sigma": float(res["sigma"][j]), "mu": float(res["mu"][j]), "rank": int(rank[j])})
    indices = pd.DataFrame(rows)
    store.atomic_write(out / "sensitivity.csv", lambda tmp: indices.to_csv(tmp, index=False, float_format="%.6g"))
    store.atomic_write(out / "design.csv", lambda tmp: design.to_csv(tmp, index=False, float_format="%.8g"))
    figure(indices, out / "sensitivity.png", title=f"Morris μ* ({trajectories} trajectories, {len(members)} runs, "
                                                   f"{sc.name}, scale {scale:g})")
    return Sensitivity(out=out, indices=indices, design=design)


def figure(indices: pd.DataFrame, path: Path, title: str = "") -> Path:
    """One panel per outcome: μ* with its 95% interval (bars) and σ (dots), parameters by rank."""
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(indices["outcome"]))
    fig = Figure(figsize=(4.2 * len(outcomes), 0.45 * indices["parameter"].nunique() + 1.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(outcomes)))
    for ax, o in zip(axes, outcomes):
        d = indices[indices["outcome"] == o].sort_values("mu_star")
        y = np.arange(len(d))
        ax.barh(y, d["mu_star"], xerr=d["mu_star_conf"], color="C0", alpha=0.8, label="μ*")
        ax.plot(d["sigma"], y, "o", color="C3", ms=4, label="σ")
        ax.set_yticks(y, d["parameter"], fontsize=8)
        ax.set_title(f"{d['label'].iloc[0]} ({d['unit'].iloc[0]})", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    store.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path
