"""Province-sharded runs vs the single-process run: time and identity (not part of the test run).

Run:  .venv/bin/python benchmarks/bench_shards.py [--scale 0.0002] [--end 1966-12] [--shards 2 3]

Runs the historical scenario once on one process and then on N shards (Dask actors on a local
cluster of N worker processes, one thread each), and reports: the time-stepping alone
(``simulation_seconds``), the cluster start-up, the shards' set-up (shipping each shard its
provinces), the number of exchanges with the centre, and whether the three output tables are
identical (``DataFrame.equals``). A second sharded run on the same, warm cluster shows the cost
without the workers' first loading of the compiled kernels.
"""

from __future__ import annotations

import argparse
import json
import logging
import time


def main() -> None:
    from distributed import Client, LocalCluster

    from hightide.engine.sharding import simulate_sharded
    from hightide.engine.simulation import simulate
    from hightide.experiments.scenario_tools import prepare
    from hightide.results.tables import build_tables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.0002)
    ap.add_argument("--end", default="1966-12")
    ap.add_argument("--shards", type=int, nargs="+", default=[2])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    sc = prepare("historical", end=args.end)
    simulate(sc, scale=args.scale, seed=0)  # warm: kernels loaded
    single = simulate(sc, scale=args.scale, seed=0)
    ref = build_tables(single.recorder, single.world.provinces.name)
    rows = [{"run": "single process", "households": single.households_simulated, "months": single.months,
             "simulation_seconds": single.simulation_seconds,
             "process_seconds_total": sum(single.process_seconds.values())}]
    for n in args.shards:
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        try:
            with Client(cluster, direct_to_workers=True) as client:
                startup = time.perf_counter() - t0
                for label in ("cold workers", "warm workers"):
                    t1 = time.perf_counter()
                    sim = simulate_sharded(sc, shards=n, scale=args.scale, seed=0, client=client)
                    wall = time.perf_counter() - t1
                    tables = build_tables(sim.recorder, sim.world.provinces.name)
                    rows.append({"run": f"{n} shards, {label}", "households": sim.households_simulated,
                                 "months": sim.months, "simulation_seconds": sim.simulation_seconds,
                                 # the slowest shard's seconds in each process, summed: compute, no waiting
                                 "process_seconds_total": sum(sim.process_seconds.values()),
                                 "wall_seconds": wall, "cluster_start_seconds": startup if label == "cold workers" else 0.0,
                                 "setup_seconds": sim.shards["setup_seconds"], "exchanges": sim.shards["exchanges"],
                                 "shard_compute_seconds": sim.shards["compute_seconds"],
                                 "identical": all(ref[k].equals(tables[k]) for k in
                                                  ("national_annual", "national_monthly", "provincial_annual"))})
        finally:
            cluster.close()
    for r in rows:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
