"""Scenario helpers shared by the experiments: a shorter run window, parameter overrides, and
parameter files (``[parameters]`` TOML written by ``hightide calibrate``, read by ``--params``)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from hightide.errors import ScenarioError
from hightide.params import resolve
from hightide.scenarios import load_scenario
from hightide.scenarios.schema import Scenario, ScenarioMeta, parse_month


def as_scenario(scenario: str | Path | Scenario | None) -> Scenario:
    """A Scenario from a bundled name, a path or a Scenario (default ``historical``)."""
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario("historical" if scenario is None else scenario)


def prepare(scenario: str | Path | Scenario | None, *, end: str | None = None,
            parameters: Mapping[str, float] | None = None) -> Scenario:
    """The scenario with its run ending at ``end`` ('YYYY-MM') and ``parameters`` applied on top of
    its own overrides (names and ranges checked against the registry)."""
    sc = as_scenario(scenario)
    if end is None and not parameters:
        return sc
    data = sc.model_dump(mode="json", exclude_none=True)
    if end is not None:
        try:
            ScenarioMeta.model_validate({**data["scenario"], "end": end})
        except ValidationError as exc:
            raise ScenarioError(f"cannot end the run at {end!r}: {exc}", field="end") from None
        if parse_month(end) > sc.end_month:
            raise ScenarioError(f"cannot end the run at {end}, after the scenario's own end {sc.scenario.end} "
                                "(its timeline stops there)", field="end")
        data["scenario"]["end"] = end
        data["timeline"] = [e for e in data["timeline"] if parse_month(e["date"]) <= parse_month(end)]
    if parameters:
        data["parameters"] = {**sc.parameters, **{k: float(v) for k, v in parameters.items()}}
        resolve(data["parameters"])
    return Scenario.model_validate(data)


def read_params_file(path: str | Path) -> dict[str, float]:
    """The ``[parameters]`` table of a TOML file (as ``hightide calibrate`` writes), checked."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"no such parameter file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=str(path)) from None
    table = raw.get("parameters")
    if not isinstance(table, dict) or not table:
        raise ScenarioError("expected a [parameters] table of name = number", file=str(path), field="parameters")
    try:
        resolve(table)
    except ScenarioError as exc:
        raise exc.with_file(str(path)) from None
    return {k: float(v) for k, v in table.items()}


def write_params_file(path: str | Path, values: Mapping[str, float], header: str = "") -> None:
    """Write ``values`` as a ``[parameters]`` table (atomically), with ``header`` as comments."""
    from hightide.results import store

    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()] if header.strip() else []
    lines += ["", "[parameters]"] + [f"{k} = {float(v)!r}" for k, v in values.items()]
    text = "\n".join(lines).lstrip("\n") + "\n"
    store.atomic_write(Path(path), lambda tmp: tmp.write_text(text, "utf-8"))
