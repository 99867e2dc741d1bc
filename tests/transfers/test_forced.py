"""Forcing a pair the job refused for a change of diploma (docs/formats.md), from the Django admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from transfers import review
from transfers.models import Cause, Kind, Transfer

from ..factories import StudentFactory
from .manual_factories import decided, left_student, passport, refused_for_diploma, transfer_enabled

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def pair():
    origin = left_student(transfer_enabled(), mef_code="24731001110")
    passport(origin, fiches=2, evaluations=2, bilans=1)
    arrival = StudentFactory(
        establishment=transfer_enabled(),
        ine=origin.ine,
        last_name=origin.last_name,
        mef_code="24733202110",
        diploma_specialite="33202",
    )
    return origin, arrival


def force_url(transfer: Transfer) -> str:
    return reverse("admin:transfers_transfer_force", args=[transfer.pk])


def test_the_history_offers_to_force_a_diploma_change_refusal(staff_client, pair):
    refused = refused_for_diploma(*pair)

    listing = staff_client.get(reverse("admin:transfers_transfer_changelist")).content.decode()
    detail = staff_client.get(reverse("admin:transfers_transfer_change", args=[refused.pk])).content.decode()
    confirmation = staff_client.get(force_url(refused)).content.decode()

    assert force_url(refused) in listing
    assert force_url(refused) in detail
    assert "Forcer ce transfert ?" in confirmation
    assert "Changement de diplôme" in confirmation
    refused.refresh_from_db()
    assert refused.done is False


def test_staff_force_a_diploma_change_refusal(staff_client, staff_user, pair):
    origin, arrival = pair
    refused = refused_for_diploma(origin, arrival)

    response = staff_client.post(force_url(refused), follow=True)

    assert "Transfert forcé : 5 entrées du passeport copiées." in response.content.decode()
    refused.refresh_from_db()
    assert (refused.done, refused.kind, refused.user) == (True, Kind.FORCED, staff_user)
    assert refused.cause == Cause.DIPLOMA_CHANGE  # kept, so the history says why it was forced
    assert (refused.fiches_copied, refused.evaluations_copied, refused.bilans_copied) == (2, 2, 1)
    assert arrival.passport_entries.count() == 5
    assert set(arrival.passport_entries.values_list("source_entry__student", flat=True)) == {origin.pk}
    assert Transfer.objects.count() == 1


def test_forcing_twice_copies_the_passport_once(staff_client, pair):
    origin, arrival = pair
    refused = refused_for_diploma(origin, arrival)
    staff_client.post(force_url(refused))

    response = staff_client.post(force_url(refused), follow=True)

    assert "Ce transfert a déjà été effectué." in response.content.decode()
    assert arrival.passport_entries.count() == 5


def test_forcing_an_identity_mismatch_is_refused(staff_client, pair):
    origin, arrival = pair
    refused = decided(origin, arrival, done=False, cause=Cause.IDENTITY_MISMATCH)

    response = staff_client.post(force_url(refused), follow=True)

    assert "Seul un transfert refusé pour changement de diplôme peut être forcé" in response.content.decode()
    refused.refresh_from_db()
    assert (refused.done, refused.kind) == (False, Kind.AUTOMATIC)
    assert arrival.passport_entries.count() == 0


def test_the_confirmation_page_is_not_offered_for_a_done_transfer(staff_client, pair):
    done = decided(*pair)

    response = staff_client.get(force_url(done), follow=True)

    assert "Seul un transfert refusé pour changement de diplôme peut être forcé." in response.content.decode()
    assert "Forcer ce transfert ?" not in response.content.decode()


@pytest.mark.parametrize(
    "cause", [Cause.IDENTITY_MISMATCH, Cause.MORE_RECENT_ORIGIN], ids=["identity", "more-recent-origin"]
)
def test_the_service_refuses_any_other_cause(pair, staff_user, cause):
    refused = decided(*pair, done=False, cause=cause)

    with pytest.raises(ValidationError, match="Seul un transfert refusé pour changement de diplôme"):
        review.transfer_force(refused, user=staff_user, now=timezone.now())


def test_the_service_refuses_a_pair_whose_student_is_gone(pair, staff_user):
    origin, arrival = pair
    refused = refused_for_diploma(origin, arrival)
    arrival.delete()

    with pytest.raises(ValidationError, match="n'existe plus"):
        review.transfer_force(refused, user=staff_user, now=timezone.now())

    refused.refresh_from_db()
    assert refused.done is False


def test_a_school_user_cannot_force(client, admin_user, pair):
    refused = refused_for_diploma(*pair)
    client.force_login(admin_user)

    response = client.post(force_url(refused))

    assert response.status_code == 302
    refused.refresh_from_db()
    assert refused.done is False
