"""Throughput of the engine, outside the test run (STYLE habit 11).

Run:  .venv/bin/python -m pytest benchmarks/ --benchmark-only   (needs pytest-benchmark)
or:   .venv/bin/python benchmarks/bench_throughput.py [SCALE ...]

Reports household-months per second of the time-stepping alone (manifest `simulation_seconds`),
peak memory per household and the time per process.
"""

from __future__ import annotations

import resource
import sys

from hightide import api


def measure(scale: float, scenario: str = "historical") -> dict:
    res = api.run(scenario, scale=scale, seed=0)
    m = res.manifest
    hh_months = m["households_simulated"] * m["months"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "scale": scale,
        "households": m["households_simulated"],
        "months": m["months"],
        "simulation_seconds": m["simulation_seconds"],
        "household_months_per_second": hh_months / m["simulation_seconds"],
        "peak_bytes_per_household": peak / m["households_simulated"],
        "process_seconds": m["process_seconds"],
    }


def test_throughput_default_scale(benchmark):
    result = benchmark.pedantic(measure, args=(0.001,), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "process_seconds"})


if __name__ == "__main__":
    for s in [float(x) for x in sys.argv[1:]] or [0.001]:
        r = measure(s)
        print(f"scale {r['scale']:g}: {r['households']:,} households x {r['months']} months in "
              f"{r['simulation_seconds']:.1f} s = {r['household_months_per_second']:,.0f} household-months/s; "
              f"peak {r['peak_bytes_per_household']:,.0f} B/household")
        print("  per process (s):", r["process_seconds"])
