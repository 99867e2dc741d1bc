"""Import previews keep the uploaded file only as long as needed, and are parsed once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from privacy.tasks import purge_expired_task
from students import services
from students.models import SiecleImport
from students.services import discard_stale_previews, preview_siecle_import
from students.synthetic import make_students, render_export

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 1, 10, 0, tzinfo=PARIS)


def upload(client, establishment, rows):
    data = render_export(establishment.uai, rows)
    return client.post(
        reverse("siecle-import", args=[establishment.uai]),
        {"export": SimpleUploadedFile("ElevesSansAdresses.xml", data)},
    )


def test_reloading_a_preview_does_not_parse_the_file_again(
    establishment, admin_user, client_for, monkeypatch
):
    rows = make_students(4, 1, leaving_ratio=0, without_ine_ratio=0, inactive_ratio=0)
    client = client_for(admin_user)
    preview_url = upload(client, establishment, rows)["Location"]

    def parse_again(*args, **kwargs):
        raise AssertionError("the preview parsed the file again")

    monkeypatch.setattr(services, "read_student_file", parse_again)
    page = client.get(preview_url).content.decode()

    assert "<strong>4</strong> élèves dans le fichier" in page and rows[0].last_name in page


def test_an_abandoned_preview_loses_its_file_after_a_day(establishment, admin_user):
    data = render_export(establishment.uai, make_students(3, 1))
    kept = preview_siecle_import(establishment, data, "a.xml", now=NOW, user=admin_user).record
    stale = preview_siecle_import(
        establishment, data, "b.xml", now=NOW - timedelta(days=2), user=admin_user
    ).record

    assert discard_stale_previews(NOW) == 1

    stale.refresh_from_db()
    kept.refresh_from_db()
    assert (stale.status, stale.pending_content, stale.preview) == ("abandonne", None, None)
    assert kept.status == "apercu" and kept.pending_content


def test_the_nightly_task_discards_abandoned_previews(establishment, admin_user):
    data = render_export(establishment.uai, make_students(3, 1))
    preview_siecle_import(establishment, data, "b.xml", now=NOW - timedelta(days=2), user=admin_user)

    assert purge_expired_task.apply().get()["previews_discarded"] == 1
    assert not SiecleImport.objects.filter(status="apercu").exists()


def test_an_establishment_cannot_pile_up_previews_beyond_its_quota(establishment, admin_user, monkeypatch):
    data = render_export(establishment.uai, make_students(3, 1))
    monkeypatch.setattr(services, "PREVIEW_QUOTA_BYTES", len(data) * 2)
    preview_siecle_import(establishment, data, "a.xml", now=NOW, user=admin_user)
    preview_siecle_import(establishment, data, "b.xml", now=NOW, user=admin_user)

    with pytest.raises(services.ImportRefused, match="Trop de fichiers sont en attente"):
        preview_siecle_import(establishment, data, "c.xml", now=NOW, user=admin_user)

    assert SiecleImport.objects.filter(status="apercu").count() == 2
    assert SiecleImport.objects.filter(status="refuse").count() == 1
