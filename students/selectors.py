"""Reads of students shared by several pages."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from establishments.models import Establishment

from .models import SiecleImport, Student

STATUS_FILTERS = {"actifs": Q(is_active=True), "inactifs": Q(is_active=False), "tous": Q()}


def student_search(
    establishment: Establishment, *, query: str = "", class_code: str = "", status: str = "actifs"
) -> QuerySet[Student]:
    students = establishment.students.filter(STATUS_FILTERS.get(status, STATUS_FILTERS["actifs"]))
    for word in query.split():
        students = students.filter(Q(last_name__icontains=word) | Q(first_name__icontains=word))
    if class_code:
        students = students.filter(class_code=class_code)
    return students.order_by("last_name", "first_name", "id")


def class_codes(establishment: Establishment) -> list[str]:
    return list(
        establishment.students.exclude(class_code="")
        .order_by("class_code")
        .values_list("class_code", flat=True)
        .distinct()
    )


def students_without_ine(establishment: Establishment) -> QuerySet[Student]:
    """Active students who can never be transferred, for the *Transferts* tab."""
    return establishment.students.filter(is_active=True, ine="").order_by("last_name", "first_name")


def recent_imports(establishment: Establishment, limit: int = 20) -> QuerySet[SiecleImport]:
    # The user: the list names who imported (one join, not a query per row).
    return (
        establishment.imports.exclude(status=SiecleImport.Status.PREVIEW)
        .select_related("user")
        .defer("pending_content", "pending_nomenclature")[:limit]
    )
