"""The "En attente" page of the Transferts module (docs/transfers.md §9): what a school sees."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from transfers.waiting import WaitingReason

from ..factories import EstablishmentFactory, UserFactory
from .test_matching import arrived, left


@pytest.fixture
def scene(db):
    here = EstablishmentFactory(uai="0750654D", name="Lycée Ici")
    there = EstablishmentFactory(uai="0920131T", name="Lycée Ailleurs", transfer_enabled=False)
    now = timezone.now()
    left(there, now - timezone.timedelta(days=20), first_name="Inès")
    arrived(here, now - timezone.timedelta(days=10), first_name="Inès")
    arrived(here, now - timezone.timedelta(days=10), ine="070832327JB", last_name="BERNARD", birth_date=None)
    return here, there


def test_the_administrator_sees_why_and_until_when(scene, client_for):
    here, there = scene
    client = client_for(UserFactory(establishment=here, role="administrateur"))
    response = client.get(reverse("transfer-waiting", args=[here.uai]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "MARTIN Inès" in page and "BERNARD" in page
    assert str(WaitingReason.THIS_NOT_ENABLED.label).replace("'", "&#x27;") in page
    assert reverse("settings-transfers", args=[here.uai]) in page
    # Another school is never named on an arrival's page.
    assert there.name not in page and there.uai not in page


def test_the_history_page_links_to_it(scene, client_for):
    here, _there = scene
    client = client_for(UserFactory(establishment=here, role="chef"))
    page = client.get(reverse("transfer-history", args=[here.uai])).content.decode()
    assert reverse("transfer-waiting", args=[here.uai]) in page


def test_the_waiting_side_sees_the_other_side_has_not_turned_transfer_on(scene, client_for):
    here, _there = scene
    here.transfer_enabled, here.cnil_declaration_number = True, "1929152"
    here.save()
    client = client_for(UserFactory(establishment=here, role="chef"))
    page = client.get(reverse("transfer-waiting", args=[here.uai])).content.decode()
    assert "L&#x27;établissement d&#x27;origine n&#x27;a pas activé le transfert" in page
    assert "voir l'élève" in page  # the incomplete identity links to the student


def _queries_for_the_page(client, establishment) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("transfer-waiting", args=[establishment.uai]))
    assert response.status_code == 200
    return len(queries)


def test_the_page_runs_as_many_queries_for_200_students_as_for_10(db, client_for):
    here = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    there = EstablishmentFactory(uai="0920131T")
    client = client_for(UserFactory(establishment=here, role="chef"))
    now = timezone.now()
    counts = []
    for size in (10, 200):
        for n in range(len(counts) * 10, size):
            ine = f"{100000000 + n:09d}AB"
            left(there, now - timezone.timedelta(days=20), ine=ine)
            arrived(here, now - timezone.timedelta(days=10), ine=ine)
            left(here, now - timezone.timedelta(days=5), ine=f"{200000000 + n:09d}AB")
        counts.append(_queries_for_the_page(client, here))
    page = client.get(reverse("transfer-waiting", args=[here.uai])).content.decode()
    assert "Élèves arrivés (200)" in page and "Élèves partis (200)" in page
    assert counts[0] == counts[1]
