"""Allocator tuning, and memory and disk estimates checked before a run starts.

NumPy temporaries of a few MB are allocated and freed many times a month. By default glibc returns
each to the OS (mmap/munmap), which costs page faults on every reuse; raising the mmap and trim
thresholds keeps them in the heap. Harmless elsewhere: only applied on glibc.

The estimate: a run's state is its household and organisation slots (bytes per slot from
``HOUSEHOLD_SCHEMA`` and ``ORG_SCHEMA``; slots = initial households x ``household_capacity_factor``,
with the minimum-townships floor, exactly as :func:`hightide.world.synthesis.build_world` sizes
them); NumPy temporaries (the month's processes, and building the world) peak at about three
times the state, counted as four for margin as the model grows; Python, NumPy, pandas and Arrow
take a fixed baseline. Measured peak resident memory (1952-54, scales 0.002-0.03, Nov 2026 model:
baseline + ~4.0x the state) is 70-80% of the estimate. Disk: the tables, plus a checkpoint (the
state, pickled) twice over while a new one replaces the old.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hightide.errors import HightideError

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False

#: temporaries at the peak, as a multiple of the state (measured ~3.0x; counted as 4 for margin)
TEMPORARIES_FACTOR = 4.0
#: interpreter, NumPy, pandas and Arrow (measured ~115 MB), with room for building the tables
BASELINE_BYTES = 160 * 2**20
#: tables and manifest: small and independent of scale
OUTPUT_BYTES_FIXED = 2 * 2**20
OUTPUT_BYTES_PER_MONTH = 20 * 2**10
#: pickle framing and the small objects of a checkpoint
CHECKPOINT_OVERHEAD_BYTES = 2**20


def tune_allocator(threshold: int = 32 * 1024 * 1024) -> bool:
    """Keep allocations up to ``threshold`` bytes in the heap (glibc). Returns True when applied."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 4 * threshold) == 1
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok


class ResourceLimitError(HightideError):
    """A run would not fit in the memory or disk this machine has: says what and the largest scale that fits."""


def _schema_bytes(schema: dict[str, tuple[str, str, str]]) -> int:
    return sum(np.dtype(dtype).itemsize for dtype, _, _ in schema.values())


def household_slot_bytes() -> int:
    """Bytes of state per household slot (``HOUSEHOLD_SCHEMA``)."""
    from hightide.world.households import HOUSEHOLD_SCHEMA

    return _schema_bytes(HOUSEHOLD_SCHEMA)


def organisation_slot_bytes() -> int:
    """Bytes of state per organisation slot (``ORG_SCHEMA``)."""
    from hightide.world.organisations import ORG_SCHEMA

    return _schema_bytes(ORG_SCHEMA)


@dataclass(frozen=True)
class ResourceEstimate:
    scale: float
    household_slots: int
    organisation_slots: int
    state_bytes: int  # household and organisation arrays
    recorder_bytes: int
    memory_bytes: int  # estimated peak resident memory
    checkpoint_bytes: int  # one checkpoint file (0 without checkpoints)
    output_bytes: int  # tables and manifest (0 without an output directory)
    disk_bytes: int  # peak extra disk the run needs


