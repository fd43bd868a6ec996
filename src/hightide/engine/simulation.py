"""The run loop: build the world, step month by month, record, optionally check invariants."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from hightide.engine import invariants
from hightide.engine.context import StepContext
from hightide.engine.memory import tune_allocator
from hightide.engine.step import step
from hightide.params import ParameterSet, resolve
from hightide.results.recorder import Recorder
from hightide.scenarios.schema import Scenario
from hightide.state.policy import PolicySchedule
from hightide.world.synthesis import build_world
from hightide.world.world import World


@dataclass
class SimulationResult:
    scenario: Scenario
    params: ParameterSet
    scale: float
    seed: int
    world: World
    recorder: Recorder
    build_seconds: float
    simulation_seconds: float
    process_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def households_simulated(self) -> int:
        return int(self.world.households.used.sum())

    @property
    def months(self) -> int:
        return self.recorder.months_recorded


def settle_initial_organisation(world: World, scenario: Scenario, schedule: PolicySchedule,
                                params: ParameterSet, seed: int) -> None:
    """Teams already formed before the run starts (land reform areas organised from 1950 [001 §II]):
    every household takes its membership decision once under the policy in force at the start."""
    from hightide.institutions import mutual_aid

    month = scenario.start_month - 1
    ctx = StepContext(month=month, start_month=scenario.start_month, policy=schedule.at(scenario.start_month),
                      params=params, seed=seed, n_provinces=world.provinces.n, initial=True)
    mutual_aid.organise(world, ctx)


def simulate(scenario: Scenario, *, scale: float | None = None, seed: int | None = None, check: bool = False,
             on_month: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Run ``scenario`` (scale and seed default to the scenario's own) and return the recorded result."""
    scale = scenario.scenario.scale if scale is None else scale
    seed = scenario.scenario.seed if seed is None else seed
    params = resolve(scenario.parameters)
    tune_allocator()
    t0 = time.perf_counter()
    world = build_world(params, scale, seed, scenario.start_month)
    build_seconds = time.perf_counter() - t0
    schedule = PolicySchedule(scenario)
    n_months = scenario.end_month - scenario.start_month + 1
    recorder = Recorder(scenario.start_month, n_months, world.provinces.n)
    settle_initial_organisation(world, scenario, schedule, params, seed)
    recorder.record_initial(world)
    timings: dict[str, float] = {}
    t1 = time.perf_counter()
    for i, month in enumerate(range(scenario.start_month, scenario.end_month + 1)):
        ctx = StepContext(month=month, start_month=scenario.start_month, policy=schedule.at(month),
                          params=params, seed=seed, n_provinces=world.provinces.n)
        before = invariants.Snapshot.take(world) if check else None
        step(world, ctx, timings)
        if check:
            invariants.check(before, world, ctx)
        recorder.record(world, ctx)
        if on_month is not None:
            on_month(i + 1, n_months)
    simulation_seconds = time.perf_counter() - t1
    return SimulationResult(scenario=scenario, params=params, scale=scale, seed=seed, world=world,
                            recorder=recorder, build_seconds=build_seconds,
                            simulation_seconds=simulation_seconds, process_seconds=timings)
