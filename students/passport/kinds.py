"""The kinds of passport entry, declared once: what each holds, how its form asks for it, its section.

``students.models.EntryKind`` names the kinds (the column's choices and check constraint); this module
says everything else about each. A new kind is an ``EntryKind`` member (and its migration), an entry
in :data:`KINDS` and its template ``templates/students/passport_entry_kinds/<kind>.html``; the forms,
the passport page and the print view follow, and ``tests/students/test_entry_kinds.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from students.models import EntryKind

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a str or a lazy translation


@dataclass(frozen=True)
class KindSpec:
    section_title: StrOrPromise  # the passport's section for this kind (page and print view)
    fields: tuple[str, ...]  # the PassportEntry columns a teacher fills in, in the form's order
    required: tuple[str, ...]  # those the form requires (the model allows them blank)
    labels: Mapping[str, StrOrPromise] = field(default_factory=dict)  # the form's labels, else the model's
    text_rows: Mapping[str, int] = field(default_factory=dict)  # the height of multi-line fields


# In the order of EntryKind. A bilan's period is ``occurred_on`` → ``end_on`` and its text is
# ``description``.
KINDS: dict[str, KindSpec] = {
    EntryKind.FICHE: KindSpec(
        section_title=_("Fiches d'activité"),
        fields=("title", "occurred_on", "place", "description", "competencies"),
        required=("title", "occurred_on", "description"),
        labels={
            "title": _("Intitulé de la situation"),
            "place": _("Lieu (établissement, entreprise d'accueil…)"),
            "competencies": _("Compétences mobilisées"),
        },
        text_rows={"description": 6, "competencies": 3},
    ),
    EntryKind.EVALUATION: KindSpec(
        section_title=_("Évaluations"),
        fields=("title", "level", "occurred_on", "evaluator"),
        required=("title", "level", "occurred_on", "evaluator"),
        labels={"title": _("Compétence évaluée"), "occurred_on": _("Date de l'évaluation")},
    ),
    EntryKind.BILAN: KindSpec(
        section_title=_("Bilans"),
        fields=("occurred_on", "end_on", "title", "description"),
        required=("occurred_on", "end_on", "title", "description"),
        labels={
            "occurred_on": _("Début de la période"),
            "end_on": _("Fin de la période"),
            "description": _("Texte du bilan"),
        },
        text_rows={"description": 8},
    ),
}

# The fields a teacher fills in for each kind of entry (the service writes only these).
KIND_FIELDS: dict[str, tuple[str, ...]] = {kind: spec.fields for kind, spec in KINDS.items()}
SECTION_TITLES: dict[str, StrOrPromise] = {kind: spec.section_title for kind, spec in KINDS.items()}


def entry_template(kind: str) -> str:
    """The template that shows what is particular to an entry of ``kind`` (its dates, its fields)."""
    return f"students/passport_entry_kinds/{kind}.html"
