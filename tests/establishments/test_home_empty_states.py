"""Empty lists say what to do next, never only "aucun résultat" (docs/home.md "Empty lists")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ..factories import StudentFactory

pytestmark = pytest.mark.django_db


def content(client, user, url, **params) -> str:
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_an_empty_history_says_what_makes_passports_move(client, establishment, principal):
    page = content(client, principal, reverse("transfer-history", args=[establishment.uai]))

    assert "Aucun élève reçu pour l'instant. Le passeport d'un élève arrivé est reçu après l'import" in page
    assert "sinon, voyez la liste des élèves transférables" in page


def test_an_empty_filtered_history_asks_to_widen_the_filters(client, establishment, principal):
    page = content(client, principal, reverse("transfer-history", args=[establishment.uai]), du="2026-01-01")

    assert "Aucun élève reçu sur cette période : élargissez les dates ou effacez les filtres." in page
    assert "pour l'instant" not in page


def test_the_import_page_without_imports_says_how_to_export_from_siecle(client, establishment, admin_user):
    page = content(client, admin_user, reverse("siecle-import", args=[establishment.uai]))

    assert (
        "Aucun import pour l'instant : dans SIECLE (Base élèves établissement), exportez les élèves" in page
    )


def test_the_manual_page_without_students_says_when_one_appears(client, establishment, admin_user):
    page = content(client, admin_user, reverse("manual-transfers", args=[establishment.uai]))

    assert (
        "Aucun élève transférable pour l'instant. Un élève figure ici pendant six mois après son départ"
        in page
    )
    assert (
        f'<a href="{reverse("siecle-import", args=[establishment.uai])}">importez votre export SIECLE</a>'
        in page
    )


@pytest.mark.parametrize(
    ("persona", "said"),
    [
        ("teacher", "ajoutez-en une avec le lien « Ajouter » ci-dessus."),
        ("principal", "les enseignants de l'établissement les rédigent."),
    ],
)
def test_an_empty_passport_says_who_writes_in_it(client, establishment, personas, persona, said):
    student = StudentFactory(establishment=establishment)

    page = content(
        client, personas[persona], reverse("passport", args=[establishment.uai, student.public_id])
    )

    assert said in page
