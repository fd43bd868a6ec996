"""The output directory: atomic writes, a manifest that says whether a run is complete, a run lock.

Every file is written to a temporary name in the same directory, flushed to disk and moved into
place, so an interrupted or killed run never leaves a table or manifest that looks complete. The
manifest is written first as ``running`` and last as ``complete`` (or ``failed`` with the error, or
``interrupted`` with how to continue). While a run writes a directory it holds an advisory lock on
it, so a second process cannot resume, replace or write into a run that is still going.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd

from hightide.errors import OutputError

MANIFEST = "manifest.json"
TABLES = ("national_annual", "national_monthly", "provincial_annual")
CSV_TABLES = ("national_annual", "provincial_annual")
#: statuses a manifest can carry
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp)`` then move ``tmp`` onto ``path``; nothing partial is ever at ``path``.

    The temporary file is flushed to disk before the rename (and the directory after it), so the
    file at ``path`` is either the old one or the whole new one, even after a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; give the file the mode open() would
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete temporaries left by a writer that was killed (``.NAME.XXXX.tmp``); return them.

    Only call this while holding the directory's :class:`RunLock`: nobody else is writing."""
    gone = []
    if directory.is_dir():
        for p in directory.glob(".*.tmp"):
            if p.is_file():
                p.unlink(missing_ok=True)
                gone.append(p)
    return gone


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", "utf-8"))


def write_table(out: Path, name: str, df: pd.DataFrame) -> None:
    atomic_write(out / f"{name}.parquet", lambda tmp: df.to_parquet(tmp, index=False))
    if name in CSV_TABLES:
        atomic_write(out / f"{name}.csv", lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


class RunLock:
    """An advisory, exclusive lock on a run directory, held while a process writes it.

    The operating system releases it when the process ends, however it ends (even SIGKILL), so a
    held lock means a live writer. Where locks are unsupported the lock is a no-op.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        try:
            fd = os.open(self.out, os.O_RDONLY)
        except OSError:  # pragma: no cover
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"{self.out} is being written by another hightide process right now; "
                              "wait for it to finish (or stop it) and try again") from None
        except OSError:  # pragma: no cover - filesystem without flock: best effort
            os.close(fd)
            return self
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def is_locked(out: Path) -> bool:
    """True when a live process holds ``out``'s run lock."""
    if not Path(out).is_dir():
        return False
    try:
        RunLock(out).acquire().release()
    except OutputError:
        return True
    return False


def prepare_output(out: Path, force: bool) -> None:
    """Refuse to overwrite an existing run unless ``force``; then make the directory."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} exists and is not a directory; choose another --out")
    if out.exists() and any(out.iterdir()):
        if is_locked(out):
            raise OutputError(f"output directory {out} is being written by another hightide process right now; "
                              "choose another --out")
        if not force:
            hint = ""
            status = _status_of(out)
            if status in (RUNNING, INTERRUPTED, FAILED) and (out / "checkpoint").is_dir():
                hint = f", or continue the {status} run there with `hightide run --resume {out}`"
            raise OutputError(f"output directory {out} already exists and is not empty; "
                              f"choose another --out or pass --force to replace it{hint}")
        shutil.rmtree(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {out}: {exc.strerror or exc}") from None


def _status_of(out: Path) -> str | None:
    try:
        return json.loads((out / MANIFEST).read_text("utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.is_file():
        raise OutputError(f"{out} has no {MANIFEST}: not a hightide run directory")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise OutputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise OutputError(f"{path} is not a hightide manifest (expected a JSON object)")
    return manifest


def incomplete_reason(out: Path, manifest: dict) -> str:
    """Why the run in ``out`` cannot be read, and what to do about it."""
    status = manifest.get("status", "of unknown status")
    text = f"run in {out} is {status}, not complete"
    if status == RUNNING and not is_locked(out):
        text += (" (no process is writing it: it was killed or crashed"
                 + (f"; continue it with `hightide run --resume {out}`)" if (out / "checkpoint").is_dir() else ")"))
    elif status == RUNNING:
        text += " (it is still being written; wait for it to finish)"
    detail = "; ".join(str(manifest[k]) for k in ("error", "message") if manifest.get(k))
    if detail:
        text += f": {detail}"
    return text


def read_complete_run(out: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Manifest and tables of a finished run; refuses runs that are running, failed or interrupted."""
    manifest = read_manifest(out)
    if manifest.get("status") != COMPLETE:
        raise OutputError(incomplete_reason(out, manifest))
    tables = {}
    for name in TABLES:
        path = out / f"{name}.parquet"
        if not path.is_file():
            raise OutputError(f"run in {out} says complete but {path.name} is missing")
        tables[name] = pd.read_parquet(path)
    return manifest, tables
