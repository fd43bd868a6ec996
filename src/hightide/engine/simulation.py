"""The run loop: build the world, step month by month, record, optionally check invariants.

A run's whole state between two months is a :class:`RunState` (the World, the Recorder and how many
months are done): random draws are keyed by (seed, process, province, month), never by generator
state, so continuing from a saved RunState gives exactly the months an uninterrupted run would.
``simulate`` can hand the state to a ``checkpoint`` callback every few months, start from a saved
state, and stop cleanly at the end of a month when interrupted (:class:`StopOnInterrupt`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from hightide.engine import invariants, threads, warmup
from hightide.engine.context import StepContext
from hightide.engine.memory import release_free_memory, tune_allocator
from hightide.engine.step import step
from hightide.params import ParameterSet, resolve
from hightide.results.recorder import Recorder
from hightide.scenarios.schema import Scenario
from hightide.state.policy import PolicySchedule
from hightide.world.synthesis import build_world
from hightide.world.world import World


@dataclass
class RunState:
    """Everything needed to continue a run after ``months_done`` months (what a checkpoint holds)."""

    world: World
    recorder: Recorder
    months_done: int  # months completed since the scenario start; the next month is start + months_done
    build_seconds: float = 0.0
    simulation_seconds: float = 0.0  # summed over the sessions that produced this state
    process_seconds: dict[str, float] = field(default_factory=dict)
    process_seconds_by_year: dict[int, dict[str, float]] = field(default_factory=dict)


def add_timings(totals: dict[str, float], by_year: dict[int, dict[str, float]], year: int,
                month: Mapping[str, float]) -> None:
    """Add one month's seconds per process to the run's totals and to its year's."""
    year_totals = by_year.setdefault(int(year), {})
    for name, seconds in month.items():
        totals[name] = totals.get(name, 0.0) + seconds
        year_totals[name] = year_totals.get(name, 0.0) + seconds


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
    process_seconds_by_year: dict[int, dict[str, float]] = field(default_factory=dict)
    resumed_from: int | None = None  # months done in the state the run continued from
    shards: dict | None = None  # a province-sharded run: shard count, provinces, set-up time, exchanges

    @property
    def households_simulated(self) -> int:
        return int(self.world.households.used.sum())

    @property
    def months(self) -> int:
        return self.recorder.months_recorded


class ForcedInterrupt(KeyboardInterrupt):
    """A second Ctrl-C: stop at once, wherever the run is (its state may be half a month on)."""


class SimulationInterrupted(KeyboardInterrupt):
    """The run stopped on an interrupt. ``months_done`` were complete; ``checkpoint_months`` is the
    number of months the newest checkpoint holds (None: no checkpoint)."""

    def __init__(self, months_done: int | None, checkpoint_months: int | None):
        self.months_done = months_done
        self.checkpoint_months = checkpoint_months
        super().__init__(f"interrupted after {months_done} months" if months_done is not None
                         else "interrupted while building the world")


class StopOnInterrupt:
    """While active (main thread only), the first SIGINT asks the run to stop at the end of the
    current month; a second one stops it at once (:class:`ForcedInterrupt`)."""

    def __init__(self, notice: str = "\ninterrupt: stopping at the end of this month and saving a checkpoint "
                                     "(press Ctrl-C again to stop at once)\n"):
        self.requested = False
        self.notice = notice
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.requested:
            raise ForcedInterrupt()
        self.requested = True
        try:
            sys.stderr.write(self.notice)
            sys.stderr.flush()
        except Exception:  # pragma: no cover - a closed stderr must not turn Ctrl-C into a crash
            pass

    def __enter__(self) -> "StopOnInterrupt":
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is signal.default_int_handler:  # leave custom handlers (and SIG_IGN) alone
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


def settle_initial_organisation(world: World, scenario: Scenario, schedule: PolicySchedule,
                                params: ParameterSet, seed: int) -> None:
    """Teams already formed before the run starts (land reform areas organised from 1950 [001 §II]):
    every household takes its membership decision once under the policy in force at the start."""
    from hightide.institutions import mutual_aid

    month = scenario.start_month - 1
    ctx = StepContext(month=month, start_month=scenario.start_month, policy=schedule.at(scenario.start_month),
                      params=params, seed=seed, n_provinces=world.provinces.n, initial=True)
    mutual_aid.organise(world, ctx)


def initial_state(scenario: Scenario, params: ParameterSet, scale: float, seed: int,
                  schedule: PolicySchedule | None = None) -> RunState:
    """The world at the scenario start (teams settled, initial stocks recorded), no month done."""
    schedule = schedule or PolicySchedule(scenario)
    t0 = time.perf_counter()
    world = build_world(params, scale, seed, scenario.start_month)
    build_seconds = time.perf_counter() - t0
    n_months = scenario.end_month - scenario.start_month + 1
    recorder = Recorder(scenario.start_month, n_months, world.provinces.n)
    settle_initial_organisation(world, scenario, schedule, params, seed)
    world.private_plot_season = schedule.at(scenario.start_month).private_plot_share
    recorder.record_initial(world)
    return RunState(world=world, recorder=recorder, months_done=0, build_seconds=build_seconds)


