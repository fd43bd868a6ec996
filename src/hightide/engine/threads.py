"""How many threads the compiled passes use, chosen as the run goes from what else the machine does.

Passes that run provinces in parallel (``prange``) give the same numbers on any number of
threads: provinces are independent and each province's sums run in slot order. On a machine
where other programs keep the cores busy, though, every parallel region waits for a thread that
the scheduler has put aside, and a month can take several times longer than on one thread. So the
engine uses all cores only while other programs leave a core idle; ``HIGHTIDE_THREADS`` fixes the
number.

What other programs use is measured, not guessed from the load average: the machine's busy CPU
time (``/proc/stat``) less this process's own over the last half second or more. The load average
alone cannot tell a run's own stalled threads from another program's (one other busy program and
this run on two threads read as 2.4 against 2 threads of its own, "idle").
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field

import numba as nb
import numpy as np

#: the shortest interval over which other programs' CPU use is measured (jiffies are 10 ms)
MIN_INTERVAL_S = 0.5


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (all cores), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def others_from_load(load: float, own_threads_busy: float) -> float:
    """Cores other programs use, from the 1-minute load average less this run's own share of it."""
    return max(load - own_threads_busy, 0.0)


def choose(cores: int, others: float) -> int:
    """All cores while other programs leave one idle (they use under half a core), else one."""
    return cores if others < 0.5 else 1


@dataclass
class ThreadGovernor:
    """Sets the compiled passes' thread count before each month of one run (``adapt``)."""

    _mark: tuple[float, float, float] | None = field(default=None, repr=False)  # wall, machine busy, own CPU

    def start(self) -> None:
        """Begin measuring now, before the run's start-up (loading kernels, building the world), so
        that the first month is decided on what other programs did meanwhile rather than on the
        load average, which on a shared or virtual machine can sit near 1 with every core idle."""
        busy = machine_busy_seconds()
        if busy is not None:
            self._mark = (time.perf_counter(), busy, time.process_time())

    def adapt(self) -> int:
        """Set and return the number of threads for the coming month."""
        now, busy, own = time.perf_counter(), machine_busy_seconds(), time.process_time()
        if os.environ.get("HIGHTIDE_THREADS") or busy is None:  # fixed, or no /proc/stat: no history needed
            return adapt()
        cores = nb.config.NUMBA_NUM_THREADS
        if self._mark is None:  # before the first month this run uses no cores: the load is others'
            self._mark = (now, busy, own)
            return _set(choose(cores, others_from_load(_load(), 0.0)))
        wall = now - self._mark[0]
        if wall < MIN_INTERVAL_S:
            return nb.get_num_threads()
        others = max((busy - self._mark[1]) - (own - self._mark[2]), 0.0) / wall
        self._mark = (now, busy, own)
        return _set(choose(cores, others))


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return 0.0


def _set(n: int) -> int:
    if n != nb.get_num_threads():
        nb.set_num_threads(n)
    return n


def adapt() -> int:
    """One decision without history, for a caller that steps a single month: the load average
    less the threads this process keeps busy (a run keeps a :class:`ThreadGovernor` instead)."""
    cores = nb.config.NUMBA_NUM_THREADS
    fixed = os.environ.get("HIGHTIDE_THREADS")
    if fixed:
        return _set(max(1, min(int(fixed), cores)))
    return _set(choose(cores, others_from_load(_load(), nb.get_num_threads())))


#: arrays shorter than this are not split among threads (``elementwise``)
MIN_SPLIT = 1 << 20


def numpy_threads(n: int):
    """A pool of ``n`` Python threads for NumPy's element-by-element loops (``elementwise``), or a
    null context (None) for one thread."""
    return ThreadPoolExecutor(n) if n > 1 else nullcontext()


def elementwise(fn, x: np.ndarray, executor, parts: int, out: np.ndarray | None = None) -> np.ndarray:
    """``fn(x, out)`` for an element-by-element ``fn`` that writes ``out`` (a NumPy ufunc
    expression: its loops release the GIL), on ``parts`` contiguous slices of ``x`` at once by
    ``executor``. Each element is computed from its own input by the same loop, so the values are
    those of one call on the whole array; what NumPy keeps because compiled code would not reproduce
    it to the last bit (its vectorised ``pow``) thus uses every thread too. ``out`` (a new array
    when not given) may be ``x`` itself: in place."""
    out = np.empty(x.shape) if out is None else out
    if executor is None or parts <= 1 or x.size < MIN_SPLIT:
        fn(x, out)
        return out
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    edges = np.linspace(0, x.size, parts + 1).astype(np.int64)
    done = [executor.submit(fn, flat_x[a:b], flat_out[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    for d in done:
        d.result()
    return out
