"""Run many members (scenario x seed x parameters) on Dask, store each as it finishes, resume.

A member is one ordinary run. Its worker returns the run's tables and manifest to this process,
which writes them under ``ROOT/members/mNNNNN/`` in the layout of a single run (tables first, the
manifest last as ``complete``, every file atomic): workers need no shared filesystem, so the same
code serves a local cluster and any Dask scheduler. A member whose directory holds a complete
manifest of the same scenario, seed and scale is never run again; anything else there (a member cut
off by a kill, or one that failed) is run afresh. A member whose task raises, or whose worker dies,
is retried (Dask ``retries``; the scheduler reschedules the tasks of a dead worker by itself).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hightide.errors import HightideError, OutputError
from hightide.experiments.scenario_tools import prepare
from hightide.results import store
from hightide.scenarios.schema import Scenario

MEMBERS_DIR = "members"
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class Member:
    """One run of an experiment: its index, run seed and parameter overrides (on the scenario's)."""

    index: int
    seed: int
    parameters: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"m{self.index:05d}"


def member_scenario(scenario: Scenario, member: Member) -> Scenario:
    return prepare(scenario, parameters=member.parameters) if member.parameters else scenario


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def simulate_member(scenario_data: dict, scale: float, seed: int) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Worker side: run one member in memory and return (manifest, tables)."""
    from hightide import api

    res = api.run(Scenario.model_validate(scenario_data), scale=scale, seed=seed, resource_check=False)
    return res.manifest, res.tables


class MemberStore:
    """The ``members/`` directory of an experiment: one run directory per member."""

    def __init__(self, root: Path):
        self.dir = Path(root) / MEMBERS_DIR

    def path(self, member: Member) -> Path:
        return self.dir / member.name

    def is_complete(self, member: Member, scenario_data: dict, scale: float) -> bool:
        """True when the member's directory holds a finished run of exactly this member."""
        path = self.path(member)
        try:
            manifest = store.read_manifest(path)
        except OutputError:
            return False
        if manifest.get("status") != store.COMPLETE:
            return False
        if not all((path / f"{t}.parquet").is_file() for t in store.TABLES):
            return False
        same = (manifest.get("seed") == member.seed and float(manifest.get("scale", -1)) == float(scale)
                and _canonical(manifest.get("scenario_resolved")) == _canonical(scenario_data))
        if not same:
            raise OutputError(f"{path} holds a different run (scenario, seed or scale) than member {member.index} of "
                              "this experiment: the directory belongs to another experiment; use another --out or "
                              "--force to replace it")
        return True

    def write(self, member: Member, manifest: dict, tables: dict[str, pd.DataFrame]) -> None:
        path = self.path(member)
        if path.exists():
            shutil.rmtree(path)  # what a killed writer left behind
        path.mkdir(parents=True)
        manifest = {**manifest, "member": member.index, "sampled_parameters": member.parameters}
        for name, df in tables.items():
            store.write_table(path, name, df)
        store.write_json(path / store.MANIFEST, manifest)

    def write_failed(self, member: Member, scenario_data: dict, scale: float, error: str) -> None:
        path = self.path(member)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        store.write_json(path / store.MANIFEST, {
            "status": store.FAILED, "error": error, "member": member.index, "seed": member.seed, "scale": scale,
            "scenario_resolved": scenario_data, "sampled_parameters": member.parameters})

    def table(self, member: Member, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.path(member) / f"{name}.parquet")

    def manifest(self, member: Member) -> dict:
        return store.read_manifest(self.path(member))


@dataclass
class RunReport:
    """What :func:`run_members` did."""

    total: int
    reused: list[int] = field(default_factory=list)
    ran: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.failed and len(self.reused) + len(self.ran) == self.total


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator:
    """A Dask client: on ``scheduler`` (an address) or on a local cluster of ``workers`` processes
    with one thread each (the model is pure NumPy in one thread: processes, not threads, scale)."""
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def run_members(scenario: Scenario, members: Iterable[Member], *, scale: float, root: Path, workers: int = 2,
                scheduler: str | None = None, retries: int = DEFAULT_RETRIES,
                on_member: Callable[[int, int, Member, str], None] | None = None,
                task: Callable[[dict, float, int], tuple[dict, dict]] = simulate_member) -> RunReport:
    """Run every member not already complete under ``root/members``; store each as it finishes.

    ``workers=0`` (and no scheduler) runs the members one after the other in this process.
    ``on_member(done, total, member, status)`` is called as members finish (status ``reused``,
    ``complete`` or ``failed``). ``task(scenario_data, scale, seed) -> (manifest, tables)`` runs one
    member (default :func:`simulate_member`). Returns what was reused, run and failed.
    """
    t0 = time.perf_counter()
    members = list(members)
    ms = MemberStore(root)
    ms.dir.mkdir(parents=True, exist_ok=True)
    report = RunReport(total=len(members))
    todo: list[tuple[Member, dict]] = []
    done = 0
    for m in members:
        data = member_scenario(scenario, m).model_dump(mode="json")
        if ms.is_complete(m, data, scale):
            report.reused.append(m.index)
            done += 1
            if on_member:
                on_member(done, len(members), m, "reused")
        else:
            todo.append((m, data))

    def finished(m: Member, data: dict, result=None, error: str | None = None) -> None:
        nonlocal done
        done += 1
        if error is None:
            manifest, tables = result
            ms.write(m, manifest, tables)
            report.ran.append(m.index)
            status = "complete"
        else:
            ms.write_failed(m, data, scale, error)
            report.failed[m.index] = error
            status = "failed"
        if on_member:
            on_member(done, len(members), m, status)

    if todo and workers == 0 and not scheduler:
        for m, data in todo:
            error = None
            for attempt in range(retries + 1):
                try:
                    result = task(data, scale, m.seed)
                    error = None
                    break
                except HightideError as exc:  # a bad scenario or parameters: retrying cannot help
                    result, error = None, f"{type(exc).__name__}: {exc}"
                    break
                except Exception as exc:  # noqa: BLE001 - recorded per member, the others go on
                    result, error = None, f"{type(exc).__name__}: {exc}"
            finished(m, data, result, error)
    elif todo:
        from distributed import as_completed

        with dask_client(workers, scheduler) as client:
            futures = {}
            for m, data in todo:
                fut = client.submit(task, data, scale, m.seed, pure=False, retries=retries,
                                    key=f"hightide-member-{m.index}-{time.time_ns()}")
                futures[fut] = (m, data)
            for fut in as_completed(futures):
                m, data = futures[fut]
                if fut.status == "finished":
                    finished(m, data, fut.result())
                else:
                    exc = fut.exception()
                    finished(m, data, error=f"{type(exc).__name__}: {exc}")
                fut.release()
    report.ran.sort()
    report.wall_seconds = time.perf_counter() - t0
    return report
