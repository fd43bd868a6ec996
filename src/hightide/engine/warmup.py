"""Load the engine's compiled kernels from Numba's on-disk cache at start-up.

A kernel compiled with ``cache=True`` is loaded from disk the first time it is called (LLVM
bitcode parsed and linked: ~5-15 ms a kernel, ~0.3-0.5 s for the ~40 kernels of a run). Left to
itself that happens inside the first months of the run and is counted as simulation time; this
module does it before the clock starts, as start-up work, the same way for every run. It loads
only what the cache already holds (never compiles: a kernel not yet cached is compiled on first
use, as before) and changes no result: the loaded code is the code a first call would load.

It reads Numba's cache index through attributes that are not public API (``Dispatcher._cache``,
its ``_cache_file`` and ``_index_key``); if a Numba release changes them, loading is skipped
and kernels load on first use again.
"""

from __future__ import annotations

import importlib
import os
import sys

from numba.core.dispatcher import Dispatcher


def engine_kernels(prefix: str = "hightide.") -> list[Dispatcher]:
    """The compiled functions (Numba dispatchers) defined in the imported modules under ``prefix``."""
    seen: dict[int, Dispatcher] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(prefix):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and getattr(value.py_func, "__module__", "") == name:
                seen.setdefault(id(value), value)
    return list(seen.values())


def load_cached(dispatcher: Dispatcher) -> int:
    """Load every overload of ``dispatcher`` that Numba's disk cache holds for this machine and
    this version of the function; returns how many were loaded (0 when none, or on any failure)."""
    try:
        cache = dispatcher._cache
        index = cache._cache_file._load_index()
        if not index:
            return 0
        codegen = dispatcher.targetctx.codegen()
        loaded = 0
        for key in list(index):
            sig = key[0]
            if cache._index_key(sig, codegen) != key:  # another machine, or an older version
                continue
            args = tuple(sig.args) if hasattr(sig, "args") else tuple(sig)
            if args in dispatcher.overloads:
                continue
            if not os.path.exists(os.path.join(cache._cache_file._cache_path, index[key])):
                continue
            dispatcher.compile(sig)  # finds the overload in the cache (checked above): loads, compiles nothing
            loaded += 1
        return loaded
    except Exception:  # pragma: no cover - private Numba API changed: load on first use instead
        return 0


def load_engine_kernels() -> int:
    """Load the cached overloads of every engine kernel (see module docstring); returns the count."""
    for module in ("hightide.engine.step", "hightide.results.recorder"):  # every process and its kernels
        importlib.import_module(module)
    return sum(load_cached(d) for d in engine_kernels())
