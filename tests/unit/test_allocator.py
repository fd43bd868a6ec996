"""The allocator's tuning (engine/memory.py): chunk-sized arrays reuse freed heap pages."""

import resource
import sys

import numpy as np
import pytest

from hightide.engine import memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")


def _faults_of_a_fresh_array(n: int) -> int:
    """Minor page faults taken while an array of n float64 is allocated and written, after an
    array of the same size was allocated, written and freed."""
    a = np.empty(n)
    a[:] = 1.0
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.empty(n)
    b[:] = 2.0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    del b
    return after - before


@pytest.fixture
def small_pages():
    """NumPy's huge-page advice off, so that a fresh mapping faults once per 4 KiB page."""
    was = memory.numpy_hugepages(False)
    yield
    memory.numpy_hugepages(was)


def test_a_chunk_sized_array_reuses_the_freed_pages(small_pages):
    assert memory.tune_allocator()
    memory.release_free_memory()
    n = 40 * 2**20 // 8  # 40 MiB: over glibc's default mapping threshold, under the heap's
    assert n * 8 < memory.HEAP_THRESHOLD_BYTES
    # a mapped 40 MiB array faults ~10,000 pages; reused heap memory almost none
    assert _faults_of_a_fresh_array(n) < 100


def test_population_sized_arrays_stay_mapped(small_pages):
    """Arrays over the threshold are mapped afresh (their pages go back when freed), so the heap
    never keeps a population-sized array's memory."""
    assert memory.tune_allocator()
    n = (memory.HEAP_THRESHOLD_BYTES + 2**20) // 8
    assert _faults_of_a_fresh_array(n) > n * 8 // 4096 // 2


def _thp_mode() -> str | None:
    try:
        text = open("/sys/kernel/mm/transparent_hugepage/enabled").read()
    except OSError:
        return None
    return text[text.index("[") + 1:text.index("]")] if "[" in text else None


def _anon_huge_kb() -> int:
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(_thp_mode() != "madvise", reason="huge pages only where asked for (THP 'madvise')")
def test_the_engine_asks_numpy_for_no_huge_pages():
    """After ``tune_allocator`` a large fresh NumPy array is backed by 4 KiB pages: NumPy no longer
    asks for transparent huge pages (which made untouched spare capacity resident and every
    harvest month zero its working set again in 2 MiB pages)."""
    n = 96 * 2**20 // 8  # 96 MiB: mapped afresh, far over NumPy's 4 MiB floor for the advice
    was = memory.numpy_hugepages(True)
    try:
        before = _anon_huge_kb()
        a = np.ones(n)
        asked = _anon_huge_kb() - before
        del a
        memory.tune_allocator()
        before = _anon_huge_kb()
        b = np.ones(n)
        not_asked = _anon_huge_kb() - before
        del b
    finally:
        memory.numpy_hugepages(was)
    if asked < 32 * 1024:
        pytest.skip(f"the kernel gave only {asked} kB of huge pages even when asked")
    assert not_asked < 4 * 1024, not_asked


def test_free_memory_is_kept_below_the_bound_and_given_back_above_it(small_pages, monkeypatch):
    """``release_free_memory(above=...)`` trims (``malloc_trim``) only when more than ``above``
    bytes are resident."""
    assert memory.tune_allocator()
    resident = memory.resident_bytes()
    assert resident is not None and resident > 0
    trims = []
    monkeypatch.setattr(memory, "_libc", lambda: type("C", (), {"malloc_trim": staticmethod(trims.append)})())
    memory.release_free_memory(above=resident + 2**30)
    assert trims == []
    memory.release_free_memory(above=resident // 2)
    assert trims == [0]
