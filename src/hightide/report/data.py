"""What a report draws from: a run's (or an ensemble's) tables, bands and manifest, and the record.

A run directory holds the tables of ``results/store.py`` and ``manifest.json``; an ensemble
directory (``hightide ensemble``) holds ``ensemble.json`` and bands instead:
``national_annual_bands.parquet`` (``year, column, q05, q50, q95``) and
``provincial_annual_bands.parquet`` (``province, year, column, q05, q50, q95``).
:class:`ReportData` hides the difference: ``annual(column)`` is the run's value or the ensemble
median, ``band(column)`` the 5-95% band when there is one; the same for provinces. The record
comes from ``data/history`` through :func:`hightide.results.validation.load_history` (read for
display only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from hightide.errors import OutputError
from hightide.results import store
from hightide.results.validation import load_history

BANDS = "national_annual_bands"
PROVINCIAL_BANDS = "provincial_annual_bands"
BAND_COLUMNS = ("year", "column", "q05", "q50", "q95")
#: what says what a directory holds, in the order looked for: a run's manifest, an ensemble's
MANIFESTS = (store.MANIFEST, "ensemble.json")
#: record seasons named in the co-operativisation table, as the month the validation reads them at
SEASON_MONTH = {"spring": 4, "summer": 7, "autumn": 10, "winter": 1}


def derived_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Columns the record speaks of that the tables hold in parts: all co-operatives (elementary +
    advanced) as a count and a share, and households per co-operative."""
    out = df.copy()
    if {"n_elementary_apcs", "n_advanced_apcs"} <= set(df.columns):
        out["n_apcs"] = df["n_elementary_apcs"] + df["n_advanced_apcs"]
    if {"share_elementary_apc_pct", "share_advanced_apc_pct"} <= set(df.columns):
        out["share_apc_pct"] = df["share_elementary_apc_pct"] + df["share_advanced_apc_pct"]
    if {"n_apcs", "share_apc_pct", "rural_households_m"} <= set(out.columns):
        n = out["n_apcs"].where(out["n_apcs"] > 0)
        out["apc_size"] = out["share_apc_pct"] / 100 * out["rural_households_m"] * 1e6 / n
    return out


@lru_cache(maxsize=1)
def _history() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_history("national_series"), load_history("cooperativization")


@lru_cache(maxsize=64)
def record_annual(record_column: str) -> pd.Series:
    """A national series of the record by year (empty when the record has no such column).
    Cached: do not modify the result."""
    nat, _ = _history()
    if record_column not in nat.columns:
        return pd.Series(dtype=float)
    s = pd.to_numeric(nat.set_index("year")[record_column], errors="coerce").dropna()
    return s.astype(float)


def _month_of(date: str) -> float:
    """'1955-07' or '1958-09-30' -> 7 or 9; '1954-spring' -> 4; unreadable -> NaN."""
    parts = str(date).split("-")
    if len(parts) < 2:
        return np.nan
    if parts[1] in SEASON_MONTH:
        return float(SEASON_MONTH[parts[1]])
    try:
        month = int(parts[1])
    except ValueError:
        return np.nan
    return float(month) if 1 <= month <= 12 else np.nan


@lru_cache(maxsize=64)
def record_points(record_column: str) -> pd.DataFrame:
    """Dated points of the co-operativisation record: ``x`` (year + month/12, at month end),
    ``value``, ``date``. Ranges written as text ('~150-200') are left out. Cached: do not modify
    the result."""
    _, coop = _history()
    if record_column not in coop.columns:
        return pd.DataFrame(columns=["x", "value", "date"])
    value = pd.to_numeric(coop[record_column], errors="coerce")
    month = coop["date"].map(_month_of)
    x = coop["year"].astype(float) + month / 12
    df = pd.DataFrame({"x": x, "value": value, "date": coop["date"].astype(str)})
    return df.dropna(subset=["x", "value"]).reset_index(drop=True)


