"""One form per kind of passport entry; the fields come from :data:`.services.KIND_FIELDS`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cerisepro.forms import SafeInputMixin
from students.models import EntryKind, PassportEntry

from .services import KIND_FIELDS


class DateInput(forms.DateInput):
    """The browser's date picker: it submits and expects ISO dates, which Django always accepts."""

    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class PassportEntryForm(SafeInputMixin, forms.ModelForm):
    """A passport entry: its text is stored without invisible or control characters."""

    kind: str = ""
    required: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.required:
            self.fields[name].required = True


class FicheForm(PassportEntryForm):
    kind = EntryKind.FICHE
    required = ("title", "occurred_on", "description")

    class Meta:
        model = PassportEntry
        fields = KIND_FIELDS[EntryKind.FICHE]
        labels = {
            "title": _("Intitulé de la situation"),
            "place": _("Lieu (établissement, entreprise d'accueil…)"),
            "competencies": _("Compétences mobilisées"),
        }
        widgets = {
            "occurred_on": DateInput(),
            "description": forms.Textarea(attrs={"rows": 6}),
            "competencies": forms.Textarea(attrs={"rows": 3}),
        }


class EvaluationForm(PassportEntryForm):
    kind = EntryKind.EVALUATION
    required = ("title", "level", "occurred_on", "evaluator")

    class Meta:
        model = PassportEntry
        fields = KIND_FIELDS[EntryKind.EVALUATION]
        labels = {"title": _("Compétence évaluée"), "occurred_on": _("Date de l'évaluation")}
        widgets = {"occurred_on": DateInput()}


class BilanForm(PassportEntryForm):
    kind = EntryKind.BILAN
    required = ("occurred_on", "end_on", "title", "description")

    class Meta:
        model = PassportEntry
        fields = KIND_FIELDS[EntryKind.BILAN]
        labels = {
            "occurred_on": _("Début de la période"),
            "end_on": _("Fin de la période"),
            "description": _("Texte du bilan"),
        }
        widgets = {
            "occurred_on": DateInput(),
            "end_on": DateInput(),
            "description": forms.Textarea(attrs={"rows": 8}),
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("occurred_on"), cleaned.get("end_on")
        if start and end and end < start:
            self.add_error("end_on", _("La fin de la période ne peut pas précéder son début."))
        return cleaned


FORMS: dict[str, type[PassportEntryForm]] = {
    form.kind: form for form in (FicheForm, EvaluationForm, BilanForm)
}
