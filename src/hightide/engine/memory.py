"""Allocator tuning, and memory and disk estimates checked before a run starts.

NumPy temporaries of a few MB are allocated and freed many times a month. By default glibc returns
each to the OS (mmap/munmap), which costs page faults on every reuse; raising the mmap and trim
thresholds keeps them in the heap. Harmless elsewhere: only applied on glibc. NumPy's advice to
back large arrays with transparent huge pages is turned off (``numpy_hugepages``).

The estimate (measured, see docs/PERFORMANCE.md): slot arrays are allocated at full capacity but
stay untouched zero pages until a slot is claimed, so resident state is the slots in use: the
households at the start (as :func:`hightide.world.synthesis.build_world` draws them, with the
minimum-townships floor) times ``SLOT_GROWTH`` (family division adds slots; dead households keep
theirs) at the bytes of ``HOUSEHOLD_SCHEMA``, plus organisations in use. No process holds arrays over
every household: the harvest works on whole provinces in chunks of up to ``kernels.CHUNK_SLOTS``
used slots, and a larger province in parts of half that size, each with a part of another
province (``harvest.harvest_parts``), at ``HARVEST_BYTES_PER_SLOT``; the other processes with
large transients work by chunks of whole provinces no larger than the largest province
(``CHUNK_BYTES_PER_SLOT``, which the heap may keep beside the harvest's): the largest chunk sets
the temporaries. Consumption and effort, with about a fifth of those bytes a slot, take chunks of
up to twice the largest province (``kernels.LIGHT_CHUNKS``), which stay under that. Python,
NumPy, pandas, Arrow and Numba's compiled kernels take a fixed baseline.
Disk: the tables, plus a checkpoint (the slots in use, pickled) twice over while a new one
replaces the old.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
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

#: household slots in use at the end of 1952-66 per household at the start (measured 1.25-1.30)
SLOT_GROWTH = 1.3
#: organisation slots in use per household slot in use (teams are founded afresh; measured 0.13)
ORG_SLOTS_PER_HOUSEHOLD = 0.15
#: the harvest's per-household arrays (measured ~300 bytes at scale 0.05, counted with margin)
HARVEST_BYTES_PER_SLOT = 350
#: the other processes that work by chunks of provinces, per used slot of the largest chunk: vital
#: events in a famine month (the hungry, their probabilities and NumPy's temporaries for the
#: transcendentals) rose by 463 MiB over a chunk of 4.19 M slots (116 B a slot) at scale 0.1;
#: consumption and incentives by ~98 MiB. Until the member lists went (``74cff4a``) this term was
#: 23 B per slot in use; the ninth full-scale run then peaked at 12.64 GB against an estimate of
#: 12.98 GB with this term (docs/PERFORMANCE.md)
CHUNK_BYTES_PER_SLOT = 116
#: interpreter, NumPy, pandas, Arrow and Numba's kernels (intercept of the measured peaks ~450 MB)
BASELINE_BYTES = 450 * 2**20
#: tables and manifest: small and independent of scale
OUTPUT_BYTES_FIXED = 2 * 2**20
OUTPUT_BYTES_PER_MONTH = 20 * 2**10
#: pickle framing and the small objects of a checkpoint
CHECKPOINT_OVERHEAD_BYTES = 2**20


#: allocations up to this many bytes come from the heap, and what is freed there serves the next
#: month's arrays of the same sizes instead of being unmapped and page-faulted in afresh
#: (docs/PERFORMANCE.md, "The allocator"). It covers every array of a chunk or a part of the
#: harvest, the largest province's included (a chunk is whole provinces: at full scale up to
#: ~14 M slots, and the hungry's probabilities hold four float64 a slot, ~450 MB); arrays over
#: the whole population (143 M slots x 4 or 8 bytes at full scale) stay mapped, so the heap holds
#: no more than the chunks' working set
HEAP_THRESHOLD_BYTES = 512 * 2**20
#: free memory the heap keeps at its top before giving it back (the harvest's parts at full scale
#: use ~1.5 GB of chunk-sized arrays; ``mallopt`` takes an int)
HEAP_KEEP_BYTES = 2**31 - 1


@functools.cache
def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def tune_allocator(threshold: int = HEAP_THRESHOLD_BYTES, keep: int = HEAP_KEEP_BYTES) -> bool:
    """Serve allocations up to ``threshold`` bytes from the heap (glibc) and give its free memory
    back only when more than ``keep`` lies free at its top: the month's processes allocate and
    free arrays of the same sizes each month, which then reuse the same pages; and turn NumPy's
    huge-page advice off (``numpy_hugepages``). Returns True when the heap's settings were applied."""
    global _done
    numpy_hugepages(False)
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = _libc()
        ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, keep) == 1
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok


def numpy_hugepages(enabled: bool) -> bool | None:
    """Whether NumPy advises the kernel to back its arrays of 4 MiB or more with transparent huge
    pages (``madvise(MADV_HUGEPAGE)``, NumPy's default on Linux); returns the previous setting, or
    None where NumPy has no such switch. The engine turns it off (``tune_allocator``): a 2 MiB page
    is zeroed whole at its first touch, so the slot arrays' untouched spare capacity at the end of
    every province block (~1 MiB per array and block on average) became resident, and every
    harvest month zeroed its working set again in 2 MiB pages after the heap gave it back. At
    scale 0.1, 1952-54 on one thread: peak 2.55 -> 2.13 GB, system time 12.8 -> 4.9 s, time-stepping
    71.5 -> 67.4 s, the tables identical (docs/PERFORMANCE.md, "No list over the whole population,
    and no huge pages")."""
    core = np._core if hasattr(np, "_core") else np.core  # NumPy 2 / 1.26
    switch = getattr(core.multiarray, "_set_madvise_hugepage", None)
    return None if switch is None else bool(switch(bool(enabled)))


