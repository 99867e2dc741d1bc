"""What every form of the project shares: text inputs without invisible or control characters."""

from __future__ import annotations

from django import forms

from .text import strip_unsafe_characters


class SafeTextMixin:
    """Strip unsafe characters (see :mod:`cerisepro.text`) from every text input of the form.

    Put it first in the bases: ``class DetailsForm(SafeTextMixin, forms.ModelForm)``. Every
    ``CharField`` (and its subclasses: e-mail, URL, slug…), including fields added in ``__init__``,
    cleans its input before validating it, so that ``max_length``, the validators, the
    ``clean_<field>`` methods, the model and the database all see the text that will be shown.
    A ``Textarea`` keeps its tabs and line breaks; any other input turns them into spaces.
    """

    def full_clean(self) -> None:
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                _clean_text_first(field)
        super().full_clean()


def _clean_text_first(field: forms.CharField) -> None:
    # Each form instance has its own deep copy of its fields, so this changes no other form.
    if getattr(field, "_strips_unsafe_characters", False):
        return
    to_python = field.to_python
    multiline = isinstance(field.widget, forms.Textarea)

    def safe_to_python(value):
        if isinstance(value, str):
            value = strip_unsafe_characters(value, multiline=multiline)
        return to_python(value)

    field.to_python = safe_to_python
    field._strips_unsafe_characters = True
