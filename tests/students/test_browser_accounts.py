"""In a real browser: an administrator creates a class's accounts and prints the sheet; a student
logs in with the initial password, is made to choose their own, then reaches their passport."""

from __future__ import annotations

import pytest
from django.urls import reverse

from establishments.models import Role
from tests.accessibility.axe import audit
from tests.browser import login, logout
from tests.factories import StudentFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def school(establishment):
    """Written before the browser starts (ORM calls made while Playwright runs use other connections)."""
    return {
        "establishment": establishment,
        "admin": UserFactory(establishment=establishment, role=Role.ADMINISTRATOR),
        "students": [
            StudentFactory(
                establishment=establishment, class_code="1MV2", first_name="Léa", last_name="N'DIAYE"
            ),
            StudentFactory(
                establishment=establishment, class_code="1MV2", first_name="Hugo", last_name="MARTIN"
            ),
            StudentFactory(
                establishment=establishment, class_code="TMV1", first_name="Inès", last_name="ROUX"
            ),
        ],
    }


def test_an_administrator_prints_a_class_s_sheet_and_a_student_sets_a_password_then_reads_the_passport(
    live_server, school, browser_page
):
    page, establishment = browser_page, school["establishment"]

    login(page, live_server, school["admin"].username)
    page.goto(f"{live_server.url}{reverse('student-list', args=[establishment.uai])}")
    page.get_by_label("Classe").select_option("1MV2")
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_role("button", name="Créer les comptes de toute la classe 1MV2").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", name="Fiches de connexion").is_visible()
    cards = page.locator(".login-card")
    assert cards.count() == 2  # the class only, not TMV1
    lea = cards.filter(has=page.get_by_role("heading", name="N'DIAYE Léa"))
    values = lea.locator("dd").all_inner_texts()
    assert values[0] == "1MV2" and values[2] == "lea.ndiaye"
    password = values[3]
    assert "ne seront plus jamais affichés" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Imprimer").is_visible()
    # The sheet with the passwords is a POST's answer: audited here, as tests/accessibility does
    # for the pages a GET reaches (axe-core, then a phone's width).
    serious = [v["id"] for v in audit(page) if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="Imprimer").is_visible()
    assert not page.get_by_role("status").is_visible()  # the warning is for the screen only
    assert lea.is_visible()
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Retour à la liste des élèves").click()
    assert "lea.ndiaye" in page.locator("table").inner_text()
    logout(page)

    login(page, live_server, "lea.ndiaye", password)
    assert page.url.endswith(reverse("password_change"))
    assert "Première connexion" in page.get_by_role("status").inner_text()
    page.goto(f"{live_server.url}{reverse('my-passport', args=[establishment.uai])}")
    assert page.url.endswith(reverse("password_change"))  # no way round it
    page.get_by_label("Ancien mot de passe").fill(password)
    # By id: "Nouveau mot de passe" is also in the confirmation's label.
    page.locator("#id_new_password1").fill("mon passeport, rien qu'à moi")
    page.get_by_label("Confirmation du nouveau mot de passe").fill("mon passeport, rien qu'à moi")
    page.get_by_role("button", name="Valider").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Mot de passe modifié").is_visible()

    page.goto(f"{live_server.url}{reverse('my-passport', args=[establishment.uai])}")
    assert "N'DIAYE" in page.locator("main").inner_text().upper()
    assert not page.url.endswith(reverse("password_change"))
    logout(page)
    login(page, live_server, "lea.ndiaye", password)  # the printed password no longer works
    assert page.url.endswith(reverse("login"))
