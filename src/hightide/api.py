"""The Python front door: ``hightide.run(...)`` runs a scenario and returns its results."""

from __future__ import annotations

import datetime as _dt
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from hightide import __version__
from hightide.engine.simulation import SimulationResult, simulate
from hightide.results import store
from hightide.results.tables import build_tables
from hightide.scenarios import load_scenario
from hightide.scenarios.schema import Scenario


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


def default_out(scenario: str, scale: float, seed: int) -> Path:
    name = Path(scenario).stem if str(scenario).endswith(".toml") else str(scenario)
    return Path("runs") / f"{name}-scale{scale:g}-seed{seed}"


def run(scenario: str | Path | Scenario = "historical", *, scale: float | None = None, seed: int | None = None,
        out: str | Path | None = None, force: bool = False, check: bool = False,
        on_month: Callable[[int, int], None] | None = None) -> Results:
    """Run a scenario (bundled name, path or Scenario); write outputs to ``out`` when given."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    scale = sc.scenario.scale if scale is None else scale
    seed = sc.scenario.seed if seed is None else seed
    if not 0 < scale <= 1:
        from hightide.errors import ScenarioError
        raise ScenarioError(f"scale must be in (0, 1], got {scale}", field="scale")
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    manifest = {
        "status": "running",
        "scenario": sc.name,
        "scenario_resolved": sc.model_dump(mode="json"),
        "seed": seed,
        "scale": scale,
        "version": __version__,
        "python": platform.python_version(),
        "started": started.isoformat(),
    }
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        store.prepare_output(out_path, force)
        store.write_json(out_path / store.MANIFEST, manifest)
    try:
        sim = simulate(sc, scale=scale, seed=seed, check=check, on_month=on_month)
        tables = build_tables(sim.recorder, sim.world.provinces.name)
        manifest.update({
            "parameters": sim.params.as_dict(),
            "households_simulated": sim.households_simulated,
            "months": sim.months,
            "build_seconds": round(sim.build_seconds, 3),
            "simulation_seconds": round(sim.simulation_seconds, 3),
            "process_seconds": {k: round(v, 3) for k, v in sim.process_seconds.items()},
        })
        if out_path is not None:
            for name, df in tables.items():
                store.write_table(out_path, name, df)
        manifest.update({"status": "complete", "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                         "wall_seconds": round(time.perf_counter() - t0, 3)})
        if out_path is not None:
            store.write_json(out_path / store.MANIFEST, manifest)
        return Results(manifest=manifest, tables=tables, out=out_path, simulation=sim)
    except BaseException as exc:
        if out_path is not None:
            manifest.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                             "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                             "wall_seconds": round(time.perf_counter() - t0, 3)})
            store.write_json(out_path / store.MANIFEST, manifest)
        raise
