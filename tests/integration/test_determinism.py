"""Same scenario and seed: identical results; another seed: different results."""

from __future__ import annotations

import pandas as pd
import pytest

import hightide.api
from hightide.scenarios import load_scenario


@pytest.fixture(scope="module")
def rerun(tiny_path, tiny_scale):
    # without check=True: the invariant check must only observe, never change, the run
    return hightide.api.run(tiny_path, scale=tiny_scale, seed=0)


@pytest.fixture(scope="module")
def other_seed(tiny_path, tiny_scale):
    return hightide.api.run(tiny_path, scale=tiny_scale, seed=1)


@pytest.mark.parametrize("table", ["national_annual", "national_monthly", "provincial_annual"])
def test_same_seed_same_tables(tiny_results, rerun, table):
    pd.testing.assert_frame_equal(tiny_results.tables[table], rerun.tables[table], check_exact=True)


@pytest.mark.parametrize("table", ["national_annual", "provincial_annual"])
def test_different_seed_different_tables(tiny_results, other_seed, table):
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(tiny_results.tables[table], other_seed.tables[table])
    a, b = tiny_results.tables[table], other_seed.tables[table]
    assert list(a.columns) == list(b.columns) and a.shape == b.shape
    assert (a["grain_output_mt"] != b["grain_output_mt"]).any()
    assert (a["deaths_m"] != b["deaths_m"]).any()


def test_a_scenario_object_and_its_file_give_the_same_run(tiny_path, tiny_scale, rerun):
    sc = load_scenario(tiny_path)
    res = hightide.api.run(sc, scale=tiny_scale, seed=0)
    pd.testing.assert_frame_equal(res.national_annual, rerun.national_annual, check_exact=True)


def _run_on_threads(path, scale, threads: int):
    import os

    old = os.environ.get("HIGHTIDE_THREADS")
    os.environ["HIGHTIDE_THREADS"] = str(threads)
    try:
        return hightide.api.run(path, scale=scale, seed=0)
    finally:
        if old is None:
            del os.environ["HIGHTIDE_THREADS"]
        else:
            os.environ["HIGHTIDE_THREADS"] = old


@pytest.fixture(scope="module")
def one_thread(tiny_path, tiny_scale):
    return _run_on_threads(tiny_path, tiny_scale, 1)


@pytest.fixture(scope="module")
def all_threads(tiny_path, tiny_scale):
    import numba

    return _run_on_threads(tiny_path, tiny_scale, numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("table", ["national_annual", "national_monthly", "provincial_annual"])
def test_one_thread_and_all_cores_give_the_same_tables(one_thread, all_threads, table):
    """Provinces run in parallel in the compiled passes: the thread count never moves a number."""
    pd.testing.assert_frame_equal(one_thread.tables[table], all_threads.tables[table], check_exact=True)
