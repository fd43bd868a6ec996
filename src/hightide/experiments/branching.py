"""Branching: start a counterfactual from a dated checkpoint of another run instead of re-running
the shared past.

A run made with ``keep_checkpoints`` (``hightide run --keep-checkpoints 1958-07`` or ``yearly``)
keeps its state at the start of those months in ``RUN/checkpoints/YYYY-MM/``. :func:`branch` loads
that state and simulates the months from there on under another scenario. Random draws are keyed
by (seed, process, province, month), so when the two scenarios have the same start, parameters,
seed, scale and policy in every month before the branch date, the branched run is the full run of
the counterfactual, month for month (tested): only the shared past is skipped.

Why kept checkpoints rather than re-simulating the shared past when none exists: branching is
worth having only because it skips the past; a silent re-simulation would cost exactly as much as
running the counterfactual in full (which gives the same tables), so without a kept checkpoint the
branch is refused with the command that makes one.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hightide import __version__, api
from hightide.engine import checkpoint as ckpt
from hightide.errors import OutputError, ScenarioError
from hightide.experiments.scenario_tools import as_scenario
from hightide.params import resolve
from hightide.results import store
from hightide.scenarios.schema import Scenario, format_month, parse_month
from hightide.state.policy import PolicySchedule


class BranchError(OutputError):
    """The branch cannot start from that run at that date."""


def default_out(scenario_name: str, at: str, scale: float, seed: int) -> Path:
    return Path("runs") / f"{scenario_name}-from{at}-scale{scale:g}-seed{seed}"


def shared_past_differences(source: Scenario, target: Scenario, at_month: int) -> list[str]:
    """What differs between the two scenarios before ``at_month`` (empty: the branch is exact)."""
    problems = []
    if source.start_month != target.start_month:
        problems.append(f"start ({source.scenario.start} vs {target.scenario.start})")
    if resolve(source.parameters).as_dict() != resolve(target.parameters).as_dict():
        diff = sorted(k for k, v in resolve(target.parameters).as_dict().items()
                      if resolve(source.parameters).as_dict()[k] != v)
        problems.append(f"parameters ({', '.join(diff)})")
    a, b = PolicySchedule(source), PolicySchedule(target)
    for m in range(source.start_month, at_month):
        pa, pb = a.at(m), b.at(m)
        if pa != pb:
            fields = [k for k in type(pa).model_fields if getattr(pa, k) != getattr(pb, k)]
            problems.append(f"policy in {format_month(m)} ({', '.join(fields)})")
            break
    return problems


def _fit_recorder(recorder, n_months: int) -> None:
    """Size the recorder's monthly arrays for the branch's own window (its months so far are kept)."""
    for name in ("stocks", "flows", "national"):
        old = getattr(recorder, name)
        new = np.full((n_months,) + old.shape[1:], np.nan)
        k = min(n_months, old.shape[0])
        new[:k] = old[:k]
        setattr(recorder, name, new)


def branch(scenario: str | Path | Scenario, from_run: str | Path, at: str, *, out: str | Path | None = None,
           force: bool = False, check: bool = False, on_month: Callable[[int, int], None] | None = None,
           checkpoint_every: int | None = None, keep_checkpoints: str | list[str] | None = None,
           seed: int | None = None, scale: float | None = None) -> api.Results:
    """Run ``scenario`` from the state ``from_run`` kept at the start of month ``at`` ('YYYY-MM').

    Seed and scale are the source run's (giving others is an error). Refused when the scenarios'
    start, parameters or policy differ before ``at`` (the branch would not be the counterfactual's
    run) or when the source kept no checkpoint at ``at``. Writes a run directory like ``run``,
    whose manifest records ``branched_from``; it can be resumed like any run.
    """
    from_run = Path(from_run)
    source_manifest = store.read_manifest(from_run)
    try:
        source = Scenario.model_validate(source_manifest["scenario_resolved"])
        src_seed, src_scale = int(source_manifest["seed"]), float(source_manifest["scale"])
    except Exception as exc:  # noqa: BLE001 - an old or foreign manifest
        raise BranchError(f"cannot branch from {from_run}: its {store.MANIFEST} does not describe a run of this "
                          f"version of hightide ({type(exc).__name__}: {exc})") from None
    if seed is not None and seed != src_seed:
        raise BranchError(f"a branch runs with the seed of the run it starts from ({src_seed}), not {seed}")
    if scale is not None and float(scale) != src_scale:
        raise BranchError(f"a branch runs at the scale of the run it starts from ({src_scale:g}), not {scale:g}")
    sc = as_scenario(scenario)
    try:
        at_month = parse_month(at)
    except ValueError as exc:
        raise ScenarioError(f"--at: {exc}", field="at") from None
    label = format_month(at_month)
    if not sc.start_month < at_month <= sc.end_month:
        raise BranchError(f"--at {label} is not within the run {sc.scenario.start} .. {sc.scenario.end}")
    differences = shared_past_differences(source, sc, at_month)
    if differences:
        raise BranchError(f"{sc.name} and the run in {from_run} ({source.name}) differ before {label}: "
                          f"{'; '.join(differences)}; a branch from there would not be a run of {sc.name} "
                          "(branch at or before the first difference, or run it in full)")
    ckdir = ckpt.dated_directory(from_run, label)
    if not (ckdir / ckpt.STATE_FILE).is_file():
        have = ckpt.dated(from_run)
        raise BranchError(
            f"{from_run} kept no checkpoint at {label}" + (f" (it has {', '.join(have)})" if have else "") +
            f"; make one with `hightide run {source.name} --seed {src_seed} --scale {src_scale:g} "
            f"--keep-checkpoints {label} --out DIR`, or run {sc.name} in full (same tables, more time)")
    state = ckpt.load(from_run, ckpt.Identity(source_manifest["scenario_resolved"], src_seed, src_scale), ckdir=ckdir)
    n_months = sc.end_month - sc.start_month + 1
    _fit_recorder(state.recorder, n_months)
    every = api._check_every(checkpoint_every)
    keep = ckpt.parse_keep(keep_checkpoints, sc.start_month, sc.end_month)
    out_path = Path(out) if out is not None else default_out(sc.name, label, src_scale, src_seed)
    manifest = {
        "status": store.RUNNING,
        "scenario": sc.name,
        "scenario_resolved": sc.model_dump(mode="json"),
        "seed": src_seed,
        "scale": src_scale,
        "version": __version__,
        "python": platform.python_version(),
        "started": _dt.datetime.now(_dt.UTC).isoformat(),
        "checkpoint_every": every,
        **({"keep_checkpoints": keep} if keep else {}),
        "branched_from": {"run": str(from_run), "scenario": source.name, "at": label,
                          "months_skipped": int(state.months_done)},
    }
    store.prepare_output(out_path, force)
    with store.RunLock(out_path):
        store.write_json(out_path / store.MANIFEST, manifest)
        identity = ckpt.Identity(manifest["scenario_resolved"], src_seed, src_scale)
        # the branch's own first checkpoint: it can be resumed even if stopped in its first month
        ckpt.save(out_path, state, identity, start_month=sc.start_month, n_months=n_months)
        return api._execute(sc, src_scale, src_seed, out_path, manifest, check=check, on_month=on_month,
                            every=every, state=state)