#: a harvest in parts gives the heap's free pages back only when the process holds more than
#: this: below it they serve the next processes' chunk arrays (vital events', consumption's),
#: which would otherwise fault them in afresh after every harvest month. Scale 0.5, 1952 to mid-1955:
#: 183.8 -> 168.4 s, faults 4.28 -> 2.33 M, peak unchanged; at full scale +0.3 GB through the months,
#: under the build's peak (docs/PERFORMANCE.md, "... the heap kept between harvests")
KEEP_HEAP_BELOW_BYTES = 13 * 2**30


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux ``/proc/self/statm``), or None where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_free_memory(above: int | None = None) -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``): after one-off work
    such as building the world, whose temporaries the months would not reuse; with ``above``,
    only when more than that many bytes are resident (``KEEP_HEAP_BELOW_BYTES``: after a harvest
    in parts, whose freed arrays the next processes reuse unless memory runs high)."""
    if not sys.platform.startswith("linux"):
        return
    if above is not None:
        resident = resident_bytes()
        if resident is not None and resident <= above:
            return
    try:
        _libc().malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
    state_bytes: int  # household and organisation slots in use at the end (resident)
    recorder_bytes: int
    memory_bytes: int  # estimated peak resident memory
    checkpoint_bytes: int  # one checkpoint file (0 without checkpoints)
    output_bytes: int  # tables and manifest (0 without an output directory)
    disk_bytes: int  # peak extra disk the run needs
    start_state_bytes: int = 0  # household slots in use at the start
    temporaries_bytes: int = 0  # the harvest's and the other chunked processes' arrays for the largest chunk


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

    def households(self, scale: float) -> np.ndarray:
        """Households per province at the start (mean township size x townships sampled)."""
        from hightide.world.synthesis import sample_townships

        sampled = sample_townships(self.t_total, scale, self.minimum)
        return sampled * (self.rural_hh / self.t_total)

    def slots(self, scale: float) -> tuple[int, int]:
        """Slot capacity (households, organisations) as build_world allocates it."""
        capacity = np.ceil(self.households(scale) * self.factor).astype(np.int64) + 16
        return int(capacity.sum()), int((capacity // 3 + 16).sum())

    def largest_chunk(self, scale: float) -> int:
        """Used household slots of the largest group of provinces the harvest handles at once."""
        from hightide.engine.kernels import CHUNK_SLOTS, part_count

        largest = cur = 0
        for n in np.ceil(self.households(scale) * min(SLOT_GROWTH, self.factor)):
            if cur and cur + n > CHUNK_SLOTS:
                cur = 0
            cur += int(n)
            # a province above the limit is harvested in parts of whole organisations
            part = math.ceil(cur / part_count(cur))
            largest = max(largest, part)
        return largest


def _estimate(model: _SlotModel, scale: float, n_months: int, outputs: bool, checkpoints: bool,
              resuming: bool) -> ResourceEstimate:
    from hightide.engine.context import FLOW_NAMES
    from hightide.results.recorder import NATIONAL_NAMES, STOCK_NAMES

    hh_slots, org_slots = model.slots(scale)
    start = float(model.households(scale).sum())
    in_use = min(start * SLOT_GROWTH, hh_slots)
    state = int(in_use * household_slot_bytes() + min(in_use * ORG_SLOTS_PER_HOUSEHOLD, org_slots) * organisation_slot_bytes())
    recorder = 8 * (n_months * model.n_provinces * (len(STOCK_NAMES) + len(FLOW_NAMES))
                    + n_months * len(NATIONAL_NAMES) + model.n_provinces * len(STOCK_NAMES))
    temporaries = model.largest_chunk(scale) * (HARVEST_BYTES_PER_SLOT + CHUNK_BYTES_PER_SLOT)
    memory = BASELINE_BYTES + state + temporaries + 3 * recorder
    output = OUTPUT_BYTES_FIXED + OUTPUT_BYTES_PER_MONTH * n_months if outputs else 0
    checkpoint = state + recorder + CHECKPOINT_OVERHEAD_BYTES if (outputs and checkpoints) else 0
    # while a checkpoint replaces the previous one both are on disk; a resumed run already has one
    disk = output + checkpoint * (1 if resuming else 2)
    return ResourceEstimate(scale=scale, household_slots=hh_slots, organisation_slots=org_slots, state_bytes=state,
                            recorder_bytes=recorder, memory_bytes=memory, checkpoint_bytes=checkpoint,
                            output_bytes=output, disk_bytes=disk, start_state_bytes=int(start * household_slot_bytes()),
                            temporaries_bytes=temporaries)


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
            f"({format_bytes(e.state_bytes)} of household and organisation state in use by the end, at "
            f"{household_slot_bytes()} bytes a household slot, plus {format_bytes(e.temporaries_bytes)} for the "
            f"harvest of the largest group of provinces and the member lists, plus {format_bytes(BASELINE_BYTES)} for Python and "
            f"its libraries) but only {format_bytes(memory)} is available; " + _largest_text(largest, "memory"))
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
