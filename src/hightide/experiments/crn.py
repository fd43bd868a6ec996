"""Common random numbers, measured: the spread of (counterfactual - reference) differences when
each pair shares its seed, against pairs with independent seeds.

Streams are keyed by (seed, process, province, month) (:mod:`hightide.engine.streams`), so a
counterfactual run with the reference's seed draws the same numbers wherever the two histories have
not diverged, and its difference from the reference is the policy's effect with little seed noise.
Three ensembles of ``runs`` members: the reference and the counterfactual with base seed 0 (pairs
share seeds) and the counterfactual with base seed 1 (pairs independent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hightide.experiments.ensembles import Ensemble, ensemble
from hightide.experiments.outcomes import OUTCOMES, evaluate

DEFAULT_OUTCOMES = ("excess_deaths_1959_61_m", "grain_output_1960_mt", "procurement_1959_mt")


def member_outcomes(ens: Ensemble, names) -> pd.DataFrame:
    return pd.DataFrame([evaluate(a, m, names) for a, m in
                         zip(ens.member_tables("national_annual"), ens.member_tables("national_monthly"))])


def spread_table(reference: pd.DataFrame, paired: pd.DataFrame, independent: pd.DataFrame) -> pd.DataFrame:
    """Per outcome: mean and standard deviation of the differences with shared and with independent
    seeds, and the variance reduction 1 - var(shared) / var(independent)."""
    rows = []
    for name in reference.columns:
        d_crn = (paired[name] - reference[name]).to_numpy(dtype=float)
        d_ind = (independent[name] - reference[name]).to_numpy(dtype=float)
        var_crn, var_ind = np.var(d_crn, ddof=1), np.var(d_ind, ddof=1)
        rows.append({"outcome": name, "label": OUTCOMES[name].label, "unit": OUTCOMES[name].unit,
                     "pairs": len(d_crn), "reference_sd": float(np.std(reference[name], ddof=1)),
                     "mean_diff_crn": float(d_crn.mean()), "sd_diff_crn": float(np.sqrt(var_crn)),
                     "mean_diff_independent": float(d_ind.mean()), "sd_diff_independent": float(np.sqrt(var_ind)),
                     "variance_reduction": float(1 - var_crn / var_ind) if var_ind > 0 else np.nan})
    return pd.DataFrame(rows)


def measure(counterfactual: str, *, reference: str = "historical", runs: int = 8, scale: float = 0.0002,
            end: str = "1961-12", out: str | Path = "runs/crn", workers: int = 1, outcomes=DEFAULT_OUTCOMES,
            on_member=None) -> pd.DataFrame:
    """Run (or resume) the three ensembles under ``out`` and return :func:`spread_table`."""
    out = Path(out)
    common = {"runs": runs, "scale": scale, "end": end, "workers": workers, "on_member": on_member}
    ref = ensemble(reference, seed=0, out=out / f"{reference}-seed0", **common)
    crn = ensemble(counterfactual, seed=0, out=out / f"{counterfactual}-seed0", **common)
    ind = ensemble(counterfactual, seed=1, out=out / f"{counterfactual}-seed1", **common)
    return spread_table(member_outcomes(ref, outcomes), member_outcomes(crn, outcomes), member_outcomes(ind, outcomes))