class _SlotModel:
    """Expected slot counts per province as a function of scale (province inputs read once)."""

    def __init__(self, params, start_month: int):
        from hightide.world.provinces import build_provinces

        provinces = build_provinces(params, start_month / 12.0)
        self.n_provinces = provinces.n
        self.rural_hh = provinces.rural_population / params.persons_per_household
        self.t_total = np.maximum(np.rint(self.rural_hh / params.rural_households_per_township), 1).astype(np.int64)
        self.minimum = int(params.townships_min_per_province)
        self.factor = float(params.household_capacity_factor)

    def slots(self, scale: float) -> tuple[int, int]:
        from hightide.world.synthesis import sample_townships

        sampled = sample_townships(self.t_total, scale, self.minimum)
        households = sampled * (self.rural_hh / self.t_total)  # mean township size x townships sampled
        capacity = np.ceil(households * self.factor).astype(np.int64) + 16
        return int(capacity.sum()), int((capacity // 3 + 16).sum())


def _estimate(model: _SlotModel, scale: float, n_months: int, outputs: bool, checkpoints: bool,
              resuming: bool) -> ResourceEstimate:
    from hightide.engine.context import FLOW_NAMES
    from hightide.results.recorder import NATIONAL_NAMES, STOCK_NAMES

    hh_slots, org_slots = model.slots(scale)
    state = hh_slots * household_slot_bytes() + org_slots * organisation_slot_bytes()
    recorder = 8 * (n_months * model.n_provinces * (len(STOCK_NAMES) + len(FLOW_NAMES))
                    + n_months * len(NATIONAL_NAMES) + model.n_provinces * len(STOCK_NAMES))
    memory = BASELINE_BYTES + int(state * (1 + TEMPORARIES_FACTOR)) + 3 * recorder
    output = OUTPUT_BYTES_FIXED + OUTPUT_BYTES_PER_MONTH * n_months if outputs else 0
    checkpoint = state + recorder + CHECKPOINT_OVERHEAD_BYTES if (outputs and checkpoints) else 0
    # while a checkpoint replaces the previous one both are on disk; a resumed run already has one
    disk = output + checkpoint * (1 if resuming else 2)
    return ResourceEstimate(scale=scale, household_slots=hh_slots, organisation_slots=org_slots, state_bytes=state,
                            recorder_bytes=recorder, memory_bytes=memory, checkpoint_bytes=checkpoint,
                            output_bytes=output, disk_bytes=disk)


def estimate_resources(params, scale: float, start_month: int, n_months: int, *, outputs: bool = True,
                       checkpoints: bool = True, resuming: bool = False) -> ResourceEstimate:
    """Memory and disk a run of ``n_months`` from ``start_month`` at ``scale`` is expected to need."""
    return _estimate(_SlotModel(params, start_month), scale, n_months, outputs, checkpoints, resuming)


def _cgroup_headroom() -> int | None:
    """Memory left under this process's cgroup limit (containers, batch jobs), if there is one."""
    candidates = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
    for limit_path, usage_path in candidates:
        try:
            limit_text = Path(limit_path).read_text().strip()
            usage = int(Path(usage_path).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max":
            return None
        try:
            limit = int(limit_text)
        except ValueError:
            continue
        if limit >= 2**60:  # cgroup v1 "unlimited"
            return None
        return max(limit - usage, 0)
    return None


def available_memory_bytes() -> int | None:
    """Memory a new run can use: MemAvailable (Linux), else free physical pages; capped by a cgroup
    limit. None when the platform does not say."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    headroom = _cgroup_headroom()
    if headroom is not None:
        avail = headroom if avail is None else min(avail, headroom)
    return avail


def free_disk_bytes(path: Path) -> int | None:
    """Free bytes on the filesystem that holds (or will hold) ``path``."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def format_bytes(n: float) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    if n >= 2**20:
        return f"{n / 2**20:.0f} MB"
    return f"{n / 2**10:.0f} kB"


def _floor_2sig(x: float) -> float:
    if x <= 0:
        return 0.0
    digits = 1 - int(math.floor(math.log10(x)))
    return math.floor(x * 10**digits) / 10**digits


def _largest_scale(model: _SlotModel, n_months: int, fits) -> float | None:
    """Largest scale in (0, 1] (two significant figures, rounded down) whose estimate ``fits``."""
    lo, hi = 1e-7, 1.0
    if not fits(lo):
        return None
    if fits(hi):
        return hi
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if fits(mid):
            lo = mid
        else:
            hi = mid
        if hi / lo < 1.0001:
            break
    best = _floor_2sig(lo)
    while best > 0 and not fits(best):  # rounding can only go down, but be sure
        best = _floor_2sig(best * 0.99)
    return best if best > 0 else None


def check_resources(params, scale: float, start_month: int, n_months: int, *, label: str,
                    out: Path | None, checkpoints: bool, resuming: bool = False) -> ResourceEstimate:
    """Estimate the run and refuse (ResourceLimitError) when it cannot fit in memory or on disk."""
    model = _SlotModel(params, start_month)
    outputs = out is not None

    def est(s: float) -> ResourceEstimate:
        return _estimate(model, s, n_months, outputs, checkpoints, resuming)

    e = est(scale)
    memory = available_memory_bytes()
    if memory is not None and e.memory_bytes > memory:
        largest = _largest_scale(model, n_months, lambda s: est(s).memory_bytes <= memory)
        raise ResourceLimitError(
            f"not enough memory to run {label} at scale {scale:g}: it needs about {format_bytes(e.memory_bytes)} "
            f"({e.household_slots:,} household slots x {household_slot_bytes()} bytes and "
            f"{e.organisation_slots:,} organisation slots x {organisation_slot_bytes()} bytes = "
            f"{format_bytes(e.state_bytes)} of state, plus ~{TEMPORARIES_FACTOR:g}x that for the month's "
            f"temporaries, plus {format_bytes(BASELINE_BYTES)} for Python) but only {format_bytes(memory)} "
            f"is available; " + _largest_text(largest, "memory"))
    if outputs:
        disk = free_disk_bytes(out)
        if disk is not None and e.disk_bytes > disk:
            largest = _largest_scale(model, n_months, lambda s: est(s).disk_bytes <= disk)
            hint = ""
            if checkpoints:
                no_ckpt = _estimate(model, scale, n_months, outputs, False, resuming)
                if no_ckpt.disk_bytes <= disk:
                    hint = (f"run without checkpoints (--checkpoint-every 0: needs "
                            f"{format_bytes(no_ckpt.disk_bytes)}), or ")
            ckpt_text = (f" (tables {format_bytes(e.output_bytes)}; a checkpoint is {format_bytes(e.checkpoint_bytes)}"
                         + ("" if resuming else " and two exist briefly while a new one replaces the old") + ")"
                         if e.checkpoint_bytes else "")
            raise ResourceLimitError(
                f"not enough disk space for {label} at scale {scale:g} in {out}: the run needs about "
                f"{format_bytes(e.disk_bytes)}{ckpt_text} but only {format_bytes(disk)} is free; "
                + hint + _largest_text(largest, "disk"))
    return e


def _largest_text(largest: float | None, what: str) -> str:
    if largest is None:
        return (f"no scale fits: even the smallest run (every province keeps townships_min_per_province "
                f"townships) needs more {what} than this machine has")
    return f"the largest scale that fits is about {largest:g} (--scale {largest:g})"
