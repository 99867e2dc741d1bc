"""In a real browser: the administrator imports a SIECLE export, reads the preview and confirms."""

from __future__ import annotations

import pytest
from django.urls import reverse

from students.models import Student
from students.synthetic import make_students, render_export, zip_export
from tests.browser import browser_page, login  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_previews_then_confirms_a_siecle_import(
    browser_page, live_server, admin_user, tmp_path
):  # noqa: F811
    page = browser_page
    rows = make_students(12, seed=5, leaving_ratio=0, without_ine_ratio=1 / 12, inactive_ratio=0)
    export = tmp_path / "ExportXML_ElevesSansAdresses.zip"
    export.write_bytes(zip_export(render_export(admin_user.establishment.uai, rows)))
    login(page, live_server, admin_user.username)

    page.goto(f"{live_server.url}{reverse('siecle-import', args=[admin_user.establishment.uai])}")
    page.get_by_label("Export SIECLE des élèves").set_input_files(str(export))
    page.get_by_role("button", name="Voir l'aperçu").click()

    page.get_by_role("heading", name="Élèves qui seront créés").wait_for()
    preview = page.locator("main").inner_text()
    assert "12 élèves dans le fichier" in preview.replace("\n", " ")
    assert rows[0].last_name in preview
    assert Student.objects.count() == 0, "nothing is applied before the confirmation"

    page.get_by_role("button", name="Confirmer l'import").click()

    message = page.get_by_role("status").inner_text()
    assert "Import terminé : 12 élèves créés, 0 mis à jour, 0 réactivés, 0 désactivés." in message
    table = page.locator("table").inner_text()
    assert "Appliqué" in table and "ExportXML_ElevesSansAdresses.zip" in table
    assert Student.objects.filter(establishment=admin_user.establishment).count() == 12
