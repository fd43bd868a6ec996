"""Typed schema of a scenario file (MODEL.md §5).

A scenario is metadata, a run window, scale and seed, parameter overrides, the policy in force at
the start, and a dated timeline of policy changes. Counterfactuals change the timeline, never the
mechanisms. Unknown keys are errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")

ProcurementRegime = Literal["free_market", "unified_purchase", "three_fixes", "planned_share"]
AccountingUnit = Literal["unit", "brigade", "team"]


def parse_month(text: str) -> int:
    """'1953-11' -> months since year 0 (year*12 + month-1)."""
    m = _MONTH.match(text)
    if not m:
        raise ValueError(f"expected a month as 'YYYY-MM', got {text!r}")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 01-12, got {text!r}")
    if not 1900 <= year <= 2100:
        raise ValueError(f"year out of range in {text!r}")
    return year * 12 + month - 1


def format_month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class Policy(BaseModel):
    """National policy in force in a month. Each field is a lever a timeline event can set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mutual_aid_allowed: bool = Field(True, description="Households may form mutual-aid teams [001 §II].")
    mutual_aid_promotion: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Intensity of propaganda and preparatory work for mutual aid, 0-1 [001 §IV; 003].",
    )
    procurement_regime: ProcurementRegime = Field(
        "free_market",
        description="free_market (to Nov 1953), unified_purchase (planned purchase and supply, "
        "from Nov 1953 [003]), three_fixes (quotas fixed on normal output, Aug 1955) or planned_share "
        "(the Leap: quota a fixed share of last year's reported output, rigid to the harvest; "
        "Meng, Qian & Yared 2015).",
    )
    urban_net_migration_m_per_year: float = Field(
        0.0, ge=-30.0, le=30.0,
        description="Net rural-to-urban migration, million persons per year (negative: send-down). "
        "A policy input (MODEL.md §4.5); the urban series is then not a validation target.",
    )
    grain_exports_mt_per_year: float = Field(0.0, ge=0.0, le=20.0, description="Grain exports, Mt/yr.")
    grain_imports_mt_per_year: float = Field(0.0, ge=0.0, le=20.0, description="Grain imports, Mt/yr.")
    cooperatives_allowed: bool = Field(False, description="Agricultural producers' co-operatives may exist [001 §II].")
    apc_control_figure: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Centre's control figure: share of rural households to be in co-operatives (any form) "
        "by the next check-up, allotted to provinces by capacity [003; 001 §XI].")
    advanced_control_figure: float = Field(
        0.0, ge=0.0, le=1.0, description="Control figure for the share of households in advanced APCs [001 §X; 003].")
    pressure: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Political pressure on cadres to fill control figures: lets them enrol reluctant "
        "households (commandism) [003; 001 §V].")
    margin: float = Field(
        0.0, ge=0.0, le=3.0,
        description="Margin each level adds to the figure it passes down, so the level below over-fulfils "
        "([003] 'control figures should not be too high, so that the localities may surpass them').")
    exit_allowed: bool = Field(True, description="Members may withdraw from co-operatives [001 §III]; false: no exit (Lin 1990).")
    resolute_reduction: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of poorly run (Class III) co-operatives dissolved at each check-up while in force [001 §III].")
    commune_townships: float = Field(
        0.0, ge=0.0, le=30.0,
        description="When > 0, co-operatives merge into people's communes of this many 1952 townships "
        "[002; 001 §II township basis]; 0 = no communes.")
    accounting_unit: AccountingUnit = Field(
        "unit",
        description="Level at which a co-operative or commune shares its harvest: the whole unit, the brigade "
        "(village) or the production team (~25 households; sub-co-operatives [003]).")
    private_plot_share: float = Field(
        0.05, ge=0.0, le=0.15,
        description="Share of a member's land kept as a private plot [001 note 21: abolished 1958, restored at <=5%].")
    free_supply_share: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of a commune's distributed grain given free by head (mess halls), the rest by wage "
        "grades / work points [002].")
    township_plan: bool = Field(
        True,
        description="Co-operatives organised by a township-wide plan; without one 'the strong seek out the strong, "
        "ostracising peasants who are badly off' [001 §XII].")
    state_farm_land_m_mu: float = Field(
        0.0, ge=0.0, le=500.0, description="Land in state farms, million mu [001 §II: 16.87 M mu by 1957].")
    state_farm_mechanised_share: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of state-farm land in mechanised farms [001 §II: 7.58 of 16.87 M mu].")
    state_farms: float = Field(0.0, ge=0.0, le=100000.0, description="Number of state farms [001 §II: 3,038 by 1957].")
    leap_pressure: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Pressure on cadres to report output targets met (the Great Leap, the anti-right-opportunist "
        "campaign): drives exaggerated reports and the concealment of hunger [002; 004].")
    procurement_on_true_output: bool = Field(
        False, description="Counterfactual: quotas set on the true current harvest, not on reports (flexible procurement).")
    above_normal_purchase_share: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Under the Three Fixes, the share of a harvest above its fixed normal output that the State buys "
        "beyond the quota, from units whose normal output covers their tax and retention (surplus and "
        "self-sufficient): 40% in bumper areas from 1956, as a rule from the State Council's supplementary "
        "regulations of 11 Oct 1957 ('generally 40% of the increase').")
    mess_halls: bool = Field(False, description="Commune members eat in mess halls from pooled stocks [002].")
    backyard_steel_mt: float = Field(
        0.0, ge=0.0, le=50.0,
        description="Steel and iron demanded of rural backyard furnaces, Mt per year beyond modern plants "
        "(1958 target 10.7 Mt vs 5.35 Mt in 1957 [002; 004]).")
    water_conservancy_share: float = Field(
        0.0, ge=0.0, le=0.8, description="Share of rural labour on water-conservancy works (slack season campaigns).")
    sown_area_factor: float = Field(
        1.0, ge=0.3, le=1.2, description="Grain sown area relative to normal (the 1959 cut in sown area; Kueh 1984).")
    campaign_technique_share: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of grain land the Leap's campaign techniques (deep ploughing a chi or more, close "
        "planting) reach in a year (CC directive of 29 Aug 1958: all land within two to three years); radical "
        "provinces push harder, and the damage heals slowly (economy/techniques.py).")
    report_credence: float = Field(
        1.0, ge=0.0, le=1.0,
        description="Share of the exaggeration in last year's reports that planners believe when they set the "
        "Leap's quotas (1 = all of it; the Lushan revision of Aug 1959 implies ~0.3).")
    relief_sees_hunger: bool = Field(
        True,
        description="Relief sees a household that is visibly hungry (last month's food ratio below the hunger "
        "threshold) whatever the claims on its harvests; when False, the believed part of those claims hides its "
        "deficit. Hunger reported from below was taken for hidden grain from the Great Leap to the centre's "
        "spring-famine orders of April 1959, and again from the Lushan plenum to the Twelve Articles (Nov 1960).")
    rural_ration_factor: float = Field(
        1.0, ge=0.5, le=1.2,
        description="Rural ration standard relative to the registry's retention_food_norm_kg_per_capita: the food "
        "left to producers when quotas are set and the basic ration a collective hands out first ([003]; the CC "
        "directive of 7 Sep 1960 lowered it, to ~360 jin of raw grain a head south of the Huai and ~300 north as "
        "secondary accounts recall it).")
    urban_ration_factor: float = Field(
        1.0, ge=0.5, le=1.2,
        description="The towns' grain (food ration and the State's other uses) relative to the registry's "
        "urban rations (the follow-up directive of 14 Sep 1960: urban rations ~2 jin a month lower, urban sales "
        "in the 1960/61 grain year capped at 55 bn jin against 59.1 bn in 1959/60).")
    rural_industry_share: float = Field(
        0.0, ge=0.0, le=0.6,
        description="Share of rural labour drawn all year into commune industry, transport and works "
        "(1958-60; Li & Yang 2005).")
    weather_source: Literal["random", "disasters"] = Field(
        "random", description="Weather input: random shocks, or the official disaster series where it has the year "
        "(an upper bound on weather shocks: data/inputs/disasters_national.csv).")


