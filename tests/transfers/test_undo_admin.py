"""Undoing and re-opening a transfer from the Django admin; what both schools' histories show after."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from establishments.models import AuditLogEntry, Role
from tests.factories import UserFactory
from transfers.models import Cause, Transfer, TransferReport

from .test_undo import REASON, copies, scene  # noqa: F401 (the scene fixture)

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")  # the dates both schools read (transfers.history)

DAY = datetime.timedelta(days=1)


@pytest.fixture
def now():
    # The admin reads the clock: the copy was made an hour ago, well inside the 30 days.
    return timezone.now() - datetime.timedelta(hours=1)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def undo_url(transfer: Transfer) -> str:
    return reverse("admin:transfers_transfer_undo", args=[transfer.pk])


def reopen_url(transfer: Transfer) -> str:
    return reverse("admin:transfers_transfer_reopen", args=[transfer.pk])


def test_the_history_and_the_transfer_page_offer_the_undo(staff_client, scene):
    listing = staff_client.get(reverse("admin:transfers_transfer_changelist")).content.decode()
    detail = staff_client.get(reverse("admin:transfers_transfer_change", args=[scene.pk])).content.decode()
    confirmation = staff_client.get(undo_url(scene)).content.decode()

    assert undo_url(scene) in listing and undo_url(scene) in detail
    assert "les 3 entrées copiées par ce transfert" in confirmation
    assert 'name="reason"' in confirmation
    scene.refresh_from_db()
    assert scene.done


def test_staff_undo_a_transfer_with_a_reason(
    staff_client, staff_user, scene, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(undo_url(scene), {"reason": REASON}, follow=True)

    page = response.content.decode()
    assert "Transfert annulé : 3 entrées retirées du passeport de destination." in page
    scene.refresh_from_db()
    assert (scene.cause, scene.undone_by, scene.undo_reason) == (Cause.UNDONE, staff_user, REASON)
    assert not copies(scene).exists()
    assert len(mail.outbox) == 2
    assert reopen_url(scene) in page  # the transfer page now offers to re-open the pair


def test_the_undo_is_audited_in_both_schools_journals_and_the_admin_log(staff_client, staff_user, scene):
    staff_client.post(undo_url(scene), {"reason": REASON})

    entries = AuditLogEntry.objects.filter(user=staff_user)
    assert {e.establishment_id for e in entries} == {
        scene.origin_establishment_id,
        scene.destination_establishment_id,
    }
    for entry in entries:
        assert entry.changes["objet"] == f"transfert n°{scene.pk}"
        assert REASON in entry.changes["détail"]
    log = LogEntry.objects.get(object_id=str(scene.pk))
    assert log.user == staff_user and REASON in log.get_change_message()


def test_a_missing_reason_gives_the_form_back(staff_client, scene):
    response = staff_client.post(undo_url(scene), {"reason": "  "})

    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    scene.refresh_from_db()
    assert scene.done and copies(scene).count() == 3


def test_a_refusal_is_shown_in_french_and_nothing_is_removed(staff_client, scene, now):
    copies(scene).filter(kind="fiche").update(updated_at=now + datetime.timedelta(minutes=5))

    page = staff_client.get(undo_url(scene)).content.decode()
    posted = staff_client.post(undo_url(scene), {"reason": REASON}).content.decode()

    refusal = "1 entrée copiée a été modifiée depuis la copie : le transfert ne peut pas être annulé."
    assert refusal in page and refusal in posted
    assert 'name="reason"' not in page
    scene.refresh_from_db()
    assert scene.done and copies(scene).count() == 3


def test_staff_reopen_an_undone_pair(staff_client, staff_user, scene):
    staff_client.post(undo_url(scene), {"reason": REASON})

    missing = staff_client.post(reopen_url(scene), {"reason": ""})
    response = staff_client.post(reopen_url(scene), {"reason": "INE corrigé"}, follow=True)

    assert "Ce champ est obligatoire." in missing.content.decode()
    assert (
        "Paire rouverte : le prochain rapprochement pourra la décider de nouveau."
        in response.content.decode()
    )
    scene.refresh_from_db()
    assert (scene.reopened_by, scene.reopen_reason) == (staff_user, "INE corrigé")
    journals = AuditLogEntry.objects.filter(user=staff_user)
    reopened = [
        e.establishment_id for e in journals if "Paire rouverte. Motif : INE corrigé" in e.changes["détail"]
    ]
    assert sorted(reopened) == sorted([scene.origin_establishment_id, scene.destination_establishment_id])


def test_a_reported_error_links_straight_to_the_undo_page(staff_client, scene):
    report = TransferReport.objects.create(
        transfer=scene,
        establishment=scene.origin_establishment,
        created_at=timezone.now(),
        message="Pas parti",
    )

    listing = staff_client.get(reverse("admin:transfers_transferreport_changelist")).content.decode()
    detail = staff_client.get(
        reverse("admin:transfers_transferreport_change", args=[report.pk])
    ).content.decode()

    assert undo_url(scene) in listing and undo_url(scene) in detail


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.PRINCIPAL])
def test_a_school_user_cannot_reach_the_undo_pages(client, scene, role):
    client.force_login(UserFactory(establishment=scene.origin_establishment, role=role))

    for url in (undo_url(scene), reopen_url(scene)):
        response = client.post(url, {"reason": REASON})
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    scene.refresh_from_db()
    assert scene.done


def history(client, establishment) -> str:
    administrator = UserFactory(establishment=establishment, role=Role.ADMINISTRATOR)
    client.force_login(administrator)
    return client.get(reverse("transfer-history", args=[establishment.uai])).content.decode()


def csv_export(client, establishment, direction: str) -> str:
    url = reverse("transfer-history-csv", args=[establishment.uai])
    return b"".join(client.get(url, {"direction": direction}).streaming_content).decode("utf-8-sig")


def test_both_histories_say_annule_with_the_reason(client, scene, staff_user, now):
    from transfers import undo

    undo.transfer_undo(scene, user=staff_user, now=now + DAY, reason=REASON)
    label = f"Annulé le {timezone.localtime(now + DAY, PARIS).strftime('%d/%m/%Y')} ({REASON})"

    sent = history(client, scene.origin_establishment)
    sent_csv = csv_export(client, scene.origin_establishment, "partis")
    received = history(client, scene.destination_establishment)
    received_csv = csv_export(client, scene.destination_establishment, "recus")

    assert label.replace("'", "&#x27;") in sent and label.replace("'", "&#x27;") in received
    assert label in sent_csv and label in received_csv
    # The arrival's school no longer reads where the passport came from: the row is not a done transfer.
    assert scene.origin_establishment.uai not in received
    assert scene.origin_establishment.uai not in received_csv
    assert scene.destination_establishment.uai in sent
