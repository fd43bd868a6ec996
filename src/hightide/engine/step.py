"""The month, in order (MODEL.md §4; STYLE habit 5). This list is the one place the order lives.

0. planning    - reports roll over, zeal and radicalism, this month's exaggeration (the State)
1. cooperatives - check-ups, withdrawals, enrolment to control figures, upgrading, communes
   organising  - households join and leave mutual-aid teams (institutions)
   incentives  - effort: growing-season mean of each unit's incentive
2. harvest     - in harvest months: production, then tax, purchase, seed and feed settled
   techniques  - land damaged by the Leap's deep ploughing and close planting, and its healing
                 (after the harvest: the crop in the field was sown on last month's land)
3. supply      - the State's granary: imports, towns, exports, resales to deficit households
4. consumption - households eat from their stocks
5. vital events, extinctions, family division, migration, herd growth - demography
"""

from __future__ import annotations

from typing import Callable

from hightide.economy import consumption, demography, harvest, techniques
from hightide.engine import threads
from hightide.engine.context import StepContext
from hightide.institutions import cooperatives, incentives, mutual_aid
from hightide.state import granary, planning
from hightide.world.world import World

Process = Callable[[World, StepContext], None]

PROCESSES: tuple[tuple[str, Process], ...] = (
    ("planning", planning.update),
    ("cooperatives", cooperatives.organise),
    ("organising", mutual_aid.organise),
    ("incentives", incentives.update_effort),
    ("harvest", harvest.harvest),
    ("techniques", techniques.update),
    ("supply", granary.supply),
    ("consumption", consumption.eat),
    ("vital_events", demography.vital_events),
    ("extinctions", demography.extinctions),
    ("partition", demography.partition),
    ("migration", demography.migration),
    ("herd_growth", demography.herd_growth),
)


def step(world: World, ctx: StepContext, timings: dict[str, float] | None = None,
         governor: threads.ThreadGovernor | None = None) -> None:
    """Advance the world by one month (on as many threads as other programs leave free, by the
    run's ``governor``; the numbers do not depend on it)."""
    import time

    if governor is None:
        threads.adapt()
    else:
        governor.adapt()
    for name, process in PROCESSES:
        t0 = time.perf_counter()
        process(world, ctx)
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
