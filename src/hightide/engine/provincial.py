"""Per-province partial sums, the form in which national totals are taken.

A national total is the sum, in province order, of per-province sums, each over the province's own
slot block in slot order. A province's partial depends on its own households only, so a process
computes the same total whether the world holds every province or only a shard of them (the
partials of the others arrive through ``StepContext.gather``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine.kernels import slot_pieces


@nb.njit(cache=True, parallel=True)
def _province_sums(pieces, bounds, active, values, n_prov):
    """Each province one piece (``slot_pieces(whole=True)``), summed in slot order; the threads take
    runs of provinces of about equal slots."""
    out = np.zeros(n_prov)
    for t in nb.prange(bounds.size - 1):
        for q in range(bounds[t], bounds[t + 1]):
            s = 0.0
            for i in range(pieces[q, 1], pieces[q, 2]):
                if active[i]:
                    s += np.float64(values[i])
            out[pieces[q, 0]] = s
    return out


def province_sums(slots, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over the active used slots of each province block (float64, slot order;
    provinces in parallel)."""
    return _province_sums(*slot_pieces(slots, whole=True), slots.active, values, len(slots.block_start))


def national_total(per_province: np.ndarray) -> float:
    """The national total of a per-province array (``np.sum``, in province order)."""
    return float(np.sum(per_province))
