"""Roofline: the engine's memory traffic against this machine's memory bandwidth.

Run:  .venv/bin/python benchmarks/roofline.py [--bench FILE.json] [--gb 2]

Bandwidth: a NumPy copy of a large float64 array (``np.copyto``), best of several, counted as
STREAM counts a copy (bytes read + bytes written). Traffic: the bytes each process reads and
writes per household slot in a month, tallied from the compiled passes (array item sizes times
the passes over them; harvest traffic spread over the twelve months). Throughput comes from
bench_throughput.py's JSON (or a run of scale 0.01 when none is given). The fraction is the
bandwidth the engine's throughput implies over the bandwidth measured: how far the engine is from
being limited by memory traffic alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

#: bytes read + written per household slot and month, by process (see module docstring); the
#: comments name the arrays (1 B: active, klass, province, age bands; 4 B: village, org, land,
#: animals, effort, food ratio, reports; 8 B: grain, indices and float temporaries)
BYTES_PER_HOUSEHOLD_MONTH = {
    "planning": 6 + 32 / 12,  # organisation form counts (active, org); January roll-over of four reports
    "cooperatives": 6 + 10,  # form counts for upgrading; check-ups, enrolment and upgrades in some months
    "organising": 2 + 17 + 5 + 6,  # deciders (active, klass), neighbourhood (village, org, bands, land), team sizes; willingness of deciders
    "incentives": 13 + 48 + 17,  # members (one pass), accounting units (three passes over members), effort step
    "harvest": 600 / 4,  # gather, index powers, pooling, claims and shares: ~600 B a household, three harvests a year
    "techniques": 0,  # per province only
    "supply": 1 + 2 * 21 + 8,  # active count; requests then resale (bands, grain, reports); grain written
    "consumption": 29,  # bands, grain read and written, food ratio read and written
    "vital_events": 7,  # active, age bands read and written
    "extinctions": 4 + 5,  # active, age bands; heirs: living households by township (active, village)
    "migration": 6,  # persons by province; eligible households
    "herd_growth": 21 + 40,  # herds pass (active, animals, org, effort, food ratio; animals written); the others' growth, powers, factors
    "recorder": 25,  # one pass over bands, org, coerced, animals, grain, land
}


def copy_bandwidth(gb: float = 2.0, repeats: int = 5) -> float:
    """Bytes per second of np.copyto over a ``gb`` GB float64 array (read + write), best of ``repeats``."""
    n = int(gb * 2**30 / 8)
    src = np.ones(n)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # touch every page first
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=Path, default=None, help="JSON written by bench_throughput.py")
    ap.add_argument("--gb", type=float, default=2.0)
    args = ap.parse_args()
    bandwidth = copy_bandwidth(args.gb)
    per_hm = sum(BYTES_PER_HOUSEHOLD_MONTH.values())
    if args.bench:
        rows = json.loads(args.bench.read_text())
    else:
        from bench_throughput import measure

        rows = [measure(0.01)]
    print(f"memory bandwidth (NumPy copy, read + write): {bandwidth / 1e9:.1f} GB/s")
    print(f"traffic: ~{per_hm:.0f} bytes per household-month "
          + ", ".join(f"{k} {v:.0f}" for k, v in BYTES_PER_HOUSEHOLD_MONTH.items()))
    for r in rows:
        achieved = r["household_months_per_second"] * per_hm
        print(f"scale {r['scale']:g}: {r['household_months_per_second']:,.0f} household-months/s x {per_hm:.0f} B = "
              f"{achieved / 1e9:.2f} GB/s = {100 * achieved / bandwidth:.1f}% of the measured bandwidth; "
              f"the bandwidth bound is {bandwidth / per_hm:,.0f} household-months/s")


if __name__ == "__main__":
    main()
