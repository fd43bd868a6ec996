"""Per-province partial sums, the form in which national totals are taken.

A national total is the sum, in province order, of per-province sums, each over the province's own
slot block in slot order. A province's partial depends on its own households only, so a process
computes the same total whether the world holds every province or only a shard of them (the
partials of the others arrive through ``StepContext.gather``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _province_sums(starts, used, active, values):
    out = np.zeros(starts.size)
    for p in range(starts.size):
        s = 0.0
        for i in range(starts[p], starts[p] + used[p]):
            if active[i]:
                s += np.float64(values[i])
        out[p] = s
    return out


def province_sums(slots, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the active used slots of each province block (float64, slot order)."""
    return _province_sums(slots.block_start, slots.used, slots.active, values)


def national_total(per_province: np.ndarray) -> float:
    """The national total of a per-province array (``np.sum``, in province order)."""
    return float(np.sum(per_province))
