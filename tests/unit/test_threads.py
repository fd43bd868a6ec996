"""The thread governor: all cores only while other programs leave one idle, measured from the
machine's busy time less the run's own (the numbers never depend on it: test_determinism)."""

from __future__ import annotations

import numba as nb
import pytest

from hightide.engine import threads


def test_choose_all_cores_only_when_others_leave_one_idle():
    assert threads.choose(2, 0.0) == 2
    assert threads.choose(2, 0.49) == 2
    assert threads.choose(2, 0.5) == 1
    assert threads.choose(2, 1.7) == 1


def test_machine_busy_seconds_grows_with_work():
    before = threads.machine_busy_seconds()
    if before is None:
        pytest.skip("no /proc/stat here")
    sum(i * i for i in range(3_000_000))
    assert threads.machine_busy_seconds() > before


def _governor_with(monkeypatch, readings):
    """A governor fed (wall, machine busy, own CPU) readings in turn."""
    it = iter(readings)
    current = {}

    def advance():
        current["r"] = next(it)

    monkeypatch.delenv("HIGHTIDE_THREADS", raising=False)
    monkeypatch.setattr(threads.time, "perf_counter", lambda: current["r"][0])
    monkeypatch.setattr(threads, "machine_busy_seconds", lambda: current["r"][1])
    monkeypatch.setattr(threads.time, "process_time", lambda: current["r"][2])
    monkeypatch.setattr(threads, "_load", lambda: 0.0)
    return threads.ThreadGovernor(), advance


def test_governor_tells_another_busy_program_from_its_own_threads(monkeypatch):
    """Run on two threads getting one core's worth while another program keeps the other core
    busy: the load average (about 2.4 against 2 threads of its own) would read idle; the
    measurement reads one core used by others and drops to one thread; when the other program
    stops, back to all cores."""
    cores = nb.config.NUMBA_NUM_THREADS
    if cores < 2:
        pytest.skip("one core")
    old = nb.get_num_threads()
    gov, advance = _governor_with(monkeypatch, [
        (0.0, 100.0, 10.0),   # start: the load (0) says idle
        (1.0, 102.0, 11.0),   # one second: machine 2 core-s busy, own 1: others 1
        (1.2, 102.4, 11.2),   # under half a second later: no new decision
        (2.0, 103.0, 12.2),   # since the last decision: machine 1.0, own 1.2: others none
    ])
    try:
        advance()
        assert gov.adapt() == cores
        advance()
        assert gov.adapt() == 1
        advance()
        assert gov.adapt() == 1
        advance()
        assert gov.adapt() == cores
    finally:
        nb.set_num_threads(old)


def test_fixed_thread_count_wins(monkeypatch):
    old = nb.get_num_threads()
    monkeypatch.setenv("HIGHTIDE_THREADS", "1")
    try:
        assert threads.ThreadGovernor().adapt() == 1
        assert threads.adapt() == 1
        assert nb.get_num_threads() == 1
    finally:
        nb.set_num_threads(old)


def test_started_governor_decides_the_first_month_on_measurement_not_load(monkeypatch):
    """Started before the run's start-up, the governor decides the first month on what others did
    during it: an idle machine gives all cores even when the load average reads busy (a virtual
    machine's load can sit near 1 with every core idle), a busy one gives one thread."""
    cores = nb.config.NUMBA_NUM_THREADS
    if cores < 2:
        pytest.skip("one core")
    old = nb.get_num_threads()
    try:
        for readings, expected in (([(0.0, 50.0, 5.0), (1.5, 51.5, 6.5)], cores),   # others used nothing
                                   ([(0.0, 50.0, 5.0), (1.5, 53.0, 6.5)], 1)):      # others: one core
            gov, advance = _governor_with(monkeypatch, readings)
            monkeypatch.setattr(threads, "_load", lambda: 1.2)
            advance()
            gov.start()
            advance()
            assert gov.adapt() == expected
    finally:
        nb.set_num_threads(old)
