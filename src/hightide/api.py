"""The Python front door: ``hightide.run(...)`` runs a scenario and returns its results.

A run with an output directory saves a checkpoint every ``checkpoint_every`` months; a run that was
interrupted (Ctrl-C), killed or crashed continues with ``run(resume=DIR)`` / :func:`resume` and
finishes with the same tables an uninterrupted run writes.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from hightide import __version__
from hightide.engine import checkpoint as ckpt
from hightide.engine import memory
from hightide.engine.simulation import SimulationInterrupted, SimulationResult, StopOnInterrupt, simulate
from hightide.errors import OutputError, ScenarioError
from hightide.results import store
from hightide.results.tables import build_tables
from hightide.scenarios import load_scenario
from hightide.scenarios.schema import Scenario

DEFAULT_CHECKPOINT_EVERY = ckpt.DEFAULT_EVERY


class RunInterrupted(KeyboardInterrupt):
    """A run stopped on Ctrl-C; its manifest says ``interrupted`` and ``message`` says how to continue."""

    def __init__(self, message: str, out: Path | None = None, months_done: int | None = None,
                 checkpoint_months: int | None = None):
        self.message = message
        self.out = out
        self.months_done = months_done
        self.checkpoint_months = checkpoint_months
        super().__init__(message)


@dataclass
class Results:
    """Tables and manifest of a run."""

    manifest: dict
    tables: dict[str, pd.DataFrame]
    out: Path | None = None
    simulation: SimulationResult | None = field(default=None, repr=False)

    @property
    def national_annual(self) -> pd.DataFrame:
        return self.tables["national_annual"]

    @property
    def national_monthly(self) -> pd.DataFrame:
        return self.tables["national_monthly"]

    @property
    def provincial_annual(self) -> pd.DataFrame:
        return self.tables["provincial_annual"]

    @classmethod
    def load(cls, out: str | Path) -> "Results":
        manifest, tables = store.read_complete_run(Path(out))
        return cls(manifest=manifest, tables=tables, out=Path(out))

    # -- for notebooks (hightide.report.notebook) ----------------------------------------------
    def annual(self, column: str | None = None):
        """National annual table indexed by year (or one column as a Series)."""
        from hightide.report import notebook

        return notebook.annual(self, column)

    def monthly(self, column: str | None = None):
        """National monthly table on a DatetimeIndex (or one column as a Series)."""
        from hightide.report import notebook

        return notebook.monthly(self, column)

    def provinces(self, column: str) -> pd.DataFrame:
        """One provincial column, wide: year x province."""
        from hightide.report import notebook

        return notebook.provinces(self, column)

    def compare(self, column: str) -> pd.DataFrame:
        """Model and record by year with the relative error."""
        from hightide.report import notebook

        return notebook.compare(self, column)

    def validation(self) -> pd.DataFrame:
        """The validation checks within the run's period: model, record, tolerance, pass."""
        from hightide.report import notebook

        return notebook.validation(self)

    def to_xarray(self, table: str = "provincial_annual"):
        """An xarray Dataset of a table (provincial_annual, national_annual or national_monthly)."""
        from hightide.report import notebook

        return notebook.to_xarray(self, table)

    def plot(self, name: str = "targets"):
        """A matplotlib Figure: a named figure (`hightide plot --list`) or a national column vs the record."""
        from hightide.report import notebook

        return notebook.plot(self, name)

    def plotly(self, name: str = "targets"):
        """The same figure as an interactive plotly Figure."""
        from hightide.report import notebook

        return notebook.plotly(self, name)

    def report(self, path: str | Path | None = None) -> Path:
        """Write the self-contained HTML report; returns its path."""
        from hightide.report import notebook

        return notebook.report(self, path)


def default_out(scenario: str | None, scale: float, seed: int) -> Path:
    scenario = "historical" if scenario is None else scenario
    name = Path(scenario).stem if str(scenario).endswith(".toml") else str(scenario)
    return Path("runs") / f"{name}-scale{scale:g}-seed{seed}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def _check_every(checkpoint_every: int | None) -> int:
    if checkpoint_every is None:
        return DEFAULT_CHECKPOINT_EVERY
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ScenarioError(f"checkpoint_every must be a whole number of months >= 0 (0 = never), "
                            f"got {checkpoint_every!r}", field="checkpoint_every")
    return checkpoint_every


