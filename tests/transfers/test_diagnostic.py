"""Support's question, "why hasn't my student's passport arrived?", answered in the Django admin.

One scene where every condition of docs/transfers.md §2 holds, then one test per condition that breaks it.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from establishments.models import Establishment
from students.models import Origin, Student

from ..factories import StudentFactory
from .manual_factories import decided, left_student, transfer_enabled

pytestmark = pytest.mark.django_db

INE = "070832327JA"
CONDITION_ROW = re.compile(r'<tr data-condition="(\d+)">(.*?)</tr>', re.S)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def origin() -> Student:
    return left_student(transfer_enabled(name="Lycée Henri-IV"), ine=INE, last_name="MARTIN")


@pytest.fixture
def arrival(origin) -> Student:
    return StudentFactory(
        establishment=transfer_enabled(name="Lycée Auguste-Renoir"),
        ine=INE,
        last_name="MARTIN",
        birth_date=origin.birth_date,
        created_at=timezone.now() - datetime.timedelta(days=7),
    )


def diagnose(client, ine: str = INE) -> str:
    response = client.post(reverse("admin:transfers_transfer_diagnostic"), {"ine": ine})
    assert response.status_code == 200
    return response.content.decode()


def unmet(html: str) -> set[int]:
    """The conditions shown "non rempli" for the first pair."""
    first_pair = html.split('data-pair="1"', 1)[1].split('data-pair="2"', 1)[0]
    rows = CONDITION_ROW.findall(first_pair)
    assert [int(number) for number, _ in rows] == list(range(1, 14))
    return {int(number) for number, row in rows if "non rempli" in row}


def test_when_every_condition_holds_the_page_says_the_next_run_transfers(staff_client, origin, arrival):
    html = diagnose(staff_client, " 070832327ja ")

    assert unmet(html) == set()
    assert html.count("<strong>rempli</strong>") == 13
    assert "Fiches élèves portant l'INE 070832327JA" in html
    assert f"{origin.establishment.uai} — Lycée Henri-IV" in html
    assert f"{arrival.establishment.uai} — Lycée Auguste-Renoir" in html
    assert "par l'import SIECLE" in html
    planned = html.split("<ul data-planned>", 1)[1].split("</ul>", 1)[0]
    assert f"{origin.establishment.uai} → {arrival.establishment.uai} : <strong>transfert</strong>" in planned


def test_transfer_disabled_at_the_origin_is_shown_unmet(staff_client, origin, arrival):
    Establishment.objects.filter(pk=origin.establishment_id).update(transfer_enabled=False)

    html = diagnose(staff_client)

    assert unmet(html) == {1}
    assert f"{origin.establishment.uai} : transfert désactivé" in html
    assert "en attente" in html.split("<ul data-planned>", 1)[1]


def test_an_origin_without_ine_is_shown_unmet(staff_client, origin, arrival):
    Student.objects.filter(pk=origin.pk).update(ine="")

    html = diagnose(staff_client)

    assert unmet(html) == {2, 8}
    assert "Même nom et même date de naissance, autre INE ou sans INE" in html
    assert "pas d&#x27;INE" in html


def test_an_origin_not_deactivated_by_siecle_is_shown_unmet(staff_client, origin, arrival):
    Student.objects.filter(pk=origin.pk).update(deactivated_by_import=None)

    html = diagnose(staff_client)

    assert unmet(html) == {3}
    assert "(hors import SIECLE)" in html


def test_an_origin_deactivated_more_than_six_months_ago_is_shown_unmet(staff_client, origin, arrival):
    Student.objects.filter(pk=origin.pk).update(deactivated_at=timezone.now() - datetime.timedelta(days=200))

    html = diagnose(staff_client)

    assert unmet(html) == {4}


def test_transfer_disabled_at_the_destination_is_shown_unmet(staff_client, origin, arrival):
    Establishment.objects.filter(pk=arrival.establishment_id).update(transfer_enabled=False)

    html = diagnose(staff_client)

    assert unmet(html) == {5}
    assert f"{arrival.establishment.uai} : transfert désactivé" in html


def test_a_destination_created_by_hand_is_shown_unmet(staff_client, origin, arrival):
    Student.objects.filter(pk=arrival.pk).update(origin=Origin.MANUAL)

    html = diagnose(staff_client)

    assert unmet(html) == {6}
    assert "Saisie manuelle" in html


def test_a_destination_created_more_than_six_months_ago_is_shown_unmet(staff_client, origin, arrival):
    Student.objects.filter(pk=arrival.pk).update(created_at=timezone.now() - datetime.timedelta(days=250))

    html = diagnose(staff_client)

    assert unmet(html) == {7}


def test_a_different_ine_at_the_destination_is_shown_unmet(staff_client, origin, arrival):
    Student.objects.filter(pk=arrival.pk).update(ine="070832327JB")

    html = diagnose(staff_client, "070832327JB")

    assert unmet(html) == {8}
    assert "070832327JA / 070832327JB" in html


WAITING_FOR_IDENTITY = "Identité incomplète (nom, prénom ou date de naissance manquant)"


def planned(html: str) -> str:
    return html.split("<ul data-planned>", 1)[1].split("</ul>", 1)[0]


@pytest.mark.parametrize(
    "blank,missing",
    [({"birth_date": None}, "date de naissance"), ({"last_name": ""}, "nom"), ({"first_name": ""}, "prénom")],
    ids=["birth-date", "last-name", "first-name"],
)
def test_an_origin_with_an_incomplete_identity_waits_with_the_reason(
    staff_client, origin, arrival, blank, missing
):
    Student.objects.filter(pk=origin.pk).update(**blank)

    html = diagnose(staff_client)

    assert unmet(html) == {9}
    assert f"manquant : {missing}" in html
    assert (
        f"<strong>en attente</strong> ({WAITING_FOR_IDENTITY} dans l&#x27;ancien établissement)"
        in planned(html)
    )


@pytest.mark.parametrize(
    "blank,missing",
    [({"birth_date": None}, "date de naissance"), ({"last_name": ""}, "nom"), ({"first_name": ""}, "prénom")],
    ids=["birth-date", "last-name", "first-name"],
)
def test_a_destination_with_an_incomplete_identity_waits_with_the_reason(
    staff_client, origin, arrival, blank, missing
):
    Student.objects.filter(pk=arrival.pk).update(**blank)

    html = diagnose(staff_client)

    assert unmet(html) == {10}
    assert f"manquant : {missing}" in html
    assert f"<strong>en attente</strong> ({WAITING_FOR_IDENTITY} dans le nouvel établissement)" in planned(
        html
    )


def test_a_decided_pair_links_to_its_history_row(staff_client, origin, arrival):
    row = decided(origin, arrival, done=False, cause="identite_differente")

    html = diagnose(staff_client)

    assert reverse("admin:transfers_transfer_change", args=[row.pk]) in html
    assert "transfert effectué non — Identité différente" in html
    assert "La prochaine exécution ne décidera rien pour cet INE." in html


def test_a_lone_record_shows_which_side_is_missing(staff_client, origin):
    html = diagnose(staff_client)

    assert "aucun nouvel établissement trouvé" in html


def test_an_unknown_ine_says_so(staff_client):
    assert "Aucune fiche élève ne porte cet INE." in diagnose(staff_client, "00000000123")


def test_the_ine_is_never_read_from_the_url(staff_client, origin, arrival):
    response = staff_client.get(reverse("admin:transfers_transfer_diagnostic"), {"ine": INE})

    assert response.status_code == 200
    assert "Fiches élèves portant" not in response.content.decode()
    assert 'method="post"' in response.content.decode()
