"""Province-sharded runs on Dask: each worker owns a set of provinces, the centre exchanges aggregates.

A shard is a :class:`~hightide.world.world.World` that holds the households and organisations of
its own provinces only: the slot layout (blocks, slot ids, village and township ids) is the full
world's, the other provinces' blocks are empty (``used`` 0, never touched, so they cost address
space, not memory). Every random draw is keyed by (seed, process, province, month) and a slot's
position in its province block, and every rule reads other provinces only through
``StepContext.gather`` (national shares, the granary's claims, national totals, migration), so a
shard runs the month's processes in order on its provinces and stops at each gather.

The centre (:func:`simulate_sharded`, in the client) drives the month: it starts every shard on
it, and at each gather combines the shards' per-province rows into the array of every province
(:func:`combine`: each row from the shard that owns the province; national sums are then taken
from that array in province order, in each shard alike) and sends it back, until every shard has
finished the month and handed over its provinces' stocks and flows for the recorder. The
single-process run goes through the same gathers (returning its own array), so the output is the
same, bit for bit, on any number of shards.

Shards are Dask actors (one per worker, long-lived, holding their World); the month runs in a
thread of the actor that blocks at each gather until the centre replies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise

import numpy as np

from hightide.engine.context import Exchange, StepContext
from hightide.engine.simulation import (
    ForcedInterrupt,
    RunState,
    SimulationInterrupted,
    SimulationResult,
    StopOnInterrupt,
    add_timings,
    initial_state,
)
from hightide.engine.step import step
from hightide.errors import HightideError, ScenarioError
from hightide.params import resolve
from hightide.results.recorder import month_record, stocks_of
from hightide.scenarios.schema import Scenario
from hightide.state.policy import PolicySchedule
from hightide.world.world import World


class ShardMismatch(HightideError):
    """Shards disagree where they must agree (a rule read another province without a gather)."""


# --- provinces to shards ------------------------------------------------------------------------

def assign_provinces(households_per_province: np.ndarray, shards: int) -> list[np.ndarray]:
    """Split the provinces (in order) into ``shards`` contiguous runs of about equal households.
    Each shard gets at least one province; the split depends on the world only."""
    sizes = np.asarray(households_per_province, dtype=np.float64)
    n = sizes.size
    if not 1 <= shards <= n:
        raise ScenarioError(f"shards must be from 1 to the number of provinces ({n}), got {shards}", field="shards")
    cum = np.cumsum(sizes)
    cuts = [0]
    for k in range(1, shards):
        target = cum[-1] * k / shards
        cut = int(np.searchsorted(cum, target, side="left")) + 1
        cut = min(max(cut, cuts[-1] + 1), n - (shards - k))  # at least one province on either side
        cuts.append(cut)
    cuts.append(n)
    return [np.arange(a, b, dtype=np.int64) for a, b in pairwise(cuts)]


def owners(assignment: list[np.ndarray], n_provinces: int) -> np.ndarray:
    """Shard of each province; every province must be owned by exactly one shard."""
    owner = np.full(n_provinces, -1, dtype=np.int64)
    for k, provinces in enumerate(assignment):
        if (owner[provinces] >= 0).any():
            raise ValueError("a province is assigned to two shards")
        owner[provinces] = k
    if (owner < 0).any():
        raise ValueError(f"provinces {np.flatnonzero(owner < 0).tolist()} belong to no shard")
    return owner


# --- the centre's aggregation -------------------------------------------------------------------

def combine(parts: list[np.ndarray], assignment: list[np.ndarray], n_provinces: int) -> np.ndarray:
    """Every province's row of a per-province aggregate: shard k's ``parts[k]`` holds the rows of
    its provinces ``assignment[k]`` in that order. Rows are copied, never added, so each is bit for
    bit what the owning shard computed (and what the single-process run computes)."""
    owners(assignment, n_provinces)
    first = np.asarray(parts[0])
    out = np.zeros((n_provinces,) + first.shape[1:], dtype=first.dtype)
    for part, provinces in zip(parts, assignment):
        part = np.asarray(part)
        if part.shape != (provinces.size,) + first.shape[1:]:
            raise ShardMismatch(f"a shard sent rows of shape {part.shape} for {provinces.size} provinces")
        out[provinces] = part
    return out


# --- shard worlds -------------------------------------------------------------------------------

def _province_arrays(world: World) -> list[str]:
    """Names of the World's per-province arrays (one row per province)."""
    n = world.provinces.n
    return [f.name for f in dataclasses.fields(world)
            if isinstance(getattr(world, f.name), np.ndarray) and getattr(world, f.name).shape[:1] == (n,)]


