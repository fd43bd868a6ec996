"""Common random numbers: measure the variance reduction of counterfactual - historical differences.

Run:  .venv/bin/python benchmarks/crn_variance.py [COUNTERFACTUAL ...] [--runs 8] [--scale 0.0002]
      [--workers 1] [--out runs/crn]

Runs three ensembles per counterfactual (historical and the counterfactual with base seed 0, whose
members share seeds pairwise, and the counterfactual with base seed 1) to 1961-12, and prints the
standard deviation of the pairwise differences with shared and with independent seeds
(docs/EXPERIMENTS.md reports the numbers). Finished members are reused when run again.
"""

from __future__ import annotations

import argparse
import time

from hightide.experiments.crn import measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("counterfactuals", nargs="*", default=["flexible_procurement"])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--scale", type=float, default=0.0002)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default="runs/crn")
    args = ap.parse_args()
    for cf in args.counterfactuals:
        t0 = time.perf_counter()
        table = measure(cf, runs=args.runs, scale=args.scale, workers=args.workers, out=args.out)
        print(f"\n{cf} - historical, {args.runs} pairs at scale {args.scale:g} ({time.perf_counter() - t0:.0f} s)")
        cols = ["label", "unit", "reference_sd", "mean_diff_crn", "sd_diff_crn", "mean_diff_independent",
                "sd_diff_independent", "variance_reduction"]
        print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
