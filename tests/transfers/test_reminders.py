"""Reminders about waiting passports over simulated weeks, with an explicit ``now`` (docs/transfers.md §9)."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError
from django.urls import reverse

from establishments.services import establishment_set_transfer
from transfers.models import Reminder, ReminderKind
from transfers.reminders import send_reminders, week_key
from transfers.tasks import send_reminders_task

from ..factories import EstablishmentFactory, UserFactory
from .test_matching import INE, arrived, left, paris

LEFT_AT, ARRIVED_AT = paris(2026, 9, 5), paris(2026, 9, 8)  # the pair's window closes on 5 March 2027
FIRST_DAY = datetime.date(2026, 11, 10)


@pytest.fixture
def scene(db, celery_conf):
    celery_conf(task_always_eager=True)
    old = EstablishmentFactory(uai="0750654D", name="Lycée Ancien")  # transfer not turned on
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    old_admin = UserFactory(establishment=old, role="administrateur", email="admin@ancien.example")
    new_admin = UserFactory(establishment=new, role="administrateur", email="admin@nouveau.example")
    UserFactory(establishment=old, role="chef", email="chef@ancien.example")  # administrators only
    left(old, LEFT_AT, first_name="Inès")
    arrived(new, ARRIVED_AT, first_name="Inès")
    return old, new, old_admin, new_admin


def _run(day: datetime.date, capture) -> list[Reminder]:
    with capture(execute=True):
        return send_reminders(paris(day.year, day.month, day.day, 7, 0))


def _days(first: datetime.date, last: datetime.date):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


def _mails_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


def test_the_school_that_has_not_turned_transfer_on_is_reminded_once_a_week(
    scene, django_capture_on_commit_callbacks
):
    old, new, old_admin, new_admin = scene
    for day in _days(FIRST_DAY, datetime.date(2027, 3, 20)):
        _run(day, django_capture_on_commit_callbacks)
    weekly = Reminder.objects.filter(establishment=old, kind=ReminderKind.NOT_ENABLED).order_by("sent_at")
    # From ISO week 46 of 2026 (53 weeks that year) to week 9 of 2027, the last before the close.
    assert weekly.count() == 17
    assert [r.key for r in weekly][:2] == ["2026-W46", "2026-W47"] and weekly.last().key == "2027-W09"
    assert {r.sent_at.weekday() for r in weekly[1:]} == {0}  # Mondays, the first run of each week
    assert {(r.students, r.closes_on, r.recipients) for r in weekly} == {(1, datetime.date(2027, 3, 5), 1)}
    to_old = _mails_to(old_admin.email)
    assert len(to_old) == 17 and not _mails_to("chef@ancien.example")
    body = to_old[0].body
    assert "Le passeport professionnel d'un élève attend" in body and "05/03/2027" in body
    assert settings.SITE_URL + reverse("settings-transfers", args=[old.uai]) in body
    for message in mail.outbox:  # counts and dates only
        text = message.subject + message.body
        assert "MARTIN" not in text and "Inès" not in text and INE not in text
        assert new.uai not in text or new_admin.email in message.to
        assert old.uai not in text or old_admin.email in message.to


def test_the_waiting_side_is_told_thirty_then_seven_days_before_the_window_closes(
    scene, django_capture_on_commit_callbacks
):
    old, new, old_admin, new_admin = scene
    for day in _days(datetime.date(2027, 1, 25), datetime.date(2027, 3, 10)):
        _run(day, django_capture_on_commit_callbacks)
    notices = Reminder.objects.filter(establishment=new).order_by("sent_at")
    assert [(r.kind, r.sent_at.date(), r.closes_on) for r in notices] == [
        (ReminderKind.CLOSING_30, datetime.date(2027, 2, 3), datetime.date(2027, 3, 5)),
        (ReminderKind.CLOSING_7, datetime.date(2027, 2, 26), datetime.date(2027, 3, 5)),
    ]
    to_new = _mails_to(new_admin.email)
    assert len(to_new) == 2
    assert "dans 30 jours" in to_new[0].body and "dans 7 jours" in to_new[1].body
    assert reverse("transfer-waiting", args=[new.uai]) in to_new[0].body
    assert old.name not in to_new[0].body and old.uai not in to_new[0].body


def test_run_twice_the_same_day_sends_nothing_twice(scene, django_capture_on_commit_callbacks):
    day = datetime.date(2027, 2, 3)
    first = _run(day, django_capture_on_commit_callbacks)
    assert {r.kind for r in first} == {ReminderKind.NOT_ENABLED, ReminderKind.CLOSING_30}
    sent = len(mail.outbox)
    assert _run(day, django_capture_on_commit_callbacks) == []
    assert _run(day + datetime.timedelta(days=1), django_capture_on_commit_callbacks) == []  # same week
    assert len(mail.outbox) == sent == 2


def test_the_beat_task_is_scheduled_and_sends_through_the_service(scene, django_capture_on_commit_callbacks):
    entry = settings.CELERY_BEAT_SCHEDULE["transfers-reminders"]
    assert entry["task"] == send_reminders_task.name
    with django_capture_on_commit_callbacks(execute=True):
        result = send_reminders_task.apply().get()
    assert result["reminders"] >= 1


def test_the_database_refuses_the_same_week_twice(scene):
    old = scene[0]
    now = paris(2026, 11, 10, 7, 0)
    Reminder.objects.create(establishment=old, kind=ReminderKind.NOT_ENABLED, key=week_key(now), sent_at=now)
    with pytest.raises(IntegrityError):
        Reminder.objects.create(
            establishment=old, kind=ReminderKind.NOT_ENABLED, key=week_key(now), sent_at=now
        )


def test_a_school_that_turned_reminders_off_gets_none(scene, django_capture_on_commit_callbacks):
    old, new, old_admin, new_admin = scene
    establishment_set_transfer(
        old, old_admin, enabled=False, cnil_number="", now=paris(2026, 11, 1), reminders=False
    )
    assert old.audit_log.get().changes == {"transfer_reminders_enabled": [True, False]}
    for day in _days(datetime.date(2027, 1, 25), datetime.date(2027, 3, 10)):
        _run(day, django_capture_on_commit_callbacks)
    assert not Reminder.objects.filter(establishment=old).exists()
    assert not _mails_to(old_admin.email)
    assert len(_mails_to(new_admin.email)) == 2  # the other school's own setting


def test_no_reminder_when_no_passport_waits_for_the_school(
    db, celery_conf, django_capture_on_commit_callbacks
):
    celery_conf(task_always_eager=True)
    school = EstablishmentFactory()
    UserFactory(establishment=school, role="administrateur", email="admin@example.org")
    arrived(school, ARRIVED_AT)  # nobody left another school on the platform with this identity
    assert _run(FIRST_DAY, django_capture_on_commit_callbacks) == []
    assert mail.outbox == []


def test_once_transfer_is_turned_on_the_reminders_stop(scene, django_capture_on_commit_callbacks):
    old, _new, old_admin, _new_admin = scene
    _run(FIRST_DAY, django_capture_on_commit_callbacks)
    establishment_set_transfer(old, old_admin, enabled=True, cnil_number="1929152", now=paris(2026, 11, 12))
    assert _run(datetime.date(2026, 11, 16), django_capture_on_commit_callbacks) == []


def test_the_weekly_reminder_counts_every_waiting_student_and_gives_the_earliest_date(
    scene, django_capture_on_commit_callbacks
):
    old, new, old_admin, _new_admin = scene
    left(old, paris(2026, 10, 1), ine="070832327JB", last_name="BERNARD")
    arrived(new, paris(2026, 10, 2), ine="070832327JB", last_name="BERNARD")
    (weekly,) = [r for r in _run(FIRST_DAY, django_capture_on_commit_callbacks) if r.establishment == old]
    assert (weekly.students, weekly.closes_on) == (2, datetime.date(2027, 3, 5))
    (message,) = _mails_to(old_admin.email)
    assert "Les passeports professionnels de 2 élèves attendent" in message.body
    assert "2 passeports professionnels attendent" in message.subject


def test_a_departure_waiting_for_a_school_without_transfer_is_the_waiting_side_too(
    db, celery_conf, django_capture_on_commit_callbacks
):
    celery_conf(task_always_eager=True)
    old = EstablishmentFactory(transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory()  # the arrival's school has not turned transfer on
    old_admin = UserFactory(establishment=old, role="administrateur", email="admin@ancien.example")
    new_admin = UserFactory(establishment=new, role="administrateur", email="admin@nouveau.example")
    left(old, LEFT_AT)
    arrived(new, ARRIVED_AT)
    sent = _run(datetime.date(2027, 2, 26), django_capture_on_commit_callbacks)
    assert {(r.establishment, r.kind) for r in sent} == {
        (old, ReminderKind.CLOSING_7),
        (new, ReminderKind.NOT_ENABLED),
    }
    assert "que l'autre établissement concerné active le transfert" in _mails_to(old_admin.email)[0].body
    assert new.name not in _mails_to(old_admin.email)[0].body
    assert len(_mails_to(new_admin.email)) == 1
