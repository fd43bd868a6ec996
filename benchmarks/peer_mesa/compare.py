"""Peer comparison: the sub-model of submodel.py run by hightide's engine and by a Mesa 3 model,
side by side on the same inputs (outside the test run; needs the ``peer`` extra: mesa).

Run:  .venv/bin/python benchmarks/peer_mesa/compare.py [--scale 0.01] [--seeds 5] [--threads N] [--json FILE]

Prints, for each aggregate, the mean and standard error over seeds of both implementations and
whether they agree within sampling noise (difference below three standard errors of the
difference, or below 1% of the value), and the throughput of each in household-months per second
(the sub-model's months x the province's households / seconds). Both draw their own random
numbers, so they agree in distribution, not draw for draw. hightide's compiled passes use all cores
unless ``--threads`` says otherwise (its months are the same on any number); the Mesa model runs
on one, as Mesa does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from mesa_model import run_mesa
from submodel import N_MONTHS, province_inputs, run_hightide


def aggregates(result: dict) -> dict[str, float]:
    last = result["monthly"][-1]
    out = {"final share in teams": last["share_team"], "final share in co-operatives": last["share_apc"],
           "final teams": last["teams"], "final co-operatives": last["apcs"],
           "mean share in teams, 36 months": float(np.mean([m["share_team"] for m in result["monthly"]]))}
    for y, h in enumerate(result["harvests"]):
        out[f"harvest {1953 + y} output"] = h["output"]
        out[f"harvest {1953 + y} mean income"] = h["mean_income"]
        out[f"harvest {1953 + y} income, poor / rich"] = h["income_by_class"][0] / max(h["income_by_class"][3], 1e-9)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of hightide's compiled passes (default: all cores; Mesa runs on one)")
    args = ap.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    inputs = province_inputs(args.scale)
    hm = inputs.n * N_MONTHS
    print(f"one province, {inputs.n:,} households x {N_MONTHS} months = {hm:,} household-months")
    run_hightide(inputs, 10_000)  # warm-up: compiled kernels loaded once, as in any run
    runs = {"hightide": [], "mesa": []}
    seconds = {"hightide": [], "mesa": []}
    for seed in range(args.seeds):
        for name, fn in (("hightide", run_hightide), ("mesa", run_mesa)):
            t = time.perf_counter()
            runs[name].append(aggregates(fn(inputs, seed)))
            seconds[name].append(time.perf_counter() - t)
    rows, agree_all = [], True
    for key in runs["hightide"][0]:
        h = np.array([r[key] for r in runs["hightide"]], dtype=float)
        m = np.array([r[key] for r in runs["mesa"]], dtype=float)
        se = np.sqrt(h.var(ddof=1) / h.size + m.var(ddof=1) / m.size) if args.seeds > 1 else 0.0
        diff = abs(h.mean() - m.mean())
        agree = bool(diff <= 3 * se or diff <= 0.01 * max(abs(h.mean()), abs(m.mean()), 1e-12))
        agree_all &= agree
        rows.append({"aggregate": key, "hightide_mean": h.mean(), "hightide_se": h.std(ddof=1) / np.sqrt(h.size) if h.size > 1 else 0.0,
                     "mesa_mean": m.mean(), "mesa_se": m.std(ddof=1) / np.sqrt(m.size) if m.size > 1 else 0.0,
                     "agree": agree})
        print(f"{key:38s} hightide {h.mean():14.6g} ± {rows[-1]['hightide_se']:.3g}   mesa {m.mean():14.6g} ± "
              f"{rows[-1]['mesa_se']:.3g}   {'agree' if agree else 'DIFFER'}")
    th = {k: hm / min(v) for k, v in seconds.items()}
    ratio = th["hightide"] / th["mesa"]
    print(f"throughput: hightide {th['hightide']:,.0f} ({numba.get_num_threads()} threads), mesa {th['mesa']:,.0f} household-months/s "
          f"(best of {args.seeds}); ratio {ratio:,.0f}x; all aggregates agree: {agree_all}")
    if args.json:
        args.json.write_text(json.dumps({"households": inputs.n, "months": N_MONTHS, "seeds": args.seeds,
                                         "seconds": seconds, "household_months_per_second": th, "ratio": ratio,
                                         "hightide_threads": numba.get_num_threads(),
                                         "aggregates": rows, "all_agree": agree_all}, indent=2, default=float))


if __name__ == "__main__":
    main()
