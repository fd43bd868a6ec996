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
    core = np._core if hasattr(np, "_core") else np.core  # NumPy 2 / 1.26
    setter = core.multiarray._set_madvise_hugepage
    was = setter(False)
    yield
    setter(was)


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
