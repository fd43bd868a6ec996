"""Member seeds spawned from one base seed (NumPy SeedSequence).

Member ``i`` of an ensemble with base seed ``b`` runs with a seed drawn from the ``i``-th child of
``SeedSequence(b)`` (``SeedSequence(b).spawn(n)[i]``, which is ``SeedSequence(b, spawn_key=(i,))``):
it depends on ``b`` and ``i`` only, never on the number of members or workers, so an ensemble can
be extended, resumed or spread over any cluster and member ``i`` is always the same run. Two
ensembles with the same base seed give their members the same seeds: common random numbers.
"""

from __future__ import annotations

import numpy as np

#: spawn key of the grandchild that draws a member's parameters (kept apart from its run seed)
PARAMETER_STREAM = 0


def member_seed(base_seed: int, index: int) -> int:
    """Run seed of member ``index`` (0 <= seed < 2**63, as the engine accepts)."""
    ss = np.random.SeedSequence(entropy=int(base_seed), spawn_key=(int(index),))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def member_rng(base_seed: int, index: int, stream: int = PARAMETER_STREAM) -> np.random.Generator:
    """Generator for member ``index``'s own non-model draws (its sampled parameters)."""
    ss = np.random.SeedSequence(entropy=int(base_seed), spawn_key=(int(index), int(stream)))
    return np.random.Generator(np.random.PCG64(ss))
