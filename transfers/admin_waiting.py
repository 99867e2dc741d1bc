"""What support sees of waiting passports and reminders (docs/transfers.md §9).

*Rappels de transfert* lists the reminders sent; its page *Passeports en attente* shows every
establishment's waiting arrivals and departures with the reasons of ``transfers.waiting`` (the
same as the schools' page and the e-mails), filtered by reason, side, académie and département.
The département is the UAI's first three characters (``075`` Paris, ``974`` La Réunion, ``620`` /
``720`` Corse): every establishment has a UAI, while the postal code is optional.
Imported from transfers/admin.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from establishments.admin import ReadOnlyAdmin
from establishments.models import Establishment

from .models import Reminder
from .waiting import (
    ARRIVAL,
    DEPARTURE,
    WaitingReason,
    WaitingStudent,
    reason_counts,
    waiting_arrivals,
    waiting_departures,
)

PAGE_SIZE = 100


def departement(uai: str) -> str:
    """The département code of an establishment: its UAI's first three characters (module docstring)."""
    return uai[:3]


class WaitingFilterForm(forms.Form):
    raison = forms.ChoiceField(label="Motif", required=False, choices=[("", "Tous"), *WaitingReason.choices])
    cote = forms.ChoiceField(
        label="Côté", required=False, choices=[("", "Tous"), (ARRIVAL, "Arrivées"), (DEPARTURE, "Départs")]
    )
    academie = forms.ChoiceField(label="Académie", required=False)
    departement = forms.CharField(
        label="Département (3 premiers caractères de l'UAI)", required=False, max_length=3, min_length=3
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        academies = (
            Establishment.objects.exclude(academy="")
            .order_by("academy")
            .values_list("academy", flat=True)
            .distinct()
        )
        field = self.fields["academie"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Toutes"), *((name, name) for name in academies)]

    def students_scope(self) -> Q:
        """The establishments filter, as a Q on Student (done in the database)."""
        data = self.cleaned_data if self.is_valid() else {}
        scope = Q()
        if data.get("academie"):
            scope &= Q(establishment__academy=data["academie"])
        if data.get("departement"):
            scope &= Q(establishment__uai__startswith=data["departement"].upper())
        return scope

    def keep(self, item: WaitingStudent) -> bool:
        data = self.cleaned_data if self.is_valid() else {}
        return (not data.get("raison") or item.reason == data["raison"]) and (
            not data.get("cote") or item.side == data["cote"]
        )


@dataclass(frozen=True)
class WaitingPicture:
    items: list[WaitingStudent]
    counts: list[tuple[WaitingReason, int]]


def waiting_picture(form: WaitingFilterForm, now) -> WaitingPicture:
    """Every waiting arrival and departure within the filters (six queries, whatever their number)."""
    scope = form.students_scope()
    everything = waiting_arrivals(None, now, students=scope) + waiting_departures(None, now, students=scope)
    items = sorted(
        (item for item in everything if form.keep(item)),
        key=lambda item: (item.closes_on, item.student.establishment.uai, item.side, item.student.pk),
    )
    return WaitingPicture(items, reason_counts(items))


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ("sent_at", "establishment", "kind", "key", "students", "closes_on", "recipients")
    list_filter = ("kind", "sent_at")
    search_fields = ("establishment__uai", "establishment__name")
    list_select_related = ("establishment",)
    date_hierarchy = "sent_at"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("en-attente/", view(self.waiting_view), name="transfers_reminder_waiting"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "waiting_link": True})

    def waiting_view(self, request: HttpRequest) -> HttpResponse:
        """Passeports en attente, across all establishments (docs/transfers.md §9)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = WaitingFilterForm(request.GET or None)
        if form.is_bound:
            form.is_valid()
        picture = waiting_picture(form, timezone.now())
        page = Paginator(picture.items, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Passeports en attente",
            "form": form,
            "picture": picture,
            "page": page,
            "query": query.urlencode(),
            "ARRIVAL": ARRIVAL,
        }
        return TemplateResponse(request, "admin/transfers/waiting.html", context)
