"""Names and free text with ``<script>`` are shown as text on every page that displays them, and
spreadsheet formulas in the CSV export are neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from .scene import ATTRIBUTE, ESCAPED_ATTRIBUTE, ESCAPED_SCRIPT, FORMULA, SCRIPT, SUM, hostile_school

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(db):
    return hostile_school()


def school_pages(scene):
    uai, student = scene.school.uai, scene.student.public_id
    entry = student and scene.student.passport_entries.first().public_id
    return [
        (scene.principal, reverse("transfer-history", args=[uai])),
        (scene.admin, reverse("transfer-history", args=[uai])),
        (scene.teacher, reverse("student-list", args=[uai])),
        (scene.teacher, reverse("passport", args=[uai, student])),
        (scene.teacher, reverse("passport-entry-edit", args=[uai, student, entry])),
        (scene.student_user, reverse("passport", args=[uai, student])),
        (scene.student_user, reverse("passport-print", args=[uai, student])),
        (scene.admin, reverse("siecle-import-preview", args=[uai, scene.preview.public_id])),
        (scene.admin, reverse("siecle-import", args=[uai])),
        (scene.admin, reverse("manual-transfers", args=[uai])),
        (scene.admin, reverse("settings-transfers", args=[uai])),
    ]


def admin_pages(scene):
    return [
        reverse("admin:students_student_changelist"),
        reverse("admin:students_student_change", args=[scene.student.pk]),
        reverse("admin:transfers_transfer_changelist"),
        reverse("admin:transfers_transfer_change", args=[scene.forceable_transfer_pk]),
        reverse("admin:transfers_transfer_force", args=[scene.forceable_transfer_pk]),
        reverse("admin:transfers_transfer_undo", args=[scene.school.transfers_sent.get().pk]),
        reverse("admin:transfers_manualauthorisation_changelist"),
        reverse("admin:transfers_manualauthorisation_change", args=[scene.pending_authorisation.pk]),
        reverse("admin:establishments_auditlogentry_changelist"),
        reverse("admin:establishments_establishment_changelist"),
        reverse("admin:establishments_user_changelist"),
        reverse("admin:students_siecleimport_changelist"),
    ]


def assert_inert(response, *, attribute_too: bool = True) -> None:
    assert response.status_code == 200
    html = response.content.decode().lower()  # last names are shown in capitals
    assert SCRIPT not in html and "<img src=x" not in html
    assert ESCAPED_SCRIPT in html
    if attribute_too:
        assert ATTRIBUTE not in html


def test_every_school_page_shows_hostile_names_and_text_as_text(scene, client):
    for user, url in school_pages(scene):
        client.force_login(user)
        assert_inert(client.get(url))


def test_the_history_shows_the_other_schools_hostile_name_as_text(scene, client):
    client.force_login(scene.principal)

    html = client.get(reverse("transfer-history", args=[scene.school.uai])).content.decode()

    assert f"Lycée {ESCAPED_SCRIPT}" in html


def test_the_passport_shows_hostile_places_and_first_names_escaped(scene, client):
    client.force_login(scene.teacher)

    html = client.get(reverse("passport", args=[scene.school.uai, scene.student.public_id])).content.decode()

    assert ESCAPED_ATTRIBUTE in html


def test_every_admin_page_shows_hostile_names_and_text_as_text(scene, client):
    client.force_login(scene.staff)
    for url in admin_pages(scene):
        assert_inert(client.get(url), attribute_too=False)


def test_the_diagnostic_shows_hostile_names_as_text(scene, client):
    client.force_login(scene.staff)

    response = client.post(reverse("admin:transfers_transfer_diagnostic"), {"ine": scene.student.ine})

    assert_inert(response)


@pytest.mark.parametrize("direction", ["recus", "partis"])
def test_the_csv_export_neutralises_formulas_and_keeps_script_as_plain_text(scene, client, direction):
    client.force_login(scene.principal)

    response = client.get(reverse("transfer-history-csv", args=[scene.school.uai]), {"direction": direction})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    cells = [cell for row in rows[1:] for cell in row]
    assert cells, "the scene has one transfer each way"
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(cell.startswith(f"'{FORMULA.upper()}") or cell.startswith(f"'{SUM}") for cell in cells)
    assert f"Lycée {SCRIPT}" in cells, "a CSV is not HTML: text stays as typed"
