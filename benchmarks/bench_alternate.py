"""A/B timing of the default run on a shared machine, outside the test run (STYLE habit 11).

Run:  .venv/bin/python benchmarks/bench_alternate.py BASE_SRC [NEW_SRC] [--pairs 5] [--scale 0.001]

On this machine another engineer's job on the other core moves the speed of the same code by
±40% from one minute to the next (CPU seconds too), so two versions are compared by running them
**alternately**, each in a fresh interpreter with the given ``src`` directory first on the path
(e.g. a ``git worktree`` of main), one thread (``HIGHTIDE_THREADS=1``). Each run builds the world
and loads the compiled kernels before the clock, then times ``simulate`` (its
``simulation_seconds`` and the CPU seconds of the process meanwhile). NEW_SRC defaults to this
checkout's ``src``. Each source tree keeps its own Numba cache: run once first after a change,
or the first run of a tree includes compiling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, os, sys, time
from hightide.engine.simulation import initial_state, simulate
from hightide.params import resolve
from hightide.scenarios import load_scenario
try:
    from hightide.engine import warmup
    warmup.load_engine_kernels()
except ImportError:  # older trees load kernels on first use, inside the clock
    pass
scenario = load_scenario("historical")
state = initial_state(scenario, resolve(scenario.parameters), float(sys.argv[1]), 0)
load = os.getloadavg()[0]
c0 = time.process_time()
result = simulate(scenario, scale=float(sys.argv[1]), seed=0, state=state)
print(json.dumps({"simulation_seconds": result.simulation_seconds, "cpu_seconds": time.process_time() - c0,
                  "households": result.households_simulated, "load": [load, os.getloadavg()[0]]}))
"""


def run(src: Path, scale: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), HIGHTIDE_THREADS=os.environ.get("HIGHTIDE_THREADS", "1"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(scale)], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base", type=Path, help="src directory of the base version")
    ap.add_argument("new", type=Path, nargs="?", default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.001)
    args = ap.parse_args()
    ratios = []
    for k in range(args.pairs):
        a, b = run(args.base, args.scale), run(args.new, args.scale)
        ratios.append(b["simulation_seconds"] / a["simulation_seconds"])
        print(f"pair {k + 1}: base {a['simulation_seconds']:.2f} s (CPU {a['cpu_seconds']:.2f}), "
              f"new {b['simulation_seconds']:.2f} s (CPU {b['cpu_seconds']:.2f}); "
              f"load {a['load'][0]:.2f}-{b['load'][1]:.2f}", flush=True)
    print(f"median ratio new / base: {statistics.median(ratios):.3f} over {len(ratios)} pairs")


if __name__ == "__main__":
    main()
