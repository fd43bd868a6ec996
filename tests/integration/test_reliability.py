"""Reliability (issue 7): checkpoints and resume, safe outputs, Ctrl-C, resource limits, --check.

All runs use a tiny three-year scenario (one township per province, scale 0.0002, ~1 s a run).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hightide import api
from hightide.cli import app
from hightide.engine import checkpoint as ckpt
from hightide.engine import memory
from hightide.errors import HightideError, OutputError
from hightide.results import store
from hightide.scenarios import bundled_scenarios

SCALE = 0.0002
N_MONTHS = 36

TINY = textwrap.dedent(
    """\
    [scenario]
    name = "tiny"
    base = "{base}"
    description = "t"
    start = "1952-01"
    end = "1954-12"

    [parameters]
    townships_min_per_province = 1.0
    """
)

runner = CliRunner()


def write_scenario(directory: Path, base: str = "historical", name: str = "tiny.toml") -> Path:
    path = Path(directory) / name
    path.write_text(TINY.format(base=base), encoding="utf-8")
    return path


def read_tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in store.TABLES}


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = read_tables(a), read_tables(b)
    for name in store.TABLES:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True)


def manifest_of(out: Path) -> dict:
    return json.loads((out / store.MANIFEST).read_text("utf-8"))


def no_temporaries(out: Path) -> bool:
    return not [p for p in Path(out).rglob(".*.tmp")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory) -> Path:
    """The tiny scenario run without interruption (and without checkpoints)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    api.run(tiny, scale=SCALE, out=out, checkpoint_every=0)
    return out


@pytest.fixture(scope="module")
def exe() -> str:
    candidate = Path(sys.executable).parent / "hightide"
    if not candidate.is_file():  # pragma: no cover
        pytest.skip("the hightide console script is not installed next to the interpreter")
    return str(candidate)


# (a) --------------------------------------------------------------------------------------------