def run(scenario: str | Path | Scenario | None = None, *, scale: float | None = None, seed: int | None = None,
        out: str | Path | None = None, force: bool = False, check: bool = False,
        on_month: Callable[[int, int], None] | None = None, checkpoint_every: int | None = None,
        resume: str | Path | None = None, resource_check: bool = True, report: bool = True,
        keep_checkpoints: str | list[str] | None = None, shards: int | None = None,
        scheduler: str | None = None) -> Results:
    """Run a scenario (bundled name, path or Scenario; default ``historical``); write outputs to
    ``out`` when given, with a checkpoint every ``checkpoint_every`` months (default 12; 0 = never).
    ``keep_checkpoints`` ('1958-07,1960-01' or 'yearly') keeps the state at the start of those months
    in ``out/checkpoints/`` after the run completes, for branching (:func:`hightide.experiments.branch`).

    ``resume=DIR`` continues the run in DIR from its last checkpoint instead (see :func:`resume`).
    ``resource_check=False`` skips the memory and disk estimate. With ``out``, the run ends by
    writing ``out/report.html`` unless ``report=False`` (see :mod:`hightide.report`).
    ``shards=N`` (N >= 2) runs the provinces in N shards on Dask workers (a local cluster, or the
    one at ``scheduler``), the centre here exchanging the national aggregates every month
    (:mod:`hightide.engine.sharding`); the output is the same as on one process.
    """
    if resume is not None:
        given = [n for n, v in (("scenario", scenario), ("scale", scale), ("seed", seed), ("out", out)) if v is not None]
        if force:
            given.append("force")
        if keep_checkpoints:
            given.append("keep_checkpoints")
        if given:
            raise OutputError(f"resume continues the run in {resume} with the scenario, scale and seed its manifest "
                              f"records; do not also give {', '.join(given)}")
        return _resume(Path(resume), check=check, on_month=on_month, checkpoint_every=checkpoint_every,
                       resource_check=resource_check, report=report, shards=shards, scheduler=scheduler)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario("historical" if scenario is None else scenario)
    scale = sc.scenario.scale if scale is None else scale
    seed = sc.scenario.seed if seed is None else seed
    if not 0 < scale <= 1:
        raise ScenarioError(f"scale must be in (0, 1], got {scale}", field="scale")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ScenarioError(f"seed must be a whole number from 0 to 2^63-1, got {seed!r}", field="seed")
    every = _check_every(checkpoint_every)
    shards = _check_shards(shards, check)
    out_path = Path(out) if out is not None else None
    keep = ckpt.parse_keep(keep_checkpoints, sc.start_month, sc.end_month)
    if keep and out_path is None:
        raise OutputError("keep_checkpoints needs an output directory (out) to keep them in")
    estimate = _resources(sc, scale, out_path, every, resuming=False, enabled=resource_check)
    manifest = {
        "status": store.RUNNING,
        "scenario": sc.name,
        "scenario_resolved": sc.model_dump(mode="json"),
        "seed": seed,
        "scale": scale,
        "version": __version__,
        "python": platform.python_version(),
        "started": _now(),
        "checkpoint_every": every if out_path is not None else 0,
        **({"keep_checkpoints": keep} if keep else {}),
        "memory_estimate_bytes": estimate.memory_bytes if estimate else None,
        "disk_estimate_bytes": estimate.disk_bytes if estimate else None,
    }
    if out_path is None:
        return _execute(sc, scale, seed, None, manifest, check=check, on_month=on_month, every=0, state=None,
                        shards=shards, scheduler=scheduler)
    store.prepare_output(out_path, force)
    with store.RunLock(out_path):
        store.write_json(out_path / store.MANIFEST, manifest)
        return _execute(sc, scale, seed, out_path, manifest, check=check, on_month=on_month, every=every, state=None,
                        report=report, shards=shards, scheduler=scheduler)