POLICY_FIELDS = tuple(Policy.model_fields)


class _EventBase(BaseModel):
    """A dated change of policy: the fields it sets stay in force until changed again."""

    model_config = ConfigDict(extra="forbid")

    date: str
    note: str = ""
    source: str = ""

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        parse_month(v)
        return v

    @property
    def month(self) -> int:
        return parse_month(self.date)

    def changes(self) -> dict:
        """The policy fields this event sets."""
        return {k: getattr(self, k) for k in POLICY_FIELDS if getattr(self, k) is not None}

    @model_validator(mode="after")
    def _sets_something(self) -> "_EventBase":
        if not self.changes():
            raise ValueError(
                f"event on {self.date} changes no policy field; allowed: {', '.join(POLICY_FIELDS)}"
            )
        return self


def _optional(name: str):
    """A Policy field as an optional event field with the same type and bounds."""
    info = Policy.model_fields[name]
    inner = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return (Optional[inner], Field(None, description=info.description))


#: Every Policy lever, optional, on a dated event (generated so the two can never disagree).
PolicyEvent = create_model("PolicyEvent", __base__=_EventBase, **{name: _optional(name) for name in POLICY_FIELDS})


class ScenarioMeta(BaseModel):
    """The [scenario] table."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = Field(min_length=1)
    base: str | None = Field(None, description="Bundled scenario this one extends.")
    start: str = "1952-01"
    end: str = "1966-12"
    scale: float = Field(0.001, gt=0.0, le=1.0)
    seed: int = Field(0, ge=0, lt=2**63)
    sources: list[str] = Field(default_factory=list)
    @field_validator("start", "end")
    @classmethod
    def _month(cls, v: str) -> str:
        parse_month(v)
        return v

    @model_validator(mode="after")
    def _window(self) -> "ScenarioMeta":
        if parse_month(self.end) < parse_month(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        if parse_month(self.start) < parse_month("1952-01"):
            raise ValueError("start must be 1952-01 or later: the world is built for the year after land reform")
        return self


class Scenario(BaseModel):
    """A whole scenario: resolved (base applied) and validated."""

    model_config = ConfigDict(extra="forbid")

    scenario: ScenarioMeta
    parameters: dict[str, float] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    timeline: list[PolicyEvent] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def start_month(self) -> int:
        return parse_month(self.scenario.start)

    @property
    def end_month(self) -> int:
        return parse_month(self.scenario.end)

    def policy_schedule(self) -> dict[int, Policy]:
        """Policy in force at the start and after each dated change, keyed by month index."""
        current = self.policy.model_copy()
        schedule = {self.start_month: current.model_copy()}
        for event in sorted(self.timeline, key=lambda e: e.month):
            current = current.model_copy(update=event.changes())
            schedule[event.month] = current.model_copy()
        return schedule
