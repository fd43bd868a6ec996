"""Which mechanisms made the collapse: each crisis mechanism switched off in turn, against the scenario.

The grain collapse of 1959-61 and the famine have many proposed causes: labour drawn from the
fields (Li & Yang 2005), procurement on inflated reports (Meng, Qian & Yared 2015), the loss of the
right to withdraw (Lin 1990), free supply and the mess halls (Chang & Wen 1997), the Leap's farming
techniques, the cut in sown area and the weather (Kueh 1984). In the model each is a rule with a
parameter or a policy input, so its share can be measured the way those papers estimate it: run
the scenario with the mechanism and without it, seed for seed (common random numbers, so the
difference is the mechanism's, not seed noise), for every mechanism in turn and for all of them at
once. The one-at-a-time effects need not add up to the joint one (the mechanisms interact: a
smaller harvest makes the same quota a heavier burden); the ``all`` arm shows by how much.

Switching a mechanism off changes a parameter of its rule (registry) or holds a policy input
(``Hold``); nothing else differs between the arms. Every arm is an ordinary ensemble under
``OUT/arms/NAME/`` (resumable, as ``hightide ensemble``); ``OUT/decomposition.csv`` has one row per
mechanism and outcome, ``OUT/decomposition.png`` draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hightide.errors import HightideError, OutputError
from hightide.experiments.crn import member_outcomes
from hightide.experiments.ensembles import DifferentEnsemble, check_memory, ensemble
from hightide.experiments.members import dask_client
from hightide.experiments.outcomes import OUTCOMES
from hightide.experiments.scenario_tools import prepare
from hightide.params import resolve
from hightide.results import store
from hightide.scenarios.schema import POLICY_FIELDS, Scenario, format_month, parse_month

SCENARIO_ARM = "scenario"
ALL_ARM = "all"
ARMS_DIR = "arms"
_POLICY_FIELDS = frozenset(POLICY_FIELDS)
DEFAULT_OUTCOMES = ("grain_output_1959_mt", "grain_output_1960_mt", "grain_output_1961_mt", "excess_deaths_1959_61_m")


@dataclass(frozen=True)
class Hold:
    """A policy input held at ``value`` from ``since`` ('YYYY-MM'; None: from the start) to
    ``until`` (inclusive; None: the end), the scenario's own values again after it; ``value`` None
    holds the value in force the month before ``since``."""

    field: str
    value: object = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class Mechanism:
    """A crisis mechanism and what switching it off means: parameters of its rule and held inputs."""

    name: str
    label: str
    source: str
    parameters: Mapping[str, float] = field(default_factory=dict)
    holds: tuple[Hold, ...] = ()


def _zeroed(name: str, label: str, parameter: str, source: str) -> Mechanism:
    """A mechanism switched off by setting its rule's parameter to 0 (its source: the registry's)."""
    return Mechanism(name, label, f"{parameter} ({source})", {parameter: 0.0})


#: name, what it is, the parameter set to 0 or the input held, and where it comes from
MECHANISMS: dict[str, Mechanism] = {m.name: m for m in (
    Mechanism("campaign_techniques", "deep ploughing and close planting",
              "economy/techniques.py (Yang 2012; Hinton 1984)", {"campaign_technique_yield_loss": 0.0}),
    _zeroed("harvest_losses", "crops left in the field with the hands away", "harvest_loss_per_diverted",
            "Li & Yang 2005"),
    Mechanism("rural_industry", "labour drawn into commune industry",
              "Policy.rural_industry_share (Li & Yang 2005, Table 1)", holds=(Hold("rural_industry_share", 0.0),)),
    _zeroed("hunger_effort", "the hungry working less", "hunger_labour_elasticity", "Strauss 1986"),
    _zeroed("free_supply", "free supply cutting pay from work", "free_supply_effort_loss",
            "Lin 1990; Chang & Wen 1997"),
    _zeroed("no_exit", "no right to withdraw", "no_exit_tfp_loss", "Lin 1990"),
    _zeroed("unit_size", "monitoring lost as the accounting unit grows", "monitoring_loss",
            "Lin 1990; Putterman 1987"),
    Mechanism("commune_units", "the whole commune as the accounting unit",
              "Policy.accounting_unit held at the brigade (the former advanced co-operative) from the communes' "
              "founding to the Zhengzhou conference ([002]; Zhengzhou, Feb-Mar 1959): the communes' own share of "
              "the unit size, which unit_size counts from the co-operatives of 1955-56 on",
              holds=(Hold("accounting_unit", "brigade", "1958-09", "1959-02"),)),
    Mechanism("urban_recruitment", "peasants recruited to the towns in 1958-60",
              "Policy.urban_net_migration_m_per_year held at its 1957 rate through 1958-60 (Li & Yang 2005: "
              "the farm labour force fell with the Leap's urban industry)",
              holds=(Hold("urban_net_migration_m_per_year", None, "1958-01", "1960-12"),)),
    Mechanism("sown_area_cut", "grain sown area cut after 1958",
              "Policy.sown_area_factor held at its 1958 value from 1959 (Kueh 1984)",
              holds=(Hold("sown_area_factor", None, "1959-01"),)),
    Mechanism("weather", "the disasters of 1959-61",
              "Policy.weather_source: ordinary random weather instead of the official disaster series (Kueh 1984)",
              holds=(Hold("weather_source", "random"),)),
    Mechanism("inflated_reports", "procurement on inflated reports",
              "Policy.procurement_on_true_output always (Meng, Qian & Yared 2015)",
              holds=(Hold("procurement_on_true_output", True),)),
    _zeroed("mess_hall_overeating", "eating without pay in the mess halls", "mess_hall_overeating",
            "Chang & Wen 1997"),
    _zeroed("hunger_concealment", "relief withheld under the Leap's pressure", "hunger_concealment", "Bernstein 1984"),
    _zeroed("herd_neglect", "pooled animals cared for by nobody in particular", "collective_herd_neglect",
            "Walker 1984"),
    _zeroed("animal_starvation", "animals starved when their feed was taken", "animal_starvation", "Walker 1984"),
    _zeroed("hunger_slaughter", "the hungry slaughtering their animals", "hunger_slaughter", "Walker 1984"),
)}


def _policy_in_force(schedule: Mapping[int, object], month: int):
    """The policy a schedule (``Scenario.policy_schedule``: month of each change -> policy) has in
    force in ``month``."""
    return schedule[max(m for m in schedule if m <= month)]


def hold_input(sc: Scenario, hold: Hold) -> Scenario:
    """``sc`` with ``hold.field`` fixed from ``hold.since`` to ``hold.until``: events in that span no
    longer set it (an event left setting nothing is dropped), the held value is in force from its
    first month, and the value the scenario had in force the month after the span comes back then."""
    if hold.field not in POLICY_FIELDS:
        raise HightideError(f"unknown policy field {hold.field!r}")
    schedule = sc.policy_schedule()

    def in_force(month: int):
        return getattr(_policy_in_force(schedule, max(month, sc.start_month)), hold.field)

    if hold.since is not None and hold.until is not None and parse_month(hold.until) < parse_month(hold.since):
        raise HightideError(f"a hold of {hold.field} ends before it begins ({hold.since} to {hold.until})")
    since = sc.start_month if hold.since is None else max(parse_month(hold.since), sc.start_month)
    until = sc.end_month if hold.until is None else min(parse_month(hold.until), sc.end_month)
    if until < since:
        return sc  # the span lies outside the run: nothing to hold
    value = in_force(since - 1) if hold.value is None else hold.value
    data = sc.model_dump(mode="json", exclude_none=True)
    timeline = []
    for event in data["timeline"]:
        if since <= parse_month(event["date"]) <= until and hold.field in event:
            event = {k: v for k, v in event.items() if k != hold.field}
            if not _POLICY_FIELDS.intersection(event):
                continue
        timeline.append(event)
    if since == sc.start_month:
        data["policy"][hold.field] = value
    else:
        timeline.append({"date": format_month(since), "note": f"{hold.field} held (decomposition)",
                         hold.field: value})
    if until < sc.end_month:
        timeline.append({"date": format_month(until + 1), "note": f"{hold.field} as the scenario has it",
                         hold.field: in_force(until + 1)})
    data["timeline"] = timeline
    return Scenario.model_validate(data)


def switched_off(sc: Scenario, mechanisms: list[Mechanism], name: str | None = None) -> Scenario:
    """``sc`` without ``mechanisms``: their parameters on top of the scenario's, their inputs held;
    named ``name`` (the name changes no random number: streams are keyed by seed, not name)."""
    parameters = {k: v for m in mechanisms for k, v in m.parameters.items()}
    out = prepare(sc, parameters=parameters) if parameters else sc
    for m in mechanisms:
        for hold in m.holds:
            out = hold_input(out, hold)
    if name:
        data = out.model_dump(mode="json", exclude_none=True)
        data["scenario"]["name"] = name
        out = Scenario.model_validate(data)
    return out


def acts(base: Scenario, arm: Scenario) -> bool:
    """Whether an arm differs from the scenario at all: in its parameters' values (the registry's
    defaults filled in), or in the policy in force in some month of the run (a hold outside the run,
    or of an input the scenario never moves from the held value, changes nothing)."""
    if resolve(arm.parameters).as_dict() != resolve(base.parameters).as_dict():
        return True
    a, b = base.policy_schedule(), arm.policy_schedule()
    return any(_policy_in_force(a, m) != _policy_in_force(b, m) for m in range(base.start_month, base.end_month + 1))


@dataclass
class Decomposition:
    out: Path
    effects: pd.DataFrame  # one row per arm and outcome
    members: dict[str, pd.DataFrame]  # arm -> one row per member, one column per outcome
    inert: list[str] = field(default_factory=list)  # arms identical to the scenario: not run, effect 0


def _chosen(names: list[str] | None) -> list[Mechanism]:
    names = list(names) if names else list(MECHANISMS)
    unknown = [n for n in names if n not in MECHANISMS]
    if unknown:
        raise HightideError(f"unknown mechanism(s) {', '.join(unknown)}; known: {', '.join(MECHANISMS)}")
    if len(set(names)) != len(names):
        raise HightideError("a mechanism is named twice")
    return [MECHANISMS[n] for n in names]


def decompose(scenario: str | Path | Scenario | None = "historical", *, mechanisms: list[str] | None = None,
              outcomes: list[str] | None = None, runs: int = 8, scale: float = 0.001, seed: int = 0,
              out: str | Path = "runs/decomposition", workers: int = 2, scheduler: str | None = None,
              force: bool = False, on_member: Callable | None = None) -> Decomposition:
    """Run the scenario and, seed for seed, the scenario with each mechanism switched off and with
    all of them off; write the paired effects (scenario minus the arm) to ``OUT/decomposition.csv``
    and ``OUT/decomposition.png``. Arms already finished under ``OUT/arms`` are reused; an arm the
    switch leaves identical to the scenario (``acts``) is not run: its effect is 0 (column ``acts``
    False, ``Decomposition.inert``)."""
    chosen = _chosen(mechanisms)
    outcome_names = list(outcomes or DEFAULT_OUTCOMES)
    unknown = [o for o in outcome_names if o not in OUTCOMES]
    if unknown:
        raise HightideError(f"unknown outcome(s) {', '.join(unknown)}; known: {', '.join(OUTCOMES)}")
    end = f"{max(OUTCOMES[o].last_year for o in outcome_names)}-12"
    base = prepare(scenario, end=end)
    arms = {SCENARIO_ARM: base, **{m.name: switched_off(base, [m], f"{base.name}-without-{m.name}") for m in chosen}}
    if len(chosen) > 1:
        arms[ALL_ARM] = switched_off(base, chosen, f"{base.name}-without-all")
    if not 0 < scale <= 1:
        raise HightideError(f"scale must be in (0, 1], got {scale}")
    if scheduler is None:
        check_memory(base, scale, max(workers, 1))  # every arm's members are this size
    out = Path(out)
    # an arm the switch leaves identical to the scenario would only draw the scenario's numbers again
    inert = [name for name, sc in arms.items() if name != SCENARIO_ARM and not acts(base, sc)]
    to_run = {name: sc for name, sc in arms.items() if name not in inert}
    values: dict[str, pd.DataFrame] = {}
    with _cluster(workers, scheduler) as address:
        for i, (name, sc) in enumerate(to_run.items()):
            progress = (lambda done, total, m, status, _i=i: on_member(_i * runs + done, len(to_run) * runs, m, status)
                        ) if on_member else None
            try:
                ens = ensemble(sc, runs=runs, scale=scale, seed=seed, out=out / ARMS_DIR / name, workers=workers,
                               scheduler=address, force=force, on_member=progress, resource_check=False)
            except DifferentEnsemble as exc:
                raise OutputError(f"{exc}. Arm {name!r} in {out} was run for another decomposition (other "
                                  "mechanisms, outcomes' years, seeds or scale): remove "
                                  f"{out / ARMS_DIR / name} to run just that arm again, keeping the others") from None
            values[name] = member_outcomes(ens, outcome_names)
            undefined = [o for o in outcome_names if not np.isfinite(values[name][o].to_numpy(dtype=float)).all()]
            if undefined:
                raise HightideError(f"outcome(s) {', '.join(undefined)} undefined in some runs of arm {name} (does "
                                    f"the scenario cover the years they need? it runs {sc.scenario.start} to {end})")
    for name in inert:
        values[name] = values[SCENARIO_ARM].copy()
    values = {name: values[name] for name in arms}
    effects = effect_table(values, outcome_names, {m.name: m for m in chosen})
    effects.insert(effects.columns.get_loc("pairs"), "acts", ~effects["mechanism"].isin(inert))
    store.atomic_write(out / "decomposition.csv", lambda tmp: effects.to_csv(tmp, index=False, float_format="%.6g"))
    figure(effects, out / "decomposition.png",
           title=f"{base.name} with each mechanism and without it ({runs} seeds, scale {scale:g})")
    return Decomposition(out=out, effects=effects, members=values, inert=inert)


@contextmanager
def _cluster(workers: int, scheduler: str | None) -> Iterator[str | None]:
    """The address of one Dask cluster for all arms: the given scheduler's, a local cluster's, or
    None (``workers=0``: every member in this process)."""
    if scheduler or workers == 0:
        yield scheduler
        return
    with dask_client(workers, None) as client:
        yield client.scheduler.address


def effect_table(values: Mapping[str, pd.DataFrame], outcome_names: list[str],
                 mechanisms: Mapping[str, Mechanism]) -> pd.DataFrame:
    """Per arm and outcome: the scenario's and the arm's medians, and the paired effect (scenario
    minus arm, member by member: what the mechanism adds) as median and 5-95% band in the
    outcome's unit, and its median share of the scenario's value in percent (a mechanism that cut
    1959 output by 7 Mt of 147 has -4.8; one behind 4 M of 20 M excess deaths, 20)."""
    reference = values[SCENARIO_ARM]
    rows = []
    for name, arm in values.items():
        if name == SCENARIO_ARM:
            continue
        for o in outcome_names:
            with_m = reference[o].to_numpy(dtype=float)
            without = arm[o].to_numpy(dtype=float)
            diff = with_m - without
            share = np.divide(100.0 * diff, with_m, out=np.full(diff.size, np.nan), where=with_m != 0)
            q05, q50, q95 = np.quantile(diff, (0.05, 0.5, 0.95))
            m = mechanisms.get(name)
            rows.append({"mechanism": name, "label": m.label if m else "all of the above",
                         "source": m.source if m else "", "outcome": o, "outcome_label": OUTCOMES[o].label,
                         "unit": OUTCOMES[o].unit, "pairs": diff.size, "with_q50": float(np.median(with_m)),
                         "without_q50": float(np.median(without)), "effect_q05": float(q05),
                         "effect_q50": float(q50), "effect_q95": float(q95),
                         "share_pct_q50": float(np.nanmedian(share)) if np.isfinite(share).any() else np.nan})
    return pd.DataFrame(rows)


def figure(effects: pd.DataFrame, path: Path, title: str = "") -> Path:
    """One panel per outcome: each mechanism's paired effect, median with its 5-95% band."""
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(effects["outcome"]))
    arms = list(dict.fromkeys(effects["mechanism"]))
    fig = Figure(figsize=(3.6 * len(outcomes) + 1.6, 0.38 * len(arms) + 1.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(outcomes), sharey=True))
    y = np.arange(len(arms))[::-1]
    for ax, o in zip(axes, outcomes):
        d = effects[effects["outcome"] == o].set_index("mechanism").loc[arms]
        err = np.vstack([d["effect_q50"] - d["effect_q05"], d["effect_q95"] - d["effect_q50"]])
        colours = ["C7" if a == ALL_ARM else ("C3" if v < 0 else "C0") for a, v in zip(arms, d["effect_q50"])]
        ax.barh(y, d["effect_q50"], xerr=np.clip(err, 0, None), color=colours, alpha=0.85, error_kw={"lw": 0.8})
        ax.axvline(0, color="k", lw=0.6)
        ax.set_title(f"{d['outcome_label'].iloc[0]} ({d['unit'].iloc[0]})", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, arms, fontsize=8)
    if title:
        fig.suptitle(title + ": effect = with - without", fontsize=9)
    store.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path