def _slots_of(slots, keep: np.ndarray, sources=None):
    """A copy of ``slots`` holding the used blocks of the provinces in ``keep`` (from ``sources[p]``
    when given: the slot arrays province p is taken from), the other blocks empty."""
    sources = sources if sources is not None else [slots] * len(keep)
    arrays = {name: np.zeros(arr.size, dtype=arr.dtype) for name, arr in slots.arrays.items()}
    used = np.zeros_like(slots.used)
    for p in np.flatnonzero(keep):
        src = sources[p]
        a, n = int(src.block_start[p]), int(src.used[p])
        for name, arr in arrays.items():
            arr[a:a + n] = src.arrays[name][a:a + n]
        used[p] = n
    return dataclasses.replace(slots, block_start=slots.block_start.copy(), block_end=slots.block_end.copy(),
                               used=used, arrays=arrays)


def restrict(world: World, provinces: np.ndarray) -> World:
    """The shard of ``world`` that owns ``provinces``: their households and organisations, the
    same slot layout, every per-province and national value of the State (replicated)."""
    keep = np.zeros(world.provinces.n, dtype=bool)
    keep[np.asarray(provinces, dtype=np.int64)] = True
    copies = {name: getattr(world, name).copy() for name in _province_arrays(world)}
    return dataclasses.replace(world, households=_slots_of(world.households, keep),
                               organisations=_slots_of(world.organisations, keep), **copies)


def merge(shards: list[World], assignment: list[np.ndarray]) -> World:
    """One World from its shards: each province's blocks and per-province values from its owner;
    national values must agree (else :class:`ShardMismatch`)."""
    base = shards[0]
    n = base.provinces.n
    owner = owners(assignment, n)
    keep = np.ones(n, dtype=bool)
    for name in ("granary_kg", "months_without_exit", "n_villages", "couples_apart", "private_plot_season"):
        values = [getattr(w, name) for w in shards]
        if any(v != values[0] for v in values):
            raise ShardMismatch(f"shards disagree on {name}: {values}")
    per_province = {}
    for name in _province_arrays(base):
        out = getattr(base, name).copy()
        for k, provinces in enumerate(assignment):
            out[provinces] = getattr(shards[k], name)[provinces]
        per_province[name] = out
    return dataclasses.replace(
        base, households=_slots_of(base.households, keep, [shards[k].households for k in owner]),
        organisations=_slots_of(base.organisations, keep, [shards[k].organisations for k in owner]), **per_province)


# --- the shard (a Dask actor) -------------------------------------------------------------------

#: held by a shard's month while it computes, released while it waits at a gather: shards that
#: share a worker process take turns (the compiled passes' thread pool serves one caller at a time)
_COMPUTE = threading.Lock()


