"""institutions/mutual_aid.py: grouping joiners into teams within villages."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hightide.institutions.mutual_aid import group_into_teams


def test_paper_example():
    # village 5: 2 joiners (< min 3) -> -1; village 9: 4 joiners -> one team; village 2: 14 joiners, size 7 -> 2 teams
    village = np.array([5, 9, 9, 5, 9, 9] + [2] * 14)
    rank = np.arange(village.size, dtype=float)
    team, team_village = group_into_teams(village, rank, 7.0, 3)
    assert team[village == 5].tolist() == [-1, -1]
    assert len(set(team[village == 9])) == 1
    assert len(set(team[village == 2])) == 2
    assert sorted(team_village.tolist()) == [2, 2, 9]
    np.testing.assert_array_equal(team_village[team[team >= 0]], village[team >= 0])
    assert np.bincount(team[village == 2]).max() == 7


def test_members_are_dealt_out_in_rank_order():
    village = np.zeros(6, dtype=int)
    rank = np.array([0.6, 0.1, 0.5, 0.2, 0.4, 0.3])
    team, _ = group_into_teams(village, rank, 3.0, 2)  # two teams, dealt alternately by rank
    order = np.argsort(rank)
    assert team[order].tolist() == [0, 1, 0, 1, 0, 1]


@st.composite
def _joiners(draw):
    n = draw(st.integers(0, 120))
    village = np.array(draw(st.lists(st.integers(0, 15), min_size=n, max_size=n)), dtype=np.int64)
    rank = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    team_size = draw(st.sampled_from([3.0, 5.0, 7.0, 10.0, 20.0]))
    min_size = draw(st.integers(2, 10))
    return village, rank, team_size, min_size


@given(_joiners())
def test_grouping_rules(case):
    village, rank, team_size, min_size = case
    team, team_village = group_into_teams(village, rank, team_size, min_size)
    assert team.shape == village.shape
    counts = {v: int((village == v).sum()) for v in np.unique(village)}
    for v, c in counts.items():
        mine = team[village == v]
        if c < min_size:
            assert np.all(mine == -1)  # too few joiners: no team
        else:
            assert np.all(mine >= 0)  # every joiner of a qualifying village is assigned
            expected = max(min(int(np.rint(c / team_size)), c // min_size), 1)
            assert len(set(mine.tolist())) == expected
            assert min(np.bincount(mine)[np.unique(mine)]) >= min_size  # no team below the minimum
    assigned = team >= 0
    # teams never span villages, and ids index team_village
    if assigned.any():
        np.testing.assert_array_equal(team_village[team[assigned]], village[assigned])
        assert set(team[assigned].tolist()) == set(range(len(team_village)))
    else:
        assert len(team_village) == 0


def _group_into_teams_by_arrays(village, rank_key, team_size, min_size):
    """The array-expression form of the rule (the implementation until 2026-12): the oracle."""
    order = np.lexsort((rank_key, village))
    v_sorted = village[order]
    uniq, start, counts = np.unique(v_sorted, return_index=True, return_counts=True)
    n_teams = np.where(counts >= min_size,
                       np.maximum(np.minimum(np.rint(counts / team_size), counts // max(min_size, 1)), 1), 0).astype(np.int64)
    rank = np.arange(len(order)) - np.repeat(start, counts)
    team_offset = np.cumsum(n_teams) - n_teams
    per = np.repeat(n_teams, counts)
    local = np.where(per > 0, rank % np.maximum(per, 1), -1)
    team_sorted = np.where(local >= 0, np.repeat(team_offset, counts) + local, -1)
    team = np.empty_like(team_sorted)
    team[order] = team_sorted
    return team, np.repeat(uniq, n_teams)


@given(_joiners(), st.booleans())
def test_compiled_grouping_is_the_array_rule(case, ties):
    """The compiled grouping gives what the array expressions give, teams and their villages,
    element for element (ties in rank broken by joiner order, as ``np.lexsort`` breaks them)."""
    village, rank, team_size, min_size = case
    if ties:
        rank = np.round(rank, 1)
    for v in (village, village.astype(np.int32)):
        team, team_village = group_into_teams(v, rank, team_size, min_size)
        want_team, want_village = _group_into_teams_by_arrays(v, rank, team_size, min_size)
        np.testing.assert_array_equal(team, want_team)
        np.testing.assert_array_equal(team_village, want_village)
        assert team_village.dtype == want_village.dtype


@given(st.lists(st.integers(0, 30), min_size=0, max_size=300))
def test_default_sizes_never_make_a_team_below_the_minimum(villages):
    village = np.array(villages, dtype=np.int64)
    team, team_village = group_into_teams(village, np.zeros(village.size), 7.0, 3)
    if team_village.size:
        assert np.bincount(team[team >= 0], minlength=team_village.size).min() >= 3


def test_no_team_below_minimum_when_team_size_is_at_least_the_minimum():
    team, team_village = group_into_teams(np.zeros(5, dtype=np.int64), np.arange(5.0), 3.0, 3)
    assert np.bincount(team, minlength=team_village.size).min() >= 3


def test_anyone_free_or_in_a_team_is_the_array_test(monkeypatch):
    """The early-stopping pass says what the array expression says: some active household outside
    every organisation, or in a live mutual-aid team (dead teams and inactive households don't count)."""
    from types import SimpleNamespace

    from hightide.engine import kernels
    from hightide.institutions.mutual_aid import _anyone_free_or_in_a_team
    from hightide.world.organisations import COMMUNE, MUTUAL_AID

    monkeypatch.setattr(kernels, "PIECE_SLOTS", 64)
    monkeypatch.setattr(kernels, "MIN_PIECE_SLOTS", 1)

    g = np.random.default_rng(2)
    n = 500
    starts, used = np.array([0, 200, 200]), np.array([150, 0, 240])
    org_form = np.array([COMMUNE, MUTUAL_AID, MUTUAL_AID, COMMUNE], dtype=np.int8)
    org_active = np.array([True, False, True, True])
    in_use = np.zeros(n, dtype=bool)
    for a, k in zip(starts, used):
        in_use[a:a + k] = True
    for trial in range(40):
        org = g.choice([0, 3, 1, 2, -1], size=n, p=[0.5, 0.47, 0.01, 0.01, 0.01] if trial % 2 else [0.5, 0.5, 0, 0, 0]).astype(np.int32)
        active = g.random(n) < (0.99 if trial % 4 < 2 else 0.001)
        o = np.maximum(org, 0)
        want = bool((in_use & active & ((org < 0) | (org_active[o] & (org_form[o] == MUTUAL_AID)))).any())
        for threads in (1, 2, 3):  # pieces of 64 slots dealt to the threads
            pieces, bounds = kernels.slot_pieces(SimpleNamespace(block_start=starts, used=used), threads=threads)
            assert _anyone_free_or_in_a_team(pieces, bounds, active, org, org_active, org_form) == want
