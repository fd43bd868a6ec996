"""Province-sharded runs on Dask give the single-process run's tables, bit for bit.

On Dask (actors on a local cluster of two worker processes; three shards put two on one worker)
the run covers 1958-59 (communes and mess halls, the Leap's procurement, furnaces and reports, the
famine's resales, extinctions and migration); driven in this process (no Dask) shards run 1955-56
(the high tide of co-operativisation, advanced co-operatives, check-ups and withdrawals) with
checkpoints. One township per province.
"""

from __future__ import annotations

import logging
import pickle
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

import hightide.api
from hightide.cli import app
from hightide.engine.sharding import Shard, simulate_sharded
from hightide.engine.simulation import simulate
from hightide.results import store
from hightide.results.tables import build_tables
from hightide.scenarios import load_scenario

SCALE = 0.0002
TABLES = ("national_annual", "national_monthly", "provincial_annual")


def _scenario(directory, name: str, start: str, end: str):
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""\
        [scenario]
        name = "{name}"
        base = "historical"
        description = "{start} to {end} on one township per province, for the sharding tests."
        start = "{start}"
        end = "{end}"

        [parameters]
        townships_min_per_province = 1.0
        """), encoding="utf-8")
    return load_scenario(path)


@pytest.fixture(scope="module")
def leap(tmp_path_factory):
    return _scenario(tmp_path_factory.mktemp("sharding"), "leap_tiny", "1958-01", "1959-12")


@pytest.fixture(scope="module")
def high_tide(tmp_path_factory):
    return _scenario(tmp_path_factory.mktemp("sharding"), "high_tide_tiny", "1955-01", "1956-12")


@pytest.fixture(scope="module")
def single(leap):
    return simulate(leap, scale=SCALE, seed=0)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    with Client(cluster, direct_to_workers=True) as c:
        yield c
    cluster.close()


def _tables(sim):
    return build_tables(sim.recorder, sim.world.provinces.name)


def _assert_same_run(a, b):
    ta, tb = _tables(a), _tables(b)
    for name in TABLES:
        assert ta[name].equals(tb[name]), name
    for name, arr in a.world.households.arrays.items():  # the final world too
        assert np.array_equal(arr, b.world.households.arrays[name], equal_nan=arr.dtype.kind == "f"), name
    assert a.world.granary_kg == b.world.granary_kg


@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_run_on_dask_equals_the_single_process_run(leap, single, client, shards):
    sharded = simulate_sharded(leap, shards=shards, scale=SCALE, seed=0, client=client)
    assert sharded.shards["shards"] == shards and sharded.shards["exchanges"] > 0
    assert sharded.months == single.months == 24
    _assert_same_run(single, sharded)
    assert sharded.households_simulated == single.households_simulated


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class _InProcess:
    """A Dask client's surface as ``simulate_sharded`` uses it, with the shards in this process."""

    def scheduler_info(self):
        return {"workers": {}}

    def submit(self, cls, *args, **kwargs):
        return _Done(_Proxy(cls(*args)))


class _Proxy:
    """An actor handle: a method call returns something with ``result()``."""

    def __init__(self, actor: Shard):
        self._actor = actor

    def __getattr__(self, name):
        method = getattr(self._actor, name)
        return lambda *args: _Done(method(*args))


def test_the_centre_drives_shards_in_one_process_to_the_same_run(high_tide):
    single = simulate(high_tide, scale=SCALE, seed=0)
    checkpoints = []

    def keep(state):
        checkpoints.append((state.months_done, pickle.dumps(state)))
        return True

    sharded = simulate_sharded(high_tide, shards=4, scale=SCALE, seed=0, client=_InProcess(), checkpoint=keep,
                               checkpoint_every=12)
    _assert_same_run(single, sharded)
    # a sharded run's checkpoint is a whole world: one process continues it to the same end
    assert [m for m, _ in checkpoints] == [12]
    resumed = simulate(high_tide, scale=SCALE, seed=0, state=pickle.loads(checkpoints[0][1]))
    _assert_same_run(single, resumed)
    # and shards (another number of them) continue it too
    resumed = simulate_sharded(high_tide, shards=3, scale=SCALE, seed=0, client=_InProcess(),
                               state=pickle.loads(checkpoints[0][1]))
    assert resumed.resumed_from == 12
    _assert_same_run(single, resumed)
    # seconds per process year by year, the years before the checkpoint kept; a sharded run's year is
    # that year's slowest shard's, so its years add up to at least the slowest shard's total
    years = sorted({m // 12 for m in range(high_tide.start_month, high_tide.end_month + 1)})
    for run in (single, sharded, resumed):
        assert sorted(run.process_seconds_by_year) == years
        for name, total in run.process_seconds.items():
            added = sum(t.get(name, 0.0) for t in run.process_seconds_by_year.values())
            assert added == pytest.approx(total) if run is single else added >= total * (1 - 1e-12)


def test_cli_run_with_shards_writes_the_single_process_tables(tiny_path, tiny_results, tiny_scale, client, tmp_path):
    out = tmp_path / "sharded"
    address = client.scheduler.address
    res = CliRunner().invoke(app, ["run", str(tiny_path), "--scale", str(tiny_scale), "--seed", "0", "--out", str(out),
                                   "--shards", "2", "--scheduler", address, "--quiet", "--no-report"])
    assert res.exit_code == 0, res.output
    manifest = store.read_manifest(out)
    assert manifest["status"] == store.COMPLETE and manifest["shards"]["shards"] == 2
    written = hightide.api.Results.load(out)
    for name in TABLES:
        assert written.tables[name].equals(tiny_results.tables[name]), name


def test_shards_refuse_what_they_cannot_do(tiny_path, tiny_scale):
    with pytest.raises(hightide.errors.ScenarioError, match="check"):
        hightide.api.run(tiny_path, scale=tiny_scale, shards=2, check=True)
    with pytest.raises(hightide.errors.ScenarioError, match="shards"):
        hightide.api.run(tiny_path, scale=tiny_scale, shards=0)
    res = CliRunner().invoke(app, ["run", str(tiny_path), "--scheduler", "tcp://127.0.0.1:1", "--quiet"])
    assert res.exit_code != 0 and "--shards" in res.output


def test_simulation_seconds_leave_out_checkpoint_writes_and_after_month(high_tide):
    """The manifest's ``simulation_seconds`` is the stepping alone (issue 6): a slow checkpoint
    writer and a slow ``after_month`` do not count, in one process or sharded."""
    import time

    pause = 0.4

    def slow_save(state):
        time.sleep(pause)
        return True

    def slow_after(state):
        if state.months_done in (6, 18):
            time.sleep(pause)

    for run in (lambda **kw: simulate(high_tide, scale=SCALE, seed=0, **kw),
                lambda **kw: simulate_sharded(high_tide, shards=2, scale=SCALE, seed=0, client=_InProcess(), **kw)):
        t0 = time.perf_counter()
        result = run(checkpoint=slow_save, checkpoint_every=12, after_month=slow_after)
        wall = time.perf_counter() - t0
        # one checkpoint (month 12 of 24) and two slow months: 3 pauses outside the stepping
        assert wall - result.simulation_seconds >= 3 * pause
