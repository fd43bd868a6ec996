"""The floor of a fused month: how fast one compiled walk could do a quiet month's household work.

Run:  .venv/bin/python benchmarks/fused_month_floor.py [--slots 3e7] [--json FILE]

Not the model. A yardstick for the redesign docs/PERFORMANCE.md ("What remains") weighs: the
engine runs a month as ~25 passes, one or more per process, each over the household arrays. This
script times the per-household work of supply's requests, eating, vital events, the die-out
check, herd growth and the effort step done in **one** walk per province (then one walk for the
sales), on arrays of the engine's dtypes (``world.households.HOUSEHOLD_SCHEMA``) and with the
engine's PCG64 draws (``engine.rng.next_double``). The rules are simplified: no mess halls, no
walks over the fed, no heirs, no relief claims; so the times are lower bounds of what a fused
engine would take for those processes. Three variants separate the costs: as written (four draws
a household, the herd's monthly power in compiled code), without that power, and without the
draws too. A second table times the transcendentals a fused walk would take into compiled code
against NumPy's (AVX-512 where the machine has it), per element.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numba as nb
import numpy as np

from hightide.engine import rng

N_PROVINCES = 29


@nb.njit(inline="always")
def _herd_factor(rate, power):
    return (1.0 + rate) ** (1.0 / 12.0) if power else 1.0 + rate / 12.0


@nb.njit(parallel=True)
def fused_month(starts, ends, active, children, adults, elderly, grain, food_ratio, animals, effort, norm, org,
                unit_effort, unit_pooled, deficit, requests, need_month, months_to_harvest, p_death, p_birth, growth,
                neglect, slaughter, threshold, norm_rate, season_month, draws, power, seed):
    """One walk per province: requests, eating, events by ``floor(n p + U)``, die-out, herd, effort."""
    for pv in nb.prange(starts.size):
        s_hi, s_lo = np.uint64(0x9E3779B97F4A7C15) * np.uint64(pv + 1), np.uint64(seed)
        i_hi, i_lo = np.uint64(0xDA3E39CB94B95BDB), np.uint64(2 * pv + 1)
        asked = 0.0
        for i in range(starts[pv], ends[pv]):
            if not active[i]:
                continue
            c, a, e = np.float64(children[i]), np.float64(adults[i]), np.float64(elderly[i])
            need = (a + 0.6 * c + 0.8 * e) * need_month
            short_of = max(need * months_to_harvest - grain[i], 0.0)
            deficit[i] = np.float32(short_of)
            asked += short_of
            eaten = min(grain[i], need)
            grain[i] -= eaten
            fr = np.float64(food_ratio[i])
            fr += ((eaten / need if need > 0 else 1.0) - fr) / 3.0
            food_ratio[i] = np.float32(fr)
            u1 = u2 = u3 = u4 = 0.5
            if draws:
                s_hi, s_lo, u1 = rng.next_double(s_hi, s_lo, i_hi, i_lo)
                s_hi, s_lo, u2 = rng.next_double(s_hi, s_lo, i_hi, i_lo)
                s_hi, s_lo, u3 = rng.next_double(s_hi, s_lo, i_hi, i_lo)
                s_hi, s_lo, u4 = rng.next_double(s_hi, s_lo, i_hi, i_lo)
            born = min(np.floor(a * p_birth + u4), a)
            c -= min(np.floor(c * p_death + u1), c)
            a -= min(np.floor(a * p_death + u2), a)
            e -= min(np.floor(e * 2.0 * p_death + u3), e)
            c += born
            children[i], adults[i], elderly[i] = np.int8(c), np.int8(a), np.int8(e)
            if c + a + e == 0:
                active[i] = False
                continue
            o = max(org[i], 0)
            member = org[i] >= 0
            short = min(max((threshold - fr) / threshold, 0.0), 1.0)
            pooled = unit_pooled[o] if member else 0.0
            rate = max(growth - neglect * pooled * (1.0 - np.float64(effort[i])) - slaughter * short, -0.99)
            animals[i] = np.float32(animals[i] * _herd_factor(rate, power))
            nrm = np.float64(norm[i])
            nrm += ((unit_effort[o] if member else 1.0) - nrm) * norm_rate
            norm[i] = np.float32(nrm)
            target = nrm * min(fr / threshold, 1.0)
            effort[i] = effort[i] + np.float32((target - np.float64(effort[i])) / season_month)
        requests[pv] = asked


@nb.njit(parallel=True)
def sell(starts, ends, active, grain, deficit, sold_share):
    """The second walk: each household that asked gets its province's share of its request."""
    for pv in nb.prange(starts.size):
        share = sold_share[pv]
        for i in range(starts[pv], ends[pv]):
            if active[i] and deficit[i] > 0:
                grain[i] += deficit[i] * share


