"""Where a month's time goes: wall and CPU seconds per process and per compiled kernel (outside the test run).

Run:  .venv/bin/python benchmarks/kernel_profile.py --scale 0.03 --end 1960-12 --from 1960-01
or, at full scale from a checkpoint a run wrote (``RUN/checkpoint/state.pkl``, or one kept with
``--keep-checkpoints``; building the world and running to 1960 would take ~20 minutes):
      .venv/bin/python benchmarks/kernel_profile.py --scale 1 --end 1960-12 --state RUN/checkpoints/1960-01/state.pkl

Every compiled kernel (a Numba dispatcher held by a module of the package) is wrapped by a timer on
its calls from Python, and every process of ``engine.step.PROCESSES`` by another; only months from
``--from`` on are counted. CPU seconds are the process's (all threads): CPU / wall near the thread
count means a pass keeps every thread busy, near 1 that it ran on one (a province's serial sum, or
NumPy). What a process spends outside its kernels is NumPy and Python. The timers add ~1 µs a
call, nothing to the kernels themselves; the numbers are the run's, not a model's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pickle
import pkgutil
import sys
import time


def instrument(start_month: int):
    """Wrap the package's kernels and the month's processes; returns the dicts they fill."""
    from numba.core.registry import CPUDispatcher

    import hightide
    from hightide.engine import step

    on = [False]
    kernels: dict[str, list[float]] = {}  # name: [wall, cpu, calls]
    processes: dict[str, list[float]] = {}

    def timed(table, name, fn, gate):
        def call(*args, **kwargs):
            if gate and not on[0]:
                return fn(*args, **kwargs)
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn(*args, **kwargs)
            row = table.setdefault(name, [0.0, 0.0, 0])
            row[0] += time.perf_counter() - t0
            row[1] += time.process_time() - c0
            row[2] += 1
            return out
        return call

    wrapped = {}
    for info in pkgutil.walk_packages(hightide.__path__, "hightide."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # optional front ends (a browser, a server) need extras
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, CPUDispatcher):
                if id(value) not in wrapped:
                    name = f"{value.py_func.__module__.rsplit('.', 1)[-1]}.{value.__name__}"
                    wrapped[id(value)] = timed(kernels, name, value, gate=True)
                setattr(module, attr, wrapped[id(value)])

    def gated(name, process):
        def run(world, ctx):
            on[0] = ctx.month >= start_month
            try:
                if on[0]:
                    return timed(processes, name, process, gate=False)(world, ctx)
                return process(world, ctx)
            finally:
                on[0] = False
        return run

    step.PROCESSES = tuple((name, gated(name, process)) for name, process in step.PROCESSES)
    return processes, kernels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="historical")
    ap.add_argument("--scale", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--end", default="1960-12", help="last month simulated (YYYY-MM)")
    ap.add_argument("--from", dest="start", default=None, help="first month counted (default: the first simulated)")
    ap.add_argument("--state", default=None, help="a checkpoint's state.pkl to continue from (same scenario and scale)")
    ap.add_argument("--top", type=int, default=30, help="kernels listed")
    ap.add_argument("--json", default=None, help="write the tables to this file")
    args = ap.parse_args(argv)

    from hightide.scenarios.loader import load_scenario
    from hightide.scenarios.schema import format_month, parse_month

    scenario = load_scenario(args.scenario)
    scenario = scenario.model_copy(update={"scenario": scenario.scenario.model_copy(update={"end": args.end})})
    state = None
    first = scenario.start_month
    if args.state:
        with open(args.state, "rb") as fh:
            state = pickle.load(fh)["state"]
        first += state.months_done
    start = parse_month(args.start) if args.start else first
    if start < first:
        sys.exit(f"--state holds {state.months_done} months done: its first month comes after --from {args.start}")
    processes, kernels = instrument(start)
    from hightide.engine.simulation import simulate

    result = simulate(scenario, scale=args.scale, seed=args.seed, state=state)
    wall = sum(row[0] for row in processes.values())
    cpu = sum(row[1] for row in processes.values())
    print(f"{args.scenario} scale {args.scale}, months {format_month(start)} to {args.end}: processes {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU; households {result.households_simulated:,}")
    print(f"{'process':<16}{'wall s':>9}{'CPU s':>9}{'CPU/wall':>9}")
    for name, (w, c, _) in sorted(processes.items(), key=lambda kv: -kv[1][0]):
        print(f"{name:<16}{w:9.2f}{c:9.2f}{c / max(w, 1e-9):9.2f}")
    print(f"\n{'kernel':<44}{'wall s':>9}{'CPU s':>9}{'CPU/wall':>9}{'calls':>7}")
    for name, (w, c, n) in sorted(kernels.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f"{name:<44}{w:9.2f}{c:9.2f}{c / max(w, 1e-9):9.2f}{n:7d}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"processes": processes, "kernels": kernels, "scale": args.scale, "end": args.end,
                       "from": format_month(start)}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
