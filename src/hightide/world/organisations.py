"""Organisations (mutual-aid teams now; co-operatives and communes later) as a struct of arrays.

Organisations are groups over households: a household's ``org`` is an index here, and totals are
``bincount`` reductions over it (STYLE habit 2, the OpenFisca pattern).
"""

from __future__ import annotations

from hightide.world.slots import SlotArrays

# forms of the ladder [001 §VIII; 003; 002], MODEL.md §2.2
INDIVIDUAL, MUTUAL_AID, ELEMENTARY_APC, ADVANCED_APC, COMMUNE, STATE_FARM = range(6)
FORM_NAMES = ("individual", "mutual_aid", "elementary_apc", "advanced_apc", "commune", "state_farm")

ORG_SCHEMA: dict[str, tuple[str, str, str]] = {
    "active": ("bool", "-", "organisation exists"),
    "form": ("int8", "code", "form of organisation (FORM_NAMES)"),
    "province": ("int8", "id", "province"),
    "township": ("int32", "id", "township it belongs to"),
    "village": ("int32", "id", "village it was founded in"),
    "founded_month": ("int16", "month index", "month founded"),
    "cadre_competence": ("float32", "index", "competence and fair-mindedness of its leading cadres [003], N(0,1)"),
    "quality": ("int8", "class", "Class I well run, II middling, III poorly run [001 note 16]; 0 = not assessed"),
    "represents": ("float32", "units", "real organisations one simulated one stands for, per unit of weight (a commune built from fewer sampled townships than its size is a fraction)"),
    "yield_advantage": ("float32", "ratio", "output per unit of inputs relative to going it alone, last harvest"),
}


class Organisations(SlotArrays):
    """Organisations: the struct of arrays of ORG_SCHEMA plus the per-province slot blocks."""

    SCHEMA = ORG_SCHEMA
    WHAT = "organisation"
