"""Privacy 13: the records of students who left more than STUDENT_RETENTION_YEARS years ago are purged.

The history rows stay, anonymised; the copies made for the student at the new school stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from cerisepro.celery import app as celery_app
from establishments.models import Role, User
from privacy.retention import purge_expired_students
from privacy.tasks import purge_expired_task
from students.models import PassportEntry, Student
from tests.factories import EstablishmentFactory, PassportEntryFactory, SiecleImportFactory, StudentFactory
from tests.transfers.manual_factories import authorisation
from transfers.history import SENT, history_rows, transfers_received, transfers_sent
from transfers.models import ManualAuthorisation, Transfer
from transfers.services import copy_passports

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)
THREE_YEARS_AGO = datetime(2023, 11, 23, 10, 0, tzinfo=PARIS)


def gone(establishment, at: datetime, **fields) -> Student:
    return StudentFactory(
        establishment=establishment,
        is_active=False,
        deactivated_at=at,
        created_at=at - timedelta(days=700),
        **fields,
    )


@pytest.fixture
def school(db):
    return EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")


@pytest.fixture
def new_school(db):
    return EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")


def transferred(origin: Student, new_school) -> tuple[Transfer, Student]:
    """The student's passport copied, years ago, to their record at the new school."""
    destination = StudentFactory(
        establishment=new_school, ine=origin.ine, last_name=origin.last_name, first_name=origin.first_name
    )
    row = Transfer.objects.create(
        created_at=origin.deactivated_at + timedelta(days=3),
        ine=origin.ine,
        origin_student=origin,
        destination_student=destination,
        origin_establishment=origin.establishment,
        destination_establishment=new_school,
        student_name=destination.display_name,
        done=True,
    )
    copy_passports([row], now=row.created_at)
    return row, destination


def test_a_student_gone_three_years_and_a_day_is_purged_one_gone_a_day_less_is_kept(school):
    expired = gone(school, THREE_YEARS_AGO - timedelta(days=1))
    recent = gone(school, THREE_YEARS_AGO + timedelta(days=1))
    active = StudentFactory(establishment=school, created_at=datetime(2012, 9, 1, tzinfo=PARIS))
    PassportEntryFactory(student=expired)
    PassportEntryFactory(student=recent)

    assert purge_expired_students(NOW) == 1

    assert set(Student.objects.all()) == {recent, active}
    assert set(PassportEntry.objects.values_list("student", flat=True)) == {recent.pk}


def test_the_limit_is_three_calendar_years_on_the_paris_clock(school):
    just_over = gone(school, THREE_YEARS_AGO - timedelta(minutes=1))
    exactly = gone(school, THREE_YEARS_AGO)

    purge_expired_students(NOW)

    assert not Student.objects.filter(pk=just_over.pk).exists()
    assert Student.objects.filter(pk=exactly.pk).exists()


def test_the_history_rows_stay_anonymised_and_the_new_schools_copies_stay(school, new_school):
    origin = gone(school, THREE_YEARS_AGO - timedelta(days=30), last_name="ZÉPHYRIN", ine="070832327JA")
    PassportEntryFactory.create_batch(3, student=origin)
    row, destination = transferred(origin, new_school)

    purge_expired_students(NOW)

    row.refresh_from_db()
    assert (row.origin_student, row.destination_student) == (None, destination)
    assert (row.student_name, row.ine, row.done, row.entries_copied) == ("élève supprimé", "", True, 3)
    assert [r.student for r in history_rows(transfers_sent(school), SENT)] == ["élève supprimé"]
    assert transfers_received(new_school).get().destination_student == destination
    copies = PassportEntry.objects.filter(student=destination)
    assert copies.count() == 3, "the copies belong to the student at the new school"
    assert {(c.source_entry_id, c.produced_uai) for c in copies} == {(None, "0750654D")}


def test_the_students_account_and_manual_authorisations_go_with_the_student(school):
    account = User.objects.create_user("eleve-parti", establishment=school, role=Role.STUDENT)
    teacher = User.objects.create_user("prof", establishment=school, role=Role.TEACHER)
    student = gone(school, THREE_YEARS_AGO - timedelta(days=1), user=account)
    PassportEntryFactory(student=student, author=teacher)
    authorisation(student, authorised_at=student.deactivated_at)

    purge_expired_students(NOW)

    assert not User.objects.filter(pk=account.pk).exists()
    assert User.objects.filter(pk=teacher.pk).exists()
    assert not ManualAuthorisation.objects.exists()


def test_old_import_records_lose_their_warnings_and_kept_files(school):
    old = SiecleImportFactory(
        establishment=school, created_at=THREE_YEARS_AGO - timedelta(days=1), warnings=["INE 070832327JA"]
    )
    recent = SiecleImportFactory(establishment=school, created_at=NOW - timedelta(days=1), warnings=["w"])

    purge_expired_students(NOW)

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.warnings, old.pending_content, old.file_name) == ([], None, "ElevesSansAdresses.xml")
    assert recent.warnings == ["w"] and recent.pending_content


def test_running_the_purge_twice_is_harmless(school, new_school):
    origin = gone(school, THREE_YEARS_AGO - timedelta(days=1))
    PassportEntryFactory(student=origin)
    transferred(origin, new_school)

    first = purge_expired_students(NOW)
    entries, rows = PassportEntry.objects.count(), list(Transfer.objects.values())
    second = purge_expired_students(NOW)

    assert (first, second) == (1, 0)
    assert PassportEntry.objects.count() == entries == 1
    assert list(Transfer.objects.values()) == rows


def test_the_retention_period_is_a_setting(school, settings):
    settings.STUDENT_RETENTION_YEARS = 5
    kept = gone(school, THREE_YEARS_AGO - timedelta(days=1))
    purged = gone(school, datetime(2021, 11, 22, tzinfo=PARIS))

    assert purge_expired_students(NOW) == 1

    assert list(Student.objects.all()) == [kept]
    assert not Student.objects.filter(pk=purged.pk).exists()


def test_the_command_purges_as_of_at_and_the_dry_run_changes_nothing(school, capsys):
    gone(school, THREE_YEARS_AGO - timedelta(days=1))
    gone(school, THREE_YEARS_AGO + timedelta(days=1))

    call_command("purge_students", "--at", "2026-11-23T10:00", "--dry-run")
    assert capsys.readouterr().out.strip() == (
        "Dry run, nothing changed: 1 students deactivated before 2023-11-23 10:00 would be purged"
    )
    assert Student.objects.count() == 2

    call_command("purge_students", "--at", "2026-11-23T10:00")
    assert capsys.readouterr().out.strip() == (
        "Purged 1 students deactivated before 2023-11-23 10:00 (3-year retention)"
    )
    assert Student.objects.count() == 1


def test_the_command_refuses_a_bad_date():
    with pytest.raises(Exception, match="--at must be an ISO 8601 datetime"):
        call_command("purge_students", "--at", "yesterday")


def test_a_nightly_task_purges_as_of_now(school):
    gone(school, timezone.now() - timedelta(days=3 * 366 + 1))
    kept = gone(school, timezone.now() - timedelta(days=3 * 365 - 1))

    assert purge_expired_task.apply().get() == {"purged": 1, "previews_discarded": 0}
    assert purge_expired_task.apply().get() == {"purged": 0, "previews_discarded": 0}
    assert list(Student.objects.all()) == [kept]
    entry = settings.CELERY_BEAT_SCHEDULE["students-retention-purge"]
    assert entry["task"] == "students.purge_expired" and entry["task"] in celery_app.tasks
    assert entry["schedule"] == crontab(hour=3, minute=30)