def resume(out: str | Path, *, check: bool = False, on_month: Callable[[int, int], None] | None = None,
           checkpoint_every: int | None = None, resource_check: bool = True, report: bool = True,
           shards: int | None = None, scheduler: str | None = None) -> Results:
    """Continue the run in ``out`` from its last checkpoint, with the scenario, seed and scale its
    manifest records, and write the same outputs an uninterrupted run would (on ``shards`` province
    shards if given, whatever the run was started on)."""
    return _resume(Path(out), check=check, on_month=on_month, checkpoint_every=checkpoint_every,
                   resource_check=resource_check, report=report, shards=shards, scheduler=scheduler)


def _check_shards(shards: int | None, check: bool) -> int | None:
    """None for a single-process run, else the shard count (2 .. number of provinces)."""
    if shards is None or (not isinstance(shards, bool) and isinstance(shards, int) and shards == 1):
        return None
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ScenarioError(f"shards must be a whole number >= 1 (at most the number of provinces), got {shards!r}",
                            field="shards")
    if check:
        raise ScenarioError("check (invariants after every month) runs on one process: drop it or the shards",
                            field="shards")
    return shards


def _resume(out_path: Path, *, check: bool, on_month, checkpoint_every: int | None, resource_check: bool,
            report: bool = True, shards: int | None = None, scheduler: str | None = None) -> Results:
    shards = _check_shards(shards, check)
    if not out_path.is_dir():
        raise OutputError(f"cannot resume {out_path}: no such directory")
    with store.RunLock(out_path):
        manifest = store.read_manifest(out_path)
        status = manifest.get("status")
        # we hold the lock: temporaries here were left by a writer that was killed (a checkpoint
        # half-written can be as large as the run's state)
        store.remove_stale_temporaries(out_path)
        store.remove_stale_temporaries(ckpt.directory(out_path))
        if status == store.COMPLETE:
            ckpt.remove(out_path)  # left behind if the run was killed just after it completed
            raise OutputError(f"the run in {out_path} is already complete: nothing to resume "
                              f"(to run it again, start a new run with --force)")
        missing = [k for k in ("scenario_resolved", "seed", "scale") if k not in manifest]
        if missing:
            raise OutputError(f"cannot resume {out_path}: its {store.MANIFEST} lacks {', '.join(missing)}")
        try:
            sc = Scenario.model_validate(manifest["scenario_resolved"])
        except Exception as exc:
            raise OutputError(f"cannot resume {out_path}: the scenario recorded in its {store.MANIFEST} is not "
                              f"valid for this version of hightide ({type(exc).__name__}: {exc})") from None
        scale, seed = float(manifest["scale"]), int(manifest["seed"])
        if ckpt.info(out_path) is None:
            how = "was killed or crashed" if status == store.RUNNING else f"is {status}"
            raise ckpt.CheckpointError(
                f"cannot resume {out_path}: the run there {how} but has no checkpoint (it stopped before its "
                f"first one, or ran with --checkpoint-every 0); start it again with "
                f"`hightide run ... --out {out_path} --force`")
        every = _check_every(manifest.get("checkpoint_every", DEFAULT_CHECKPOINT_EVERY)
                             if checkpoint_every is None else checkpoint_every)
        estimate = _resources(sc, scale, out_path, every, resuming=True, enabled=resource_check)
        identity = ckpt.Identity(manifest["scenario_resolved"], seed, scale)
        state = ckpt.load(out_path, identity)
        for key in ("error", "message", "finished", "checkpoint_months_done", "checkpoint_error"):
            manifest.pop(key, None)
        manifest.update({
            "status": store.RUNNING,
            "checkpoint_every": every,
            "memory_estimate_bytes": estimate.memory_bytes if estimate else manifest.get("memory_estimate_bytes"),
            "disk_estimate_bytes": estimate.disk_bytes if estimate else manifest.get("disk_estimate_bytes"),
            "resumed": list(manifest.get("resumed", [])) + [
                {"at": _now(), "from_months_done": state.months_done, "previous_status": status}],
        })
        store.write_json(out_path / store.MANIFEST, manifest)
        return _execute(sc, scale, seed, out_path, manifest, check=check, on_month=on_month, every=every, state=state,
                        report=report, shards=shards, scheduler=scheduler)


