"""Checkpoints: a run's state saved every few months so a stopped or killed run can continue.

``DIR/checkpoint/state.pkl`` holds the :class:`~hightide.engine.simulation.RunState` (World, Recorder,
months done) with the scenario, seed and scale it belongs to and a fingerprint of the code that
wrote it, pickled with protocol 5 (NumPy arrays are written straight from their buffers).
``DIR/checkpoint/checkpoint.json`` says which month it holds. Both are replaced atomically and only
the latest checkpoint is kept; ``state.pkl`` is the authority (it carries its own month), the JSON is
for people and tools. Random draws are keyed by (seed, process, province, month), so the state is
all a run needs to continue exactly as if it had never stopped.

Checkpoints are pickles: only resume runs you made yourself.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import pickle
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hightide.errors import OutputError
from hightide.results import store

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pkl"
INFO_FILE = "checkpoint.json"
FORMAT = 1
DEFAULT_EVERY = 12  # months


class CheckpointError(OutputError):
    """A checkpoint is missing, unreadable, or belongs to another run or another build of hightide."""


#: plumbing that cannot change a run's numbers: editing these does not invalidate checkpoints
_NOT_MODEL = {"api.py", "cli.py", "errors.py", "engine/checkpoint.py", "engine/memory.py", "results/store.py",
              "results/validation.py"}
_NOT_MODEL_DIRS = {"report", "experiments", "__pycache__"}


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the installed model's code and data (rules, parameters, inputs, the loop, the recorder
    and tables): a checkpoint only continues under the model that wrote it."""
    import hightide

    root = Path(hightide.__file__).parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".toml", ".csv")
                       and p.relative_to(root).as_posix() not in _NOT_MODEL
                       and not _NOT_MODEL_DIRS.intersection(p.relative_to(root).parts)):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def directory(out: Path) -> Path:
    return Path(out) / CHECKPOINT_DIR


@dataclass
class Identity:
    """What a checkpoint must match to be continued: the resolved scenario, seed and scale."""

    scenario: dict
    seed: int
    scale: float

    def digest(self) -> str:
        text = json.dumps({"scenario": self.scenario, "seed": int(self.seed), "scale": float(self.scale)},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def save(out: Path, state, identity: Identity, *, start_month: int, n_months: int, ckdir: Path | None = None) -> dict:
    """Write ``state`` as the checkpoint of the run in ``out`` (atomically, replacing the previous one);
    into ``ckdir`` instead of ``out/checkpoint`` when given (a dated checkpoint)."""
    from hightide import __version__
    from hightide.scenarios.schema import format_month

    ckdir = directory(out) if ckdir is None else Path(ckdir)
    ckdir.mkdir(parents=True, exist_ok=True)
    store.remove_stale_temporaries(ckdir)  # a previous writer killed mid-write
    payload = {"format": FORMAT, "identity": identity.digest(), "code": code_fingerprint(),
               "version": __version__, "months_done": int(state.months_done), "state": state}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            pickle.dump(payload, fh, protocol=5)

    store.atomic_write(ckdir / STATE_FILE, write)
    done = int(state.months_done)
    info = {
        "months_done": done,
        "months_total": int(n_months),
        "last_month": format_month(start_month + done - 1) if done > 0 else None,
        "next_month": format_month(start_month + done) if done < n_months else None,
        "written": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "bytes": (ckdir / STATE_FILE).stat().st_size,
        "file": STATE_FILE,
        "format": FORMAT,
        "code": payload["code"],
        "version": __version__,
    }
    store.write_json(ckdir / INFO_FILE, info)
    return info


def info(out: Path) -> dict | None:
    """The checkpoint's JSON (None when there is no checkpoint)."""
    path = directory(out) / INFO_FILE
    if not (directory(out) / STATE_FILE).is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def load(out: Path, identity: Identity, *, ckdir: Path | None = None):
    """The saved RunState of the run in ``out`` (from ``ckdir`` when given); refuses checkpoints of
    another run or build."""
    path = (directory(out) if ckdir is None else Path(ckdir)) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{out} has no checkpoint to resume from ({CHECKPOINT_DIR}/{STATE_FILE} is missing)")
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except Exception as exc:  # truncated, corrupt, or classes that no longer exist
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); "
                              f"start the run again with --force") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a hightide checkpoint of format {FORMAT}; "
                              "start the run again with --force")
    if payload.get("identity") != identity.digest():
        raise CheckpointError(f"checkpoint {path} belongs to a different scenario, seed or scale than "
                              f"{out / store.MANIFEST} records; start the run again with --force")
    if payload.get("code") != code_fingerprint():
        raise CheckpointError(
            f"checkpoint {path} was written by a different build of hightide (version {payload.get('version')}, "
            f"code {payload.get('code')}; this is code {code_fingerprint()}): continuing it could mix two models "
            "in one run; start the run again with --force")
    return payload["state"]


def remove(out: Path) -> None:
    """Delete the checkpoint of a finished run."""
    shutil.rmtree(directory(out), ignore_errors=True)


# Dated checkpoints (kept after the run completes; what `hightide run --branch-from` starts from)

DATED_DIR = "checkpoints"
YEARLY = "yearly"


def dated_directory(out: Path, month_label: str) -> Path:
    """``out/checkpoints/YYYY-MM``: the state at the start of that month."""
    return Path(out) / DATED_DIR / month_label


def parse_keep(spec, start_month: int, end_month: int) -> list[str]:
    """Months ('YYYY-MM', sorted) whose starting state a run keeps: a comma-separated string or a
    list of months, or ``yearly`` (every January after the start). Each must fall after the start
    and no later than the end of the run."""
    from hightide.scenarios.schema import format_month, parse_month

    if spec is None or spec == "" or spec == []:
        return []
    items = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec) if str(x).strip()]
    if items == [YEARLY]:
        first = (start_month // 12 + 1) * 12
        return [format_month(m) for m in range(first, end_month + 1, 12)]
    months = set()
    for item in items:
        try:
            m = parse_month(str(item))
        except ValueError as exc:
            raise OutputError(f"--keep-checkpoints: {exc} (or give '{YEARLY}')") from None
        if not start_month < m <= end_month:
            raise OutputError(f"--keep-checkpoints: {item} is not within the run: a kept checkpoint is the state at "
                              f"the start of a month after {format_month(start_month)} and up to "
                              f"{format_month(end_month)}")
        months.add(m)
    return [format_month(m) for m in sorted(months)]


def dated(out: Path) -> list[str]:
    """Months of the dated checkpoints a run directory holds."""
    root = Path(out) / DATED_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE_FILE).is_file())
