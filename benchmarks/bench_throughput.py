"""Throughput and memory of the engine, outside the test run (STYLE habit 11).

Run:  .venv/bin/python benchmarks/bench_throughput.py [--scales 0.001 0.01 0.1] [--json FILE]
or:   .venv/bin/python -m pytest benchmarks/ --benchmark-only   (needs pytest-benchmark)

Each scale runs the historical scenario (1952-1966, seed 0) in a fresh process, so that its peak
resident memory is its own, and reports household-months per second of the time-stepping alone
(manifest ``simulation_seconds``: no start-up, no writing), peak memory per household slot used,
the seconds of each process, and the CPU's user and system time with the minor page faults (the
whole process). Compiled kernels are loaded from Numba's cache (a first run on a
new installation compiles them once, ~1 min, and is not representative). Scale 1 takes ~2 h or more on
this 2-core machine; record it with ``hightide run --scale 1 --out DIR`` under ``/usr/bin/time -v``
and pass ``--manifest DIR/manifest.json --peak-kb N`` to add it to the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, os, resource, sys, time
from hightide import api
t = time.perf_counter()
res = api.run("historical", scale=float(sys.argv[1]), seed=0)
wall = time.perf_counter() - t
m = res.manifest
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"households": m["households_simulated"], "months": m["months"], "wall_seconds": wall,
                  "simulation_seconds": m["simulation_seconds"], "process_seconds": m["process_seconds"],
                  "peak_bytes": ru.ru_maxrss * 1024, "cpu_user_seconds": ru.ru_utime,
                  "cpu_system_seconds": ru.ru_stime, "minor_page_faults": ru.ru_minflt,
                  "load_average": os.getloadavg(), "threads": os.environ.get("HIGHTIDE_THREADS", "adaptive")}))
"""


def measure(scale: float) -> dict:
    """Run one scale in a fresh interpreter; returns its numbers."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(scale)], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return summarise(scale, r)


def summarise(scale: float, r: dict) -> dict:
    hh_months = r["households"] * r["months"]
    return {"scale": scale, **r,
            "household_months_per_second": hh_months / r["simulation_seconds"],
            "peak_bytes_per_household": r["peak_bytes"] / r["households"]}


def from_manifest(path: Path, peak_kb: int) -> dict:
    m = json.loads(Path(path).read_text())
    return summarise(m["scale"], {"households": m["households_simulated"], "months": m["months"],
                                  "wall_seconds": m.get("wall_seconds"), "simulation_seconds": m["simulation_seconds"],
                                  "process_seconds": m.get("process_seconds", {}), "peak_bytes": peak_kb * 1024})


def test_throughput_default_scale(benchmark):
    result = benchmark.pedantic(measure, args=(0.001,), rounds=1, iterations=1)
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "process_seconds"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", type=float, nargs="*", default=[0.001, 0.01, 0.1])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--manifest", type=Path, default=None, help="manifest.json of a recorded run to add")
    ap.add_argument("--peak-kb", type=int, default=0, help="its peak resident memory (kB, from /usr/bin/time -v)")
    args = ap.parse_args()
    rows = [measure(s) for s in args.scales]
    if args.manifest:
        rows.append(from_manifest(args.manifest, args.peak_kb))
    for r in rows:
        top = sorted(r["process_seconds"].items(), key=lambda kv: -kv[1])[:5]
        print(f"scale {r['scale']:g}: {r['households']:,} households x {r['months']} months in "
              f"{r['simulation_seconds']:.1f} s (wall {r['wall_seconds'] or 0:.1f} s) = "
              f"{r['household_months_per_second']:,.0f} household-months/s; peak {r['peak_bytes'] / 2**20:,.0f} MB = "
              f"{r['peak_bytes_per_household']:,.0f} B/household; load average {r.get('load_average', '?')}")
        print("   slowest processes (s):", ", ".join(f"{k} {v:.1f}" for k, v in top))
        if "cpu_system_seconds" in r:  # system time is mostly page faults (docs/PERFORMANCE.md, "The allocator")
            print(f"   CPU user {r['cpu_user_seconds']:.1f} s, system {r['cpu_system_seconds']:.1f} s, "
                  f"{r['minor_page_faults']:,} minor page faults")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
