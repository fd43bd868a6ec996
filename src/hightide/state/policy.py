"""The policy in force each month, from the scenario's dated timeline (MODEL.md §4.1, §5)."""

from __future__ import annotations

import bisect

from hightide.scenarios.schema import Policy, Scenario


class PolicySchedule:
    """Look up the policy in force in any month of the run."""

    def __init__(self, scenario: Scenario):
        schedule = scenario.policy_schedule()
        self._months = sorted(schedule)
        self._policies = [schedule[m] for m in self._months]

    def at(self, month: int) -> Policy:
        i = bisect.bisect_right(self._months, month) - 1
        return self._policies[max(i, 0)]

    def changes(self) -> list[tuple[int, Policy]]:
        return list(zip(self._months, self._policies))
