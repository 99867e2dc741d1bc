"""Privacy 14: technical staff export a student's records as JSON (right of access), audited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from establishments.models import AuditLogEntry
from privacy.right_of_access import EXPORT_ACTION
from tests.factories import EstablishmentFactory, PassportEntryFactory, StudentFactory
from transfers.models import Transfer
from transfers.services import copy_passports

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
CHANGELIST = "admin:students_student_changelist"


@pytest.fixture
def moved_student(establishment):
    """A student who arrived at ``establishment`` with one entry from the old school, and wrote one."""
    old = EstablishmentFactory(uai="0920131T", name="Lycée Auguste-Renoir")
    origin = StudentFactory(
        establishment=old,
        ine="070832327JA",
        is_active=False,
        deactivated_at=datetime(2026, 7, 4, tzinfo=PARIS),
    )
    PassportEntryFactory(student=origin, kind="evaluation", title="Accueil", author_name="M. BERNARD")
    student = StudentFactory(
        establishment=establishment, ine="070832327JA", last_name="ZÉPHYRIN", first_name="Inès"
    )
    row = Transfer.objects.create(
        created_at=datetime(2026, 9, 9, 2, 30, tzinfo=PARIS),
        ine=student.ine,
        origin_student=origin,
        destination_student=student,
        origin_establishment=old,
        destination_establishment=establishment,
        student_name=student.display_name,
        done=True,
    )
    copy_passports([row], now=row.created_at + timedelta(seconds=1))
    PassportEntryFactory(student=student, kind="bilan", title="Bilan de période")
    return student


def export(client, students):
    return client.post(
        reverse(CHANGELIST), {"action": "export_data", "_selected_action": [s.pk for s in students]}
    )


def test_staff_download_the_students_records_as_json(client_for, staff_user, moved_student):
    response = export(client_for(staff_user), [moved_student])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="eleve-{moved_student.public_id}.json"'
    document = json.loads(response.content)
    assert document["establishment"] == {"uai": "0750654D", "name": "Lycée professionnel Henri-IV"}
    identity = document["student"]
    assert (identity["id"], identity["ine"], identity["last_name"], identity["first_name"]) == (
        str(moved_student.public_id),
        "070832327JA",
        "ZÉPHYRIN",
        "Inès",
    )
    assert identity["birth_date"] == "2008-05-17" and identity["active"] is True
    entries = {entry["title"]: entry for entry in document["passport"]}
    assert set(entries) == {"Accueil", "Bilan de période"}
    assert entries["Accueil"]["produced_in"] == {"uai": "0920131T", "name": "Lycée Auguste-Renoir"}
    assert entries["Accueil"]["copied_by_a_transfer"] is True and entries["Accueil"]["author"] == "M. BERNARD"
    assert entries["Bilan de période"]["produced_in"]["uai"] == "0750654D"
    assert document["transfers"] == [
        {
            "date": "2026-09-09T02:30:00+02:00",
            "direction": "received",
            "from": {"uai": "0920131T", "name": "Lycée Auguste-Renoir"},
            "to": {"uai": "0750654D", "name": "Lycée professionnel Henri-IV"},
            "kind": "Automatique",
            "done": True,
            "cause": "",
            "entries_copied": 1,
        }
    ]


def test_each_export_is_written_to_the_establishments_audit_log(client_for, staff_user, moved_student):
    export(client_for(staff_user), [moved_student])

    entry = AuditLogEntry.objects.get(action=EXPORT_ACTION)
    assert (entry.establishment, entry.user, entry.username) == (
        moved_student.establishment,
        staff_user,
        "support",
    )
    assert entry.changes == {"student": str(moved_student.public_id)}
    assert "ZÉPHYRIN" not in json.dumps(entry.changes), "the journal names the student by id only"


def test_several_students_come_in_one_document_each_audited(client_for, staff_user, establishment):
    students = StudentFactory.create_batch(2, establishment=establishment)

    document = json.loads(export(client_for(staff_user), students).content)

    assert {s["student"]["id"] for s in document["students"]} == {str(s.public_id) for s in students}
    assert AuditLogEntry.objects.filter(action=EXPORT_ACTION).count() == 2


def test_school_users_cannot_export(client_for, admin_user, moved_student):
    response = export(client_for(admin_user), [moved_student])

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not AuditLogEntry.objects.filter(action=EXPORT_ACTION).exists()