def _resources(sc: Scenario, scale: float, out: Path | None, every: int, *, resuming: bool,
               enabled: bool) -> memory.ResourceEstimate | None:
    from hightide.params import resolve

    params = resolve(sc.parameters)
    n_months = sc.end_month - sc.start_month + 1
    if not enabled:
        return memory.estimate_resources(params, scale, sc.start_month, n_months, outputs=out is not None,
                                         checkpoints=every > 0, resuming=resuming)
    return memory.check_resources(params, scale, sc.start_month, n_months, label=f"scenario {sc.name!r}",
                                  out=out, checkpoints=every > 0, resuming=resuming)


def _execute(sc: Scenario, scale: float, seed: int, out_path: Path | None, manifest: dict, *, check: bool,
             on_month, every: int, state, report: bool = False, shards: int | None = None,
             scheduler: str | None = None) -> Results:
    """Simulate (from ``state`` when resuming), build and write the tables, keep the manifest true."""
    t0 = time.perf_counter()
    wall_before = float(manifest.get("wall_seconds", 0.0) or 0.0) if state is not None else 0.0
    n_months = sc.end_month - sc.start_month + 1
    identity = ckpt.Identity(manifest["scenario_resolved"], seed, scale)
    checkpoint_note: dict = {}

    def save_checkpoint(run_state) -> bool:
        try:
            info = ckpt.save(out_path, run_state, identity, start_month=sc.start_month, n_months=n_months)
        except Exception as exc:  # e.g. disk full: keep running, the previous checkpoint is intact
            checkpoint_note["checkpoint_error"] = f"{type(exc).__name__}: {exc}"
            print(f"warning: could not write a checkpoint after {run_state.months_done} months "
                  f"({type(exc).__name__}: {exc}); the run continues", file=sys.stderr)
            return False
        checkpoint_note.pop("checkpoint_error", None)
        checkpoint_note["checkpoint_months_done"] = info["months_done"]
        return True

    use_checkpoints = out_path is not None
    after_month = _dated_saver(out_path, identity, sc, manifest.get("keep_checkpoints")) if use_checkpoints else None
    sim = None
    completed = False  # the manifest says complete: nothing after that may change its status
    stop = StopOnInterrupt() if use_checkpoints else None
    try:
        with (stop or _nullcontext()):
            if shards:
                from hightide.engine.sharding import simulate_sharded

                sim = simulate_sharded(sc, shards=shards, scheduler=scheduler, scale=scale, seed=seed,
                                       on_month=on_month, state=state,
                                       checkpoint=save_checkpoint if use_checkpoints else None,
                                       checkpoint_every=every, stop=stop, after_month=after_month)
            else:
                sim = simulate(sc, scale=scale, seed=seed, check=check, on_month=on_month, state=state,
                               checkpoint=save_checkpoint if use_checkpoints else None,
                               checkpoint_every=every, stop=stop, after_month=after_month)
            tables = build_tables(sim.recorder, sim.world.provinces.name)
            manifest.update({
                "parameters": sim.params.as_dict(),
                "households_simulated": sim.households_simulated,
                "months": sim.months,
                "build_seconds": round(sim.build_seconds, 3),
                "simulation_seconds": round(sim.simulation_seconds, 3),
                "process_seconds": {k: round(v, 3) for k, v in sim.process_seconds.items()},
                "process_seconds_by_year": {str(y): {k: round(v, 3) for k, v in t.items()}
                                            for y, t in sorted(sim.process_seconds_by_year.items())},
                **({"shards": sim.shards} if sim.shards else {}),
            })
            if out_path is not None:
                for name, df in tables.items():
                    store.write_table(out_path, name, df)
            manifest.pop("checkpoint_error", None)
            manifest.update({"status": store.COMPLETE, "finished": _now(),
                             "wall_seconds": round(wall_before + time.perf_counter() - t0, 3)})
            if out_path is not None:
                store.write_json(out_path / store.MANIFEST, manifest)
                completed = True
                ckpt.remove(out_path)  # the run is complete: the checkpoint has done its job
                if report:
                    _write_report(out_path, manifest, tables)
        return Results(manifest=manifest, tables=tables, out=out_path, simulation=sim)
    except KeyboardInterrupt as exc:
        if out_path is None or completed:
            raise
        done = exc.months_done if isinstance(exc, SimulationInterrupted) else (sim.months if sim else None)
        saved = exc.checkpoint_months if isinstance(exc, SimulationInterrupted) else None
        if saved is None:
            current = ckpt.info(out_path)
            saved = current.get("months_done") if current else None
        if saved is not None:
            where = "the start" if saved == 0 else f"month {saved} of {n_months}"
            message = (f"stopped after {done} of {n_months} months; the checkpoint holds the run up to {where}: "
                       f"continue with `hightide run --resume {out_path}`")
        else:
            message = (f"stopped before any checkpoint was written; nothing to resume: start again with "
                       f"`hightide run ... --out {out_path} --force`")
        manifest.update(checkpoint_note)
        _finish(out_path, manifest, t0, wall_before, status=store.INTERRUPTED, message=message)
        raise RunInterrupted(message, out_path, done, saved) from None
    except BaseException as exc:
        if out_path is not None and not completed:
            manifest.update(checkpoint_note)
            current = ckpt.info(out_path)
            hint = None
            if current:
                hint = (f"the checkpoint holds {current.get('months_done')} of {n_months} months; if the cause is "
                        f"fixed, continue with `hightide run --resume {out_path}`")
            _finish(out_path, manifest, t0, wall_before, status=store.FAILED,
                    error=f"{type(exc).__name__}: {exc}", message=hint)
            if hint and isinstance(exc, Exception):
                exc.add_note(hint)
        raise


