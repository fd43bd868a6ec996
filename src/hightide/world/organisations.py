"""Organisations (mutual-aid teams now; co-operatives and communes later) as a struct of arrays.

Organisations are groups over households: a household's ``org`` is an index here, and totals are
``bincount`` reductions over it (STYLE habit 2, the OpenFisca pattern).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# forms of the ladder [001 §VIII; 003; 002], MODEL.md §2.2
INDIVIDUAL, MUTUAL_AID, ELEMENTARY_APC, ADVANCED_APC, COMMUNE, STATE_FARM = range(6)
FORM_NAMES = ("individual", "mutual_aid", "elementary_apc", "advanced_apc", "commune", "state_farm")

ORG_SCHEMA: dict[str, tuple[str, str, str]] = {
    "active": ("bool", "-", "organisation exists"),
    "form": ("int8", "code", "form of organisation (FORM_NAMES)"),
    "province": ("int16", "id", "province"),
    "township": ("int32", "id", "township it belongs to"),
    "village": ("int32", "id", "village it was founded in"),
    "founded_month": ("int32", "month index", "month founded"),
    "cadre_competence": ("float32", "index", "competence and fair-mindedness of its leading cadres [003], N(0,1)"),
    "quality": ("int8", "class", "Class I well run, II middling, III poorly run [001 note 16]; 0 = not assessed"),
    "represents": ("float32", "units", "real organisations one simulated one stands for, per unit of weight (a commune built from fewer sampled townships than its size is a fraction)"),
    "yield_advantage": ("float32", "ratio", "output per unit of inputs relative to going it alone, last harvest"),
}


@dataclass
class Organisations:
    block_start: np.ndarray
    block_end: np.ndarray
    used: np.ndarray
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def allocate(cls, capacity_per_province: np.ndarray) -> "Organisations":
        cap = np.asarray(capacity_per_province, dtype=np.int64)
        end = np.cumsum(cap)
        start = end - cap
        total = int(end[-1]) if len(end) else 0
        arrays = {name: np.zeros(total, dtype=dt) for name, (dt, _, _) in ORG_SCHEMA.items()}
        return cls(block_start=start, block_end=end, used=np.zeros(len(cap), dtype=np.int64), arrays=arrays)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def capacity(self) -> int:
        return len(self.arrays["active"])

    def claim(self, province: int, count: int) -> np.ndarray:
        first = self.block_start[province] + self.used[province]
        if first + count > self.block_end[province]:
            raise MemoryError(f"organisation capacity exhausted in province {province}")
        self.used[province] += count
        return np.arange(first, first + count, dtype=np.int64)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())
