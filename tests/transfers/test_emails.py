"""The e-mails that tell both schools' administrators that passports arrived or left.

They are sent by their own task after the transfers commit, over one SMTP connection; a failing
SMTP server is retried for the messages not yet sent, and never fails or undoes a copy.
"""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from establishments.models import Role
from students.models import PassportEntry
from transfers import emails
from transfers.models import Transfer
from transfers.run import run_matching
from transfers.tasks import send_transfer_emails_task

from ..factories import EstablishmentFactory, UserFactory
from .factories import RefusedTransferFactory, TransferFactory
from .test_matching import NOW, arrived, left, paris, passport


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server down")


class CountingBackend(LocmemBackend):
    """The test backend, counting the connections opened (class-wide: Django makes one per call)."""

    opened = 0
    fail_after: int | None = None  # messages sent before the server fails, once

    def open(self):
        CountingBackend.opened += 1
        return super().open()

    def send_messages(self, messages):
        if CountingBackend.fail_after is not None and len(mail.outbox) >= CountingBackend.fail_after:
            CountingBackend.fail_after = None
            raise ConnectionResetError("SMTP connection lost")
        return super().send_messages(messages)


@pytest.fixture
def counting_backend(settings):
    settings.EMAIL_BACKEND = "tests.transfers.test_emails.CountingBackend"
    CountingBackend.opened, CountingBackend.fail_after = 0, None
    return CountingBackend


def notify_transfers_received(transfer_ids):
    """Send the e-mails; keep only the "received" ones in the outbox and return their number."""
    sent = emails.send_transfer_emails(transfer_ids)
    mail.outbox[:] = [message for message in mail.outbox if "reçu" in message.subject]
    return sum(key.startswith("received:") for key in sent)


@pytest.fixture
def schools(establishment, admin_user, principal):
    admin_user.email = "admin@henri4.example.org"
    admin_user.save()
    UserFactory(establishment=establishment, role=Role.ADMINISTRATOR, email="second@henri4.example.org")
    UserFactory(
        establishment=establishment, role=Role.ADMINISTRATOR, email="gone@henri4.example.org", is_active=False
    )
    UserFactory(establishment=establishment, role=Role.ADMINISTRATOR, email="")
    principal.email = "chef@henri4.example.org"
    principal.save()
    renoir = EstablishmentFactory(uai="0920131T", name="Lycée Auguste-Renoir")
    UserFactory(establishment=renoir, role=Role.ADMINISTRATOR, email="admin@renoir.example.org")
    return establishment, renoir


@pytest.fixture
def transfers(schools):
    henri4, renoir = schools
    origin = EstablishmentFactory()
    rows = [
        TransferFactory(origin_establishment=origin, destination_establishment=henri4),
        TransferFactory(origin_establishment=renoir, destination_establishment=henri4),
        RefusedTransferFactory(origin_establishment=origin, destination_establishment=henri4),
        TransferFactory(origin_establishment=henri4, destination_establishment=renoir),
    ]
    return rows


def test_one_message_goes_to_each_destination_establishments_active_administrators(transfers):
    sent = notify_transfers_received([t.id for t in transfers])

    assert sent == 2
    by_school = {tuple(message.to): message for message in mail.outbox}
    assert set(by_school) == {
        ("admin@henri4.example.org", "second@henri4.example.org"),
        ("admin@renoir.example.org",),
    }
    henri4 = by_school[("admin@henri4.example.org", "second@henri4.example.org")]
    assert henri4.subject == "cerisepro : 2 passeports professionnels reçus"
    assert "Les passeports professionnels de 2 élèves arrivés" in henri4.body
    assert "/etablissements/0750654D/transferts/" in henri4.body
    renoir = by_school[("admin@renoir.example.org",)]
    assert renoir.subject == "cerisepro : 1 passeport professionnel reçu"
    assert "Le passeport professionnel d'un élève arrivé" in renoir.body


def test_the_message_names_no_student_and_no_ine(transfers):
    notify_transfers_received([t.id for t in transfers])

    for message in mail.outbox:
        text = message.subject + message.body
        for transfer in transfers:
            student = transfer.destination_student
            assert transfer.ine not in text
            assert student.last_name.upper() not in text.upper()
            assert student.first_name not in text


