"""The e-mail that tells a destination establishment's administrators that passports arrived."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from establishments.models import Role
from transfers.emails import notify_transfers_received

from ..factories import EstablishmentFactory, UserFactory
from .factories import RefusedTransferFactory, TransferFactory


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server down")


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


def test_a_mail_failure_is_logged_without_personal_data_and_never_raised(transfers, settings, caplog):
    settings.EMAIL_BACKEND = "tests.transfers.test_emails.BrokenBackend"

    with caplog.at_level(logging.ERROR, logger="transfers"):
        sent = notify_transfers_received([t.id for t in transfers])

    assert sent == 0
    assert [record.getMessage() for record in caplog.records] == [
        "Could not send the transfers-received e-mail to 0750654D",
        "Could not send the transfers-received e-mail to 0920131T",
    ]
    assert "@" not in caplog.text.split("Traceback")[0]
