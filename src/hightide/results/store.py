"""The output directory: atomic writes and a manifest that says whether a run is complete.

Every file is written to a temporary name in the same directory and moved into place, so an
interrupted run never leaves a table or manifest that looks complete. The manifest is written
first as ``running`` and last as ``complete`` (or ``failed`` with the error).
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


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp)`` then move ``tmp`` onto ``path``; nothing partial is ever at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", "utf-8"))


def write_table(out: Path, name: str, df: pd.DataFrame) -> None:
    atomic_write(out / f"{name}.parquet", lambda tmp: df.to_parquet(tmp, index=False))
    if name in CSV_TABLES:
        atomic_write(out / f"{name}.csv", lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))


def prepare_output(out: Path, force: bool) -> None:
    """Refuse to overwrite an existing run unless ``force``; then make the directory."""
    if out.exists() and any(out.iterdir()):
        if not force:
            raise OutputError(f"output directory {out} already exists and is not empty; "
                              "choose another --out or pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.is_file():
        raise OutputError(f"{out} has no {MANIFEST}: not a hightide run directory")
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise OutputError(f"{path} is not valid JSON: {exc}") from None


def read_complete_run(out: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Manifest and tables of a finished run; refuses runs that are running or failed."""
    manifest = read_manifest(out)
    if manifest.get("status") != "complete":
        raise OutputError(f"run in {out} is {manifest.get('status', 'of unknown status')}, not complete"
                          + (f": {manifest['error']}" if manifest.get("error") else ""))
    tables = {}
    for name in TABLES:
        path = out / f"{name}.parquet"
        if not path.is_file():
            raise OutputError(f"run in {out} says complete but {path.name} is missing")
        tables[name] = pd.read_parquet(path)
    return manifest, tables