def test_the_link_starts_with_the_site_url_when_set(transfers, settings):
    settings.SITE_URL = "https://cerisepro.example.org/"

    notify_transfers_received([transfers[0].id])

    assert "https://cerisepro.example.org/etablissements/0750654D/transferts/\n" in mail.outbox[0].body


def test_refused_transfers_alone_send_nothing(transfers):
    assert notify_transfers_received([transfers[2].id]) == 0
    assert notify_transfers_received([]) == 0
    assert mail.outbox == []


def test_an_establishment_without_an_administrator_address_gets_nothing(db):
    lonely = EstablishmentFactory()
    UserFactory(establishment=lonely, role=Role.PRINCIPAL, email="chef@example.org")

    assert notify_transfers_received([TransferFactory(destination_establishment=lonely).id]) == 0
    assert mail.outbox == []


def test_a_mail_failure_is_logged_without_personal_data_and_says_what_was_sent(transfers, settings, caplog):
    settings.EMAIL_BACKEND = "tests.transfers.test_emails.BrokenBackend"

    with caplog.at_level(logging.WARNING, logger="transfers"), pytest.raises(emails.NotSentError) as failure:
        emails.send_transfer_emails([t.id for t in transfers])

    assert failure.value.sent == []
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("Could not")] == [
        "Could not send the transfers-received e-mail to 0750654D (ConnectionRefusedError); "
        "4 e-mails left for a retry",
    ]
    assert "@" not in caplog.text


def test_every_message_of_a_run_goes_over_one_connection(transfers, counting_backend):
    sent = emails.send_transfer_emails([t.id for t in transfers])

    assert len(sent) == len(mail.outbox) == 4  # received: Henri-IV, Renoir; sent: Renoir, Henri-IV
    assert counting_backend.opened == 1


def test_a_retry_sends_only_what_the_failed_attempt_did_not(transfers, counting_backend, celery_conf):
    celery_conf(task_always_eager=True)
    counting_backend.fail_after = 2  # the third message breaks the connection

    send_transfer_emails_task.delay([t.id for t in transfers])

    assert len(mail.outbox) == 4
    assert len({(tuple(m.to), m.subject) for m in mail.outbox}) == 4  # each message once
    assert counting_backend.opened == 2  # the attempt that failed, then the retry


# --- from the job ------------------------------------------------------------------------------


@pytest.fixture
def a_move(db):
    old = EstablishmentFactory(uai="0750654D", transfer_enabled=True, cnil_declaration_number="1929152")
    new = EstablishmentFactory(uai="0920131T", transfer_enabled=True, cnil_declaration_number="2003574")
    UserFactory(establishment=old, role=Role.ADMINISTRATOR, email="admin@henri4.example.org")
    UserFactory(establishment=new, role=Role.ADMINISTRATOR, email="admin@renoir.example.org")
    passport(left(old, paris(2026, 9, 5)))
    return arrived(new, paris(2026, 9, 8))


def test_the_job_sends_its_emails_only_after_commit_each_once_over_one_connection(
    a_move, counting_backend, celery_conf, django_capture_on_commit_callbacks
):
    celery_conf(task_always_eager=True)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_matching(NOW)
        assert mail.outbox == []  # nothing leaves before the transfers commit

    for callback in callbacks:
        callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@henri4.example.org", "admin@renoir.example.org"]
    assert counting_backend.opened == 1


def test_a_failing_smtp_server_neither_fails_the_run_nor_undoes_the_transfer(
    a_move, settings, celery_conf, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "tests.transfers.test_emails.BrokenBackend"
    celery_conf(task_always_eager=True)

    with (
        caplog.at_level(logging.WARNING, logger="transfers"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = run_matching(NOW)

    assert run.status == "termine" and run.transfers_done == 1
    assert Transfer.objects.get().done
    assert PassportEntry.objects.filter(student=a_move).count() == 3
    assert mail.outbox == []
    assert "Could not send the transfers-received e-mail to 0920131T" in caplog.text
