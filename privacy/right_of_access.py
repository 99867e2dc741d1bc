"""Right of access (GDPR art. 15): everything cerisepro holds about one student, as JSON.

Technical staff produce it from the Django admin when a school forwards a request; each export is
written to the establishment's audit log (who, when, which student), since it discloses a minor's
records.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from establishments.models import User
from establishments.services import audit_record
from students.models import PassportEntry, Student
from transfers.models import Transfer

EXPORT_ACTION = "Export des données d'un élève (droit d'accès)"
EXPORT_FORMAT = "cerisepro/eleve/1"


def _when(value: date | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    return value.isoformat() if value else None


def _identity(student: Student) -> dict[str, Any]:
    return {
        "id": str(student.public_id),
        "ine": student.ine,
        "siecle_id": student.siecle_id,
        "last_name": student.last_name,
        "first_name": student.first_name,
        "birth_date": _when(student.birth_date),
        "class": student.class_code,
        "mef_code": student.mef_code,
        "formation": student.mef_label,
        "diploma_level": student.diploma_level,
        "diploma_specialite": student.diploma_specialite,
        "origin": student.get_origin_display(),
        "active": student.is_active,
        "created_at": _when(student.created_at),
        "deactivated_at": _when(student.deactivated_at),
        "account": student.user.get_username() if student.user else None,
    }


def _entry(entry: PassportEntry) -> dict[str, Any]:
    return {
        "id": str(entry.public_id),
        "kind": entry.get_kind_display(),
        "title": entry.title,
        "date": _when(entry.occurred_on),
        "end": _when(entry.end_on),
        "place": entry.place,
        "description": entry.description,
        "competencies": entry.competencies,
        "level": entry.get_level_display() if entry.level else "",
        "evaluator": entry.evaluator,
        "author": entry.author_name,
        "produced_in": {"uai": entry.produced_uai, "name": entry.produced_by},
        "copied_by_a_transfer": entry.is_copy,
        "created_at": _when(entry.created_at),
        "updated_at": _when(entry.updated_at),
    }


def _transfer(row: Transfer, student: Student) -> dict[str, Any]:
    sent = row.origin_student_id == student.pk
    return {
        "date": _when(row.created_at),
        "direction": "sent" if sent else "received",
        "from": {"uai": row.origin_establishment.uai, "name": row.origin_establishment.name},
        "to": {"uai": row.destination_establishment.uai, "name": row.destination_establishment.name},
        "kind": row.get_kind_display(),
        "done": row.done,
        "cause": row.get_cause_display() if row.cause else "",
        "entries_copied": row.entries_copied,
    }


def student_data(student: Student, *, now: datetime) -> dict[str, Any]:
    """The document: identity, establishment, passport entries with provenance, transfers."""
    transfers = (
        Transfer.objects.filter(Q(origin_student=student) | Q(destination_student=student))
        .select_related("origin_establishment", "destination_establishment")
        .order_by("created_at", "id")
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _when(now),
        "establishment": {"uai": student.establishment.uai, "name": student.establishment.name},
        "student": _identity(student),
        "passport": [_entry(entry) for entry in student.passport_entries.order_by("occurred_on", "id")],
        "transfers": [_transfer(row, student) for row in transfers],
    }


def export_student_data(students: list[Student], *, user: User, now: datetime) -> list[dict[str, Any]]:
    """Each student's document; each export is audited in the student's establishment."""
    with transaction.atomic():
        documents = []
        for student in students:
            documents.append(student_data(student, now=now))
            audit_record(student.establishment, user, EXPORT_ACTION, {"student": str(student.public_id)})
    return documents
