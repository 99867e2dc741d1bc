"""What technical staff see of waiting passports, across all establishments (docs/transfers.md §9)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from transfers.admin_waiting import departement
from transfers.waiting import WaitingReason

from ..factories import EstablishmentFactory, make_uai
from .test_matching import INE, arrived, left

URL = reverse("admin:transfers_reminder_waiting")


@pytest.fixture
def scene(db):
    now = timezone.now()
    paris = EstablishmentFactory(uai=make_uai(750900), academy="Paris")
    lyon = EstablishmentFactory(
        uai=make_uai(690001), academy="Lyon", transfer_enabled=True, cnil_declaration_number="1929152"
    )
    left(paris, now - timezone.timedelta(days=30))  # departure from Paris, transfer off there
    arrived(lyon, now - timezone.timedelta(days=20))  # … and the arrival in Lyon waits for it
    arrived(lyon, now - timezone.timedelta(days=20), ine="070832327JB", last_name="BERNARD")
    return paris, lyon


def _rows(response) -> str:
    return response.content.decode().split('id="waiting-list"')[-1]


def test_staff_see_every_establishment_with_the_schools_reasons(scene, client_for, staff_user):
    paris, lyon = scene
    response = client_for(staff_user).get(URL)
    assert response.status_code == 200
    rows = _rows(response)
    assert paris.uai in rows and lyon.uai in rows
    for reason in (
        WaitingReason.THIS_NOT_ENABLED,
        WaitingReason.ORIGIN_NOT_ENABLED,
        WaitingReason.NO_DEPARTURE,
    ):
        assert str(reason.label).replace("'", "&#x27;") in response.content.decode()
    assert "MARTIN" not in rows and "BERNARD" not in rows  # students by number, names one click away


def test_filters_by_reason_academie_and_departement(scene, client_for, staff_user):
    paris, lyon = scene
    client = client_for(staff_user)
    by_reason = _rows(client.get(URL, {"raison": WaitingReason.NO_DEPARTURE}))
    assert lyon.uai in by_reason and paris.uai not in by_reason and by_reason.count("élève n°") == 1
    by_academy = _rows(client.get(URL, {"academie": "Paris"}))
    assert paris.uai in by_academy and lyon.uai not in by_academy
    by_departement = _rows(client.get(URL, {"departement": "069"}))
    assert lyon.uai in by_departement and paris.uai not in by_departement
    assert departement(paris.uai) == "075"


def test_school_users_cannot_open_it(scene, client_for, admin_user):
    response = client_for(admin_user).get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_diagnostic_shows_what_each_school_sees_as_waiting(scene, client_for, staff_user):
    paris, lyon = scene
    response = client_for(staff_user).post(reverse("admin:transfers_transfer_diagnostic"), {"ine": INE})
    waiting = response.content.decode().split("data-waiting")[1].split("</ul>")[0]
    assert f"{lyon.uai} (arrivée)" in waiting and f"{paris.uai} (départ)" in waiting
    assert "L&#x27;établissement d&#x27;origine n&#x27;a pas activé le transfert" in waiting
    assert "Votre établissement n&#x27;a pas activé le transfert" in waiting
