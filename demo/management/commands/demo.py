"""Demo data for the quick start: schools, their users, SIECLE imports and one transfer."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from establishments.models import Establishment, Role, User
from establishments.services import establishment_create, user_create
from students.models import EntryKind, Student
from students.passport.services import passport_entry_create
from students.services import import_siecle_export
from students.synthetic import make_students, render_export, render_nomenclature
from transfers.models import Trigger
from transfers.services import run_matching

DEMO_PASSWORD = "cerise-demo-2026"
# Technical staff's login to the Django admin (a second factor is set up at the first login).
DEMO_STAFF = ("cerise-support", "support@example.org")
# (UAI, name, e-mail, login prefix, CNIL declaration number)
DEMO_ESTABLISHMENTS = [
    ("0750654D", "Lycée professionnel Henri-IV (démo)", "ce.0750654d@example.org", "lp-henri4", "1929152 V0"),
    (
        "0920131T",
        "Lycée professionnel Auguste-Renoir (démo)",
        "ce.0920131t@example.org",
        "lp-renoir",
        "2003574 v0",
    ),
]
# The school staff of each demo school; the administrator has an e-mail address, so that the
# "passeport reçu" / "passeport envoyé" e-mails show in the console. Students are linked to a record.
DEMO_ROLES = [
    (Role.ADMINISTRATOR, "admin", "Alice", "ADMIN"),
    (Role.PRINCIPAL, "chef", "Paul", "PROVISEUR"),
    (Role.TEACHER, "prof", "Thomas", "ENSEIGNANT"),
]
DEMO_ENTRIES = [
    (EntryKind.FICHE, {"title": "Accueil physique et téléphonique", "place": "Mairie de Paris 5e",
                       "description": "Accueil du public au guichet de l'état civil pendant la PFMP.",
                       "competencies": "Accueillir, orienter, renseigner"}),
    (EntryKind.EVALUATION, {"title": "Gérer le courrier entrant", "level": "acquis",
                            "evaluator": "M. ENSEIGNANT"}),
    (EntryKind.BILAN, {"title": "Bilan du premier trimestre",
                       "description": "Bonne progression ; autonomie à renforcer au standard."}),
]  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo establishments, users, imports and a transfer (idempotent); print the logins."

    def handle(self, *args, **options):
        if not Establishment.objects.filter(uai=DEMO_ESTABLISHMENTS[0][0]).exists():
            self._create(timezone.now())
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        users = User.objects.filter(username__startswith="lp-").select_related("establishment")
        for user in users.order_by("establishment__uai", "id"):
            self.stdout.write(f"  {user.establishment.uai}  {user.get_role_display():<22} {user.username}")
        self.stdout.write(f"  {'staff':<8}  {'Technical staff (/admin/)':<22} {DEMO_STAFF[0]}")

    @transaction.atomic
    def _create(self, now):
        schools = []
        for uai, name, email, prefix, cnil in DEMO_ESTABLISHMENTS:
            school = establishment_create(uai=uai, name=name, email=email)
            Establishment.objects.filter(pk=school.pk).update(
                transfer_enabled=True, cnil_declaration_number=cnil
            )
            schools.append((school, prefix))
        henri4, renoir = schools[0][0], schools[1][0]
        henri4_students = make_students(40, seed=2026, leaving_ratio=0.05)
        renoir_students = make_students(30, seed=2027, id_offset=500_000)
        codes = {s.mef_code for s in henri4_students + renoir_students}
        for school, rows in ((henri4, henri4_students), (renoir, renoir_students)):
            export = render_export(school.uai, rows)
            # Each school's own Nomenclature: the import checks its UAJ like the export's.
            labels = render_nomenclature(codes, uai=school.uai)
            import_siecle_export(
                school, export, "demo.xml", now=now - timedelta(days=30), nomenclature=labels
            )
        moving, staying = [s for s in henri4_students if s.left_on is None and s.ine][:2]
        users = {prefix: self._users(school, prefix) for school, prefix in schools}
        self._student_login(henri4, "lp-henri4", staying.siecle_id)
        self._staff()
        for row in (moving, staying):
            student = henri4.students.get(siecle_id=row.siecle_id)
            for kind, data in DEMO_ENTRIES:
                data = {
                    "occurred_on": (now - timedelta(days=20)).date(),
                    "end_on": (now - timedelta(days=2)).date(),
                    **data,
                }
                passport_entry_create(student, users["lp-henri4"], kind, data, now=now - timedelta(days=20))
        # The student moves: the old school's export shows the departure, the new one the arrival.
        left = [dataclasses.replace(s, left_on=(now - timedelta(days=2)).date()) if s is moving else s
                for s in henri4_students]  # fmt: skip
        arrival = dataclasses.replace(
            moving, siecle_id="7000001", class_code="1AGORA", previous_uai=henri4.uai
        )
        import_siecle_export(
            henri4, render_export(henri4.uai, left), "demo-2.xml", now=now - timedelta(days=1)
        )
        import_siecle_export(
            renoir,
            render_export(renoir.uai, [*renoir_students, arrival]),
            "demo-2.xml",
            now=now - timedelta(days=1),
        )
        # At Auguste-Renoir, the student who arrived: their passport shows the entries Henri-IV wrote.
        self._student_login(renoir, "lp-renoir", arrival.siecle_id)
        run_matching(now, trigger=Trigger.COMMAND)

    def _users(self, school, prefix):
        """The school's administrator, principal and teacher; returns the teacher."""
        users = {
            role: user_create(
                school,
                username=f"{prefix}-{suffix}",
                password=DEMO_PASSWORD,
                role=role,
                first_name=first_name,
                last_name=last_name,
                email=f"{prefix}-{suffix}@example.org" if role == Role.ADMINISTRATOR else "",
            )
            for role, suffix, first_name, last_name in DEMO_ROLES
        }
        return users[Role.TEACHER]

    def _student_login(self, school, prefix, siecle_id):
        """A student login with the demo password, linked to the student's record.

        Not students.accounts' initial passwords: those are shown once and must be replaced at the
        first login, and the demo prints the same logins every time it runs.
        """
        student = school.students.get(siecle_id=siecle_id)
        user = user_create(
            school,
            username=f"{prefix}-eleve",
            password=DEMO_PASSWORD,
            role=Role.STUDENT,
            first_name=student.first_name,
            last_name=student.last_name,
        )
        Student.objects.filter(pk=student.pk).update(user=user)

    def _staff(self):
        username, email = DEMO_STAFF
        staff = User(username=username, email=email, is_staff=True, is_superuser=True)
        staff.set_password(DEMO_PASSWORD)
        staff.save()
