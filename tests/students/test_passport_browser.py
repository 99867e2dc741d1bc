"""In a real browser: a teacher writes a fiche, the student finds it in their printable passport."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from establishments.models import Role
from tests.browser import login
from tests.factories import StudentFactory, UserFactory

pytestmark = pytest.mark.browser


def image(width, height, color):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())


@pytest.fixture
def school(establishment):
    """Written before the browser starts: ORM calls made while Playwright runs would use other
    database connections than the test's own."""
    establishment.logo.save("logo.png", image(240, 80, "#b0173a"))
    establishment.stamp.save("cachet.png", image(120, 120, "#1d4ed8"))
    student_user = UserFactory(establishment=establishment, role=Role.STUDENT)
    return {
        "establishment": establishment,
        "teacher": UserFactory(
            establishment=establishment, role=Role.TEACHER, first_name="Thomas", last_name="Durand"
        ),
        "student_user": student_user,
        "student": StudentFactory(
            establishment=establishment, user=student_user, last_name="Martin", first_name="Léa"
        ),
    }


def test_a_teacher_writes_a_fiche_that_the_student_finds_in_the_printable_passport(
    live_server, school, browser_page
):
    page, establishment = browser_page, school["establishment"]
    passport = reverse("passport", args=[establishment.uai, school["student"].public_id])

    login(page, live_server, school["teacher"].username)
    page.goto(f"{live_server.url}{passport}")
    page.get_by_role("link", name="Ajouter : Fiche d'activité").click()
    page.get_by_label("Intitulé de la situation").fill("Accueil au guichet de la mairie")
    page.get_by_label("Date").fill("2026-10-05")
    page.get_by_label("Lieu").fill("Mairie de Poitiers")
    page.get_by_label("Description").fill("Accueil et orientation du public.")
    page.get_by_role("button", name="Valider").click()

    assert page.get_by_role("status").inner_text() == "Entrée ajoutée au passeport."
    assert page.get_by_role("heading", name="Accueil au guichet de la mairie").is_visible()
    page.get_by_role("button", name="Se déconnecter").click()

    login(page, live_server, school["student_user"].username)
    page.goto(f"{live_server.url}{reverse('my-passport', args=[establishment.uai])}")
    page.get_by_role("link", name="Version imprimable").click()

    assert re.search(r"/passeport/imprimer/$", page.url)
    fiches = page.locator("section#fiche")
    assert fiches.get_by_role("heading", name="Accueil au guichet de la mairie").is_visible()
    assert "Le 05/10/2026 · Mairie de Poitiers" in fiches.inner_text()
    assert "Rédigé par Thomas DURAND" in fiches.inner_text()
    assert page.get_by_text(f"UAI {establishment.uai}").is_visible()
    for alt in (f"Logo de {establishment.name}", f"Cachet de {establishment.name}"):
        assert page.get_by_role("img", name=alt).evaluate("img => img.complete && img.naturalWidth") > 0
    assert page.get_by_role("button", name="Imprimer").is_visible()  # shown by static/js/print.js
    page.emulate_media(media="print")
    assert not page.get_by_role("button", name="Imprimer").is_visible()
    assert not page.get_by_role("link", name="Retour au passeport").is_visible()