@dataclass
class ReportData:
    """The tables, bands and manifest found in one output directory."""

    directory: Path | None
    manifest: dict = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    bands: pd.DataFrame | None = None
    provincial_bands: pd.DataFrame | None = None
    _validation: pd.DataFrame | None = field(default=None, init=False, repr=False)
    _derived: dict = field(default_factory=dict, init=False, repr=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, directory: str | Path) -> ReportData:
        """Read whatever a run, ensemble or comparison directory holds; refuse an incomplete run."""
        d = Path(directory)
        if not d.is_dir():
            raise OutputError(f"{d} is not a directory")
        manifest: dict = {}
        for name in MANIFESTS:
            if (d / name).is_file():
                manifest = _read_manifest(d, name)
                status = manifest.get("status")
                if status is not None and status != store.COMPLETE:
                    raise OutputError(store.incomplete_reason(d, manifest) if name == store.MANIFEST else
                                      f"the ensemble in {d} is {status}, not complete: finish it first")
                break
        tables = {}
        for name in store.TABLES:
            path = d / f"{name}.parquet"
            if path.is_file():
                tables[name] = pd.read_parquet(path)
        bands = _read_bands(d, BANDS, BAND_COLUMNS)
        provincial_bands = _read_bands(d, PROVINCIAL_BANDS, ("province", *BAND_COLUMNS))
        if not tables and bands is None:
            raise OutputError(f"{d} holds neither run tables ({', '.join(store.TABLES)}) nor "
                              f"{BANDS}.parquet: nothing to report")
        return cls(directory=d, manifest=manifest, tables=tables, bands=bands, provincial_bands=provincial_bands)

    @classmethod
    def from_results(cls, results) -> ReportData:
        """From an in-memory :class:`hightide.api.Results`."""
        return cls(directory=results.out, manifest=dict(results.manifest), tables=dict(results.tables))

    # ------------------------------------------------------------------ access
    @property
    def is_ensemble(self) -> bool:
        return self.bands is not None

    @property
    def title(self) -> str:
        m = self.manifest
        name = m.get("scenario") or m.get("name") or (self.directory.name if self.directory else "run")
        bits = [str(name)]
        if m.get("scale") is not None:
            bits.append(f"scale {m['scale']:g}")
        if m.get("seed") is not None:
            bits.append(f"seed {m['seed']}")
        if m.get("base_seed") is not None:
            bits.append(f"base seed {m['base_seed']}")
        if self.is_ensemble:
            bits.append(f"ensemble of {m['runs']}" if m.get("runs") else "ensemble")
        return ", ".join(bits)

    def _derived_table(self, name: str) -> pd.DataFrame | None:
        """The table with its derived columns, indexed for lookups: annual by year, monthly by
        x = year + month/12 (built once; reports ask for dozens of columns)."""
        if name not in self._derived:
            t = self.tables.get(name)
            if t is not None:
                t = derived_columns(t)
                if name == "national_monthly":
                    x = t["year"].astype(float) + t["month"].astype(float) / 12
                    t = t.set_index(pd.Index(x.to_numpy(), name="x"))
                else:
                    t = t.set_index("year")
            self._derived[name] = t
        return self._derived[name]

    def annual(self, column: str) -> pd.Series | None:
        """The run's annual value by year, else the ensemble median; None when neither has it."""
        t = self._derived_table("national_annual")
        if t is not None and column in t.columns:
            s = t[column].astype(float)
            return s if s.notna().any() else None
        b = self.band(column)
        if b is not None:
            return b["q50"]
        return None

    def band(self, column: str) -> pd.DataFrame | None:
        """The ensemble's q05/q50/q95 by year for ``column``, or None."""
        if self.bands is None:
            return None
        b = self.bands[self.bands["column"] == column]
        if b.empty:
            return None
        return b.set_index("year")[["q05", "q50", "q95"]].astype(float).sort_index()

    def monthly(self, column: str) -> pd.Series | None:
        """Month-end (stocks) or within-month (flows) values indexed by x = year + month/12."""
        t = self._derived_table("national_monthly")
        if t is None or column not in t.columns:
            return None
        s = t[column].astype(float)
        return s if s.notna().any() else None

    def provincial(self, column: str, q: str = "q50") -> pd.DataFrame | None:
        """Wide table year x province of ``column``: the run's, else the ensemble's quantile ``q``
        (q05, q50 or q95); None when neither is here."""
        t = self.tables.get("provincial_annual")
        if t is not None and column in t.columns:
            return t.pivot(index="year", columns="province", values=column).astype(float)
        b = self.provincial_bands
        if b is None:
            return None
        b = b[b["column"] == column]
        if b.empty:
            return None
        return b.pivot(index="year", columns="province", values=q).astype(float)

    def validation(self) -> pd.DataFrame | None:
        """The validation table (results/validation.py) for the checks that fall within the run's
        period (a run of 1952-53 is not judged on 1960). For an ensemble, the table ``hightide
        validate --ensemble`` wrote: ``model`` is the median across members, with ``model_q05``,
        ``model_q95`` and ``members_pass`` beside it. None when neither is here."""
        from hightide.results.validation import validate

        if "national_annual" not in self.tables or "national_monthly" not in self.tables:
            if self._validation is None and self.is_ensemble:
                self._validation = self._ensemble_validation()
            return self._validation
        if self._validation is None:
            table = validate(self.tables["national_annual"], self.tables["national_monthly"])
            if len(table):
                table = table[np.isfinite(table["model"].astype(float))].reset_index(drop=True)
            self._validation = table
        return self._validation

    def _ensemble_validation(self) -> pd.DataFrame | None:
        from hightide.results.ensemble_validation import TARGETS_FILE

        table = self._read_csv(TARGETS_FILE)
        if table is None:
            return None
        table = table.rename(columns={"model_q50": "model"})
        table = table[np.isfinite(table["model"].astype(float))].reset_index(drop=True)
        table["pass"] = _as_bool(table["pass"])
        return table

    def famine_checks(self) -> pd.DataFrame | None:
        """The famine checks ``hightide validate --ensemble`` wrote into an ensemble directory
        (``check, requirement, result, pass``), or None."""
        from hightide.results.ensemble_validation import CHECKS_FILE

        table = self._read_csv(CHECKS_FILE) if self.is_ensemble else None
        if table is not None:
            table["pass"] = _as_bool(table["pass"])
        return table

    def _read_csv(self, name: str) -> pd.DataFrame | None:
        path = self.directory / name if self.directory is not None else None
        if path is None or not path.is_file():
            return None
        try:
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise OutputError(f"{path} cannot be read ({exc}); write it again with hightide validate --ensemble") from exc


def _as_bool(column: pd.Series) -> pd.Series:
    """A CSV's pass column as booleans (``True``/``False`` as read, or as text)."""
    return column.map(lambda v: v if isinstance(v, bool | np.bool_) else str(v).strip().lower() == "true").astype(bool)


def _read_manifest(d: Path, name: str) -> dict:
    if name == store.MANIFEST:
        return store.read_manifest(d)
    import json

    try:
        data = json.loads((d / name).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{d / name} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OutputError(f"{d / name} is not a JSON object")
    return data


def _read_bands(d: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame | None:
    path = d / f"{name}.parquet"
    if not path.is_file():
        return None
    bands = pd.read_parquet(path)
    missing = [c for c in columns if c not in bands.columns]
    if missing:
        raise OutputError(f"{path} lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    return bands