def test_sigkill_then_resume_gives_the_uninterrupted_tables(tiny, reference, exe, tmp_path):
    for attempt in range(3):  # the run may (rarely) finish before it can be killed: try again
        out = tmp_path / f"killed{attempt}"
        proc = subprocess.Popen([exe, "run", str(tiny), "--scale", str(SCALE), "--out", str(out),
                                 "--checkpoint-every", "6", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        info = out / ckpt.CHECKPOINT_DIR / ckpt.INFO_FILE
        deadline = time.monotonic() + 120
        months = -1
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                months = json.loads(info.read_text("utf-8"))["months_done"]
            except (OSError, ValueError, KeyError):
                months = -1
            if months >= 12:
                break
            time.sleep(0.002)
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if not finished:
            break
    else:  # pragma: no cover
        pytest.fail("the run finished every time before it could be killed")
    assert months >= 12
    assert manifest_of(out)["status"] == "running"
    assert not (out / "national_monthly.parquet").exists()

    res = subprocess.run([exe, "run", "--resume", str(out), "--quiet"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert_same_tables(reference, out)
    m = manifest_of(out)
    assert m["status"] == "complete"
    assert m["months"] == N_MONTHS
    assert_times_by_year(m, ["1952", "1953", "1954"])  # the years before the kill come with the checkpoint
    assert m["resumed"][0]["from_months_done"] >= 12
    assert m["resumed"][0]["previous_status"] == "running"
    assert not (out / ckpt.CHECKPOINT_DIR).exists()  # removed once the run is complete
    assert no_temporaries(out)
    # the same keys as an uninterrupted run's manifest, plus the record of the resume
    assert set(manifest_of(reference)) | {"resumed"} == set(m)


KILL_AT = textwrap.dedent(
    """\
    # SIGKILL this process just before or after the n-th os.replace onto a given file name
    import os, signal, sys
    when, target, nth = sys.argv[1].split(":")
    real, seen = os.replace, {}
    def replace(src, dst, *a, **k):
        name = os.path.basename(str(dst))
        seen[name] = seen.get(name, 0) + 1
        hit = name == target and seen[name] == int(nth)
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst, *a, **k)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
    from hightide.cli import app
    sys.argv = ["hightide"] + sys.argv[2:]
    app()
    """
)


@pytest.mark.parametrize("point, status", [
    ("before:state.pkl:2", "running"),  # the second checkpoint half-written (its temporary is left)
    ("after:state.pkl:2", "running"),  # the new state is in place, its JSON still names the old month
    ("after:national_monthly.parquet:1", "running"),  # some tables written, not all
    ("after:manifest.json:2", "complete"),  # complete, the checkpoint not yet removed
])
def test_sigkill_at_the_awkward_moments(point, status, tiny, reference, tmp_path):
    script = tmp_path / "kill_at.py"
    script.write_text(KILL_AT)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(script), point, "run", str(tiny), "--scale", str(SCALE),
                           "--out", str(out), "--checkpoint-every", "6", "--quiet"], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert manifest_of(out)["status"] == status
    if status == "complete":
        with pytest.raises(OutputError, match="already complete"):
            api.resume(out)
        assert not (out / ckpt.CHECKPOINT_DIR).exists()  # the leftover checkpoint is cleared
    else:
        api.resume(out)
    assert_same_tables(reference, out)
    assert no_temporaries(out)
    api.Results.load(out)


def test_checkpoint_layout(tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=5, on_month=_interrupt_at(13))
    files = sorted(p.name for p in (out / ckpt.CHECKPOINT_DIR).iterdir())
    assert files == [ckpt.INFO_FILE, ckpt.STATE_FILE]  # only the latest checkpoint is kept
    info = json.loads((out / ckpt.CHECKPOINT_DIR / ckpt.INFO_FILE).read_text())
    assert info["months_done"] == 13
    assert info["last_month"] == "1953-01" and info["next_month"] == "1953-02"
    assert info["bytes"] == (out / ckpt.CHECKPOINT_DIR / ckpt.STATE_FILE).stat().st_size


# (b) --------------------------------------------------------------------------------------------

def test_resume_refuses_a_complete_run(reference):
    with pytest.raises(OutputError, match="already complete: nothing to resume"):
        api.resume(reference)
    result = runner.invoke(app, ["run", "--resume", str(reference)])
    assert result.exit_code == 2
    assert "already complete" in result.output


def test_resume_refuses_a_run_without_checkpoint(tiny, tmp_path):
    out = tmp_path / "run"

    def crash(done, total):
        if done == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=12, on_month=crash)
    m = manifest_of(out)
    assert m["status"] == "failed" and m["error"] == "RuntimeError: boom"
    with pytest.raises(ckpt.CheckpointError, match="has no checkpoint"):
        api.resume(out)
    result = runner.invoke(app, ["run", "--resume", str(out)])
    assert result.exit_code == 2
    assert "has no checkpoint" in result.output and "--force" in result.output


def test_resume_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(OutputError, match="no such directory"):
        api.resume(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OutputError, match="not a hightide run directory"):
        api.resume(tmp_path / "empty")


def test_resume_takes_settings_from_the_manifest_only(tiny, tmp_path):
    result = runner.invoke(app, ["run", str(tiny), "--resume", str(tmp_path), "--scale", "0.1"])
    assert result.exit_code == 2
    assert "do not also give SCENARIO, --scale" in result.output
    with pytest.raises(OutputError, match="do not also give scale"):
        api.run(scale=0.1, resume=tmp_path)


def test_resume_refuses_a_run_that_is_still_being_written(tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=0, on_month=_interrupt_at(2))
    with store.RunLock(out):  # as if another process were writing it
        with pytest.raises(OutputError, match="being written by another hightide process"):
            api.resume(out)
        with pytest.raises(OutputError, match="being written by another hightide process"):
            api.run(tiny, scale=SCALE, out=out, force=True)


def test_resume_refuses_a_checkpoint_of_another_run(tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=0, on_month=_interrupt_at(2))
    m = manifest_of(out)
    m["seed"] = 1
    store.write_json(out / store.MANIFEST, m)
    with pytest.raises(ckpt.CheckpointError, match="different scenario, seed or scale"):
        api.resume(out)


def test_resume_refuses_a_corrupt_checkpoint(tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=0, on_month=_interrupt_at(2))
    state = out / ckpt.CHECKPOINT_DIR / ckpt.STATE_FILE
    state.write_bytes(state.read_bytes()[:1000])
    with pytest.raises(ckpt.CheckpointError, match="cannot be read"):
        api.resume(out)


# (c) --------------------------------------------------------------------------------------------

def test_a_writer_failing_midway_leaves_no_file_and_a_failed_manifest(tiny, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = pd.DataFrame.to_parquet

    def half_then_fail(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half a table")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=12)
    for name in store.TABLES:
        assert not (out / f"{name}.parquet").exists()
    assert no_temporaries(out)
    m = manifest_of(out)
    assert m["status"] == "failed"
    assert "No space left on device" in m["error"]
    assert "hightide run --resume" in m["message"]  # checkpoints at 12 and 24 months survive
    # once the cause is fixed the failed run continues from its checkpoint
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)
    api.resume(out)
    assert_same_tables(reference, out)


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("new but unfinished")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        store.atomic_write(path, fail)
    assert path.read_text() == "old"
    assert no_temporaries(tmp_path)


def test_an_existing_directory_is_never_silently_overwritten(reference, tiny):
    before = manifest_of(reference)["started"]
    result = runner.invoke(app, ["run", str(tiny), "--scale", str(SCALE), "--out", str(reference), "--quiet"])
    assert result.exit_code == 2
    assert "already exists and is not empty" in result.output and "--force" in result.output
    assert manifest_of(reference)["started"] == before


def test_a_failed_checkpoint_write_does_not_stop_the_run(tiny, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "save", no_space)
    res = api.run(tiny, scale=SCALE, out=out, checkpoint_every=6)
    assert res.manifest["status"] == "complete"
    assert_same_tables(reference, out)


# (d) --------------------------------------------------------------------------------------------

def _interrupt_at(month: int):
    def on_month(done: int, total: int) -> None:
        if done == month:
            raise KeyboardInterrupt

    return on_month


def test_keyboard_interrupt_checkpoints_and_resume_completes(tiny, reference, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(api.RunInterrupted) as err:
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=12, on_month=_interrupt_at(17))
    assert isinstance(err.value, KeyboardInterrupt)
    assert err.value.months_done == 17 and err.value.checkpoint_months == 17
    m = manifest_of(out)
    assert m["status"] == "interrupted"
    assert f"hightide run --resume {out}" in m["message"]
    assert json.loads((out / ckpt.CHECKPOINT_DIR / ckpt.INFO_FILE).read_text())["months_done"] == 17
    assert not (out / "national_annual.parquet").exists()

    months_seen = []
    res = api.run(resume=out, on_month=lambda done, total: months_seen.append(done))
    assert months_seen == list(range(18, N_MONTHS + 1))
    assert res.manifest["status"] == "complete"
    assert_same_tables(reference, out)


def test_interrupt_in_the_last_month_still_resumes(tiny, reference, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, on_month=_interrupt_at(N_MONTHS))
    assert manifest_of(out)["status"] == "interrupted"
    api.resume(out)
    assert_same_tables(reference, out)


def test_resumed_twice(tiny, reference, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, checkpoint_every=0, on_month=_interrupt_at(5))
    with pytest.raises(KeyboardInterrupt):
        api.resume(out, on_month=_interrupt_at(20))
    res = api.resume(out)
    assert [r["from_months_done"] for r in res.manifest["resumed"]] == [5, 20]
    assert_same_tables(reference, out)


def test_ctrl_c_on_the_command_line(tiny, reference, exe, tmp_path):
    """A real SIGINT: exit code 130, a message, no traceback, and a run that resumes."""
    out = tmp_path / "run"
    # the child gets the default SIGINT disposition even when the suite itself runs in the
    # background (where the shell ignores SIGINT, which a child inherits and the CLI respects)
    proc = subprocess.Popen([exe, "run", str(tiny), "--scale", str(SCALE), "--out", str(out), "--checkpoint-every", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    info = out / ckpt.CHECKPOINT_DIR / ckpt.INFO_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not info.exists():
        time.sleep(0.002)
    if proc.poll() is not None:  # pragma: no cover - finished before the first checkpoint
        pytest.skip("the run finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"hightide run --resume {out}" in err
    assert manifest_of(out)["status"] == "interrupted"
    res = subprocess.run([exe, "run", "--resume", str(out), "--quiet"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert_same_tables(reference, out)


# (e) --------------------------------------------------------------------------------------------

def test_validate_refuses_an_incomplete_run(tiny, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(tiny, scale=SCALE, out=out, on_month=_interrupt_at(4))
    result = runner.invoke(app, ["validate", "--out", str(out)])
    assert result.exit_code == 2
    assert "is interrupted, not complete" in result.output
    assert "hightide run --resume" in result.output
    assert not (out / "validation.csv").exists()
    # a run that was killed (manifest still says running, nobody holds its lock)
    m = manifest_of(out)
    m["status"] = "running"
    m.pop("message")
    store.write_json(out / store.MANIFEST, m)
    result = runner.invoke(app, ["validate", "--out", str(out)])
    assert result.exit_code == 2
    assert "is running, not complete (no process is writing it" in result.output
    with pytest.raises(OutputError):
        api.Results.load(out)


# (f) --------------------------------------------------------------------------------------------

def test_memory_estimate_refuses_an_absurd_request(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1024 * 2**20)
    out = tmp_path / "run"
    with pytest.raises(memory.ResourceLimitError) as err:
        api.run(tiny, scale=1.0, out=out)
    msg = str(err.value)
    assert "not enough memory" in msg and "1.0 GB is available" in msg
    largest = float(re.search(r"largest scale that fits is about ([0-9.e-]+)", msg).group(1))
    assert 0 < largest < 1
    assert not out.exists()  # refused before anything was written
    # the suggestion is right: it fits, a little more does not
    from hightide.params import resolve
    from hightide.scenarios import load_scenario

    sc = load_scenario(tiny)
    params = resolve(sc.parameters)
    fits = memory.estimate_resources(params, largest, sc.start_month, N_MONTHS).memory_bytes
    assert fits <= 1024 * 2**20 < memory.estimate_resources(params, largest * 1.2, sc.start_month, N_MONTHS).memory_bytes
    result = runner.invoke(app, ["run", str(tiny), "--scale", "1", "--out", str(out)])
    assert result.exit_code == 2
    assert "not enough memory" in result.output and "largest scale that fits" in result.output
    assert isinstance(err.value, HightideError)


def test_memory_estimate_when_nothing_fits(tiny, monkeypatch):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10 * 2**20)
    with pytest.raises(memory.ResourceLimitError, match="no scale fits"):
        api.run(tiny, scale=SCALE)


def test_disk_estimate_refuses_and_suggests_no_checkpoints(tiny, tmp_path, monkeypatch):
    from hightide.params import resolve
    from hightide.scenarios import load_scenario

    sc = load_scenario(tiny)
    e = memory.estimate_resources(resolve(sc.parameters), 0.01, sc.start_month, N_MONTHS)
    monkeypatch.setattr(memory, "free_disk_bytes", lambda path: e.output_bytes + 1)
    with pytest.raises(memory.ResourceLimitError, match=r"not enough disk space.*--checkpoint-every 0"):
        api.run(tiny, scale=0.01, out=tmp_path / "run")


def test_manifest_records_the_estimate_and_the_run_size(reference):
    m = manifest_of(reference)
    assert m["memory_estimate_bytes"] > 0
    assert m["households_simulated"] > 0 and m["months"] == N_MONTHS and m["simulation_seconds"] >= 0


def assert_times_by_year(m: dict, years: list[str]) -> None:
    """The manifest's seconds per process, year by year, cover the run's years and add up (to the
    rounding) to its seconds per process."""
    by_year = m["process_seconds_by_year"]
    assert list(by_year) == years
    assert all(set(t) == set(m["process_seconds"]) for t in by_year.values())
    for name, total in m["process_seconds"].items():
        assert sum(t[name] for t in by_year.values()) == pytest.approx(total, abs=0.001 * len(years) + 1e-9)


def test_manifest_records_each_processs_seconds_year_by_year(reference):
    assert_times_by_year(manifest_of(reference), ["1952", "1953", "1954"])


def test_memory_estimate_counts_the_household_slots_in_use(tiny):
    """The estimated households at the start equal the slots the world really fills (within the
    township-size noise), and the state at the end counts them grown by family division."""
    from hightide.engine.simulation import initial_state
    from hightide.params import resolve
    from hightide.scenarios import load_scenario

    sc = load_scenario(tiny)
    params = resolve(sc.parameters)
    hh = initial_state(sc, params, 0.002, 0).world.households
    real = int(hh.used.sum()) * memory.household_slot_bytes()
    est = memory.estimate_resources(params, 0.002, sc.start_month, N_MONTHS)
    assert 0.8 < est.start_state_bytes / real < 1.25
    assert est.state_bytes > est.start_state_bytes * memory.SLOT_GROWTH


# (g) --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_every_bundled_scenario_passes_check(name, tmp_path):
    path = write_scenario(tmp_path, base=name, name=f"tiny_{name}.toml")
    result = runner.invoke(app, ["run", str(path), "--scale", str(SCALE), "--out", str(tmp_path / "run"),
                                 "--check", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "InvariantError" not in result.output
    assert manifest_of(tmp_path / "run")["status"] == "complete"


def test_files_get_ordinary_permissions(reference):
    mask = os.umask(0)
    os.umask(mask)
    assert (reference / store.MANIFEST).stat().st_mode & 0o777 == 0o666 & ~mask
