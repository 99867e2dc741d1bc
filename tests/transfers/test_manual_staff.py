"""Manual authorisations reach the people who execute them: the staff e-mail after commit, the admin
index's count, and the state each authorisation is in on the school's page (docs/operations.md)."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from establishments.models import Role
from transfers.manual import services as manual
from transfers.models import ManualAuthorisation

from ..factories import StaffFactory, UserFactory
from .manual_factories import CFA_UAI, authorisation, cfa, left_student

pytestmark = pytest.mark.django_db


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server down")


@pytest.fixture
def page(establishment):
    return reverse("manual-transfers", kwargs={"uai": establishment.uai})


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def staff(db, settings, establishment):
    """Who hears of an authorisation: active staff with an address, and SUPPORT_EMAILS (ADMINS)."""
    settings.SITE_URL = "https://cerisepro.example.org"
    settings.ADMINS = [("cerisepro support", "support@example.org")]
    StaffFactory(username="alice", email="alice@example.org")
    StaffFactory(username="gone", email="gone@example.org", is_active=False)
    StaffFactory(username="noaddress", email="")
    UserFactory(establishment=establishment, role=Role.PRINCIPAL, email="chef@example.org")


def authorise(client, page, student, uai=CFA_UAI):
    return client.post(
        page, {"selected": [str(student.public_id)], f"uai_{student.public_id.hex}": uai, "consent": "on"}
    )


def test_staff_get_an_e_mail_with_the_count_and_the_admin_link_after_commit(
    admin_client, page, establishment, staff, django_capture_on_commit_callbacks
):
    student = left_student(establishment, last_name="MARTIN", first_name="Inès")
    authorisation(left_student(establishment))  # already waiting

    with django_capture_on_commit_callbacks(execute=True):
        response = authorise(admin_client, page, student)

    assert response.status_code == 302
    (message,) = mail.outbox
    assert sorted(message.to) == ["alice@example.org", "support@example.org"]
    assert message.subject == "cerisepro : 2 autorisations de transfert manuel à exécuter (0750654D)"
    assert "Lycée professionnel Henri-IV (0750654D)" in message.body
    assert "Autorisations en attente pour cet établissement : 2." in message.body
    assert (
        "https://cerisepro.example.org/admin/transfers/manualauthorisation/?status__exact=en_attente"
        in message.body
    )
    for personal in ("MARTIN", "Inès", student.ine):
        assert personal not in message.body and personal not in message.subject


def test_the_e_mail_waits_for_the_commit(
    admin_client, page, establishment, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        authorise(admin_client, page, left_student(establishment))

    assert mail.outbox == []
    assert len(callbacks) == 1


def test_a_refused_authorisation_sends_nothing(
    admin_client, page, establishment, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = authorise(admin_client, page, left_student(establishment), uai=establishment.uai)

    assert response.status_code == 400
    assert callbacks == [] and mail.outbox == []


def test_without_any_staff_address_it_warns_in_the_log(establishment, settings, caplog):
    settings.ADMINS = []
    StaffFactory(email="")
    authorisation(left_student(establishment))

    with caplog.at_level(logging.WARNING, logger="transfers.manual.services"):
        assert manual.notify_staff_of_authorisations(establishment.pk) is False

    assert mail.outbox == []
    assert "no staff e-mail address" in caplog.text


def test_a_mail_server_down_is_logged_and_the_authorisation_stays(
    admin_client, page, establishment, staff, settings, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = authorise(admin_client, page, left_student(establishment, last_name="MARTIN"))

    assert response.status_code == 302
    assert ManualAuthorisation.objects.filter(status=ManualAuthorisation.Status.PENDING).count() == 1
    assert "Could not e-mail staff about the manual authorisations of 0750654D" in caplog.text
    assert "MARTIN" not in caplog.text


# --- the admin index -----------------------------------------------------------------------------


def test_the_admin_index_shows_how_many_authorisations_wait(
    client, staff_user, establishment, other_establishment
):
    authorisation(left_student(establishment))
    authorisation(left_student(other_establishment))
    authorisation(left_student(establishment), status=ManualAuthorisation.Status.CANCELLED)
    client.force_login(staff_user)

    content = client.get(reverse("admin:index")).content.decode()

    assert "<strong>2</strong> autorisations de transfert manuel en attente" in content
    assert 'href="/admin/transfers/manualauthorisation/?status__exact=en_attente"' in content


def test_the_admin_index_says_when_nothing_waits(client, staff_user):
    client.force_login(staff_user)

    assert (
        "Aucune autorisation de transfert manuel en attente."
        in client.get(reverse("admin:index")).content.decode()
    )


# --- the school's page ---------------------------------------------------------------------------


def test_the_school_reads_the_state_of_each_authorisation(
    admin_client, page, establishment, admin_user, staff_user
):
    cfa()
    waiting = authorisation(left_student(establishment, last_name="ATTENTE"))
    executed = authorisation(left_student(establishment, last_name="EXECUTE"))
    manual.manual_authorisation_execute(
        executed,
        user=staff_user,
        now=datetime.datetime(2026, 11, 3, 23, 30, tzinfo=datetime.UTC),
        create_student=True,
    )
    by_staff = authorisation(left_student(establishment, last_name="STAFF"))
    manual.manual_authorisation_cancel(
        by_staff,
        user=staff_user,
        now=datetime.datetime(2026, 11, 4, 10, tzinfo=datetime.UTC),
        reason="UAI de destination erronée",
    )
    by_school = authorisation(left_student(establishment, last_name="ECOLE"))
    manual.manual_authorisation_cancel(
        by_school, user=admin_user, now=datetime.datetime(2026, 11, 5, 10, tzinfo=datetime.UTC)
    )

    response = admin_client.get(page)

    states = dict(
        (authorisation.origin_student.last_name, state)
        for authorisation, state in response.context["authorisations"]
    )
    assert states == {
        "ATTENTE": "En attente de l'équipe technique",
        "EXECUTE": "Exécutée le 04/11/2026 : le passeport a été copié",
        "STAFF": "Annulée le 04/11/2026 par l'équipe technique (motif : UAI de destination erronée)",
        "ECOLE": "Annulée le 05/11/2026 par votre établissement",
    }
    content = response.content.decode()
    assert "En attente de l&#x27;équipe technique" in content
    assert "Exécutée le 04/11/2026" in content
    assert waiting.public_id and str(waiting.public_id) in content  # still cancellable


def test_a_school_without_authorisations_is_told_how_to_make_one(admin_client, page, establishment):
    content = admin_client.get(page).content.decode()

    assert "Aucune autorisation de transfert pour l'instant : cochez un élève" in content
    assert reverse("siecle-import", args=[establishment.uai]) in content


@pytest.mark.parametrize("size", [1, 8])
def test_the_states_take_a_fixed_number_of_queries(
    admin_client, page, establishment, staff_user, size, django_assert_max_num_queries
):
    for _ in range(size):
        manual.manual_authorisation_cancel(
            authorisation(left_student(establishment)), user=staff_user, now=timezone.now(), reason="Doublon"
        )

    with django_assert_max_num_queries(12):
        admin_client.get(page)
