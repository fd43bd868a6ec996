"""Agricultural producers' co-operatives and people's communes (MODEL.md §4.2; [001 §II-§XII]; [003]).

Each month of the slack season cadres work toward their province's share of the centre's control
figure: willing households are enrolled in the class order of [001 §V], and pressure lets cadres
enrol reluctant ones (commandism). At check-ups members who want out withdraw by the rule of
[001 §III]; a campaign of "resolute reduction" dissolves poorly run co-operatives. Elementary
co-operatives of a village merge into an advanced one to meet the advanced figure; co-operatives
of a group of townships merge into a commune when the policy says so.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hightide.engine import streams
from hightide.engine.calendar import SLACK_SEASON
from hightide.engine.context import StepContext
from hightide.engine.kernels import (form_counts, form_share, members_of_forms, outside_forms, province_chunks,
                                     slot_pieces, units_of_members)
from hightide.institutions.membership import found, neighbourhood, release_members, willingness_of
from hightide.institutions.mutual_aid import group_into_teams
from hightide.world.households import LOWER_MIDDLE, NO_ORG, RICH, UPPER_MIDDLE
from hightide.world.organisations import ADVANCED_APC, COMMUNE, ELEMENTARY_APC, MUTUAL_AID
from hightide.world.world import World

COLLECTIVE_FORMS = (ELEMENTARY_APC, ADVANCED_APC, COMMUNE)
CHECK_UP_MONTHS = (3, 7, 11)  # [001 §III] reorganisation two or three times a year
BASICALLY_COMPLETE = 0.8  # share of all households in co-operatives at which co-operativisation counts as
# basically complete and landlords and rich peasants (~7% [003]) may be admitted by stages [001 §V]
BADLY_OFF_LABOUR_PER_PERSON = 0.35  # labour power per member below which a household counts as badly off
CLASS_ORDER = np.array([0, 0, 1, 2, 2])  # poor and lower-middle first, upper-middle next, rich/landlord last


def is_collective(form: np.ndarray) -> np.ndarray:
    return np.isin(form, COLLECTIVE_FORMS)


def provincial_targets(policy, liberated_early: np.ndarray, minority: np.ndarray, capacity_early: float) -> np.ndarray:
    """Allot the centre's control figure (plus each level's margin) to provinces by capacity,
    exempting minority areas while the figure is low ([003] allotment without compulsion, exemptions)."""
    base = policy.apc_control_figure * (1.0 + policy.margin)
    cap = np.where(liberated_early, capacity_early, 1.0)
    cap = cap / cap.mean()
    target = np.minimum(base * cap, 1.0)
    target[minority & (policy.apc_control_figure < 0.5)] = 0.0
    return target


def withdrawal_outcome(org: np.ndarray, wants_out: np.ndarray, n_orgs: int, nearly_all: float,
                       min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The rule of [001 §III] for co-operatives given by member index ``org`` (0..n_orgs-1).

    Those determined to quit withdraw and the rest carry on, whether they are a majority or a
    minority; a co-operative is dissolved only when all or nearly all (>= ``nearly_all``) want to
    quit, or when those who stay are too few to carry on (< ``min_size``).
    Returns (member leaves, co-operative dissolved).
    """
    size = np.bincount(org, minlength=n_orgs)
    out = np.bincount(org, weights=wants_out, minlength=n_orgs)
    share = np.divide(out, size, out=np.zeros(n_orgs), where=size > 0)
    dissolved = (size > 0) & ((share >= nearly_all) | (size - out < min_size))
    leaves = wants_out | dissolved[org]
    return leaves, dissolved


def effort(params, size: np.ndarray, coerced_share: np.ndarray) -> np.ndarray:
    """Effort of a collective unit: monitoring weakens with the size of the unit that shares the
    harvest (Lin 1990; Putterman 1987) and coerced members work less (MODEL.md §4.2). The loss of
    the exit right acts on productivity instead (``no_exit_factor``)."""
    e = 1.0 - params.monitoring_loss * (1.0 - np.sqrt(7.0 / np.maximum(size, 7.0)))
    return e * (1.0 - (1.0 - params.coerced_effort) * coerced_share)


