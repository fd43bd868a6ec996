"""Read scenario files, resolve ``base`` inheritance, and turn every problem into a ScenarioError."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from hightide.errors import ScenarioError
from hightide.params import resolve
from hightide.scenarios.schema import POLICY_FIELDS, Policy, PolicyEvent, Scenario, ScenarioMeta, parse_month

_TOP_LEVEL = ("scenario", "parameters", "policy", "timeline")


def _bundled_dir():
    return resources.files("hightide.scenarios").joinpath("bundled")


def bundled_scenarios() -> dict[str, str]:
    """Bundled scenario names with their one-line descriptions."""
    out = {}
    for entry in sorted(_bundled_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            raw = tomllib.loads(entry.read_text("utf-8"))
            out[entry.name[:-5]] = raw.get("scenario", {}).get("description", "").strip().splitlines()[0]
    return out


def _locate(name_or_path: str | Path) -> tuple[str, str]:
    """Return (label, text) for a bundled name or a file path."""
    if not isinstance(name_or_path, (str, Path)):
        raise ScenarioError(f"expected a scenario name or path, got {name_or_path!r}")
    path = Path(name_or_path)
    try:
        # a directory of the same name (e.g. an ensemble written to ./historical) is not a scenario
        # file and does not hide the bundled scenario
        is_file_like = path.suffix == ".toml" or path.is_file()
    except OSError as exc:
        raise ScenarioError(f"cannot use {str(name_or_path)[:80]!r} as a scenario: {exc.strerror}") from None
    if is_file_like:
        if not path.is_file():
            raise ScenarioError(f"no such scenario file: {path}")
        return str(path), path.read_text("utf-8")
    entry = _bundled_dir().joinpath(f"{name_or_path}.toml")
    if not entry.is_file():
        known = ", ".join(bundled_scenarios())
        raise ScenarioError(f"unknown scenario {str(name_or_path)!r}; bundled scenarios: {known} (or give a path to a .toml file)")
    return f"{name_or_path} (bundled)", entry.read_text("utf-8")


def _field_of(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _from_validation(err: ValidationError, prefix: tuple = ()) -> ScenarioError:
    first = err.errors()[0]
    loc = prefix + tuple(first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        section = loc[-2] if len(loc) >= 2 else None
        allowed = {
            "scenario": ScenarioMeta.model_fields,
            "policy": Policy.model_fields,
        }.get(section) if isinstance(section, str) else None
        if allowed is None and "timeline" in loc:
            allowed = ("date", "note", "source") + POLICY_FIELDS
        msg = f"unknown key {loc[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    elif first["type"] == "missing":
        msg = "required field is missing"
    extra = f" ({len(err.errors()) - 1} more problem(s) after this one)" if len(err.errors()) > 1 else ""
    return ScenarioError(msg + extra, field=_field_of(loc))


def _parse(label: str, text: str) -> dict:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML: {exc}", file=label) from None
    unknown = [k for k in raw if k not in _TOP_LEVEL]
    if unknown:
        raise ScenarioError(f"unknown section {unknown[0]!r}; allowed: {', '.join(_TOP_LEVEL)}", file=label, field=unknown[0])
    if "scenario" not in raw:
        raise ScenarioError("missing [scenario] table (name, description, start, end, scale, seed)", file=label, field="scenario")
    return raw


def _check_own_timeline(events: list[PolicyEvent], meta: ScenarioMeta) -> None:
    start, end = parse_month(meta.start), parse_month(meta.end)
    seen: dict[tuple[int, str], object] = {}
    for i, ev in enumerate(events):
        if not start <= ev.month <= end:
            raise ScenarioError(
                f"date {ev.date} is outside the run {meta.start} .. {meta.end}; "
                "put the policy in force at the start in [policy]",
                field=f"timeline[{i}].date",
            )
        for key, value in ev.changes().items():
            if (ev.month, key) in seen and seen[(ev.month, key)] != value:
                raise ScenarioError(
                    f"conflicting policies on {ev.date}: {key} set to {seen[(ev.month, key)]!r} and {value!r}",
                    field=f"timeline[{i}].{key}",
                )
            seen[(ev.month, key)] = value


def _merge_timeline(base: list[PolicyEvent], own: list[PolicyEvent]) -> list[PolicyEvent]:
    """Own events override the base's settings of the same field in the same month."""
    own_keys = {(ev.month, k) for ev in own for k in ev.changes()}
    merged = []
    for ev in base:
        keep = {k: v for k, v in ev.changes().items() if (ev.month, k) not in own_keys}
        if keep:
            merged.append(PolicyEvent(date=ev.date, note=ev.note, source=ev.source, **keep))
    return merged + list(own)


