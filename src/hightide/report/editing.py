"""Scenario edits from the dashboard, as plain data: the policy timeline as a table of rows
(date, lever, value, note) and parameter overrides, turned back into a validated
:class:`~hightide.scenarios.schema.Scenario`. Kept apart from the Streamlit page so it is tested
without a browser, and so the page never touches files: scenarios come from the bundled set only.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from pydantic import ValidationError

from hightide.errors import ScenarioError
from hightide.params import load_registry, resolve
from hightide.scenarios import load_scenario
from hightide.scenarios.schema import POLICY_FIELDS, Policy, Scenario, parse_month

TIMELINE_COLUMNS = ("date", "lever", "value", "note", "source")
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def lever_kind(lever: str) -> tuple[str, tuple[str, ...]]:
    """('bool' | 'float' | 'choice', allowed choices) of a Policy field."""
    annotation = Policy.model_fields[lever].annotation
    if annotation is bool:
        return "bool", ("true", "false")
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", tuple(str(a) for a in typing.get_args(annotation))
    return "float", ()


def lever_help(lever: str) -> str:
    """The lever's description and, for numbers, its allowed range (from the schema)."""
    info = Policy.model_fields[lever]
    kind, choices = lever_kind(lever)
    bounds = {type(m).__name__: m for m in info.metadata}
    if kind == "float":
        lo = getattr(bounds.get("Ge"), "ge", None)
        hi = getattr(bounds.get("Le"), "le", None)
        allowed = f" Allowed: {lo:g} to {hi:g}." if lo is not None and hi is not None else ""
    else:
        allowed = f" Allowed: {', '.join(choices)}."
    return (info.description or "") + allowed


def format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_value(lever: str, text) -> bool | float | str:
    """A table cell as the lever's type; ScenarioError says what is allowed."""
    if lever not in POLICY_FIELDS:
        raise ScenarioError(f"unknown policy lever {lever!r}; levers: {', '.join(POLICY_FIELDS)}", field="lever")
    kind, choices = lever_kind(lever)
    raw = str(text).strip() if text is not None else ""
    if kind == "bool":
        if isinstance(text, bool):
            return text
        if raw.lower() in TRUE:
            return True
        if raw.lower() in FALSE:
            return False
        raise ScenarioError(f"{lever} is a switch: write true or false, not {raw!r}", field=lever)
    if kind == "choice":
        if raw not in choices:
            raise ScenarioError(f"{lever} must be one of {', '.join(choices)}, not {raw!r}", field=lever)
        return raw
    try:
        return float(raw)
    except ValueError:
        raise ScenarioError(f"{lever} needs a number, not {raw!r}", field=lever) from None


def timeline_rows(scenario: Scenario) -> list[dict]:
    """One row per lever a timeline event sets, in date order."""
    rows = []
    for event in sorted(scenario.timeline, key=lambda e: e.month):
        for lever, value in event.changes().items():
            rows.append({"date": event.date, "lever": lever, "value": format_value(value), "note": event.note,
                         "source": event.source})
    return rows


def events_from_rows(rows: list[dict]) -> list[dict]:
    """Rows back into timeline events (one per date, notes and sources joined); blank rows are skipped."""
    events: dict[str, dict] = {}
    for i, row in enumerate(rows, start=1):
        date = str(row.get("date") or "").strip()
        lever = str(row.get("lever") or "").strip()
        value = row.get("value")
        if not date and not lever and (value is None or str(value).strip() == ""):
            continue
        where = f"timeline row {i}"
        try:
            parse_month(date)
        except ValueError as exc:
            raise ScenarioError(str(exc), field=f"{where}.date") from None
        try:
            parsed = parse_value(lever, value)
        except ScenarioError as exc:
            raise ScenarioError(exc.message, field=f"{where}.{exc.field}") from None
        event = events.setdefault(date, {"date": date, "note": "", "source": ""})
        if lever in event:
            raise ScenarioError(f"{lever} is set twice on {date}", field=f"{where}.lever")
        event[lever] = parsed
        for key in ("note", "source"):
            text = str(row.get(key) or "").strip()
            if text and text not in event[key]:
                event[key] = f"{event[key]}; {text}" if event[key] else text
    return sorted(events.values(), key=lambda e: parse_month(e["date"]))


@dataclass(frozen=True)
class Edits:
    """What the dashboard user chose."""

    base: str
    end: str
    parameters: dict[str, float]
    timeline: list[dict]  # rows: date, lever, value, note


def edited_scenario(edits: Edits) -> Scenario:
    """The bundled scenario ``edits.base`` with the run window, parameters and timeline replaced."""
    base = load_scenario(edits.base)
    resolve(edits.parameters, where="parameters")  # names and ranges, with the registry's message
    raw = base.model_dump(mode="json")
    raw["scenario"].update({"end": edits.end, "base": None})
    raw["parameters"] = dict(edits.parameters)
    raw["timeline"] = events_from_rows(edits.timeline)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(first["msg"], field=field) from None


def same_inputs(a: Scenario, b: Scenario) -> bool:
    """True when two scenarios drive the model identically: the same window, parameters and policy
    in force every month (notes, sources and names aside)."""
    return (a.scenario.start, a.scenario.end) == (b.scenario.start, b.scenario.end) \
        and resolve(a.parameters).as_dict() == resolve(b.parameters).as_dict() \
        and a.policy_schedule() == b.policy_schedule()


def key_parameters() -> list[str]:
    """The parameters the dashboard shows first: the calibrated ones (fitted on 1952-57)."""
    return [p.name for p in load_registry().values() if p.calibrated]
