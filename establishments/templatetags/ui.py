"""Template helpers of the user interface: form controls tied to their help and errors, French plurals.

Loaded with ``{% load ui %}``; in ``establishments`` because it is the lowest app, which every
app's templates may use.
"""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()


def help_id(field: BoundField) -> str:
    return f"{field.auto_id}_helptext"


def error_id(field: BoundField) -> str:
    return f"{field.auto_id}_erreurs"


@register.filter
def decrit_par(field: BoundField) -> str:
    """The ids of the field's help text and errors, for ``aria-describedby``."""
    described = [help_id(field)] if field.help_text else []
    if field.errors:
        described.append(error_id(field))
    return " ".join(described)


@register.filter
def control(field: BoundField) -> SafeString:
    """The field's widget, with ``aria-describedby`` naming its help text and its errors (RGAA
    11.10: an error message is tied to its field), and ``aria-invalid`` when it has errors."""
    attrs: dict[str, str | bool] = {}
    if described := decrit_par(field):
        attrs["aria-describedby"] = described
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def erreurs_id(field: BoundField) -> str:
    return error_id(field)


@register.filter
def aide_id(field: BoundField) -> str:
    return help_id(field)


@register.filter
def pluriel(count: int, forms: str) -> str:
    """``{{ n|pluriel:"élève,élèves" }}``: the French rule, singular for 0 and 1 (Django's
    ``pluralize`` follows English and writes "0 élèves")."""
    singular, _, plural = forms.partition(",")
    return singular if abs(int(count or 0)) < 2 else plural


@register.filter
def sans_libelle_mef(students) -> bool:
    """Whether a student of the list shows a raw MEF code: no Nomenclature named its formation."""
    return any(student.mef_code and not student.mef_label for student in students)
