"""Shared fixtures: a tiny scenario (2 years, ~28 provinces x 1 township) run once per session.

The tiny run takes ~1.5 s with ``check=True`` (conservation and state invariants after every
month), so integration tests share it instead of re-running the model.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import hightide.api
from hightide.params import resolve

settings.register_profile(
    "hightide",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("hightide")

TINY_SCALE = 0.0002
TINY_SEED = 0

TINY_TOML = textwrap.dedent(
    """\
    [scenario]
    name = "tiny"
    base = "historical"
    description = "Two years of the historical timeline on one township per province, for tests."
    start = "1952-01"
    end = "1953-12"

    [parameters]
    townships_min_per_province = 1.0
    """
)


def write_tiny(directory: Path, name: str = "tiny.toml") -> Path:
    """Write the tiny scenario file into ``directory`` and return its path."""
    path = Path(directory) / name
    path.write_text(TINY_TOML, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="session")
def tiny_results(tiny_path):
    """The tiny scenario run once, with invariants checked after every month."""
    return hightide.api.run(tiny_path, scale=TINY_SCALE, seed=TINY_SEED, check=True)


@pytest.fixture(scope="session")
def params():
    """Registry defaults."""
    return resolve()


@pytest.fixture(scope="session")
def hightide_exe() -> str:
    """The installed ``hightide`` console script of the interpreter running the tests."""
    candidate = Path(sys.executable).parent / "hightide"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("hightide")
    if found is None:  # pragma: no cover - an install without the entry point is itself a failure
        pytest.fail("the `hightide` console script is not installed next to the test interpreter")
    return found


@pytest.fixture(scope="session")
def tiny_writer():
    """``write(directory, name='tiny.toml') -> Path``: the tiny scenario file, wherever a test wants it."""
    return write_tiny


@pytest.fixture
def scenario_file(tmp_path):
    """``make(text, name='scenario.toml') -> Path``: write scenario text into this test's tmp dir."""

    def make(text: str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


@pytest.fixture(scope="session")
def tiny_scale() -> float:
    return TINY_SCALE


def _record_member(grain_scale=None, death_scale=None, exaggeration=1.8, noise=0.0, seed=0):
    """An annual table (1952-1966) that is the record (gaps filled), optionally scaled by year: a
    synthetic ensemble member for the ensemble validation, whose check outcomes are known."""
    import numpy as np
    import pandas as pd

    from hightide.results.validation import load_history

    rec = load_history("national_series").set_index("year")
    rng = np.random.default_rng(seed)
    rows = []
    for y in range(1952, 1967):
        r = rec.loc[y]
        g = float(r["grain_output_mt"]) * (grain_scale or {}).get(y, 1.0) * (1 + noise * rng.standard_normal())
        d = float(r["death_rate_permille"]) * (death_scale or {}).get(y, 1.0)
        pop = float(r["population_total_m"])
        proc = r["grain_procurement_gross_mt"]
        rows.append({"year": y, "grain_output_mt": g, "grain_output_reported_mt": g * (exaggeration if y == 1958 else 1.0),
                     "procurement_mt": float(proc) if pd.notna(proc) else 45.0, "death_rate_permille": d,
                     "birth_rate_permille": float(r["birth_rate_permille"]), "population_m": pop,
                     "deaths_m": d * pop / 1000.0, "draft_animals_m": 80.0})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def record_member():
    """``_record_member``: build a synthetic ensemble member from the record."""
    return _record_member
