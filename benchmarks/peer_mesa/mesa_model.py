"""The sub-model of submodel.py written the way a Mesa 3 user would write it: one ``mesa.Agent``
per household, teams and co-operatives as plain objects, the stock Mesa API (``Model``,
``Agent``, ``model.agents.shuffle_do``, ``model.random``). Same inputs and rules as
``submodel.run_hightide``; its own random numbers (Mesa's ``model.random``)."""

from __future__ import annotations

import mesa
import numpy as np
from submodel import (
    APC,
    APC_CONVERSION,
    HARVEST_MONTH,
    INDIVIDUAL,
    N_MONTHS,
    PROMOTION,
    START_MONTH,
    TEAM,
    Inputs,
    harvest_summary,
    summary,
)

SLACK = (11, 12, 1, 2, 3)
LANDLORD = 4


class Organisation:
    """A mutual-aid team or an elementary co-operative of one village."""

    def __init__(self, village: int):
        self.village = village
        self.form = TEAM
        self.members: set = set()


class Household(mesa.Agent):
    def __init__(self, model: Province, k: int):
        super().__init__(model)
        i = model.inputs
        self.klass = int(i.klass[k])
        self.attitude = float(i.attitude[k])
        self.land = float(i.land[k])
        self.labour = float(i.labour[k])
        self.animals = float(i.animals[k])
        self.village = int(i.village[k])
        self.org = None
        self.draw = 0.0
        per_mu = self.labour / self.land if self.land > 0 else 0.0
        self.shortage = min(max(1.0 - per_mu / model.mean_labour_per_mu, 0.0), 1.0) if self.land > 0 else 0.0

    def willingness(self) -> float:
        p = self.model.params
        bonus = {0: p.willingness_poor, 1: p.willingness_lower_middle, 2: p.willingness_upper_middle,
                 3: p.willingness_rich, 4: p.willingness_rich}[self.klass]
        return (p.willingness_base + bonus + self.attitude + p.willingness_labour_shortage * self.shortage
                + p.willingness_no_animals * (self.animals < 0.5) + p.willingness_promotion * PROMOTION
                + p.willingness_neighbours * self.model.organised_share[self.village])

    def decide(self) -> None:
        """Reconsider mutual aid with this month's probability: leave a team, or ask to join one."""
        model = self.model
        self.draw = self.random.random()
        if self.klass == LANDLORD or self.draw >= model.decision_probability:
            return
        w = self.willingness()
        if self.org is not None and self.org.form == TEAM and w < -model.params.exit_hysteresis:
            self.org.members.discard(self)
            self.org = None
        elif self.org is None and w > 0:
            model.joiners.setdefault(self.village, []).append(self)

    def own_output(self) -> float:
        p = self.model.params
        return self.model.inputs.tfp * (self.land ** p.elasticity_land * self.labour ** p.elasticity_labour
                                        * (1.0 + self.animals) ** p.elasticity_animals)


class Province(mesa.Model):
    def __init__(self, inputs: Inputs, seed: int):
        super().__init__(seed=seed)
        self.inputs = inputs
        self.params = inputs.params
        self.mean_labour_per_mu = inputs.labour.sum() / max(inputs.land.sum(), 1e-9)
        self.month = START_MONTH
        self.organisations: list[Organisation] = []
        self.joiners: dict[int, list[Household]] = {}
        self.organised_share: dict[int, float] = {}
        self.decision_probability = 0.0
        self.monthly, self.harvests = [], []
        for k in range(inputs.n):
            Household(self, k)

    def step(self) -> None:
        p = self.params
        cal = self.month % 12 + 1
        self.decision_probability = p.decision_probability_campaign if cal in SLACK else p.decision_probability_other
        counts: dict[int, list[int]] = {}
        for a in self.agents:
            c = counts.setdefault(a.village, [0, 0])
            c[0] += a.org is not None
            c[1] += 1
        self.organised_share = {v: c[0] / c[1] for v, c in counts.items()}
        self.joiners = {}
        self.agents.shuffle_do("decide")
        self.form_teams()
        for org in self.organisations:  # teams below the minimum dissolve
            if org.form == TEAM and len(org.members) < p.mutual_aid_min_size:
                for a in org.members:
                    a.org = None
                org.members = set()
                org.form = -1
        if cal in SLACK:
            for org in self.organisations:
                if org.form == TEAM and self.random.random() < APC_CONVERSION:
                    org.form = APC
        forms = [INDIVIDUAL if a.org is None else a.org.form for a in self.agents]
        self.monthly.append(summary(np.array(forms), sum(o.form == TEAM for o in self.organisations),
                                    sum(o.form == APC for o in self.organisations)))
        if cal == HARVEST_MONTH:
            self.harvest()
        self.month += 1

    def form_teams(self) -> None:
        p = self.params
        for village, joiners in self.joiners.items():
            n = len(joiners)
            if n >= p.mutual_aid_min_size:
                n_teams = max(min(round(n / p.mutual_aid_team_size), n // int(p.mutual_aid_min_size)), 1)
                teams = [Organisation(village) for _ in range(n_teams)]
                self.organisations.extend(teams)
                for r, a in enumerate(sorted(joiners, key=lambda a: a.draw)):
                    a.org = teams[r % n_teams]
                    a.org.members.add(a)
            else:  # too few: join a team of the village, if any
                existing = [o for o in self.organisations if o.village == village and o.form == TEAM]
                if existing:
                    for a in joiners:
                        a.org = existing[-1]
                        a.org.members.add(a)

    def harvest(self) -> None:
        p = self.params
        income, output = {}, 0.0
        for a in self.agents:
            if a.org is None:
                income[a] = a.own_output()
                output += income[a]
        for org in self.organisations:
            if org.form not in (TEAM, APC) or not org.members:
                continue
            members = list(org.members)
            land = sum(a.land for a in members)
            labour = sum(a.labour for a in members)
            animals = sum(a.animals for a in members)
            bonus = p.mutual_aid_pooling_bonus if org.form == TEAM else p.apc_scale_bonus
            outs = {}
            for a in members:
                share = a.land / land if land > 0 else 0.0
                used_l, used_a = labour * share, animals * share
                outs[a] = self.inputs.tfp * (a.land ** p.elasticity_land * used_l ** p.elasticity_labour
                                             * (1.0 + used_a) ** p.elasticity_animals) * (1.0 + bonus)
            total = sum(outs.values())
            output += total
            for a in members:
                share = a.land / land if land > 0 else 0.0
                if org.form == TEAM:
                    wage = p.elasticity_labour * total / labour if labour > 0 else 0.0
                    income[a] = outs[a] + wage * (a.labour - labour * share)
                else:
                    div = total * p.land_dividend_share
                    rest = total * (1.0 - p.land_dividend_share)
                    income[a] = (div * (a.land / land if land > 0 else 1.0 / len(members))
                                 + rest * (a.labour / labour if labour > 0 else 1.0 / len(members)))
        order = sorted(income, key=lambda a: a.unique_id)
        self.harvests.append(harvest_summary(self.inputs, np.array([income[a] for a in order]), output))


def run_mesa(inputs: Inputs, seed: int) -> dict:
    model = Province(inputs, seed)
    for _ in range(N_MONTHS):
        model.step()
    return {"monthly": model.monthly, "harvests": model.harvests}