def simulate(scenario: Scenario, *, scale: float | None = None, seed: int | None = None, check: bool = False,
             on_month: Callable[[int, int], None] | None = None, state: RunState | None = None,
             checkpoint: Callable[[RunState], bool] | None = None, checkpoint_every: int = 0,
             stop: StopOnInterrupt | None = None,
             after_month: Callable[[RunState], None] | None = None) -> SimulationResult:
    """Run ``scenario`` (scale and seed default to the scenario's own) and return the recorded result.

    ``state``: continue from this saved state instead of building the world. ``checkpoint(state)``
    is called after every ``checkpoint_every`` months from the start (not after the last month) and
    returns True when it saved. On an interrupt (KeyboardInterrupt, from a signal or a callback)
    at the end of a month, or when ``stop.requested`` is set, the state of the last completed month
    is handed to ``checkpoint`` and :class:`SimulationInterrupted` is raised. ``after_month(state)``
    sees the state at the end of every month (e.g. to keep dated checkpoints for branching).
    ``simulation_seconds`` counts the months' stepping and recording only: the time spent in
    checkpoint writes and in ``after_month`` is not simulation.
    """
    scale = scenario.scenario.scale if scale is None else scale
    seed = scenario.scenario.seed if seed is None else seed
    params = resolve(scenario.parameters)
    tune_allocator()
    governor = threads.ThreadGovernor()
    governor.start()  # the first month's thread count is measured over the start-up below
    # start-up, before the clock: compiled kernels come from Numba's disk cache now, not in the first months
    warmup.load_engine_kernels()
    schedule = PolicySchedule(scenario)
    n_months = scenario.end_month - scenario.start_month + 1
    resumed_from = None if state is None else state.months_done
    saved = state.months_done if state is not None else None  # a state we start from is on disk already
    consistent = state is not None  # the state is at the end of a month (not half-way through one)
    saving = False
    t1 = time.perf_counter()
    sim_before = 0.0
    aside = 0.0  # seconds since t1 spent writing checkpoints and in ``after_month``: not simulation

    def save() -> None:
        nonlocal saving, saved, aside
        t_save = time.perf_counter()
        state.simulation_seconds = sim_before + t_save - t1 - aside
        saving = True  # stays True if the save itself is interrupted: no second attempt then
        try:
            ok = checkpoint(state)
        finally:
            aside += time.perf_counter() - t_save
        saving = False
        if ok:
            saved = state.months_done

    try:
        if state is None:
            state = initial_state(scenario, params, scale, seed, schedule)
            consistent = True
        release_free_memory()  # the world's build or a checkpoint's load: temporaries the months will not reuse
        t1 = time.perf_counter()
        sim_before = state.simulation_seconds
        world, recorder, timings = state.world, state.recorder, state.process_seconds
        by_year = state.process_seconds_by_year
        if stop is not None and stop.requested and state.months_done < n_months:
            raise KeyboardInterrupt
        for i in range(state.months_done, n_months):
            month = scenario.start_month + i
            ctx = StepContext(month=month, start_month=scenario.start_month, policy=schedule.at(month),
                              params=params, seed=seed, n_provinces=world.provinces.n)
            consistent = False
            before = invariants.Snapshot.take(world) if check else None
            month_timings: dict[str, float] = {}
            step(world, ctx, month_timings, governor)
            add_timings(timings, by_year, ctx.year, month_timings)
            if check:
                invariants.check(before, world, ctx)
            recorder.record(world, ctx)
            state.months_done = i + 1
            consistent = True
            if after_month is not None:  # before the periodic checkpoint: a resume never skips it
                t_after = time.perf_counter()
                after_month(state)
                aside += time.perf_counter() - t_after
            if (checkpoint is not None and checkpoint_every > 0 and state.months_done % checkpoint_every == 0
                    and state.months_done < n_months):
                save()
            if on_month is not None:
                on_month(i + 1, n_months)
            if stop is not None and stop.requested and state.months_done < n_months:
                raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        if isinstance(exc, SimulationInterrupted):
            raise
        done = state.months_done if state is not None else None
        if (consistent and done is not None and checkpoint is not None and not saving
                and not isinstance(exc, ForcedInterrupt) and saved != done):
            save()
        raise SimulationInterrupted(done, saved) from None
    state.simulation_seconds = sim_before + time.perf_counter() - t1 - aside
    return SimulationResult(scenario=scenario, params=params, scale=scale, seed=seed, world=state.world,
                            recorder=state.recorder, build_seconds=state.build_seconds,
                            simulation_seconds=state.simulation_seconds, process_seconds=state.process_seconds,
                            process_seconds_by_year=state.process_seconds_by_year, resumed_from=resumed_from)
