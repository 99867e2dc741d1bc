"""Passport pages: a student's passport, its entries, and its printable version.

Every page goes through :func:`school_view`, then resolves the student within
``request.establishment.students`` by its opaque ``public_id``; a student only ever reaches their
own record. Teachers write; everyone else of the establishment reads.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from establishments.access import ALL_ROLES, STUDENTS, TEACHERS, SchoolRequest, school_view
from establishments.models import Role
from students.models import EntryKind, PassportEntry, Student

from .forms import FORMS, PassportEntryForm
from .services import (
    author_display_name,
    passport_entries_by_kind,
    passport_entry_create,
    passport_entry_is_copy,
    passport_entry_update,
)

P = ParamSpec("P")


def _student(request: SchoolRequest, public_id: uuid.UUID) -> Student:
    students = request.establishment.students.all()
    if request.user.role == Role.STUDENT:
        # Privacy: another student's passport answers 404, exactly as one that does not exist.
        students = students.filter(user=request.user)
    return get_object_or_404(students, public_id=public_id)


def with_student(
    view: Callable[Concatenate[SchoolRequest, Student, P], HttpResponseBase],
) -> Callable[Concatenate[SchoolRequest, uuid.UUID, P], HttpResponseBase]:
    """Replace the URL's ``student`` UUID with the student it names (goes inside ``school_view``)."""

    @wraps(view)
    def wrapper(
        request: SchoolRequest, student: uuid.UUID, *args: P.args, **kwargs: P.kwargs
    ) -> HttpResponseBase:
        return view(request, _student(request, student), *args, **kwargs)

    return wrapper


def _passport_url(student: Student, fragment: str = "") -> str:
    url = reverse("passport", kwargs={"uai": student.establishment.uai, "student": student.public_id})
    return f"{url}#{fragment}" if fragment else url


def _context(request: SchoolRequest, student: Student, **extra) -> dict:
    return {
        "establishment": request.establishment,
        "student": student,
        "can_write": request.can_write,
    } | extra


@require_GET
@school_view(read=ALL_ROLES, write=TEACHERS)
@with_student
def passport(request: SchoolRequest, student: Student) -> HttpResponse:
    sections = passport_entries_by_kind(student)
    has_copies = any(entry.read_only for section in sections for entry in section.entries)
    context = _context(request, student, sections=sections, has_copies=has_copies, kinds=EntryKind.choices)
    return render(request, "students/passport.html", context)


@require_GET
@school_view(read=ALL_ROLES, write=TEACHERS)
@with_student
def passport_print(request: SchoolRequest, student: Student) -> HttpResponse:
    context = _context(
        request, student, sections=passport_entries_by_kind(student), today=timezone.localdate()
    )
    return render(request, "students/passport_print.html", context)


@require_GET
@school_view(read=STUDENTS)
def my_passport(request: SchoolRequest) -> HttpResponse:
    student = get_object_or_404(request.establishment.students, user=request.user)
    return redirect(_passport_url(student))


def _render_form(
    request: SchoolRequest, student: Student, form: PassportEntryForm, entry: PassportEntry | None = None
) -> HttpResponse:
    context = _context(request, student, form=form, entry=entry, kind_label=EntryKind(form.kind).label)
    return render(request, "students/passport_entry_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@school_view(read=TEACHERS, write=TEACHERS)
@with_student
def passport_entry_create_view(request: SchoolRequest, student: Student, kind: str) -> HttpResponse:
    form_class = FORMS.get(kind)
    if form_class is None:
        raise Http404
    initial = {"occurred_on": timezone.localdate(), "evaluator": author_display_name(request.user)}
    form = form_class(
        request.POST if request.method == "POST" else None,
        instance=PassportEntry(student=student, kind=kind),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        passport_entry_create(student, request.user, kind, form.cleaned_data, now=timezone.now())
        messages.success(request, _("Entrée ajoutée au passeport."))
        return redirect(_passport_url(student, kind))
    return _render_form(request, student, form)


@require_http_methods(["GET", "POST"])
@school_view(read=TEACHERS, write=TEACHERS)
@with_student
def passport_entry_edit_view(request: SchoolRequest, student: Student, entry: uuid.UUID) -> HttpResponse:
    passport_entry = get_object_or_404(student.passport_entries, public_id=entry)
    if passport_entry_is_copy(passport_entry, request.establishment.uai):
        # Editing a copy would falsify the record of the school that produced it: the page says
        # so instead of offering a form. passport_entry_update refuses it as well.
        context = _context(request, student, entry=passport_entry)
        return render(request, "students/passport_entry_readonly.html", context, status=403)
    # The form writes submitted values into its instance while validating: give it a copy, so
    # that a refused form never shows unsaved values as the entry's.
    form = FORMS[passport_entry.kind](
        request.POST if request.method == "POST" else None, instance=copy.copy(passport_entry)
    )
    if request.method == "POST" and form.is_valid():
        passport_entry_update(passport_entry, request.user, form.cleaned_data, now=timezone.now())
        messages.success(request, _("Modifications enregistrées."))
        return redirect(_passport_url(student, passport_entry.kind))
    return _render_form(request, student, form, passport_entry)