class _ShardExchange(Exchange):
    """The shard's side of a gather: send its provinces' rows to the centre, wait for every province's."""

    def __init__(self, provinces: np.ndarray, requests: queue.Queue, replies: queue.Queue):
        self.provinces, self.requests, self.replies = provinces, requests, replies
        self.wait_seconds = 0.0  # time spent waiting for the centre (and the other shards)

    def gather(self, name: str, values: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(np.asarray(values)[self.provinces])
        t0 = time.perf_counter()
        _COMPUTE.release()
        try:
            self.requests.put(("gather", name, rows))
            reply = self.replies.get()
        finally:
            _COMPUTE.acquire()
            self.wait_seconds += time.perf_counter() - t0
        if isinstance(reply, BaseException):
            raise reply
        return reply


class _Abort(Exception):
    """Sent to a month blocked at a gather when the run is given up."""


class Shard:
    """A long-lived shard: its World, the months it has run, and its thread, which runs a month
    when the centre starts one and stops at every gather. Methods return the shard's next message: ("gather", name, rows)
    or ("done", stocks, flows, national) at the end of the month."""

    def __init__(self, scenario: Scenario, world: World, provinces: np.ndarray, seed: int, threads: int):
        if threads > 0 and "HIGHTIDE_THREADS" not in os.environ:
            os.environ["HIGHTIDE_THREADS"] = str(threads)  # this worker runs only this shard
        self.scenario, self.world, self.seed = scenario, world, seed
        self.provinces = np.asarray(provinces, dtype=np.int64)
        self.params = resolve(scenario.parameters)
        self.schedule = PolicySchedule(scenario)
        self.timings: dict[str, float] = {}  # per process, waits at gathers included
        self.timings_by_year: dict[int, dict[str, float]] = {}
        self.compute_seconds = 0.0  # the months' time less the waits at gathers
        self._requests: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self._months: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hightide-shard")
        self._thread.start()

    def initial(self) -> tuple[np.ndarray, float]:
        """Its provinces' stocks at the start, and the granary."""
        return stocks_of(self.world)[self.provinces], self.world.granary_kg

    def begin(self, month: int) -> tuple:
        """Start month index ``month`` (year * 12 + month - 1)."""
        self._months.put(month)
        return self._next()

    def reply(self, full: np.ndarray) -> tuple:
        """Hand every province's rows to the gather the month waits at."""
        self._replies.put(full)
        return self._next()

    def close(self) -> None:
        """End the shard's thread (giving up a month in progress, when another shard failed), so
        that the worker lets go of the shard's world."""
        self._replies.put(_Abort("the sharded run stopped"))
        self._months.put(None)
        self._thread.join(timeout=10)

    def get_world(self) -> World:
        return self.world

    def get_timings(self) -> tuple[dict[str, float], float, dict[int, dict[str, float]]]:
        return dict(self.timings), self.compute_seconds, {y: dict(t) for y, t in self.timings_by_year.items()}

    def _next(self) -> tuple:
        message = self._requests.get()
        if message[0] == "error":
            raise message[1]
        return message

    def _run(self) -> None:
        """The shard's thread: one month after another, as the centre starts them."""
        while (month := self._months.get()) is not None:
            self._month(month)

    def _month(self, month: int) -> None:
        _COMPUTE.acquire()
        t0 = time.perf_counter()
        exchange = _ShardExchange(self.provinces, self._requests, self._replies)
        try:
            ctx = StepContext(month=month, start_month=self.scenario.start_month, policy=self.schedule.at(month),
                              params=self.params, seed=self.seed, n_provinces=self.world.provinces.n,
                              exchange=exchange)
            month_timings: dict[str, float] = {}
            step(self.world, ctx, month_timings)
            add_timings(self.timings, self.timings_by_year, ctx.year, month_timings)
            stocks, flows, national = month_record(self.world, ctx)
            message = ("done", stocks[self.provinces], flows[self.provinces], national)
        except BaseException as exc:  # noqa: BLE001 - handed to the centre with the next message, raised there
            message = ("error", exc)
        finally:
            self.compute_seconds += time.perf_counter() - t0 - exchange.wait_seconds
            _COMPUTE.release()
        self._requests.put(message)


# --- the centre -----------------------------------------------------------------------------------

def _results(futures) -> list:
    return [f.result() for f in futures]


def _run_month(actors, assignment: list[np.ndarray], n_provinces: int, month: int, exchanges: list[int]):
    """Drive every shard through one month; returns (stocks, flows, national) of every province."""
    messages = _results([a.begin(month) for a in actors])
    while True:
        kinds = {m[0] for m in messages}
        if kinds == {"done"}:
            break
        names = {m[1] if m[0] == "gather" else m[0] for m in messages}
        if kinds != {"gather"} or len(names) != 1:
            raise ShardMismatch(f"shards reached different points of month {month}: {sorted(names)}")
        full = combine([m[2] for m in messages], assignment, n_provinces)
        exchanges[0] += 1
        messages = _results([a.reply(full) for a in actors])
    stocks = combine([m[1] for m in messages], assignment, n_provinces)
    flows = combine([m[2] for m in messages], assignment, n_provinces)
    national = messages[0][3]
    for m in messages[1:]:
        if m[3] != national:
            raise ShardMismatch(f"shards disagree on the national values of month {month}: {national} vs {m[3]}")
    return stocks, flows, national


@contextlib.contextmanager
def shard_client(shards: int, scheduler: str | None = None) -> Iterator:
    """A Dask client for a sharded run: on ``scheduler`` (an address) or on a local cluster of
    ``shards`` worker processes with one thread each. It talks to the workers directly (an actor
    call through the scheduler costs two more hops, and a month makes several)."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, direct_to_workers=True) as client:
            yield client
        return
    cluster = LocalCluster(n_workers=shards, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    try:
        with Client(cluster, direct_to_workers=True) as client:
            yield client
    finally:
        cluster.close()


def default_threads(shards: int) -> int:
    """Compiled-pass threads per shard on a local cluster: the cores shared out among the shards."""
    return max(1, (os.cpu_count() or 1) // max(shards, 1))


def simulate_sharded(scenario: Scenario, *, shards: int, scale: float | None = None, seed: int | None = None,
                     client=None, scheduler: str | None = None,
                     on_month: Callable[[int, int], None] | None = None, state: RunState | None = None,
                     checkpoint: Callable[[RunState], bool] | None = None, checkpoint_every: int = 0,
                     stop: StopOnInterrupt | None = None,
                     after_month: Callable[[RunState], None] | None = None) -> SimulationResult:
    """:func:`hightide.engine.simulation.simulate` on ``shards`` province shards (Dask actors on
    ``client``, the cluster at ``scheduler``, or a local cluster of ``shards`` worker processes; a
    client made with ``direct_to_workers=True`` saves two hops per exchange).
    The result holds the merged world and gives the same tables as the single-process run.
    Checkpoints and ``after_month`` see the merged world (fetched from the shards when needed)."""
    if client is None:
        with shard_client(shards, scheduler) as own:
            return simulate_sharded(scenario, shards=shards, scale=scale, seed=seed, client=own, on_month=on_month,
                                    state=state, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                    stop=stop, after_month=after_month)
    scale = scenario.scenario.scale if scale is None else scale
    seed = scenario.scenario.seed if seed is None else seed
    params = resolve(scenario.parameters)
    n_months = scenario.end_month - scenario.start_month + 1
    resumed_from = None if state is None else state.months_done
    if state is None:
        state = initial_state(scenario, params, scale, seed, PolicySchedule(scenario))
    world = state.world
    n_prov = world.provinces.n
    assignment = assign_provinces(world.households.used, shards)
    t0 = time.perf_counter()
    workers = sorted(client.scheduler_info()["workers"])
    threads = default_threads(shards)
    handles = []  # the actors' futures: a shard lives on its worker as long as its future is held
    for k, provinces in enumerate(assignment):
        where = [workers[k % len(workers)]] if workers else None
        handles.append(client.submit(Shard, scenario, restrict(world, provinces), provinces, seed, threads,
                                     actor=True, workers=where, allow_other_workers=False, pure=False))
    actors = _results(handles)
    state.world = None  # the shards hold the world now; merged back when a checkpoint or the end needs it
    del world
    setup_seconds = time.perf_counter() - t0
    recorder = state.recorder
    exchanges = [0]
    saved = state.months_done if resumed_from is not None else None
    t1 = time.perf_counter()
    sim_before = state.simulation_seconds
    aside = 0.0  # seconds since t1 spent merging for and writing checkpoints and in ``after_month``

    base_seconds = dict(state.process_seconds)
    base_by_year = {y: dict(t) for y, t in state.process_seconds_by_year.items()}

    def merged() -> World:
        return merge(_results([a.get_world() for a in actors]), assignment)

    def sync_timings() -> list:
        """The run's seconds per process (and year by year): those before this session, plus the
        slowest shard's in it (waits at gathers included). Returns the shards' timings."""
        timings = _results([a.get_timings() for a in actors])
        state.process_seconds = dict(base_seconds)
        for name in timings[0][0]:
            state.process_seconds[name] = base_seconds.get(name, 0.0) + max(t[0].get(name, 0.0) for t in timings)
        state.process_seconds_by_year = {y: dict(t) for y, t in base_by_year.items()}
        for year in timings[0][2]:
            year_totals = state.process_seconds_by_year.setdefault(year, {})
            for name in timings[0][2][year]:
                year_totals[name] = year_totals.get(name, 0.0) + max(t[2].get(year, {}).get(name, 0.0) for t in timings)
        return timings

    def save() -> None:
        nonlocal saved, aside
        t_save = time.perf_counter()
        try:
            state.world = merged()
            sync_timings()
            state.simulation_seconds = sim_before + t_save - t1 - aside
            if checkpoint(state):
                saved = state.months_done
            state.world = None
        finally:
            aside += time.perf_counter() - t_save

    consistent = True  # the shards are at the end of a month (a checkpoint may be taken)
    try:
        try:
            for i in range(state.months_done, n_months):
                if stop is not None and stop.requested:
                    raise KeyboardInterrupt
                month = scenario.start_month + i
                consistent = False
                stocks, flows, national = _run_month(actors, assignment, n_prov, month, exchanges)
                recorder.store(month, stocks, flows, national)
                state.months_done = i + 1
                consistent = True
                if after_month is not None:
                    t_after = time.perf_counter()
                    state.world = merged()
                    after_month(state)
                    state.world = None
                    aside += time.perf_counter() - t_after
                if (checkpoint is not None and checkpoint_every > 0 and state.months_done % checkpoint_every == 0
                        and state.months_done < n_months):
                    save()
                if on_month is not None:
                    on_month(i + 1, n_months)
        except KeyboardInterrupt as exc:
            # a month the shards are half-way through is given up; the last whole one is saved
            if (consistent and checkpoint is not None and saved != state.months_done
                    and not isinstance(exc, ForcedInterrupt)):
                save()
            raise SimulationInterrupted(state.months_done, saved) from None
        state.simulation_seconds = sim_before + time.perf_counter() - t1 - aside
        state.world = merged()
        timings = sync_timings()
    except BaseException:
        for a in actors:
            with contextlib.suppress(Exception):  # a shard that failed may be gone already
                a.close().result()
        raise
    _results([a.close() for a in actors])
    actors.clear()  # the shards are done: release them on their workers
    handles.clear()
    result = SimulationResult(scenario=scenario, params=params, scale=scale, seed=seed, world=state.world,
                              recorder=recorder, build_seconds=state.build_seconds,
                              simulation_seconds=state.simulation_seconds, process_seconds=state.process_seconds,
                              process_seconds_by_year=state.process_seconds_by_year, resumed_from=resumed_from,
                              shards={"shards": shards, "provinces": [a.tolist() for a in assignment],
                                      "setup_seconds": round(setup_seconds, 3), "exchanges": exchanges[0],
                                      "compute_seconds": [round(t[1], 3) for t in timings]})
    return result