def _write_report(out_path: Path, manifest: dict, tables: dict[str, pd.DataFrame]) -> None:
    """Write ``report.html`` after the tables and the complete manifest, so a failing report costs
    the run nothing: it is a warning, and ``hightide report DIR`` rebuilds it."""
    try:
        from hightide.report import ReportData, write_report

        write_report(out_path, data=ReportData(directory=out_path, manifest=manifest, tables=tables))
    except Exception as exc:  # noqa: BLE001 - the tables are safe; say what went wrong and go on
        print(f"warning: could not write {out_path / 'report.html'} ({type(exc).__name__}: {exc}); the run's "
              f"tables are complete; rebuild the report with `hightide report {out_path}`", file=sys.stderr)


def _dated_saver(out_path: Path, identity, sc: Scenario, keep: list[str] | None):
    """``after_month`` hook keeping the state at the start of each month in ``keep``."""
    if not keep:
        return None
    from hightide.scenarios.schema import format_month

    wanted = set(keep)
    n_months = sc.end_month - sc.start_month + 1

    def after_month(state) -> None:
        label = format_month(sc.start_month + state.months_done)
        if label in wanted:
            ckpt.save(out_path, state, identity, start_month=sc.start_month, n_months=n_months,
                      ckdir=ckpt.dated_directory(out_path, label))

    return after_month


def _finish(out_path: Path, manifest: dict, t0: float, wall_before: float, *, status: str,
            error: str | None = None, message: str | None = None) -> None:
    """Record how the run ended; never hide the original exception behind a second one."""
    manifest.update({"status": status, "finished": _now(),
                     "wall_seconds": round(wall_before + time.perf_counter() - t0, 3)})
    for key, value in (("error", error), ("message", message)):
        if value:
            manifest[key] = value
        else:
            manifest.pop(key, None)
    try:
        store.write_json(out_path / store.MANIFEST, manifest)
    except BaseException as exc:  # noqa: BLE001 - e.g. disk full; the original error matters more
        print(f"warning: could not record status {status!r} in {out_path / store.MANIFEST}: {exc}", file=sys.stderr)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None