def load_scenario(name_or_path: str | Path, *, _chain: tuple[str, ...] = ()) -> Scenario:
    """Load a bundled scenario by name or a scenario file by path; raise ScenarioError when invalid."""
    label, text = _locate(name_or_path)
    if label in _chain:
        raise ScenarioError(f"scenario inherits from itself: {' -> '.join(_chain + (label,))}", file=label, field="scenario.base")
    raw = _parse(label, text)
    try:
        try:
            meta_raw = raw["scenario"]
            if not isinstance(meta_raw, dict):
                raise ScenarioError("[scenario] must be a table", field="scenario")
            base = None
            if meta_raw.get("base") is not None:
                if not isinstance(meta_raw["base"], str) or not meta_raw["base"]:
                    raise ScenarioError(f"expected the name of a bundled scenario or a path, got {meta_raw['base']!r}",
                                        field="scenario.base")
                try:
                    base = load_scenario(meta_raw["base"], _chain=_chain + (label,))
                except ScenarioError as exc:
                    if exc.field is None:
                        raise ScenarioError(exc.message, field="scenario.base") from None
                    raise
                meta_raw = {**base.scenario.model_dump(exclude={"name", "description", "base", "sources"}), **meta_raw}
            meta = ScenarioMeta.model_validate(meta_raw)
        except ValidationError as exc:
            raise _from_validation(exc, ("scenario",)) from None
        if not isinstance(raw.get("timeline", []), list):
            raise ScenarioError("[[timeline]] must be a list of tables (one per dated event)", field="timeline")
        if not isinstance(raw.get("policy", {}), dict):
            raise ScenarioError("[policy] must be a table of lever = value", field="policy")
        try:
            own_events = [PolicyEvent.model_validate(e) if isinstance(e, dict) else PolicyEvent.model_validate({"date": e})
                          for e in raw.get("timeline", [])]
        except ValidationError as exc:
            idx = next(i for i, e in enumerate(raw.get("timeline", [])) if not _valid_event(e))
            raise _from_validation(exc, ("timeline", idx)) from None
        _check_own_timeline(own_events, meta)
        params = dict(base.parameters) if base else {}
        own_params = raw.get("parameters", {})
        if not isinstance(own_params, dict):
            raise ScenarioError("[parameters] must be a table of name = number", field="parameters")
        params.update(own_params)
        resolve(params)  # names and ranges
        start, end = parse_month(meta.start), parse_month(meta.end)
        policy = base.policy if base else Policy()
        for ev in sorted((e for e in (base.timeline if base else []) if e.month <= start), key=lambda e: e.month):
            policy = policy.model_copy(update=ev.changes())
        try:
            policy = Policy.model_validate({**policy.model_dump(), **raw.get("policy", {})})
        except ValidationError as exc:
            raise _from_validation(exc, ("policy",)) from None
        for ev in (e for e in own_events if e.month == start):
            policy = policy.model_copy(update=ev.changes())
        timeline = _merge_timeline(base.timeline if base else [], own_events)
        timeline = [e for e in timeline if start < e.month <= end]
        return Scenario(scenario=meta, parameters=params, policy=policy, timeline=timeline)
    except ScenarioError as exc:
        raise (exc if exc.file else exc.with_file(label)) from None


def _valid_event(e) -> bool:
    try:
        PolicyEvent.model_validate(e)
        return True
    except (ValidationError, TypeError):
        return False
