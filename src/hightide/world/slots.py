"""Struct-of-arrays storage with one contiguous block of slots per province (STYLE habit 1).

Arrays are allocated once from a schema (name -> dtype, unit, meaning); each province owns a block
so that new slots (households formed, organisations founded) stay with their province and a
province's draws never depend on another's. Arrays start as untouched zero pages and a slot is
written only when claimed: the spare capacity of the blocks takes address space, not memory.
Only the used part of a block (``block_start`` to ``block_start + used``) holds meaningful values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np


@dataclass
class SlotArrays:
    block_start: np.ndarray  # int64 per province
    block_end: np.ndarray  # int64 per province (exclusive capacity end)
    used: np.ndarray  # int64 per province: slots used so far (from block_start)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    SCHEMA: dict[str, tuple[str, str, str]] = None  # set by subclasses
    WHAT = "slot"
    DEFAULTS: ClassVar[dict[str, object]] = {}  # non-zero defaults, written when a slot is claimed

    @classmethod
    def allocate(cls, capacity_per_province: np.ndarray):
        cap = np.asarray(capacity_per_province, dtype=np.int64)
        end = np.cumsum(cap)
        start = end - cap
        total = int(end[-1]) if len(end) else 0
        arrays = {name: np.zeros(total, dtype=dtype) for name, (dtype, _, _) in cls.SCHEMA.items()}
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
        """Reserve ``count`` new slots in a province's block; error when the block is full."""
        first = self.block_start[province] + self.used[province]
        if first + count > self.block_end[province]:
            raise MemoryError(f"{self.WHAT} capacity exhausted in province {province}; raise household_capacity_factor")
        self.used[province] += count
        for name, value in self.DEFAULTS.items():
            self.arrays[name][first:first + count] = value
        return np.arange(first, first + count, dtype=np.int64)

    def __getstate__(self) -> dict:
        """Pickle the used part of each block only (a checkpoint's size and the memory of loading
        it follow the households, not the spare capacity). The parts are views, written by pickle
        straight from the arrays: saving a checkpoint copies nothing (a packed copy of every
        array would double the state's memory while it is written)."""
        state = dict(self.__dict__)
        ranges = [(int(a), int(a + n)) for a, n in zip(self.block_start, self.used)]
        state["arrays"] = {name: [arr[a:b] for a, b in ranges] for name, arr in self.arrays.items()}
        state["_capacity"] = self.capacity
        return state

    def __setstate__(self, state: dict) -> None:
        capacity = state.pop("_capacity")
        parts_of = state["arrays"]
        arrays = {}
        for name in list(parts_of):
            parts = parts_of.pop(name)  # each array's parts are dropped once copied (memory on load)
            if not isinstance(parts, list):  # an array packed block after block (older checkpoints)
                parts = [parts[k - n:k] for n, k in zip(state["used"], np.cumsum(state["used"]))]
            arr = np.zeros(capacity, dtype=parts[0].dtype if parts else np.float64)
            for a, values in zip(state["block_start"], parts):
                arr[a:a + values.size] = values
            arrays[name] = arr
        state["arrays"] = arrays
        self.__dict__.update(state)

    def used_mask(self) -> np.ndarray:
        """True on the used part of every province block (a new array)."""
        mask = np.zeros(self.capacity, dtype=bool)
        for a, n in zip(self.block_start, self.used):
            mask[a:a + n] = True
        return mask

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())
