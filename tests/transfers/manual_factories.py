"""Scenes for the manual path, forced transfers and the diagnostic: who left, who arrived, and when."""

from __future__ import annotations

import datetime

from django.utils import timezone

from students.models import Student
from transfers.models import Cause, ManualAuthorisation, Transfer

from ..factories import EstablishmentFactory, PassportEntryFactory, SiecleImportFactory, StudentFactory

CFA_UAI = "0920131T"  # docs/formats.md's lycée Auguste-Renoir, here a CFA without SIECLE


def cfa(**kwargs):
    defaults = {"uai": CFA_UAI, "name": "CFA Auguste-Renoir", "uses_siecle": False}
    return EstablishmentFactory(**(defaults | kwargs))


def transfer_enabled(**kwargs):
    return EstablishmentFactory(transfer_enabled=True, cnil_declaration_number="1929152 V0", **kwargs)


def left_student(establishment, *, left: datetime.datetime | None = None, **kwargs) -> Student:
    """A student a SIECLE import deactivated (a month ago unless ``left`` says when)."""
    left = left or timezone.now() - datetime.timedelta(days=30)
    defaults = {
        "is_active": False,
        "deactivated_at": left,
        "deactivated_by_import": SiecleImportFactory(establishment=establishment, status="applique"),
        "created_at": left - datetime.timedelta(days=700),
    }
    return StudentFactory(establishment=establishment, **(defaults | kwargs))


def arrived_student(establishment, origin: Student, **kwargs) -> Student:
    """The same student, created by a SIECLE import of the new establishment last week."""
    defaults = {
        "ine": origin.ine,
        "last_name": origin.last_name,
        "first_name": origin.first_name,
        "birth_date": origin.birth_date,
        "created_at": timezone.now() - datetime.timedelta(days=7),
    }
    return StudentFactory(establishment=establishment, **(defaults | kwargs))


def passport(student: Student, *, fiches: int = 2, evaluations: int = 1, bilans: int = 1) -> None:
    for kind, count in (("fiche", fiches), ("evaluation", evaluations), ("bilan", bilans)):
        for number in range(count):
            PassportEntryFactory(student=student, kind=kind, title=f"{kind} {number + 1}")


def authorisation(student: Student, *, destination_uai: str = CFA_UAI, **kwargs) -> ManualAuthorisation:
    defaults = {
        "origin_establishment": student.establishment,
        "destination_uai": destination_uai,
        "consent_confirmed": True,
        "authorised_at": timezone.now(),
    }
    return ManualAuthorisation.objects.create(origin_student=student, **(defaults | kwargs))


def decided(origin: Student, destination: Student, **kwargs) -> Transfer:
    """A history row for the pair: done automatic transfer unless told otherwise."""
    defaults = {
        "created_at": timezone.now(),
        "ine": origin.ine,
        "origin_establishment": origin.establishment,
        "destination_establishment": destination.establishment,
        "student_name": origin.display_name,
        "done": True,
    }
    return Transfer.objects.create(
        origin_student=origin, destination_student=destination, **(defaults | kwargs)
    )


def refused_for_diploma(origin: Student, destination: Student, **kwargs) -> Transfer:
    return decided(origin, destination, done=False, cause=Cause.DIPLOMA_CHANGE, **kwargs)
