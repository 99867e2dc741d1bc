"""One form per kind of passport entry, built from its declaration (:data:`.kinds.KINDS`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from cerisepro.forms import SafeInputMixin
from students.models import PassportEntry

from .kinds import KINDS, KindSpec


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

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # A period (a bilan's): only the kinds with an ``end_on`` field have both dates.
        start, end = cleaned.get("occurred_on"), cleaned.get("end_on")
        if start and end and end < start:
            self.add_error("end_on", _("La fin de la période ne peut pas précéder son début."))
        return cleaned


def _widgets(spec: KindSpec) -> dict[str, forms.Widget]:
    """The date picker for every date; text areas of the declared height."""
    widgets: dict[str, forms.Widget] = {
        name: DateInput()
        for name in spec.fields
        if isinstance(PassportEntry._meta.get_field(name), models.DateField)
    }
    return widgets | {name: forms.Textarea(attrs={"rows": rows}) for name, rows in spec.text_rows.items()}


def _form_for(kind: str, spec: KindSpec) -> type[PassportEntryForm]:
    class Meta:
        model = PassportEntry
        fields = spec.fields
        labels = spec.labels
        widgets = _widgets(spec)

    attributes = {"__module__": __name__, "kind": kind, "required": spec.required, "Meta": Meta}
    return type(f"{kind.capitalize()}Form", (PassportEntryForm,), attributes)


FORMS: dict[str, type[PassportEntryForm]] = {kind: _form_for(kind, spec) for kind, spec in KINDS.items()}