def no_exit_factor(params, months_without_exit: int) -> float:
    """Productivity of collective farming once withdrawal is forbidden: the repeated game becomes a
    one-shot one and productivity steps down over a year (Lin 1990; contested)."""
    return 1.0 - params.no_exit_tfp_loss * min(max(months_without_exit, 0) / 12.0, 1.0)


def _apc_surroundings(world: World, ctx: StepContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a household's willingness to join a co-operative reads from around it, as things stand:
    its province's mean labour per mu, its village's share in collectives and its township's
    co-operatives' mean yield advantage."""
    p, orgs = ctx.params, world.organisations
    mean_lpm, share_v = neighbourhood(world, p, COLLECTIVE_FORMS)
    live = orgs.active & is_collective(orgs.form)
    adv_t = np.zeros(int(world.n_townships_sampled.sum()))
    cnt_t = np.zeros_like(adv_t)
    seen = live & np.isfinite(orgs.yield_advantage)
    np.add.at(adv_t, orgs.township[seen], orgs.yield_advantage[seen])
    np.add.at(cnt_t, orgs.township[seen], 1.0)
    advantage_t = np.divide(adv_t, cnt_t, out=np.zeros_like(adv_t), where=cnt_t > 0)
    return mean_lpm, share_v, advantage_t


def _willingness_apc(world: World, ctx: StepContext, idx: np.ndarray, surroundings=None) -> np.ndarray:
    """Willingness to join a co-operative: the mutual-aid terms, the local co-operatives' yield
    advantage (demonstration, [001 §V]) and the cost of pooling animals at an unfair price
    (``surroundings``: ``_apc_surroundings``, computed here when not given)."""
    mean_lpm, share_v, advantage_t = surroundings if surroundings is not None else _apc_surroundings(world, ctx)
    return willingness_of(world, ctx.params, idx, ctx.policy.mutual_aid_promotion, mean_lpm, share_v, advantage_t)


def organise(world: World, ctx: StepContext) -> None:
    """The co-operative process of one month: dissolve if forbidden, withdrawals and reduction at
    check-ups, enrolment toward the control figure, upgrading, communes."""
    pol = ctx.policy
    if not pol.cooperatives_allowed:
        _dissolve(world, ctx, np.flatnonzero(world.organisations.active & is_collective(world.organisations.form)), count=True)
        return
    if ctx.cal_month in CHECK_UP_MONTHS:
        _check_up(world, ctx)
    if ctx.cal_month in SLACK_SEASON and pol.apc_control_figure > 0:
        _enrol(world, ctx)
    if pol.advanced_control_figure > 0:
        _upgrade(world, ctx)
    if pol.commune_townships > 0:
        _communes(world, ctx)


def _enrol(world: World, ctx: StepContext) -> None:
    """Enrolment toward the control figures, by chunks of whole provinces (``province_chunks``):
    every term is a province's own or read as the month began, so the chunks change nothing but
    the size of the temporaries (at full scale the high tide's ~60 M candidates at once took
    ~5 GB)."""
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    counts = form_counts(world)
    share = form_share(counts, COLLECTIVE_FORMS)
    target = provincial_targets(pol, world.provinces.liberated_early, world.provinces.minority_area, p.capacity_early_liberated)
    gap = np.maximum(target - share, 0.0)
    if not gap.any():
        return
    outside = counts.sum(axis=1) - sum(counts[:, f + 1] for f in COLLECTIVE_FORMS)
    if not outside.any():  # no candidate anywhere (``outside_forms`` would list none)
        return
    # per province: cadres work village by village ([001 §XII] planning with the xiang as the unit),
    # the best-prepared villages (most households over the bar) first; within a village the class
    # order of [001 §V] and the most willing first; up to speed x gap x households
    n_hh = counts.sum(axis=1)
    quota = np.floor(gap * n_hh * p.campaign_speed + 0.5).astype(np.int64)
    quota = np.where((quota < p.apc_min_size) & (gap * n_hh >= p.apc_min_size), int(p.apc_min_size), quota)
    surroundings = _apc_surroundings(world, ctx)
    n_vill = world.n_villages
    tie = _village_draws(world, ctx.seed, "enrolment_villages", ctx.month, n_vill)
    # too few in a village to found one: join an existing co-operative of the village, if any
    live = np.flatnonzero(orgs.active & is_collective(orgs.form))
    existing = np.full(n_vill, -1, dtype=np.int64)
    existing[orgs.village[live]] = live
    for chunk in province_chunks(hh, np.flatnonzero(quota > 0)):
        # a chunk's candidates only: a list over every slot (1952-55: ~110 M at full scale) was
        # mapped afresh each campaign month
        cand = outside_forms(world, COLLECTIVE_FORMS, provinces=chunk)
        if cand.size:
            _enrol_chunk(world, ctx, cand, share, quota, surroundings, tie, existing)


def _enrol_chunk(world: World, ctx: StepContext, cand: np.ndarray, share: np.ndarray, quota: np.ndarray,
                 surroundings, tie: np.ndarray, existing: np.ndarray) -> None:
    """``_enrol`` for the candidates ``cand`` of a chunk of whole provinces."""
    p, hh, pol = ctx.params, world.households, ctx.policy
    w = _willingness_apc(world, ctx, cand, surroundings)
    # without a township-wide plan "the strong seek out the strong, ostracising peasants who are
    # badly off" [001 §XII]: households without labour power are left out
    ok = _admissible(cand, w, hh.province, share, hh.klass, hh.children, hh.adults, hh.elderly, hh.five_guarantee,
                     not pol.township_plan, p.labour_weight_child, p.labour_weight_elderly,
                     -pol.pressure * p.pressure_reach)
    cand, w = cand[ok], w[ok]
    if cand.size == 0:
        return
    take = _campaign_take(hh.village[cand], hh.province[cand], CLASS_ORDER[hh.klass[cand]], w, tie, quota,
                          world.n_villages)
    joiners, w_j = cand[take], w[take]
    if joiners.size == 0:
        return
    u = streams.uniform_at(ctx.seed, "enrolment", ctx.month, hh.block_start, joiners)
    team, team_village = group_into_teams(hh.village[joiners], u, p.apc_size_elementary, int(p.apc_min_size))
    alone = team < 0
    tgt = existing[hh.village[joiners[alone]]]
    has = tgt >= 0
    _admit(world, ctx, joiners[alone][has], tgt[has], w_j[alone][has])
    if team_village.size:
        first_member = np.full(team_village.size, -1, dtype=np.int64)
        founded = team >= 0
        first_member[team[founded][::-1]] = joiners[founded][::-1]
        ids = _new_orgs(world, ctx, first_member, team_village, ELEMENTARY_APC)
        _admit(world, ctx, joiners[founded], ids[team[founded]], w_j[founded])


@nb.njit(cache=True, parallel=True)
def _admissible(cand, w, province, share, klass, children, adults, elderly, five_guarantee, strong_only,
                labour_child, labour_elderly, threshold):
    """Candidates a campaign may enrol, element by element: poor and lower-middle peasants,
    upper-middle ones who are willing, rich peasants and landlords once co-operativisation is
    basically complete in their province [001 §V]; with ``strong_only`` not the five-guarantee
    households nor those under ``BADLY_OFF_LABOUR_PER_PERSON`` (labour power as
    ``synthesis.labour_power`` forms it, per member); and willingness above ``threshold``."""
    ok = np.empty(cand.size, dtype=np.bool_)
    for k in nb.prange(cand.size):
        i = cand[k]
        c = klass[i]
        admissible = (c <= LOWER_MIDDLE) | ((c == UPPER_MIDDLE) & (w[k] > 0)) | (
            (c >= RICH) & (share[province[i]] >= BASICALLY_COMPLETE))
        if strong_only and admissible:
            persons = np.int32(children[i]) + adults[i] + elderly[i]
            labour = (adults[i] + labour_child * children[i]) + labour_elderly * elderly[i]
            admissible = (not five_guarantee[i]) and labour / max(persons, 1) >= BADLY_OFF_LABOUR_PER_PERSON
        ok[k] = admissible and w[k] > threshold
    return ok


def _campaign_take(village: np.ndarray, prov: np.ndarray, class_rank: np.ndarray, w: np.ndarray, tie: np.ndarray,
                   quota: np.ndarray, n_vill: int) -> np.ndarray:
    """Which candidates a province's campaign enrols: candidates ranked by village (most ready
    first, ties by the village draw ``tie``), then class order, then willingness, the first
    ``quota[p]`` of each province. Whole villages are taken while the quota lasts; only the village
    where it runs out is ranked household by household (the same set as sorting everyone)."""
    ready = np.bincount(village, minlength=n_vill)
    villages = np.flatnonzero(ready)
    v_prov = np.zeros(n_vill, dtype=np.int64)
    v_prov[village] = prov
    villages = villages[np.lexsort((tie[villages], -ready[villages], v_prov[villages]))]
    vp, size = v_prov[villages], ready[villages]
    cum = np.cumsum(size)
    first_of_prov = np.r_[0, np.flatnonzero(np.diff(vp)) + 1]
    before = np.repeat(cum[first_of_prov] - size[first_of_prov], np.diff(np.r_[first_of_prov, vp.size]))
    start = cum - size - before  # rank within its province of each village's first candidate
    n_take = np.clip(quota[vp] - start, 0, size)  # candidates taken from each village
    take_v = np.zeros(n_vill, dtype=np.int64)
    take_v[villages] = n_take
    take = take_v[village] >= ready[village]  # villages taken whole
    partial = np.zeros(n_vill, dtype=bool)
    partial[villages[(n_take > 0) & (n_take < size)]] = True  # where a province's quota runs out
    members = np.flatnonzero(partial[village])
    if members.size:
        order = members[np.lexsort((-w[members], class_rank[members], village[members]))]
        v_sorted = village[order]
        rank = np.arange(order.size) - np.searchsorted(v_sorted, v_sorted)
        take[order[rank < take_v[v_sorted]]] = True
    return take


def _new_orgs(world: World, ctx: StepContext, first_member: np.ndarray, village: np.ndarray, form: int) -> np.ndarray:
    """Found co-operatives or communes; each gets cadres of drawn competence, worse when founded
    under pressure ([003] fair-mindedness and competence; [001 §IV] preparation)."""
    ids = found(world, ctx.month, first_member, village, form)
    prov = world.organisations.province[ids]
    competence = np.empty(ids.size)
    province_streams = streams.ProvinceStreams(ctx.seed, "cadres", ctx.month)
    for pv in np.unique(prov):
        sel = np.flatnonzero(prov == pv)
        competence[sel] = province_streams[int(pv)].normal(0.0, 1.0, sel.size)
    world.organisations.cadre_competence[ids] = competence - ctx.params.quality_pressure_penalty * ctx.policy.pressure
    return ids


def _admit(world: World, ctx: StepContext, members: np.ndarray, org_ids: np.ndarray, w: np.ndarray) -> None:
    """Enrol households; those below their threshold join under pressure. Animal owners facing an
    unfair price sell or slaughter part of their herd first (MODEL.md §4.2 pooling losses)."""
    if members.size == 0:
        return
    p, hh = ctx.params, world.households
    hh.org[members] = org_ids
    hh.joined_month[members] = ctx.month
    hh.coerced[members] = w <= 0
    hh.draft_animals[members] *= np.float32(1.0 - p.slaughter_share_unfair * (1.0 - p.animal_price_fairness))
    ctx.add("coop_joined", hh.province[members], np.ones(members.size), world.weight)


def _dissolve(world: World, ctx: StepContext, ids: np.ndarray, count: bool) -> None:
    if ids.size == 0:
        return
    hh, orgs = world.households, world.organisations
    dead = np.zeros(orgs.capacity, dtype=bool)
    dead[ids] = True
    released = release_members(*slot_pieces(hh), hh.active, hh.org, hh.joined_month, hh.coerced, True, dead,
                               world.provinces.n)
    orgs.active[ids] = False
    if count:
        ctx.add("dissolved", orgs.province[ids], np.ones(ids.size), world.weight)
        ctx.flows["withdrawn"] += released * world.weight


CLASS_I_ABOVE, CLASS_III_BELOW = 0.4, -1.2  # quality scores, in units of cadre competence


def quality_class(score: np.ndarray) -> np.ndarray:
    """Class I (good), II or III (poor) of a co-operative from a score in units of cadre
    competence ([001 §V]: >80% raised yields, a few % fell; [003] fair-minded, competent cadres)."""
    return np.where(score > CLASS_I_ABOVE, 1, np.where(score < CLASS_III_BELOW, 3, 2))


def _check_up(world: World, ctx: StepContext) -> None:
    """Quality classes, withdrawals by the rule of [001 §III] and resolute reduction. Members are
    heard by chunks of whole provinces (``province_chunks``): a co-operative's members are all in
    one province and everyone's willingness reads the surroundings as the month began, so the
    chunks change nothing but the size of the temporaries (at full scale the high tide's ~100 M
    members at once took ~3 GB)."""
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    live = np.flatnonzero(orgs.active & is_collective(orgs.form))
    if live.size == 0:
        return
    orgs.quality[live] = quality_class(orgs.cadre_competence[live] + 2.0 * np.nan_to_num(orgs.yield_advantage[live]))
    if pol.exit_allowed:
        surroundings = _apc_surroundings(world, ctx)
        dissolved = np.zeros(live.size, dtype=bool)
        # each live co-operative's place in ``live`` (the members' co-operatives are all live, so
        # only their entries are read: the rest of the table is never written, its pages never touched)
        place = np.empty(orgs.capacity, dtype=np.int64)
        place[live] = np.arange(live.size)
        for chunk in province_chunks(hh):
            members = members_of_forms(hh, orgs, COLLECTIVE_FORMS, live_only=True, provinces=chunk)
            if members.size == 0:
                continue
            w = _willingness_apc(world, ctx, members, surroundings)
            wants_out = w < -p.exit_hysteresis - pol.pressure * p.pressure_reach
            local = place[hh.org[members]]
            leaves, gone = withdrawal_outcome(local, wants_out, live.size, p.nearly_all_share, int(p.apc_min_size))
            quit_ = members[leaves & ~gone[local]]
            hh.org[quit_] = NO_ORG
            hh.joined_month[quit_] = -1
            hh.coerced[quit_] = False
            ctx.add("withdrawn", hh.province[quit_], np.ones(quit_.size), world.weight)
            dissolved |= gone
        _dissolve(world, ctx, live[dissolved], count=True)
        live = live[~dissolved]
    if pol.resolute_reduction > 0 and live.size:
        u = streams.uniform_at(ctx.seed, "reduction", ctx.month, orgs.block_start, live)
        poor = (orgs.quality[live] == 3) | ((orgs.quality[live] == 2) & (u < pol.resolute_reduction / 2))
        _dissolve(world, ctx, live[poor & (u < pol.resolute_reduction)], count=True)


def _upgrade(world: World, ctx: StepContext) -> None:
    """Elementary co-operatives of a village merge, with the village's other households, into one
    advanced co-operative, villages with the most members first, until the advanced figure is met."""
    p, hh, orgs, pol = ctx.params, world.households, world.organisations, ctx.policy
    counts = form_counts(world)
    share = form_share(counts, (ADVANCED_APC, COMMUNE))
    target = pol.advanced_control_figure
    gap = np.maximum(target - share, 0.0)
    if not gap.any():
        return
    n_vill = world.n_villages
    elem_v, size_v, adv_v, vill_prov = _village_forms(hh.block_start, hh.used, hh.active, hh.org, hh.village,
                                                      hh.province, orgs.form, n_vill)
    candidates = np.flatnonzero((elem_v > 0) & (adv_v == 0) & (vill_prov >= 0))
    if candidates.size == 0:
        return
    n_hh = counts.sum(axis=1)
    budget = gap * n_hh * p.campaign_speed
    order = candidates[np.lexsort((-elem_v[candidates] / size_v[candidates], vill_prov[candidates]))]
    cum = np.zeros(order.size)
    prov_o = vill_prov[order]
    for pv in np.unique(prov_o):
        sel = np.flatnonzero(prov_o == pv)
        cum[sel] = np.cumsum(size_v[order[sel]])
    chosen = order[cum - size_v[order] < budget[prov_o]]
    if chosen.size == 0:
        return
    pick = np.zeros(n_vill, dtype=bool)
    pick[chosen] = True
    movers = _movers(hh.block_start, hh.used, hh.active, hh.org, hh.village, orgs.form, pick)
    form = np.where(hh.org[movers] != NO_ORG, orgs.form[np.maximum(hh.org[movers], 0)], -1)
    complete = form_share(counts, COLLECTIVE_FORMS)[hh.province[movers]] >= BASICALLY_COMPLETE
    keep = (hh.klass[movers] < RICH) | complete
    movers, form = movers[keep], form[keep]
    old = np.unique(hh.org[movers][form == ELEMENTARY_APC])
    first_member = np.full(n_vill, -1, dtype=np.int64)
    first_member[hh.village[movers][::-1]] = movers[::-1]
    villages = np.unique(hh.village[movers])
    ids = _new_orgs(world, ctx, first_member[villages], villages, ADVANCED_APC)
    vid = np.full(n_vill, -1, dtype=np.int64)
    vid[villages] = ids
    was_member = form == ELEMENTARY_APC
    hh.coerced[movers[~was_member]] = True
    hh.org[movers] = vid[hh.village[movers]]
    hh.joined_month[movers] = ctx.month
    orgs.active[old] = False


@nb.njit(cache=True, parallel=True)
def _village_forms(starts, used, active, org, village, province, org_form, n_vill):
    """Per village: active households in elementary co-operatives, all active households, those in
    advanced co-operatives or communes (float counts, as ``np.bincount`` of the masks gives them),
    and the village's province (-1: no active household). Provinces in parallel (a village's
    households are all in its province); forms counted as numbers, not branched on (a coin toss
    in the high tide)."""
    elem_v = np.zeros(n_vill)
    size_v = np.zeros(n_vill)
    adv_v = np.zeros(n_vill)
    vill_prov = np.full(n_vill, -1, dtype=np.int64)
    for p in nb.prange(starts.size):
        # the current village's counts in registers while its households follow each other
        v_now = -1
        n_size = n_elem = n_adv = 0.0
        for i in range(starts[p], starts[p] + used[p]):
            if not active[i]:
                continue
            v = village[i]
            if v != v_now:
                if v_now >= 0:
                    size_v[v_now], elem_v[v_now], adv_v[v_now] = n_size, n_elem, n_adv
                v_now = v
                n_size, n_elem, n_adv = size_v[v], elem_v[v], adv_v[v]
                vill_prov[v] = province[i]
            f = org_form[max(org[i], 0)] if org[i] >= 0 else -1
            n_size += 1.0
            n_elem += np.float64(f == ELEMENTARY_APC)
            n_adv += np.float64((f == ADVANCED_APC) | (f == COMMUNE))
        if v_now >= 0:
            size_v[v_now], elem_v[v_now], adv_v[v_now] = n_size, n_elem, n_adv
    return elem_v, size_v, adv_v, vill_prov


@nb.njit(cache=True)
def _movers(starts, used, active, org, village, org_form, pick):
    """Active households (ascending) of the picked villages outside any organisation or in a
    mutual-aid team or an elementary co-operative."""
    out = []
    for p in range(starts.size):
        for i in range(starts[p], starts[p] + used[p]):
            if active[i] and pick[village[i]]:
                f = org_form[org[i]] if org[i] >= 0 else -1
                if f == -1 or f == MUTUAL_AID or f == ELEMENTARY_APC:
                    out.append(i)
    return np.array(out, dtype=np.int64)


def _communes(world: World, ctx: StepContext) -> None:
    """Merge every household of each group of ``commune_townships`` townships (in a province) into
    one commune: co-operatives, teams and those still outside ([002]; Aug-Oct 1958). This happens
    once per province; afterwards households outside (e.g. who withdrew) join only by enrolment.
    Province by province (a commune never spans two), so the month's temporaries are about one
    province's, not the nation's (1958-08 state at scale 0.02: peak allocation 147 -> 36 MB, the
    same result; with the nation's, the full-scale run's peak rose from 15.5 to 17.8 GB between
    January 1958 and December 1959, the span that holds this merge)."""
    orgs = world.organisations
    has_commune = np.bincount(orgs.province[orgs.active & (orgs.form == COMMUNE)], minlength=world.provinces.n) > 0
    for pv in np.flatnonzero(~has_commune):
        _commune_province(world, ctx, int(pv))


def _commune_province(world: World, ctx: StepContext, pv: int) -> None:
    """``_communes`` for the households of province ``pv`` (one without a commune yet)."""
    hh, orgs, pol = world.households, world.organisations, ctx.policy
    lo = int(hh.block_start[pv])
    hi = lo + int(hh.used[pv])
    org = hh.org[lo:hi]
    act = hh.active[lo:hi]
    form = np.where(org != NO_ORG, orgs.form[np.maximum(org, 0)], -1)
    outside = lo + np.flatnonzero(act & (form != COMMUNE))
    if outside.size == 0:
        return  # later entrants join through enrolment; withdrawers stay out
    form_out = form[outside - lo]
    del org, form
    k = max(int(round(pol.commune_townships)), 1)
    n_towns = int(world.n_townships_sampled.sum())
    # the province's townships with a living household, ascending, dealt into groups of k
    towns = np.unique(hh.township_of(lo + np.flatnonzero(act)))
    t_rank = np.zeros(n_towns, dtype=np.int64)
    t_rank[towns] = np.arange(towns.size) // k
    town_out = hh.township_of(outside)
    groups, inv = np.unique(t_rank[town_out], return_inverse=True)
    inv = inv.ravel()
    first_member = np.full(groups.size, -1, dtype=np.int64)
    first_member[inv[::-1]] = outside[::-1]
    ids = _new_orgs(world, ctx, first_member, hh.village[first_member], COMMUNE)
    # townships with households outside in each group (distinct (group, township) pairs)
    pairs = np.unique(inv.astype(np.int64) * n_towns + town_out)
    towns_in_group = np.bincount(pairs // n_towns, minlength=groups.size)
    orgs.represents[ids] = towns_in_group / k
    old = np.unique(hh.org[outside][hh.org[outside] != NO_ORG])
    hh.coerced[outside[form_out == -1]] = True
    hh.org[outside] = ids[inv]
    hh.joined_month[outside] = ctx.month
    orgs.active[old] = False


def accounting_units(hh, orgs, members: np.ndarray, policy, team_size: float, level: str | None = None,
                     villages: np.ndarray | None = None) -> np.ndarray:
    """Key of the unit that shares the harvest, per member: the co-operative or commune itself,
    its brigades (villages) or its production teams (sub-co-operatives [003]; Sixty Articles).
    Elementary co-operatives account as one unit at the unit and brigade levels; at the team level
    every co-operative's members (an elementary one's: all together) are dealt into teams of
    ``team_size`` in slot order. ``level`` overrides ``policy.accounting_unit``. Members must be in
    ascending slot order (as from ``np.flatnonzero``); units are numbered in (org, village, team) order.
    ``villages`` (``World.province_villages``), when given, bounds each province's villages, and
    its organisation block bounds its organisations, so that no pass has to find them."""
    level = policy.accounting_unit if level is None else level
    ts = max(int(team_size), 1) if level == "team" else 0
    ranges = None
    if villages is not None:
        org_lo = np.asarray(orgs.block_start, dtype=np.int64)
        ranges = np.stack([org_lo, org_lo + np.asarray(orgs.used, dtype=np.int64) - 1, villages[:, 0], villages[:, 1]],
                          axis=1)
    units = units_of_members(members, hh.org, hh.village, orgs.form, hh.block_start, level == "unit",
                             ELEMENTARY_APC, ts, ranges)
    if units is None:  # organisations not numbered province by province: sort the packed key
        org64 = hh.org[members].astype(np.int64)
        down = (orgs.form[org64] != ELEMENTARY_APC) & (level != "unit")
        village = np.where(down, hh.village[members], -1).astype(np.int64)
        team = np.zeros(members.size, dtype=np.int64)
        if ts:
            order = np.lexsort((members, village, org64))
            key = org64[order] * (1 << 32) + village[order]
            start = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
            rank = np.arange(order.size) - np.repeat(start, np.diff(np.r_[start, order.size]))
            team[order] = rank // ts
        _, units = np.unique(np.stack([org64, village, team]), axis=1, return_inverse=True)
    return units.ravel()


def _village_draws(world: World, seed: int, process: str, month: int, n_villages: int) -> np.ndarray:
    """One U(0,1) per village, from its province's stream. Village ids are numbered contiguously
    province by province at synthesis (townships too, and a township's villages in order), so a
    province's first village is the first of its first township."""
    villages = world.province_villages()
    out = np.zeros(n_villages)
    return streams.ranges_uniform(seed, process, month, villages[:, 0], np.maximum(villages[:, 1] + 1 - villages[:, 0], 0),
                                  out)
