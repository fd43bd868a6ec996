"""How many threads the compiled passes use, chosen each month from the machine's load.

Passes that run provinces in parallel (``prange``) give the same numbers on any number of
threads: provinces are independent and each province's sums run in slot order. On a machine
where other programs keep the cores busy, though, every parallel region waits for a thread that
the scheduler has put aside, and a month can take several times longer than on one thread. So the
engine uses all cores only while the load of other programs leaves a core idle (1-minute load
average, less the threads the run itself uses); ``HIGHTIDE_THREADS`` fixes the number.
"""

from __future__ import annotations

import os

import numba as nb


def adapt() -> int:
    """Set and return the number of threads for the coming month."""
    cores = nb.config.NUMBA_NUM_THREADS
    fixed = os.environ.get("HIGHTIDE_THREADS")
    if fixed:
        n = max(1, min(int(fixed), cores))
    else:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):
            load = 0.0
        others = max(load - nb.get_num_threads(), 0.0)
        n = cores if others < 0.5 else 1
    if n != nb.get_num_threads():
        nb.set_num_threads(n)
    return n
