"""School pages of the student accounts: creating them from the student list, and the printable
*fiches de connexion* (docs/accounts.md, "Student accounts").

Only administrators create or reset accounts; the sheet with the initial passwords is the answer
to that POST, and nothing keeps it. Teachers and principals print a class's logins, without
passwords: nobody can see a password again.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.reauth import recent_authentication_required
from cerisepro.forms import SafeInputMixin
from cerisepro.site import site_url
from establishments.access import ADMIN_ONLY, SCHOOL_STAFF, SchoolRequest, school_view

from . import selectors
from .accounts import AccountsOutcome, class_login_cards, create_student_accounts
from .models import Student

SELECTION, WHOLE_CLASS = "selection", "classe"


class UUIDListField(forms.Field):
    """The ticked rows of the student list: their opaque ``public_id``s."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[uuid.UUID]:
        if not value:
            return []
        try:
            return [uuid.UUID(str(item)) for item in value]
        except ValueError:
            raise ValidationError(_("La sélection d'élèves est invalide : rechargez la liste.")) from None


class StudentAccountsForm(SafeInputMixin, forms.Form):
    portee = forms.ChoiceField(
        choices=[(SELECTION, SELECTION), (WHOLE_CLASS, WHOLE_CLASS)],
        error_messages={
            "required": gettext_lazy("La demande est incomplète : recommencez depuis la liste des élèves."),
            "invalid_choice": gettext_lazy(
                "La demande est incomplète : recommencez depuis la liste des élèves."
            ),
        },
    )
    eleves = UUIDListField(required=False)
    classe = forms.CharField(required=False, max_length=50)
    reinitialiser = forms.BooleanField(
        required=False,
        label=gettext_lazy("Réinitialiser les comptes existants (nouveau mot de passe initial)"),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("portee") == SELECTION and not cleaned.get("eleves"):
            raise ValidationError(_("Cochez au moins un élève dans la liste."))
        if cleaned.get("portee") == WHOLE_CLASS and not cleaned.get("classe"):
            raise ValidationError(_("Choisissez d'abord une classe dans le filtre de la liste."))
        return cleaned


def _chosen_students(request: SchoolRequest, form: StudentAccountsForm) -> list[Student]:
    students = request.establishment.students.all()
    if form.cleaned_data["portee"] == WHOLE_CLASS:
        return list(students.filter(class_code=form.cleaned_data["classe"], is_active=True))
    wanted = set(form.cleaned_data["eleves"])
    chosen = list(students.filter(public_id__in=wanted))
    if len(chosen) != len(wanted):
        # A student of another school, or one that does not exist: the same answer, nothing changed.
        raise Http404
    return chosen


def _list_of(list_url: str, class_code: str) -> str:
    return f"{list_url}?{urlencode({'classe': class_code})}" if class_code else list_url


def _names(students: list[Student]) -> str:
    return ", ".join(student.display_name for student in students)


def _skipped_messages(outcome: AccountsOutcome) -> list[str]:
    notes = []
    if outcome.already:
        notes.append(
            ngettext(
                "%(count)s élève a déjà un compte, laissé tel quel : %(names)s. Pour lui donner un "
                "nouveau mot de passe initial, cochez « Réinitialiser les comptes existants ».",
                "%(count)s élèves ont déjà un compte, laissé tel quel : %(names)s. Pour leur donner un "
                "nouveau mot de passe initial, cochez « Réinitialiser les comptes existants ».",
                len(outcome.already),
            )
            % {"count": len(outcome.already), "names": _names(outcome.already)}
        )
    if outcome.disabled:
        notes.append(
            _("Compte désactivé, non modifié (voyez avec le support technique) : %(names)s.")
            % {"names": _names(outcome.disabled)}
        )
    if outcome.departed:
        notes.append(
            _("Élève parti de l'établissement, pas de compte : %(names)s.")
            % {"names": _names(outcome.departed)}
        )
    return notes


@require_POST
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required  # creates credentials for a whole class at once
def student_accounts_create(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    form = StudentAccountsForm(request.POST)
    list_url = reverse("student-list", args=[establishment.uai])
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, str(error))
        return redirect(list_url)
    students = _chosen_students(request, form)
    if not students:
        messages.error(request, _("Aucun élève actif dans cette classe."))
        return redirect(list_url)
    outcome = create_student_accounts(
        establishment, students, by=request.user, reset=form.cleaned_data["reinitialiser"]
    )
    notes = _skipped_messages(outcome)
    if not outcome.cards:
        for note in notes:
            messages.info(request, note)
        return redirect(_list_of(list_url, form.cleaned_data["classe"]))
    # The sheet is this response: the passwords are in no database, session or cache (no-store).
    context = {
        "establishment": establishment,
        "cards": outcome.cards,
        "with_passwords": True,
        "created": len(outcome.created),
        "reset": len(outcome.reset),
        "notes": notes,
        "site_address": site_url(request),
        "list_url": list_url,
        "today": timezone.localdate(),
    }
    return render(request, "students/login_sheet.html", context)


@require_GET
@school_view(read=SCHOOL_STAFF)
def student_login_sheet(request: SchoolRequest) -> HttpResponse:
    """A class's logins, for teachers and principals (and administrators) to hand out again."""
    establishment = request.establishment
    class_code = request.GET.get("classe", "")
    list_url = reverse("student-list", args=[establishment.uai])
    if class_code not in selectors.class_codes(establishment):
        messages.info(
            request,
            _("Choisissez une classe dans le filtre de la liste, puis « Imprimer les identifiants »."),
        )
        return redirect(list_url)
    cards, without = class_login_cards(establishment, class_code)
    context = {
        "establishment": establishment,
        "cards": cards,
        "with_passwords": False,
        "class_code": class_code,
        "without": without,
        "site_address": site_url(request),
        "list_url": _list_of(list_url, class_code),
        "today": timezone.localdate(),
    }
    return render(request, "students/login_sheet.html", context)
