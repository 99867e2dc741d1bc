"""What every form of the project shares: text inputs without invisible or control characters, and
dates within a plausible range."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .text import strip_unsafe_characters


class SafeInputMixin(forms.BaseForm):
    """Strip unsafe characters (see :mod:`cerisepro.text`) from every text input of the form, and
    refuse a date outside EARLIEST_YEAR–LATEST_YEAR with a French message.

    Put it first in the bases: ``class DetailsForm(SafeInputMixin, forms.ModelForm)``. Every
    ``CharField`` (and its subclasses: e-mail, URL, slug…), including fields added in ``__init__``,
    cleans its input before validating it, so that ``max_length``, the validators, the
    ``clean_<field>`` methods, the model and the database all see the text that will be shown.
    A ``Textarea`` keeps its tabs and line breaks; any other input turns them into spaces.
    """

    def full_clean(self) -> None:
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                _clean_text_first(field)
            elif isinstance(field, forms.DateField | forms.DateTimeField):
                _bound_dates(field)
        super().full_clean()


# Any date a user types (a passport entry, a history filter…) falls within these years: 31/12/9999
# used to reach date arithmetic and answer HTTP 500.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


def validate_plausible_year(value: datetime.date) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationError(
            f"Saisissez une date comprise entre {EARLIEST_YEAR} et {LATEST_YEAR}.", code="implausible_date"
        )


def _bound_dates(field: forms.Field) -> None:
    if validate_plausible_year not in field.validators:
        field.validators.append(validate_plausible_year)


def _clean_text_first(field: forms.CharField) -> None:
    # Each form instance has its own deep copy of its fields, so this changes no other form. The
    # wrapper is an attribute of the instance, which shadows the class's method (set through
    # vars(): mypy refuses an assignment to a method); an instance that has one is already done.
    if "to_python" in vars(field):
        return
    to_python = field.to_python
    multiline = isinstance(field.widget, forms.Textarea)

    def safe_to_python(value: Any) -> Any:
        if isinstance(value, str):
            value = strip_unsafe_characters(value, multiline=multiline)
        return to_python(value)

    vars(field)["to_python"] = safe_to_python
