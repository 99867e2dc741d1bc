"""The Celery side of transfers: the nightly schedule, the task, and import → on_commit → task."""

from __future__ import annotations

import dataclasses

import pytest
from celery.contrib.testing.worker import start_worker
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from cerisepro.celery import app as celery_app
from students.models import PassportEntry, Student
from students.services import import_siecle_export
from students.synthetic import make_students, render_export
from tests.factories import EstablishmentFactory, PassportEntryFactory
from transfers.models import MatchingRun, Transfer
from transfers.tasks import run_matching_task


def test_the_nightly_run_is_scheduled_in_paris_time():
    entry = settings.CELERY_BEAT_SCHEDULE["transfers-nightly-matching"]
    assert entry["task"] == run_matching_task.name
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == crontab(hour=2, minute=30)
    assert celery_app.conf.timezone == "Europe/Paris"
    assert entry["kwargs"] == {"trigger": "beat"}


def _schools():
    old = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    return old, new


def _move_one_student(old, new):
    """Import both schools, then a new export of the old school in which one student left."""
    students = make_students(3, seed=3, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
    moving = students[0]
    earlier = timezone.now() - timezone.timedelta(days=60)
    import_siecle_export(old, render_export(old.uai, students), "a.xml", now=earlier)
    origin = Student.objects.get(establishment=old, ine=moving.ine)
    PassportEntryFactory(student=origin)
    arriving = dataclasses.replace(moving, siecle_id="990001", class_code="2MRC", previous_uai=old.uai)
    import_siecle_export(new, render_export(new.uai, [arriving]), "b.xml", now=earlier)
    left = dataclasses.replace(moving, left_on=timezone.localdate())
    import_siecle_export(old, render_export(old.uai, [left, *students[1:]]), "a2.xml", now=timezone.now())
    return origin


@pytest.mark.django_db
def test_an_import_that_commits_runs_the_job_for_its_establishment(
    celery_conf, django_capture_on_commit_callbacks
):
    celery_conf(task_always_eager=True)
    old, new = _schools()

    with django_capture_on_commit_callbacks(execute=True):
        origin = _move_one_student(old, new)

    row = Transfer.objects.get()
    assert row.origin_student == origin and row.done
    assert PassportEntry.objects.filter(student__establishment=new).count() == 1
    assert MatchingRun.objects.filter(trigger="import").exists()


@pytest.mark.django_db
def test_the_task_delivered_twice_does_no_double_work(monkeypatch, django_capture_on_commit_callbacks):
    old, new = _schools()
    _move_one_student(old, new)  # no callbacks: the task is not run by the import

    run_matching_task.apply(kwargs={"trigger": "beat"})
    run_matching_task.apply(kwargs={"trigger": "beat"})

    assert Transfer.objects.count() == 1
    assert PassportEntry.objects.filter(student__establishment=new).count() == 1
    assert [r.pairs_decided for r in MatchingRun.objects.order_by("pk")] == [1, 0]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_on_the_real_broker_an_import_gets_its_transfer_done_by_a_worker(
    require_postgres, redis_url, celery_conf
):
    """The import enqueues on Redis after commit; a real worker consumes it and copies the passport.

    PostgreSQL: the worker thread writes while the test imports, which SQLite's locks refuse."""
    celery_conf(broker_url=redis_url, broker_transport_options={})
    old, new = _schools()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        _move_one_student(old, new)
        _wait_for(lambda: Transfer.objects.filter(done=True).exists())

    assert PassportEntry.objects.filter(student__establishment=new).count() == 1
    assert MatchingRun.objects.filter(trigger="import", status="termine").exists()


def _wait_for(condition, timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the worker did not finish the task in time")
