"""Ensembles (issue 5): identical bands on 1 and 2 Dask workers, resume after a kill, retries.

Members are a tiny nine-month scenario at scale 0.0002 (one township per province, <1 s each).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from hightide.errors import OutputError
from hightide.experiments import ensemble
from hightide.experiments.ensembles import (
    BAND_COLUMNS,
    Ensemble,
    EnsembleIncomplete,
    quantile_bands,
)
from hightide.experiments.members import Member, simulate_member
from hightide.experiments.seeds import member_seed
from hightide.results import store

RUNS = 3
SCALE = 0.0002


@pytest.fixture(scope="module")
def short_path(tmp_path_factory, tiny_writer):
    path = tiny_writer(tmp_path_factory.mktemp("short"), "short.toml")
    path.write_text(path.read_text().replace('end = "1953-12"', 'end = "1952-09"'))
    assert 'end = "1952-09"' in path.read_text()
    return path


def _same_ensemble(a: Ensemble, b: Ensemble) -> None:
    pd.testing.assert_frame_equal(a.national_bands, b.national_bands, check_exact=True)
    pd.testing.assert_frame_equal(a.provincial_bands, b.provincial_bands, check_exact=True)
    assert (a.out / "national_annual_bands.csv").read_bytes() == (b.out / "national_annual_bands.csv").read_bytes()
    for ta, tb in zip(a.member_tables("national_monthly"), b.member_tables("national_monthly")):
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)


@pytest.fixture(scope="module")
def one_worker(short_path, tmp_path_factory):
    return ensemble(short_path, runs=RUNS, scale=SCALE, seed=7, workers=1, out=tmp_path_factory.mktemp("e") / "w1")


def test_one_and_two_workers_give_identical_tables_even_when_a_worker_dies(one_worker, short_path, tmp_path):
    marker = tmp_path / "died-once"

    def dies_once(data, scale, seed):
        if seed == member_seed(7, 1) and not marker.exists():
            marker.write_text("x")
            os._exit(1)  # the worker process dies mid-member: the scheduler reruns the member elsewhere
        return simulate_member(data, scale, seed)

    two = ensemble(short_path, runs=RUNS, scale=SCALE, seed=7, workers=2, out=tmp_path / "w2", task=dies_once)
    assert marker.exists()
    _same_ensemble(one_worker, two)
    assert two.manifest["last_session"]["ran"] == RUNS


def test_band_files_and_layout(one_worker):
    out = one_worker.out
    nat = pd.read_csv(out / "national_annual_bands.csv")
    assert list(nat.columns) == ["year", "column", *BAND_COLUMNS]
    assert list(pd.read_parquet(out / "national_annual_bands.parquet").columns) == list(nat.columns)
    prov = pd.read_parquet(out / "provincial_annual_bands.parquet")
    assert list(prov.columns) == ["province", "year", "column", *BAND_COLUMNS]
    # one row per year and numeric column
    annual = one_worker.member_tables("national_annual")[0]
    assert annual["year"].tolist() == [1952]
    numeric = [c for c in annual.columns if c != "year"]
    assert len(nat) == annual["year"].nunique() * len(numeric)
    assert set(nat["column"]) == set(numeric)
    known = nat.dropna(subset=list(BAND_COLUMNS))
    assert len(known) > 0.8 * len(nat)  # NaN only where a column is undefined (no co-operatives yet)
    assert (known["q05"] <= known["q50"]).all() and (known["q50"] <= known["q95"]).all()
    # members are ordinary run directories with distinct spawned seeds
    seeds = one_worker.members["seed"].tolist()
    assert seeds == [member_seed(7, i) for i in range(RUNS)] and len(set(seeds)) == RUNS
    for i in range(RUNS):
        manifest = store.read_manifest(out / "members" / f"m{i:05d}")
        assert manifest["status"] == store.COMPLETE and manifest["seed"] == seeds[i]
    # the median of grain output is the median of the members' values
    grain = np.array([t.loc[t["year"] == 1952, "grain_output_mt"].iloc[0]
                      for t in one_worker.member_tables("national_annual")])
    band = one_worker.band("grain_output_mt").set_index("year")
    assert band.loc[1952, "q50"] == pytest.approx(np.median(grain), rel=1e-12)
    assert json.loads((out / "ensemble.json").read_text())["status"] == "complete"


def test_member_seed_depends_on_base_and_index_only():
    assert member_seed(0, 3) == member_seed(0, 3)
    assert member_seed(0, 3) != member_seed(1, 3) and member_seed(0, 3) != member_seed(0, 4)
    import numpy as np

    child = np.random.SeedSequence(5).spawn(4)[2]
    assert member_seed(5, 2) == int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))


def test_killed_ensemble_resumes_to_the_same_result(one_worker, short_path, tmp_path, hightide_exe):
    out = tmp_path / "killed"
    proc = subprocess.Popen([hightide_exe, "ensemble", str(short_path), "--runs", str(RUNS), "--scale", str(SCALE),
                             "--seed", "7", "--workers", "0", "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    first = out / "members" / "m00000" / store.MANIFEST
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = [p for p in (out / "members").glob("m*/manifest.json")
                    if json.loads(p.read_text()).get("status") == "complete"] if (out / "members").is_dir() else []
            if done:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its cluster: a kill mid-ensemble
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    kept = sorted(p.parent.name for p in (out / "members").glob("m*/manifest.json")
                  if json.loads(p.read_text()).get("status") == "complete")
    assert kept and len(kept) < RUNS, f"the kill should land mid-ensemble (complete: {kept}, first: {first})"
    assert json.loads((out / "ensemble.json").read_text())["status"] == "running"
    with pytest.raises(OutputError, match="not complete"):
        Ensemble.load(out)
    resumed = ensemble(short_path, runs=RUNS, scale=SCALE, seed=7, workers=0, out=out)
    session = resumed.manifest["last_session"]
    assert session["reused"] == len(kept) and session["ran"] == RUNS - len(kept)
    _same_ensemble(one_worker, resumed)


def test_failed_member_is_retried_then_reported_and_resumed(short_path, tmp_path):
    calls: dict[int, int] = {}

    def flaky(data, scale, seed):
        calls[seed] = calls.get(seed, 0) + 1
        if seed == member_seed(3, 0) and calls[seed] == 1:
            raise RuntimeError("transient failure")
        if seed == member_seed(3, 1):
            raise RuntimeError("always fails")
        return simulate_member(data, scale, seed)

    out = tmp_path / "flaky"
    with pytest.raises(EnsembleIncomplete, match="1 of 2 members failed"):
        ensemble(short_path, runs=2, scale=SCALE, seed=3, workers=0, out=out, retries=1, task=flaky)
    assert calls == {member_seed(3, 0): 2, member_seed(3, 1): 2}  # each retried once
    assert store.read_manifest(out / "members" / "m00001")["status"] == store.FAILED
    assert json.loads((out / "ensemble.json").read_text())["status"] == store.FAILED
    members = pd.read_csv(out / "members.csv")
    assert members["status"].tolist() == ["complete", "failed"]
    again = ensemble(short_path, runs=2, scale=SCALE, seed=3, workers=0, out=out)
    assert (again.manifest["last_session"]["reused"], again.manifest["last_session"]["ran"]) == (1, 1)


def test_a_different_ensemble_in_the_same_directory_is_refused(one_worker, short_path):
    with pytest.raises(OutputError, match="different ensemble"):
        ensemble(short_path, runs=RUNS, scale=SCALE, seed=8, workers=0, out=one_worker.out)


def test_quantile_bands_are_order_free():
    frames = [pd.DataFrame({"year": [1952, 1953], "x": [float(i), float(10 * i)]}) for i in range(5)]
    a = quantile_bands(frames, ("year",))
    b = quantile_bands(frames[::-1], ("year",))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.loc[a["year"] == 1953, "q50"].iloc[0] == 20.0


def test_member_names():
    assert Member(3, 1).name == "m00003"


def test_sampled_parameters_are_drawn_per_member_and_recorded(short_path, tmp_path):
    ens = ensemble(short_path, runs=2, scale=SCALE, seed=5, workers=0, out=tmp_path / "sampled",
                   sample_params="tfp_growth_per_year,weather_sd_national")
    members = ens.members
    assert list(members.columns) == ["member", "seed", "status", "tfp_growth_per_year", "weather_sd_national"]
    assert members["tfp_growth_per_year"].nunique() == 2
    for m in ens.member_list():
        manifest = store.read_manifest(ens.out / "members" / m.name)
        assert manifest["sampled_parameters"] == m.parameters
        for name, value in m.parameters.items():
            assert manifest["parameters"][name] == value  # the run used them
    assert ens.manifest["sample_params"] == {"spec": "tfp_growth_per_year,weather_sd_national"}


def test_compare_ensembles_runs_and_paired_differences(one_worker, short_path, tmp_path):
    from hightide import api
    from hightide.experiments.compare import compare

    twin = ensemble(short_path, runs=RUNS, scale=SCALE, seed=7, workers=0, out=tmp_path / "twin")
    run_dir = tmp_path / "run"
    api.run(short_path, scale=SCALE, seed=member_seed(7, 0), out=run_dir)
    comp = compare([one_worker.out, twin.out, run_dir], out=tmp_path / "cmp")
    t = comp.table
    assert [s.kind for s in comp.subjects] == ["ensemble", "ensemble", "run"]
    twin_rows = t[t["subject"] == comp.subjects[1].label]
    assert twin_rows["paired"].all()  # same seeds member by member: differences are paired, and here zero
    assert (twin_rows[["diff_q05", "diff_q50", "diff_q95"]] == 0.0).all().all()
    grain = t[(t["subject"] == comp.subjects[0].label) & (t["outcome"] == "grain_output_mt@1952")].iloc[0]
    assert grain["q05"] <= grain["q50"] <= grain["q95"] and grain["members"] == RUNS
    run_row = t[(t["subject"] == comp.subjects[2].label) & (t["outcome"] == "grain_output_mt@1952")].iloc[0]
    member0 = one_worker.member_tables("national_annual")[0]
    assert run_row["q50"] == member0["grain_output_mt"].iloc[0] and not run_row["paired"]
    assert (tmp_path / "cmp" / "compare.csv").is_file() and (tmp_path / "cmp" / "compare.png").stat().st_size > 10_000
