"""The peer comparison's sub-model (benchmarks/peer_mesa/submodel.py) runs hightide's rules.

Its harvest is two compiled passes; they must give what the engine's array rules give
(``production.pooled_inputs``, ``production.labour_exchange``, ``collective.distribute_elementary``),
and its months must not depend on the number of threads. Mesa is not needed here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from hightide.economy import collective, production
from hightide.engine.kernels import dense_index
from hightide.params import resolve

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "peer_mesa" / "submodel.py"
_spec = importlib.util.spec_from_file_location("submodel", _PATH)  # the name compare.py imports it by
submodel = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = submodel  # dataclasses look their module up
_spec.loader.exec_module(submodel)


def _inputs(n: int, seed: int) -> submodel.Inputs:
    g = np.random.default_rng(seed)
    land = g.gamma(2.0, 8.0, n)
    land[g.random(n) < 0.05] = 0.0  # some households without land
    return submodel.Inputs(klass=g.integers(0, 5, n), attitude=g.normal(0.0, 0.3, n), land=land,
                           labour=g.choice([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], n), animals=g.choice([0.0, 0.0, 1.0, 2.0], n),
                           village=np.sort(g.integers(0, max(n // 40, 1), n)), tfp=g.uniform(20.0, 60.0),
                           params=resolve())


def _harvest_by_array_rules(inputs, org, org_form):
    """The harvest written with the engine's array rules, one form at a time."""
    p = inputs.params
    form = np.where(org >= 0, org_form[np.maximum(org, 0)], submodel.INDIVIDUAL)
    land_t, labour_t, animal_t = production.factor_terms(p, inputs.land, inputs.labour, inputs.animals)
    income = inputs.tfp * (land_t * labour_t * animal_t)
    output = float(income.sum())
    for f, bonus in ((submodel.TEAM, p.mutual_aid_pooling_bonus), (submodel.APC, p.apc_scale_bonus)):
        members = np.flatnonzero(form == f)
        if members.size == 0:
            continue
        unit, n_units = dense_index(org[members], np.ones(members.size, dtype=bool), np.array([0, members.size]))
        labour_used, animals_used = production.pooled_inputs(unit, inputs.land[members], inputs.labour[members],
                                                             inputs.animals[members], n_units)
        out = inputs.tfp * (land_t[members] * production.labour_term(p, labour_used)
                            * production.animal_term(p, animals_used)) * (1.0 + bonus)
        output += float(out.sum() - income[members].sum())
        if f == submodel.TEAM:
            income[members] = out + production.labour_exchange(p, unit, out, inputs.labour[members], labour_used, n_units)
        else:
            pooled = np.bincount(unit, weights=out, minlength=n_units)
            income[members] = collective.distribute_elementary(pooled, unit, inputs.land[members],
                                                               inputs.labour[members], p.land_dividend_share, n_units)
    return income, output


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_harvest_is_the_array_rules(seed):
    g = np.random.default_rng(100 + seed)
    inputs = _inputs(3_000, seed)
    n_org = 120
    org_form = np.full(200, -1, dtype=np.int64)  # room to spare, as the run keeps it
    org_form[:n_org] = g.choice([-1, submodel.TEAM, submodel.APC], n_org)  # some dissolved
    org = np.where(g.random(inputs.n) < 0.6, g.integers(0, n_org, inputs.n), -1)
    org[org_form[np.maximum(org, 0)] < 0] = -1  # nobody stays in a dissolved organisation
    want_income, want_output = _harvest_by_array_rules(inputs, org, org_form)
    p = inputs.params
    land_t, labour_t, animal_t = production.factor_terms(p, inputs.land, inputs.labour, inputs.animals)
    own, unit_of, unit, members, labour_used, animals_used = submodel._pool(
        inputs.tfp, land_t, labour_t, animal_t, inputs.land, inputs.labour, inputs.animals, org, org_form)
    income, output = submodel._share(inputs.tfp, p.elasticity_labour, land_t, production.labour_term(p, labour_used),
                                     production.animal_term(p, animals_used), own, unit_of, unit, members,
                                     inputs.labour, labour_used, inputs.land, org_form, p.mutual_aid_pooling_bonus,
                                     p.apc_scale_bonus, p.land_dividend_share)
    np.testing.assert_allclose(income, want_income, rtol=1e-12, atol=1e-9)
    assert output == pytest.approx(want_output, rel=1e-12)
    # a co-operative shares out exactly what its members produced; a team's labour payments net to zero
    assert income.sum() == pytest.approx(output, rel=1e-12)


def test_months_do_not_depend_on_threads():
    inputs = _inputs(4_000, 7)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = submodel.run_hightide(inputs, 3)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = submodel.run_hightide(inputs, 3)
    finally:
        numba.set_num_threads(before)
    assert one["monthly"] == many["monthly"]
    assert one["harvests"] == many["harvests"]
    shares = [m["share_team"] + m["share_apc"] for m in one["monthly"]]
    assert 0.0 < max(shares) <= 1.0
    assert one["monthly"][-1]["apcs"] > 0  # teams became co-operatives in the slack season
