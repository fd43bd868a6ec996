"""Derive the historical scenario's urban net migration inputs from the recorded urban path.

The towns' path is a policy input (MODEL.md §4.5): each year's net migration is the recorded
change of the urban population (data/history/national_series.csv ``urban_population_m``) less
the towns' natural increase *in the model* (ODD §7.12), so that the model's towns follow the
record. This script runs the bundled historical scenario (seeds 0-2, scale 0.001), takes each
year's change of the towns less that year's net migration input as the natural increase, and
prints the model's path beside the record and the inputs the record then implies. Re-run it
when the towns' births or deaths change; copy the derived values into
``scenarios/bundled/historical.toml`` if they move by more than 0.1 M.

    .venv/bin/python tools/derive_urban_migration.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hightide import api
from hightide.params import resolve
from hightide.results.validation import load_history
from hightide.scenarios.loader import load_scenario
from hightide.state.policy import PolicySchedule
from hightide.world.provinces import build_provinces

SEEDS = (0, 1, 2)
YEARS = range(1952, 1967)


def migration_inputs(scenario) -> dict[int, float]:
    """The scenario's urban net migration in force in each January, by year."""
    schedule = PolicySchedule(scenario)
    return {y: schedule.at(y * 12).urban_net_migration_m_per_year for y in YEARS}


def main() -> None:
    scenario = load_scenario("historical")
    migration = migration_inputs(scenario)
    record = load_history("national_series").set_index("year")["urban_population_m"]
    start = build_provinces(resolve(scenario.parameters)).urban_population.sum() / 1e6
    rates, path = [], None
    for seed in SEEDS:
        towns = api.run(scenario, seed=seed, report=False, checkpoint_every=0).national_annual.set_index("year")
        towns = towns["urban_population_m"]
        path = towns if path is None else path
        previous = np.r_[start, towns.loc[1952:1965].to_numpy()]
        rates.append((towns.loc[1952:1966].to_numpy() - previous - [migration[y] for y in YEARS]) / previous)
    rate = dict(zip(YEARS, np.mean(rates, axis=0)))
    print(f"towns at the start: {start:.2f} M (record, end of 1951: {record[1951]:.2f} M)")
    print(pd.DataFrame({"model (seed 0)": path.loc[1952:1966], "record": record.loc[1952:1966]}).round(1).T.to_string())
    derived = {y: round(record[y] - record[y - 1] * (1 + rate[y]), 1) for y in YEARS}
    print(pd.DataFrame({"natural increase %": {y: round(100 * rate[y], 2) for y in YEARS},
                        "input now": migration, "derived": derived}).T.to_string())


if __name__ == "__main__":
    main()
