"""In a real browser: both schools see the same transfer, as received and as sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from establishments.models import Role
from tests.browser import browser_page, login, logout  # noqa: F401
from tests.factories import (
    EstablishmentFactory,
    PassportEntryFactory,
    SiecleImportFactory,
    StudentFactory,
    UserFactory,
)
from transfers.run import run_matching

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_new_school_sees_the_student_received_and_the_old_one_sees_it_sent(browser_page, live_server):  # noqa: F811
    now = timezone.now()
    old = EstablishmentFactory(
        uai="0750654D", name="LP Henri-IV", transfer_enabled=True, cnil_declaration_number="1929152"
    )
    new = EstablishmentFactory(
        uai="0920131T", name="LP Renoir", transfer_enabled=True, cnil_declaration_number="2003574"
    )
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
    run_matching(now)
    principal = UserFactory(username="chef-renoir", establishment=new, role=Role.PRINCIPAL)
    old_admin = UserFactory(username="admin-henri4", establishment=old, role=Role.ADMINISTRATOR)
    page = browser_page

    login(page, live_server, principal.username)
    page.get_by_role("link", name="Transferts").first.click()
    received = page.locator("section", has=page.get_by_role("heading", name="Élèves reçus")).inner_text()
    assert "ISSILAHI Ibrahim" in received
    assert "0750654D — LP Henri-IV" in received and "oui" in received
    logout(page)

    login(page, live_server, old_admin.username)
    page.goto(f"{live_server.url}{reverse('transfer-history', args=[old.uai])}")
    sent = page.locator("section", has=page.get_by_role("heading", name="Élèves partis")).inner_text()
    assert "ISSILAHI Ibrahim" in sent
    assert "0920131T — LP Renoir" in sent and "oui" in sent
