"""In a real browser: an administrator sees why a passport waits, turns transfer on, the job runs,
and the student leaves the list (docs/transfers.md §9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from establishments.models import Role
from tests.browser import browser_page, login  # noqa: F401
from tests.factories import (
    EstablishmentFactory,
    PassportEntryFactory,
    SiecleImportFactory,
    StudentFactory,
    UserFactory,
)
from transfers.models import Transfer
from transfers.run import run_matching

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_administrator_turns_transfer_on_and_the_student_leaves_the_list(browser_page, live_server):  # noqa: F811
    now = timezone.now()
    old = EstablishmentFactory(
        uai="0750654D", name="LP Henri-IV", transfer_enabled=True, cnil_declaration_number="1929152"
    )
    new = EstablishmentFactory(uai="0920131T", name="LP Renoir")  # transfer not turned on yet
    identity = {"ine": "070832327JA", "last_name": "ISSILAHI", "first_name": "Ibrahim"}
    origin = StudentFactory(
        establishment=old,
        is_active=False,
        deactivated_at=now - timedelta(days=3),
        deactivated_by_import=SiecleImportFactory(establishment=old, status="applique"),
        created_at=now - timedelta(days=400),
        **identity,
    )
    PassportEntryFactory(student=origin)
    StudentFactory(establishment=new, created_at=now - timedelta(days=2), **identity)
    admin = UserFactory(username="admin-renoir", establishment=new, role=Role.ADMINISTRATOR)
    page = browser_page

    login(page, live_server, admin.username)
    page.goto(f"{live_server.url}{reverse('transfer-history', args=[new.uai])}")
    page.get_by_role("navigation", name="Onglets des transferts").get_by_role(
        "link", name="En attente"
    ).click()
    arrivals = page.locator("section", has=page.get_by_role("heading", name="Élèves arrivés"))
    row = arrivals.get_by_role("row", name="ISSILAHI Ibrahim")
    assert "Votre établissement n'a pas activé le transfert" in row.inner_text()
    assert "LP Henri-IV" not in page.content() and old.uai not in page.content()  # the origin is never named

    row.get_by_role("link", name="activer le transfert").click()
    page.get_by_label("Numéro de déclaration CNIL").fill("2003574")
    page.get_by_role("group", name="Souhaitez-vous activer").get_by_label("Oui").check()
    page.get_by_role("button", name="Valider").click()
    assert "Transfert activé" in page.locator(".status").inner_text()

    run_matching(timezone.now())  # the job, with an explicit now
    assert Transfer.objects.get().done

    page.goto(f"{live_server.url}{reverse('transfer-waiting', args=[new.uai])}")
    arrivals = page.locator("section", has=page.get_by_role("heading", name="Élèves arrivés"))
    assert "ISSILAHI" not in arrivals.inner_text()
    assert "Aucun élève arrivé n'attend son passeport." in arrivals.inner_text()
