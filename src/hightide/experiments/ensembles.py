"""Ensembles: one scenario, many seeds (and optionally sampled parameters), merged into bands.

``DIR/ensemble.json`` says what the ensemble is (scenario, base seed, scale, parameter sampling,
code) and whether it is complete; ``DIR/members/mNNNNN/`` holds each member as a run directory;
``DIR/members.csv`` lists members with their seeds, status and sampled parameters;
``DIR/national_annual_bands.csv`` / ``.parquet`` (``year, column, q05, q50, q95``) and
``DIR/provincial_annual_bands.parquet`` (``province, year, column, q05, q50, q95``) are the 5%, 50%
and 95% quantiles across members of every numeric output column. Member ``i`` has the seed
:func:`~hightide.experiments.seeds.member_seed` (base seed, i), so the bands are the same on any
number of workers, and running the same command again resumes a killed ensemble.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hightide import __version__
from hightide.engine import memory
from hightide.engine.checkpoint import code_fingerprint
from hightide.errors import HightideError, OutputError, ScenarioError
from hightide.experiments.members import (
    DEFAULT_RETRIES,
    Member,
    MemberStore,
    run_members,
)
from hightide.experiments.sampling import ParameterSampler
from hightide.experiments.scenario_tools import prepare, read_params_file
from hightide.experiments.seeds import member_seed
from hightide.params import resolve
from hightide.results import store
from hightide.scenarios.schema import Scenario

ENSEMBLE_FILE = "ensemble.json"
MEMBERS_CSV = "members.csv"
NATIONAL_BANDS = "national_annual_bands"
PROVINCIAL_BANDS = "provincial_annual_bands"
QUANTILES = (0.05, 0.5, 0.95)
BAND_COLUMNS = ("q05", "q50", "q95")
FORMAT = 1


class DifferentEnsemble(OutputError):
    """The output directory holds an ensemble of another scenario, seed, scale, sampling or code."""


class EnsembleIncomplete(HightideError):
    """Some members failed; the others are stored and a second run of the command retries them."""


def default_out(name: str, scale: float, seed: int) -> Path:
    return Path("runs") / f"{name}-ensemble-scale{scale:g}-seed{seed}"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def _sample_identity(sample_params: str | None) -> dict | None:
    if sample_params is None:
        return None
    path = Path(sample_params)
    if path.suffix in (".csv", ".parquet") and path.is_file():
        return {"spec": str(sample_params), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}
    return {"spec": str(sample_params)}


def _identity(manifest: dict) -> str:
    keys = ("scenario_resolved", "base_seed", "scale", "sample_params", "code")
    return json.dumps({k: manifest.get(k) for k in keys}, sort_keys=True, default=str)


def quantile_bands(tables: list[pd.DataFrame], keys: tuple[str, ...]) -> pd.DataFrame:
    """Long table ``keys..., column, q05, q50, q95`` over members (rows aligned on ``keys``)."""
    first = tables[0].sort_values(list(keys)).reset_index(drop=True)
    numeric = [c for c in first.columns if c not in keys and pd.api.types.is_numeric_dtype(first[c])]
    stacked = []
    for t in tables:
        t = t.sort_values(list(keys)).reset_index(drop=True)
        if not t[list(keys)].equals(first[list(keys)]):
            raise OutputError("ensemble members cover different years or provinces; they cannot be merged")
        stacked.append(t[numeric].to_numpy(dtype=np.float64))
    q = np.quantile(np.stack(stacked), QUANTILES, axis=0)  # (3, rows, columns)
    n_rows, n_cols = len(first), len(numeric)
    out = {k: np.repeat(first[k].to_numpy(), n_cols) for k in keys}
    out["column"] = np.tile(np.array(numeric, dtype=object), n_rows)
    for i, name in enumerate(BAND_COLUMNS):
        out[name] = q[i].reshape(-1)
    return pd.DataFrame(out)


@dataclass
class Ensemble:
    """A finished ensemble: its manifest, members and bands."""

    out: Path
    manifest: dict
    members: pd.DataFrame
    national_bands: pd.DataFrame
    provincial_bands: pd.DataFrame

    @classmethod
    def load(cls, out: str | Path) -> Ensemble:
        out = Path(out)
        manifest = read_manifest(out)
        if manifest.get("status") != store.COMPLETE:
            raise OutputError(f"ensemble in {out} is {manifest.get('status')}, not complete: run the same "
                              "`hightide ensemble` command again to finish it")
        return cls(out=out, manifest=manifest, members=pd.read_csv(out / MEMBERS_CSV),
                   national_bands=pd.read_parquet(out / f"{NATIONAL_BANDS}.parquet"),
                   provincial_bands=pd.read_parquet(out / f"{PROVINCIAL_BANDS}.parquet"))

    def member_list(self) -> list[Member]:
        cols = [c for c in self.members.columns if c not in ("member", "seed", "status")]
        return [Member(int(r["member"]), int(r["seed"]), {c: float(r[c]) for c in cols if pd.notna(r[c])})
                for _, r in self.members.iterrows()]

    def member_tables(self, name: str = "national_annual") -> list[pd.DataFrame]:
        """Table ``name`` of every member, in member order."""
        ms = MemberStore(self.out)
        return [ms.table(m, name) for m in self.member_list()]

    def band(self, column: str) -> pd.DataFrame:
        """``year, q05, q50, q95`` of one national column."""
        b = self.national_bands
        return b.loc[b["column"] == column, ["year", *BAND_COLUMNS]].reset_index(drop=True)


def read_manifest(out: Path) -> dict:
    path = Path(out) / ENSEMBLE_FILE
    if not path.is_file():
        raise OutputError(f"{out} has no {ENSEMBLE_FILE}: not a hightide ensemble directory")
    try:
        return json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise OutputError(f"{path} is not valid JSON: {exc}") from None


def is_ensemble(path: str | Path) -> bool:
    return (Path(path) / ENSEMBLE_FILE).is_file()


def plan_members(scenario: Scenario, runs: int, base_seed: int, sample_params: str | None) -> list[Member]:
    """Members 0..runs-1: seeds from the base seed, parameters drawn when ``sample_params``."""
    sampler = ParameterSampler.from_spec(sample_params, fixed=scenario.parameters) if sample_params else None
    return [Member(i, member_seed(base_seed, i),
                   sampler.draw(base_seed, i, fixed=scenario.parameters) if sampler else {})
            for i in range(runs)]


def ensemble(scenario: str | Path | Scenario | None = None, *, runs: int = 32, scale: float | None = None,
             seed: int | None = None, out: str | Path | None = None, workers: int = 2, scheduler: str | None = None,
             sample_params: str | None = None, params: str | Path | dict | None = None, end: str | None = None,
             force: bool = False, retries: int = DEFAULT_RETRIES, resource_check: bool = True,
             on_member: Callable[[int, int, Member, str], None] | None = None, task=None) -> Ensemble:
    """Run ``runs`` members of ``scenario`` on Dask and merge them into quantile bands in ``out``.

    ``seed`` is the base seed the member seeds are spawned from (default: the scenario's).
    ``workers``: size of the local cluster (0: run in this process, no Dask); ``scheduler``: the
    address of an existing Dask scheduler instead. ``sample_params`` draws each member's parameters
    (see :mod:`hightide.experiments.sampling`); ``params`` is a parameter file or mapping applied to
    the scenario; ``end`` ends the runs early ('YYYY-MM'). If ``out`` already holds this ensemble,
    its complete members are kept and only the rest run (resume); ``force`` starts afresh.
    ``task`` replaces the function that runs one member (see :func:`~hightide.experiments.members.run_members`).
    """
    overrides = read_params_file(params) if isinstance(params, (str, Path)) else (params or None)
    sc = prepare(scenario, end=end, parameters=overrides)
    scale = sc.scenario.scale if scale is None else float(scale)
    base_seed = sc.scenario.seed if seed is None else seed
    if not 0 < scale <= 1:
        raise ScenarioError(f"scale must be in (0, 1], got {scale}", field="scale")
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or not 0 <= base_seed < 2**63:
        raise ScenarioError(f"seed must be a whole number from 0 to 2^63-1, got {base_seed!r}", field="seed")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ScenarioError(f"runs must be a whole number >= 1, got {runs!r}", field="runs")
    if workers < 0:
        raise ScenarioError(f"workers must be >= 0, got {workers}", field="workers")
    out_path = Path(out) if out is not None else default_out(sc.name, scale, base_seed)
    members = plan_members(sc, runs, base_seed, sample_params)
    if resource_check and not scheduler:
        check_memory(sc, scale, max(workers, 1))
    manifest = {
        "kind": "hightide-ensemble", "format": FORMAT, "status": store.RUNNING,
        "scenario": sc.name, "scenario_resolved": sc.model_dump(mode="json"),
        "base_seed": base_seed, "scale": scale, "runs": runs,
        "sample_params": _sample_identity(sample_params), "code": code_fingerprint(), "version": __version__,
        "workers": workers if not scheduler else None, "scheduler": scheduler,
    }
    previous = _prepare_dir(out_path, manifest, force)
    with store.RunLock(out_path):
        manifest["started"] = previous.get("started", _now()) if previous else _now()
        store.write_json(out_path / ENSEMBLE_FILE, manifest)
        report = None
        try:
            report = run_members(sc, members, scale=scale, root=out_path, workers=workers, scheduler=scheduler,
                                 retries=retries, on_member=on_member, **({"task": task} if task else {}))
        finally:
            _write_members_csv(out_path, members, report)
            manifest.update({"finished": _now(), "status": store.INTERRUPTED if report is None else
                             (store.RUNNING if report.complete else store.FAILED)})
            if report is not None:
                manifest["last_session"] = {"reused": len(report.reused), "ran": len(report.ran),
                                            "failed": {str(k): v for k, v in report.failed.items()},
                                            "wall_seconds": round(report.wall_seconds, 3)}
            store.write_json(out_path / ENSEMBLE_FILE, manifest)
        if not report.complete:
            first = next(iter(report.failed.items()))
            raise EnsembleIncomplete(
                f"{len(report.failed)} of {runs} members failed (member {first[0]}: {first[1]}); the other members "
                f"are stored in {out_path / 'members'}: run the same command again to retry the failed ones")
        write_bands(out_path, members)
        manifest.update({"status": store.COMPLETE, "finished": _now()})
        store.write_json(out_path / ENSEMBLE_FILE, manifest)
    return Ensemble.load(out_path)


def write_bands(out: Path, members: list[Member]) -> None:
    """Merge the members' annual tables into the band files."""
    ms = MemberStore(out)
    national = quantile_bands([ms.table(m, "national_annual") for m in members], ("year",))
    provincial = quantile_bands([ms.table(m, "provincial_annual") for m in members], ("province", "year"))
    store.atomic_write(out / f"{NATIONAL_BANDS}.parquet", lambda tmp: national.to_parquet(tmp, index=False))
    store.atomic_write(out / f"{NATIONAL_BANDS}.csv",
                       lambda tmp: national.to_csv(tmp, index=False, float_format="%.6g"))
    store.atomic_write(out / f"{PROVINCIAL_BANDS}.parquet", lambda tmp: provincial.to_parquet(tmp, index=False))


def _write_members_csv(out: Path, members: list[Member], report) -> None:
    ms = MemberStore(out)
    rows = []
    for m in members:
        status = "missing"
        try:
            status = ms.manifest(m).get("status", "missing")
        except OutputError:
            pass
        rows.append({"member": m.index, "seed": m.seed, "status": status, **m.parameters})
    df = pd.DataFrame(rows)
    store.atomic_write(out / MEMBERS_CSV, lambda tmp: df.to_csv(tmp, index=False))  # full precision: members are re-read from it


def _prepare_dir(out: Path, manifest: dict, force: bool) -> dict | None:
    """Make ``out``; return the previous manifest when it holds this ensemble (resume)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a directory; choose another --out")
    if out.exists() and any(out.iterdir()):
        if store.is_locked(out):
            raise OutputError(f"{out} is being written by another hightide process right now")
        if force:
            shutil.rmtree(out)
        elif not is_ensemble(out):
            raise OutputError(f"output directory {out} exists and is not a hightide ensemble; choose another "
                              "--out or pass --force to replace it")
        else:
            previous = read_manifest(out)
            if _identity(previous) != _identity(manifest):
                what = [k for k in ("scenario_resolved", "base_seed", "scale", "sample_params", "code")
                        if json.dumps(previous.get(k), sort_keys=True, default=str)
                        != json.dumps(manifest.get(k), sort_keys=True, default=str)]
                hint = (" (the model's code changed since its members were run)" if what == ["code"] else "")
                raise DifferentEnsemble(f"{out} holds a different ensemble (its {', '.join(what)} differ){hint}; choose "
                                  "another --out or pass --force to replace it")
            return previous
    out.mkdir(parents=True, exist_ok=True)
    return None


def check_memory(sc: Scenario, scale: float, workers: int) -> None:
    """Refuse a local cluster whose members would not fit in memory side by side."""
    params = resolve(sc.parameters)
    n_months = sc.end_month - sc.start_month + 1
    est = memory.estimate_resources(params, scale, sc.start_month, n_months, outputs=False, checkpoints=False,
                                    resuming=False)
    available = memory.available_memory_bytes()
    if available is not None and est.memory_bytes * workers > available:
        fit = max(int(available // max(est.memory_bytes, 1)), 0)
        raise memory.ResourceLimitError(
            f"{workers} members at scale {scale:g} need about {memory.format_bytes(est.memory_bytes * workers)} "
            f"side by side but {memory.format_bytes(available)} is available; use --workers {fit} or a smaller "
            "--scale" if fit else f"one member at scale {scale:g} needs about "
            f"{memory.format_bytes(est.memory_bytes)} but {memory.format_bytes(available)} is available")
