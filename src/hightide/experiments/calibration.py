"""Calibration: fit the registry's calibrated parameters to the calibration-window targets.

Only the 1952-1957 targets of :data:`hightide.results.validation.TARGETS` are fitted (MODEL.md §7);
the rest (1958-1966) are the out-of-sample test, reported for the defaults and the fit side by side.
The loss is the mean squared error in units of each target's tolerance (a relative error of 7% on
a target with tolerance ±7% counts 1), so targets weigh by how precisely the record is known.
Every trial runs the scenario to 1957-12 with the same seed(s): common random numbers across
trials, so the optimiser compares parameters, not seed noise.

The optimiser is optuna's TPE sampler (Bergstra et al. 2011), seeded; the registry's defaults are
the first trial, so the fit can only improve on them in-sample. Why not ABC-SMC (pyabc): a run of
the window costs seconds at the smallest useful scale, and ABC-SMC needs thousands of runs per
generation for a dozen parameters to give a usable posterior; TPE finds a good point in a hundred.
The study is kept in a journal file in the output directory, so a killed calibration resumes.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hightide.errors import HightideError
from hightide.experiments.scenario_tools import as_scenario, prepare, write_params_file
from hightide.experiments.seeds import member_seed
from hightide.params import load_registry
from hightide.results import store
from hightide.results.validation import CALIBRATION_WINDOW, RANGES, TARGETS, validate
from hightide.scenarios.schema import Scenario

#: calibrated in the registry but not fitted by default (``names`` can still ask for them):
#: ``planned_procurement_share`` is read by no rule before 1958 (the Leap's planned-share quotas),
#: so the 1952-57 window cannot identify it (its source derives it from the record directly);
#: ``weather_sd_national`` is a dispersion: a squared-error loss on one realised path always prefers
#: less noise (measured: the search drove it to ~0), whereas its source matches the scatter of output
#: around its trend, which is a statement about spread, not about points
NOT_IDENTIFIED_IN_WINDOW = ("planned_procurement_share", "weather_sd_national")
WINDOW_END = f"{CALIBRATION_WINDOW[1]}-12"
MISSING_PENALTY = 10.0  # normalised error of a target the run did not produce
PARAMS_FILE = "calibrated.toml"


def _target_index() -> dict[tuple[str, str], object]:
    index = {}
    for t in TARGETS:
        for y in t.years:
            index[(t.column, f"{y}-{t.month:02d}" if t.month else str(y))] = t
    return index


def normalised_errors(table: pd.DataFrame) -> pd.Series:
    """Error of each validation row in units of its tolerance (0 inside a range or above a minimum)."""
    index = _target_index()
    out = []
    for _, r in table.iterrows():
        t = index[(r["target"], r["when"])]
        mod, rec = float(r["model"]), float(r["record"])
        if not np.isfinite(mod):
            out.append(MISSING_PENALTY)
        elif t.kind == "rel":
            out.append((mod - rec) / rec / t.tolerance)
        elif t.kind == "abs":
            out.append((mod - rec) / t.tolerance)
        elif t.kind == "min":
            out.append(min(mod - t.tolerance, 0.0) / max(0.1 * abs(t.tolerance), 1e-9))
        else:
            lo, hi = RANGES[t.column]
            out.append((min(mod - lo, 0.0) + max(mod - hi, 0.0)) / ((hi - lo) / 2))
    return pd.Series(out, index=table.index, dtype=float)


def window_loss(table: pd.DataFrame) -> float:
    """Mean squared normalised error over the calibration-window rows."""
    cal = table[table["window"] == "calibration"]
    return float(np.mean(normalised_errors(cal) ** 2)) if len(cal) else float("nan")


def default_names() -> list[str]:
    return [n for n, p in load_registry().items() if p.calibrated and n not in NOT_IDENTIFIED_IN_WINDOW]


def _run_table(sc: Scenario, scale: float, seed: int) -> pd.DataFrame:
    from hightide import api

    res = api.run(sc, scale=scale, seed=seed, resource_check=False)
    return validate(res.national_annual, res.national_monthly)


@dataclass
class Calibration:
    out: Path
    best: dict[str, float]
    best_loss: float
    default_loss: float
    trials: pd.DataFrame
    fit: pd.DataFrame  # per target row: default and calibrated, in and out of sample
    summary: dict


def calibrate(scenario: str | Path | Scenario | None = "historical", *, trials: int = 80, scale: float = 0.0002,
              seed: int = 0, seeds: int = 1, names: list[str] | None = None, out: str | Path = "runs/calibration",
              validation_end: str = "1966-12", timeout: float | None = None, span: float = 1.0,
              on_trial: Callable[[int, int, float, float], None] | None = None) -> Calibration:
    """Fit ``names`` (default: the registry's calibrated parameters the window identifies) with
    ``trials`` optuna trials; write ``calibrated.toml``, ``trials.csv``, ``fit.csv`` and
    ``calibration.json`` into ``out``. ``seeds`` runs per trial (member seeds of ``seed``), averaged.
    Out of sample: the scenario run to ``validation_end`` with the defaults and with the fit.
    ``span`` < 1 searches each parameter within ``span`` x its registry range around its default
    (clipped to the range): a local refinement of a hand calibration instead of a global search.
    ``on_trial(done, total, loss, best)`` reports progress. Running again on the same ``out``
    continues the study up to ``trials``.
    """
    import optuna

    registry = load_registry()
    names = list(names) if names else default_names()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise HightideError(f"unknown parameter(s) to calibrate: {', '.join(unknown)} (see `hightide params`)")
    base = as_scenario(scenario)
    fixed = {k: v for k, v in base.parameters.items() if k not in names}
    window = prepare(base, end=WINDOW_END)
    run_seeds = [member_seed(seed, k) for k in range(seeds)] if seeds > 1 else [seed]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    defaults = {n: (base.parameters.get(n, registry[n].default)) for n in names}
    if not 0 < span <= 1:
        raise HightideError(f"span must be in (0, 1], got {span}")
    bounds = {}
    for n in names:
        lo, hi = registry[n].range
        half = span * (hi - lo) / 2
        bounds[n] = (lo, hi) if span >= 1 else (max(lo, defaults[n] - half), min(hi, defaults[n] + half))

    def loss_of(values: dict[str, float]) -> float:
        sc = prepare(window, parameters={**fixed, **values})
        return float(np.mean([window_loss(_run_table(sc, scale, s)) for s in run_seeds]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(out / "study.log")))
    study_name = json.dumps({"scenario": base.name, "names": names, "scale": scale, "seeds": run_seeds,
                             "bounds": bounds}, sort_keys=True)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="minimize", load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        study.enqueue_trial(defaults)
    t0 = time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        values = {n: trial.suggest_float(n, *bounds[n]) for n in names}
        return loss_of(values)

    def callback(study, trial) -> None:
        if on_trial:
            n = len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])
            on_trial(n, trials, float(trial.value) if trial.value is not None else float("nan"), study.best_value)

    remaining = max(trials - len(done), 0)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=[callback], catch=(HightideError,))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise HightideError("no calibration trial completed")
    best = {n: float(study.best_params[n]) for n in names}
    default_trial = next((t for t in complete if all(t.params.get(n) == defaults[n] for n in names)), None)
    default_loss = float(default_trial.value) if default_trial else loss_of(defaults)
    trials_df = pd.DataFrame([{"trial": t.number, "loss": t.value, **t.params} for t in complete])
    store.atomic_write(out / "trials.csv", lambda tmp: trials_df.to_csv(tmp, index=False, float_format="%.8g"))

    # in and out of sample: the scenario to validation_end with the defaults and with the fit
    full = prepare(base, end=validation_end)
    tables = {}
    for label, values in (("default", defaults), ("calibrated", best)):
        sc = prepare(full, parameters={**fixed, **values})
        runs = [_run_table(sc, scale, s) for s in run_seeds]
        t = runs[0].copy()
        t["model"] = np.mean([r["model"].to_numpy(dtype=float) for r in runs], axis=0)
        t["normalised_error"] = normalised_errors(t)
        tables[label] = t
    d, c = tables["default"], tables["calibrated"]
    fit = d[["target", "when", "window", "record", "tolerance"]].copy()
    fit["model_default"], fit["model_calibrated"] = d["model"], c["model"]
    fit["error_default"], fit["error_calibrated"] = d["error"], c["error"]
    fit["normalised_default"], fit["normalised_calibrated"] = d["normalised_error"], c["normalised_error"]
    fit["pass_default"], fit["pass_calibrated"] = d["pass"], c["pass"]
    in_year = fit["when"].str.slice(0, 4).astype(int)
    fit = fit[(in_year <= int(validation_end[:4]))].reset_index(drop=True)
    store.atomic_write(out / "fit.csv", lambda tmp: fit.to_csv(tmp, index=False, float_format="%.6g"))

    def score(window_name: str, column: str) -> dict:
        rows = fit[fit["window"] == window_name]
        return {"targets": len(rows), "rms_normalised_error": float(np.sqrt(np.mean(rows[f"normalised_{column}"] ** 2)))
                if len(rows) else None, "passing": int(rows[f"pass_{column}"].sum())}

    summary = {
        "scenario": base.name, "parameters": names, "trials": len(complete), "scale": scale, "seeds": run_seeds,
        "span": span, "bounds": bounds,
        "window": list(CALIBRATION_WINDOW), "validation_end": validation_end,
        "loss_default": default_loss, "loss_best": float(study.best_value), "best_trial": study.best_trial.number,
        "in_sample": {"default": score("calibration", "default"), "calibrated": score("calibration", "calibrated")},
        "out_of_sample": {"default": score("out-of-sample", "default"),
                          "calibrated": score("out-of-sample", "calibrated")},
        "best": best, "defaults": defaults, "seconds_this_session": round(time.perf_counter() - t0, 1),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(),
    }
    store.write_json(out / "calibration.json", summary)
    header = (f"hightide calibrate: {base.name}, {len(complete)} trials (optuna TPE), scale {scale:g}, seeds {run_seeds}, "
              f"span {span:g}\n"
              f"fitted on the {CALIBRATION_WINDOW[0]}-{CALIBRATION_WINDOW[1]} targets; loss (mean squared error in "
              f"tolerances) {study.best_value:.4g} vs {default_loss:.4g} with the defaults\n"
              f"use with: hightide run --params {out / PARAMS_FILE}")
    write_params_file(out / PARAMS_FILE, best, header)
    return Calibration(out=out, best=best, best_loss=float(study.best_value), default_loss=default_loss,
                       trials=trials_df, fit=fit, summary=summary)
