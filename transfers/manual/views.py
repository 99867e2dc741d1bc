"""School page of the manual path: "Liste des élèves transférables (non automatisable)".

Manual-transfer authorisations belong to the administrator (docs/architecture.md "Who uses it"):
the principal, like the other roles, gets 403. Students are named by their opaque ``public_id``
in the form, never INE or name.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts.reauth import recent_authentication_required
from cerisepro.forms import SafeInputMixin
from establishments.access import ADMIN_ONLY, SchoolRequest, school_view
from establishments.models import Establishment
from students.models import Student

from ..models import ManualAuthorisation
from . import services

CONSENT_LABEL = gettext_lazy("Je confirme que l'élève ou ses responsables légaux ont autorisé ce transfert")


class ManualTransferForm(SafeInputMixin, forms.Form):
    """One checkbox and one destination UAI per transferable student, and the consent."""

    consent = forms.BooleanField(label=CONSENT_LABEL, required=False)

    def __init__(self, data=None, *, students: list[Student]):
        super().__init__(data)
        self.students = students
        self.fields["selected"] = forms.MultipleChoiceField(
            choices=[(str(student.public_id), student.display_name) for student in students],
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
        for student in students:
            self.fields[self.uai_field(student)] = forms.CharField(required=False, max_length=20)

    @staticmethod
    def uai_field(student: Student) -> str:
        return f"uai_{student.public_id.hex}"

    def clean(self):
        cleaned = super().clean()
        if "selected" in cleaned and not cleaned["selected"]:
            self.add_error(None, _("Sélectionnez au moins un élève à transférer."))
        return cleaned

    def requests(self) -> list[tuple[Student, str]]:
        selected = set(self.cleaned_data["selected"])
        return [
            (student, self.cleaned_data[self.uai_field(student)])
            for student in self.students
            if str(student.public_id) in selected
        ]

    def add_service_errors(self, error: ValidationError) -> None:
        fields = {str(student.public_id): self.uai_field(student) for student in self.students}
        for key, errors in error.error_dict.items():
            self.add_error("consent" if key == "consent" else fields.get(key), errors)

    def rows(self) -> list[dict]:
        """What the table shows for each student: its checkbox state, UAI input, errors and name."""
        # Bound to request.POST, a QueryDict (several "selected" boxes), or unbound.
        selected = set(self.data.getlist("selected")) if isinstance(self.data, QueryDict) else set()
        names = self._registered_names()
        rows = []
        for student in self.students:
            field = self[self.uai_field(student)]
            value = (field.value() or "").strip().upper()
            rows.append(
                {
                    "student": student,
                    "checked": str(student.public_id) in selected,
                    "field": field,
                    "destination_name": names.get(value, ""),
                }
            )
        return rows

    def _registered_names(self) -> dict[str, str]:
        if not self.is_bound:
            return {}
        values = {(self[self.uai_field(s)].value() or "").strip().upper() for s in self.students} - {""}
        return dict(Establishment.objects.filter(uai__in=values).values_list("uai", "name"))


@require_http_methods(["GET", "POST"])
@school_view(read=ADMIN_ONLY, write=ADMIN_ONLY)
@recent_authentication_required  # an authorisation sends a passport to another school
def manual_transfers(request: SchoolRequest) -> HttpResponse:
    establishment = request.establishment
    now = timezone.now()
    if request.method == "POST" and "cancel" in request.POST:
        return _cancel(request, establishment)
    students = list(services.transferable_students(establishment, now=now))
    form = ManualTransferForm(request.POST if request.method == "POST" else None, students=students)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.manual_authorisations_create(
                form.requests(),
                consent_confirmed=form.cleaned_data["consent"],
                user=request.user,
                now=now,
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d autorisation de transfert enregistrée : l'équipe technique va l'exécuter.",
                    "%(count)d autorisations de transfert enregistrées : l'équipe technique va les exécuter.",
                    len(created),
                )
                % {"count": len(created)},
            )
            return redirect("manual-transfers", uai=establishment.uai)
    context = {
        "establishment": establishment,
        "form": form,
        "rows": form.rows(),
        "authorisations": [
            (authorisation, services.authorisation_state(authorisation, establishment))
            for authorisation in services.manual_authorisations_of(establishment)
        ],
    }
    return render(request, "transfers/manual.html", context, status=400 if form.errors else 200)


def _cancel(request: SchoolRequest, establishment: Establishment) -> HttpResponse:
    """The administrator withdraws a pending authorisation (a mistyped UAI, a change of mind)."""
    try:
        authorisation = establishment.manual_authorisations.get(public_id=request.POST["cancel"])
    except (ManualAuthorisation.DoesNotExist, ValidationError):
        raise Http404 from None
    try:
        services.manual_authorisation_cancel(authorisation, user=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("Autorisation annulée."))
    return redirect("manual-transfers", uai=establishment.uai)


@require_GET
@school_view(read=ADMIN_ONLY)
def manual_transfers_uai(request: SchoolRequest) -> JsonResponse:
    """Whether the typed destination UAI is valid and the name of its establishment, if registered."""
    return JsonResponse(services.uai_lookup(request.GET.get("uai", ""), request.establishment))
