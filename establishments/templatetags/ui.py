"""Template helpers of the user interface: form controls tied to their help and errors, French plurals.

Loaded with ``{% load ui %}``; in ``establishments`` because it is the lowest app, which every
app's templates may use.
"""

from __future__ import annotations

import functools
from typing import cast

from django import template
from django.forms import BoundField
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.safestring import SafeString
from django.utils.translation import get_language

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


# --- the header's menu ---------------------------------------------------------------------------
# Every page of a signed-in user shows the same menu, a function of a few plain values: rendered
# once per process for each combination of them rather than on every page (its links and their
# aria-current were 1.2 ms of template per page, in-process; BENCHMARKS.md "web"). The values are
# the key, so a renamed school or a changed role shows at once; the logout form, which holds the
# request's CSRF token, stays in base.html.
MENU_CACHE_SIZE = 1024


@register.simple_tag(takes_context=True)
def main_menu(context: template.Context) -> SafeString:
    """The navigation: the user's school and the pages their role opens, the current one marked."""
    user, path = context["user"], context["request"].path
    establishment = user.establishment
    if establishment is None:  # technical staff: no school of their own
        return _main_menu(_where(), "", "", "", path)
    return _main_menu(_where(), establishment.uai, establishment.name, user.role, path)


@register.simple_tag(takes_context=True)
def user_menu(context: template.Context) -> SafeString:
    """Who is signed in, with their role, and the link to their password page."""
    user = context["user"]
    label = user.get_full_name() or user.username
    role_label = user.get_role_display() if user.role else ""
    return _user_menu(_where(), label, role_label, context["request"].path)


def _where() -> tuple[str, str]:
    """What else the menu's text and links depend on: the language, and the prefix of every URL."""
    return get_language(), get_script_prefix()


@functools.lru_cache(maxsize=MENU_CACHE_SIZE)
def _main_menu(where: tuple[str, str], uai: str, establishment_name: str, role: str, path: str) -> SafeString:
    context = {"uai": uai, "establishment_name": establishment_name, "role": role, "path": path}
    return cast(SafeString, render_to_string("includes/main_menu.html", context))


@functools.lru_cache(maxsize=MENU_CACHE_SIZE)
def _user_menu(where: tuple[str, str], user_label: str, role_label: str, path: str) -> SafeString:
    context = {"user_label": user_label, "role_label": role_label, "path": path}
    return cast(SafeString, render_to_string("includes/user_menu.html", context))
