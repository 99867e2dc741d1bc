"""Technical staff in the Django admin: manual authorisations, history, runs of the job."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from establishments.models import Establishment
from students.models import Origin, PassportEntry, Student
from transfers.manual import services as manual
from transfers.models import Kind, ManualAuthorisation, MatchingRun, Transfer

from ..factories import StudentFactory
from .manual_factories import CFA_UAI, authorisation, cfa, decided, left_student, passport, transfer_enabled

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def destination(db):
    return cfa()


@pytest.fixture
def origin(establishment):
    student = left_student(establishment, last_name="MARTIN", first_name="Inès", mef_code="24731001110")
    passport(student, fiches=2, evaluations=1, bilans=1)
    return student


def execute_url(pending: ManualAuthorisation) -> str:
    return reverse("admin:transfers_manualauthorisation_execute", args=[pending.pk])


# --- manual authorisations ------------------------------------------------------------------


def test_the_authorisation_list_shows_the_destination_name_and_filters_by_status(
    staff_client, origin, destination
):
    pending = authorisation(origin)
    url = reverse("admin:transfers_manualauthorisation_changelist")

    listing = staff_client.get(url, {"status__exact": "en_attente"}).content.decode()
    searched = staff_client.get(url, {"q": CFA_UAI}).content.decode()
    executed_only = staff_client.get(url, {"status__exact": "effectue"}).content.decode()

    assert "CFA Auguste-Renoir" in listing
    assert execute_url(pending) in listing
    assert execute_url(pending) in searched
    assert execute_url(pending) not in executed_only


def test_the_execute_page_offers_the_students_with_the_same_ine_first(staff_client, origin, destination):
    same = StudentFactory(establishment=destination, ine=origin.ine, last_name="MARTIN", origin=Origin.MANUAL)
    StudentFactory(establishment=destination, last_name="AUTRE")
    pending = authorisation(origin)

    response = staff_client.get(execute_url(pending))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Créer l&#x27;élève dans l&#x27;établissement de destination" in content
    assert content.index('<optgroup label="Même INE">') < content.index("AUTRE")
    assert response.context["form"]["destination"].initial == str(same.public_id)


def test_staff_execute_an_authorisation_to_an_existing_student(
    staff_client, staff_user, establishment, origin, destination
):
    arrived = StudentFactory(
        establishment=destination, ine=origin.ine, last_name="MARTIN", origin=Origin.MANUAL
    )
    pending = authorisation(origin)

    response = staff_client.post(execute_url(pending), {"destination": str(arrived.public_id)}, follow=True)

    assert "Transfert effectué : 4 entrées du passeport copiées." in response.content.decode()
    pending.refresh_from_db()
    transfer = Transfer.objects.get()
    assert pending.status == ManualAuthorisation.Status.EXECUTED
    assert (pending.handled_by, pending.transfer) == (staff_user, transfer)
    assert (transfer.kind, transfer.done, transfer.cause, transfer.user) == (
        Kind.MANUAL,
        True,
        "",
        staff_user,
    )
    assert (transfer.origin_student, transfer.destination_student) == (origin, arrived)
    assert (transfer.ine, transfer.student_name) == (origin.ine, "MARTIN Inès")
    assert (transfer.fiches_copied, transfer.evaluations_copied, transfer.bilans_copied) == (2, 1, 1)
    # One row, seen by both schools.
    assert list(establishment.transfers_sent.all()) == [transfer]
    assert list(destination.transfers_received.all()) == [transfer]
    copies = arrived.passport_entries.order_by("kind", "title")
    assert copies.count() == 4
    for copy in copies:
        assert copy.source_entry.student == origin
        assert copy.original_entry == copy.source_entry
        assert (copy.produced_uai, copy.title) == (establishment.uai, copy.source_entry.title)
    assert origin.passport_entries.count() == 4
    assert LogEntry.objects.filter(object_id=str(pending.pk), user=staff_user).exists()


def test_staff_execute_an_authorisation_by_creating_the_student(
    staff_client, staff_user, establishment, origin, destination
):
    pending = authorisation(origin)

    staff_client.post(execute_url(pending), {"destination": "creer"})

    created = destination.students.get()
    assert (created.ine, created.last_name, created.first_name, created.birth_date) == (
        origin.ine,
        origin.last_name,
        origin.first_name,
        origin.birth_date,
    )
    assert (created.mef_code, created.diploma_level, created.diploma_specialite) == (
        origin.mef_code,
        origin.diploma_level,
        origin.diploma_specialite,
    )
    assert (created.origin, created.is_active, created.class_code) == (Origin.MANUAL, True, "")
    transfer = Transfer.objects.get()
    assert (transfer.destination_student, transfer.kind, transfer.done) == (created, Kind.MANUAL, True)
    assert created.passport_entries.count() == 4
    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.EXECUTED


def test_executing_twice_is_refused(staff_client, origin, destination):
    pending = authorisation(origin)
    staff_client.post(execute_url(pending), {"destination": "creer"})

    response = staff_client.post(execute_url(pending), {"destination": "creer"}, follow=True)

    assert "Cette autorisation n&#x27;est plus en attente." in response.content.decode()
    assert Transfer.objects.count() == 1
    assert Student.objects.filter(establishment=destination).count() == 1
    assert PassportEntry.objects.filter(student__establishment=destination).count() == 4


def test_creating_a_student_whose_ine_is_already_at_the_destination_is_refused(
    staff_client, origin, destination
):
    StudentFactory(establishment=destination, ine=origin.ine)
    pending = authorisation(origin)

    response = staff_client.post(execute_url(pending), {"destination": "creer"})

    assert "Un élève portant cet INE existe déjà dans l&#x27;établissement de destination" in (
        response.content.decode()
    )
    assert not Transfer.objects.exists()
    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.PENDING


def test_a_student_of_another_establishment_is_not_offered(
    staff_client, origin, destination, other_establishment
):
    stranger = StudentFactory(establishment=other_establishment)
    pending = authorisation(origin)

    response = staff_client.post(execute_url(pending), {"destination": str(stranger.public_id)})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Transfer.objects.exists()


def test_an_unregistered_destination_is_explained(staff_client, origin):
    pending = authorisation(origin, destination_uai="0752387M")

    response = staff_client.get(execute_url(pending), follow=True)

    assert (
        "L&#x27;établissement de destination 0752387M n&#x27;est pas enregistré" in response.content.decode()
    )
    assert not Establishment.objects.filter(uai="0752387M").exists()


def test_staff_cancel_an_authorisation(staff_client, staff_user, origin, destination):
    pending = authorisation(origin)
    url = reverse("admin:transfers_manualauthorisation_cancel", args=[pending.pk])

    confirmation = staff_client.get(url)
    response = staff_client.post(url, {"reason": "UAI de destination erronée"}, follow=True)

    assert "Annuler cette autorisation ?" in confirmation.content.decode()
    assert "Autorisation annulée." in response.content.decode()
    pending.refresh_from_db()
    assert (pending.status, pending.handled_by) == (ManualAuthorisation.Status.CANCELLED, staff_user)
    assert pending.cancel_reason == "UAI de destination erronée"
    assert not Transfer.objects.exists()


def test_staff_cannot_cancel_an_authorisation_without_a_reason(staff_client, origin, destination):
    pending = authorisation(origin)
    url = reverse("admin:transfers_manualauthorisation_cancel", args=[pending.pk])

    response = staff_client.post(url, {"reason": "   "})

    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    pending.refresh_from_db()
    assert (pending.status, pending.cancel_reason) == (ManualAuthorisation.Status.PENDING, "")


def test_the_cancel_service_refuses_staff_without_a_reason(staff_user, origin):
    pending = authorisation(origin)

    with pytest.raises(ValidationError, match="Indiquez le motif"):
        manual.manual_authorisation_cancel(pending, user=staff_user, now=timezone.now())

    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.PENDING


def test_authorisations_cannot_be_added_or_edited_by_hand(staff_client, origin):
    pending = authorisation(origin)

    add = staff_client.get(reverse("admin:transfers_manualauthorisation_add"))
    edit = staff_client.post(
        reverse("admin:transfers_manualauthorisation_change", args=[pending.pk]), {"status": "effectue"}
    )

    assert add.status_code == 403
    assert edit.status_code == 403
    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.PENDING


# --- history and runs -----------------------------------------------------------------------


def test_the_history_list_is_read_only_and_links_to_the_diagnostic(
    staff_client, origin, destination, django_assert_max_num_queries
):
    for _ in range(5):
        decided(left_student(origin.establishment), StudentFactory(establishment=destination))
    url = reverse("admin:transfers_transfer_changelist")

    with django_assert_max_num_queries(12):
        response = staff_client.get(url, {"kind__exact": "automatique"})

    content = response.content.decode()
    assert response.status_code == 200
    assert reverse("admin:transfers_transfer_diagnostic") in content
    assert reverse("admin:transfers_transfer_add") not in content


def test_staff_run_the_matching_job_from_the_admin(staff_client, establishment):
    origin_school, arrival_school = transfer_enabled(), transfer_enabled()
    leaver = left_student(origin_school, mef_code="24731001110")
    passport(leaver, fiches=1, evaluations=0, bilans=0)
    StudentFactory(
        establishment=arrival_school, ine=leaver.ine, last_name=leaver.last_name, birth_date=leaver.birth_date
    )

    response = staff_client.post(reverse("admin:transfers_matchingrun_run"), follow=True)

    run = MatchingRun.objects.get()
    assert run.trigger == "admin"
    assert (run.pairs_decided, run.transfers_done, run.entries_copied) == (1, 1, 1)
    content = response.content.decode()
    assert "1 paire décidée, 1 transfert effectué, 1 entrée copiée." in content


def test_the_run_button_needs_a_post(staff_client):
    response = staff_client.get(reverse("admin:transfers_matchingrun_run"))

    assert response.status_code == 405
    assert not MatchingRun.objects.exists()


def test_a_run_shows_its_counts_and_errors(staff_client):
    run = MatchingRun.objects.create(
        started_at=timezone.now(),
        as_of=timezone.now(),
        trigger="beat",
        status="echec",
        pairs_decided=3,
        counts={"transfert": 2, "changement_diplome": 1},
        errors=["OperationalError: connexion perdue"],
    )

    listing = staff_client.get(reverse("admin:transfers_matchingrun_changelist")).content.decode()
    detail = staff_client.get(reverse("admin:transfers_matchingrun_change", args=[run.pk])).content.decode()

    assert "Lancer le rapprochement maintenant" in listing
    assert "<li>transfert effectué : 2</li>" in detail
    assert "<li>Changement de diplôme : 1</li>" in detail
    assert "OperationalError: connexion perdue" in detail


@pytest.mark.parametrize(
    "name,args",
    [
        ("admin:transfers_transfer_diagnostic", []),
        ("admin:transfers_matchingrun_run", []),
    ],
)
def test_the_admin_views_are_for_technical_staff_only(client, admin_user, name, args):
    client.force_login(admin_user)

    response = client.post(reverse(name, args=args))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not MatchingRun.objects.exists()
