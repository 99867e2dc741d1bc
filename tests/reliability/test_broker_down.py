"""Fault 3: Redis unavailable when an import commits.

The import stands and says so; a warning says the matching task could not be queued; nothing is
lost, because the next nightly run decides the pair. The enqueue fails fast: the user is waiting.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from students.models import PassportEntry, Student
from students.services import import_siecle_export
from students.synthetic import make_students, render_export
from tests.factories import EstablishmentFactory, PassportEntryFactory
from transfers.models import MatchingRun, Transfer
from transfers.run import run_matching

from .data import schools

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs on a real commit

CLOSED_PORT = "redis://127.0.0.1:1/0"
NOT_QUEUED = "committed but the matching task could not be queued (broker unavailable)"


@pytest.fixture
def redis_down(celery_broker):
    celery_broker(CLOSED_PORT, socket_connect_timeout=3)  # as settings.py sets it for Redis


def _arrival_then_departure_file(old, new):
    """Both schools imported two months ago; returns the old school's new file, one student gone."""
    students = make_students(3, seed=3, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
    earlier = timezone.now() - timedelta(days=60)
    import_siecle_export(old, render_export(old.uai, students), "a.xml", now=earlier)
    PassportEntryFactory(student=Student.objects.get(establishment=old, ine=students[0].ine))
    arriving = dataclasses.replace(students[0], siecle_id="990001", previous_uai=old.uai)
    import_siecle_export(new, render_export(new.uai, [arriving]), "b.xml", now=earlier)
    return render_export(old.uai, students[1:])


def _not_queued_warnings(logs) -> list:
    return [r for r in logs.records if r.levelname == "WARNING" and NOT_QUEUED in r.getMessage()]


def test_an_import_committed_while_redis_is_down_stands_and_the_nightly_run_decides_its_pair(
    redis_down, app_logs, tmp_path, capsys
):
    old, new = schools()
    departure = tmp_path / "ElevesSansAdresses.xml"
    departure.write_bytes(_arrival_then_departure_file(old, new))
    app_logs.clear()

    started = time.monotonic()
    call_command("import_siecle", old.uai, str(departure))
    elapsed = time.monotonic() - started

    assert (
        "Imported: 2 in file, 0 created, 0 updated, 0 reactivated, 1 deactivated" in capsys.readouterr().out
    )
    assert elapsed < 5, f"the enqueue must fail fast, took {elapsed:.1f} s"
    assert Student.objects.filter(establishment=old, is_active=False).count() == 1
    assert len(_not_queued_warnings(app_logs)) == 1
    assert "the nightly run will decide its pairs" in _not_queued_warnings(app_logs)[0].getMessage()
    assert not MatchingRun.objects.exists() and not Transfer.objects.exists()

    nightly = run_matching(timezone.now(), trigger="beat")

    assert (nightly.status, nightly.transfers_done) == ("termine", 1)
    assert Transfer.objects.get().done
    assert PassportEntry.objects.filter(student__establishment=new).count() == 1


def test_the_import_page_confirms_the_import_while_redis_is_down(
    redis_down, app_logs, admin_user, client_for
):
    old, new = admin_user.establishment, EstablishmentFactory(uai="0920131T")
    departure = _arrival_then_departure_file(old, new)
    client = client_for(admin_user)
    upload = SimpleUploadedFile("ElevesSansAdresses.xml", departure)
    preview = client.post(reverse("siecle-import", args=[old.uai]), {"export": upload})["Location"]
    app_logs.clear()

    page = client.post(preview, follow=True).content.decode()

    assert "Import terminé : 0 élèves créés, 0 mis à jour, 0 réactivés, 1 désactivés." in page
    assert len(_not_queued_warnings(app_logs)) == 1
    assert not MatchingRun.objects.exists()
