"""A school whose every free-text field is hostile: names, passport entries, another school's name.

Shared by the escaping tests (Django test client) and the Content-Security-Policy browser tests:
one scene that reaches every page of every role with data on it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from establishments.models import AuditLogEntry, Establishment, Role, User
from students.models import SiecleImport, Student
from students.synthetic import make_students, render_export
from transfers.models import ManualAuthorisation

from ..factories import (
    EstablishmentFactory,
    PassportEntryFactory,
    SiecleImportFactory,
    StaffFactory,
    StudentFactory,
    UserFactory,
)
from ..transfers.manual_factories import authorisation, decided, left_student, refused_for_diploma

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ATTRIBUTE = '"><img src=x onerror=alert(2)>'
ESCAPED_ATTRIBUTE = "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"
FORMULA = '=HYPERLINK("https://evil.example";"x")'
SUM = "@SUM(1+1)"


@dataclass
class Scene:
    school: Establishment
    other: Establishment
    admin: User
    principal: User
    teacher: User
    student_user: User
    staff: User
    student: Student
    preview: SiecleImport
    pending_authorisation: ManualAuthorisation
    forceable_transfer_pk: int


def hostile_school() -> Scene:
    now = timezone.now()
    school = EstablishmentFactory(
        uai="0750654D",
        name="Lycée professionnel Henri-IV",
        transfer_enabled=True,
        cnil_declaration_number="1929152",
    )
    other = EstablishmentFactory(
        uai="0920131T",
        name=f"Lycée {SCRIPT}",
        city=ATTRIBUTE,
        transfer_enabled=True,
        cnil_declaration_number="2003574",
    )
    users = {
        role: UserFactory(username=f"{role}-henri4", establishment=school, role=role, last_name=SCRIPT)
        for role in Role.values
    }
    student = StudentFactory(
        establishment=school, last_name=SCRIPT, first_name=ATTRIBUTE, user=users[Role.STUDENT]
    )
    for kind in ("fiche", "evaluation", "bilan"):
        PassportEntryFactory(
            student=student,
            kind=kind,
            title=SCRIPT,
            place=ATTRIBUTE,
            description=f"{SCRIPT}\n{ATTRIBUTE}",
            competencies=SCRIPT,
            author_name=SCRIPT,
            produced_by=SCRIPT,
            evaluator=SCRIPT,
        )
    # Sent: a student who left for the hostile school; received: one who came from it.
    gone = left_student(school, last_name=FORMULA, first_name=SCRIPT)
    decided(gone, StudentFactory(establishment=other, ine=gone.ine, last_name=SCRIPT), student_name=FORMULA)
    came = left_student(other, last_name=SUM, first_name=SCRIPT)
    arrived = StudentFactory(establishment=school, ine=came.ine, last_name=SUM, first_name=SCRIPT)
    decided(came, arrived, student_name=f"+{SCRIPT}", created_at=now - datetime.timedelta(days=40))
    forceable = refused_for_diploma(
        left_student(other, last_name=SCRIPT), StudentFactory(establishment=school), student_name=f"-{SCRIPT}"
    )
    rows = make_students(3, seed=11, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
    rows[0].last_name, rows[0].first_name = SCRIPT, ATTRIBUTE
    preview = SiecleImportFactory(
        establishment=school, file_name=f"{SCRIPT}.xml", pending_content=render_export(school.uai, rows)
    )
    pending = authorisation(left_student(school, last_name=SCRIPT), destination_uai="0753268V")
    left_student(school, last_name=SCRIPT, first_name=ATTRIBUTE)  # on the manual-transfer list
    AuditLogEntry.objects.create(
        establishment=school, username=SCRIPT, action=SCRIPT, changes={"name": [SCRIPT, ATTRIBUTE]}
    )
    return Scene(
        school=school,
        other=other,
        admin=users[Role.ADMINISTRATOR],
        principal=users[Role.PRINCIPAL],
        teacher=users[Role.TEACHER],
        student_user=users[Role.STUDENT],
        staff=StaffFactory(username="support"),
        student=student,
        preview=preview,
        pending_authorisation=pending,
        forceable_transfer_pk=forceable.pk,
    )