def households(n: int, seed: int = 0) -> tuple:
    """Arrays of the engine's dtypes: bands, stocks, herds, effort; teams of 30 households."""
    g = np.random.default_rng(seed)
    bounds = np.linspace(0, n, N_PROVINCES + 1).astype(np.int64)
    org = (np.arange(n) // 30).astype(np.int32)
    n_units = int(org.max()) + 1
    return (bounds[:-1].copy(), bounds[1:].copy(), np.ones(n, bool), g.integers(0, 4, n).astype(np.int8),
            g.integers(1, 4, n).astype(np.int8), g.integers(0, 2, n).astype(np.int8), g.uniform(0, 600, n),
            np.ones(n, np.float32), g.uniform(0, 1.5, n).astype(np.float32), np.full(n, 0.85, np.float32),
            np.full(n, 0.85, np.float32), org, g.uniform(0.7, 0.9, n_units), np.ones(n_units),
            np.zeros(n, np.float32), np.zeros(N_PROVINCES))


def time_month(arrays: tuple, draws: bool, power: bool, repeats: int) -> float:
    """Best seconds of one fused month plus its sales walk."""
    starts, ends, active, grain, deficit = arrays[0], arrays[1], arrays[2], arrays[6], arrays[14]
    sold = np.full(N_PROVINCES, 0.5)
    params = (20.0, 6.0, 0.0008, 0.003, 0.03, 0.1, 0.5, 0.8, 0.11, 3.0, draws, power)
    best = np.inf
    for k in range(repeats + 1):  # the first call compiles
        t0 = time.perf_counter()
        fused_month(*arrays, *params, k)
        sell(starts, ends, active, grain, deficit, sold)
        if k:
            best = min(best, time.perf_counter() - t0)
    return best


@nb.njit(parallel=True)
def _compiled_power(x, out):
    for i in nb.prange(x.size):
        out[i] = x[i] ** 0.35


@nb.njit(parallel=True)
def _compiled_exp(x, out):
    for i in nb.prange(x.size):
        out[i] = np.exp(x[i])


@nb.njit(parallel=True)
def _compiled_log1p(x, out):
    for i in nb.prange(x.size):
        out[i] = np.log1p(x[i])


def time_transcendentals(n: int, repeats: int) -> dict[str, float]:
    """Nanoseconds an element: NumPy's ufuncs (one thread) and the same in compiled loops (all threads)."""
    x = np.random.default_rng(1).uniform(0.5, 3.0, n)
    out = np.empty(n)
    cases = {
        "numpy power, 1 thread": lambda: np.power(x, 0.35, out=out),
        "numpy exp, 1 thread": lambda: np.exp(x, out=out),
        "numpy log1p, 1 thread": lambda: np.log1p(x, out=out),
        f"compiled power, {nb.get_num_threads()} threads": lambda: _compiled_power(x, out),
        f"compiled exp, {nb.get_num_threads()} threads": lambda: _compiled_exp(x, out),
        f"compiled log1p, {nb.get_num_threads()} threads": lambda: _compiled_log1p(x, out),
    }
    result = {}
    for name, fn in cases.items():
        fn()
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        result[name] = best / n * 1e9
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", type=float, default=3e7, help="household slots (default 3e7)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    n = int(args.slots)
    arrays = households(n)
    months = {}
    for label, draws, power in (("as written (four draws, the herd's power compiled)", True, True),
                                ("without the herd's power", True, False),
                                ("without the power and the draws", False, False)):
        months[label] = time_month(arrays, draws, power, args.repeats) / n * 1e9
    del arrays
    print(f"fused month over {n:,} slots, {nb.get_num_threads()} threads (ns per slot-month, best of {args.repeats}):")
    for label, ns in months.items():
        print(f"  {ns:6.2f}  {label}")
    elements = time_transcendentals(min(n, 20_000_000), args.repeats)
    print("transcendentals (ns per element, best):")
    for label, ns in elements.items():
        print(f"  {ns:6.2f}  {label}")
    if args.json:
        args.json.write_text(json.dumps({"slots": n, "threads": nb.get_num_threads(), "fused_month_ns": months,
                                         "transcendental_ns": elements}, indent=2))


if __name__ == "__main__":
    main()
