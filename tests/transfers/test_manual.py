"""The manual path, school side: "Liste des élèves transférables (non automatisable)"."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from transfers.manual import services as manual
from transfers.models import ManualAuthorisation

from ..factories import StudentFactory
from .manual_factories import CFA_UAI, authorisation, cfa, decided, left_student

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(establishment):
    return reverse("manual-transfers", kwargs={"uai": establishment.uai})


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def submit(client, page, rows, *, consent=True):
    """POST the form: ``rows`` maps each selected student to the UAI typed for them."""
    data = {"selected": [str(student.public_id) for student in rows]}
    data |= {f"uai_{student.public_id.hex}": uai for student, uai in rows.items()}
    if consent:
        data["consent"] = "on"
    return client.post(page, data)


def test_it_lists_the_students_who_left_less_than_six_months_ago(
    admin_client, page, establishment, other_establishment
):
    left = left_student(establishment, last_name="MARTIN", first_name="Inès")
    left_student(establishment, last_name="ANCIEN", left=timezone.now() - datetime.timedelta(days=200))
    left_student(establishment, last_name="SANSINE", ine="")
    StudentFactory(establishment=establishment, last_name="PRESENT")
    left_student(establishment, last_name="ATTENTE").manual_authorisations.create(
        origin_establishment=establishment,
        destination_uai=CFA_UAI,
        consent_confirmed=True,
        authorised_at=timezone.now(),
    )
    decided(left_student(establishment, last_name="PARTI"), StudentFactory(establishment=other_establishment))
    left_student(other_establishment, last_name="VOISIN")

    response = admin_client.get(page)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Liste des élèves transférables (non automatisable)" in content
    assert "MARTIN Inès" in content
    assert str(left.public_id) in content
    for absent in ("ANCIEN", "SANSINE", "PRESENT", "PARTI", "VOISIN"):
        assert absent not in content
    assert "ATTENTE" in content  # in the authorisations below, not in the list
    assert [s.last_name for s in response.context["form"].students] == ["MARTIN"]


def test_a_student_who_left_a_refused_transfer_behind_is_still_listed(admin_client, page, establishment):
    student = left_student(establishment, last_name="REFUS")
    decided(student, StudentFactory(), done=False, cause="identite_differente")

    response = admin_client.get(page)

    assert "REFUS" in response.content.decode()


def test_the_list_takes_a_fixed_number_of_queries(
    admin_client, page, establishment, django_assert_max_num_queries
):
    for _ in range(15):
        authorisation(left_student(establishment))
    for _ in range(15):
        left_student(establishment)

    with django_assert_max_num_queries(10):
        response = admin_client.get(page)

    assert response.status_code == 200


def test_a_valid_submission_records_pending_authorisations(admin_client, page, establishment, admin_user):
    cfa()
    first, second = left_student(establishment), left_student(establishment)

    response = submit(admin_client, page, {first: " 0920131t ", second: "0750655E"})

    assert response.status_code == 302
    rows = ManualAuthorisation.objects.order_by("destination_uai")
    assert [(a.origin_student, a.destination_uai, a.status) for a in rows] == [
        (second, "0750655E", ManualAuthorisation.Status.PENDING),
        (first, CFA_UAI, ManualAuthorisation.Status.PENDING),
    ]
    assert {a.authorised_by for a in rows} == {admin_user}
    page_after = admin_client.get(page).content.decode()
    assert "0920131T — CFA Auguste-Renoir" in page_after
    assert (
        '0750655E <span class="muted">(établissement pas encore inscrit sur cerisepro)</span>' in page_after
    )
    assert page_after.count("En attente") == 2


def test_a_wrong_check_letter_is_refused_next_to_the_field(admin_client, page, establishment):
    student = left_student(establishment)

    response = submit(admin_client, page, {student: "0750001A"})

    assert response.status_code == 400
    assert "La lettre clé du code UAI 0750001A est incorrecte : la lettre attendue est U." in (
        response.content.decode()
    )
    assert not ManualAuthorisation.objects.exists()


def test_the_schools_own_uai_is_refused(admin_client, page, establishment):
    student = left_student(establishment)

    response = submit(admin_client, page, {student: establishment.uai})

    assert response.status_code == 400
    assert "L&#x27;UAI de destination est celui de votre établissement" in response.content.decode()
    assert not ManualAuthorisation.objects.exists()


def test_a_selected_student_needs_a_destination_uai(admin_client, page, establishment):
    student = left_student(establishment)

    response = submit(admin_client, page, {student: ""})

    assert response.status_code == 400
    assert "Indiquez l&#x27;UAI de l&#x27;établissement de destination." in response.content.decode()


def test_the_consent_is_required(admin_client, page, establishment):
    cfa()
    student = left_student(establishment)

    response = submit(admin_client, page, {student: CFA_UAI}, consent=False)

    assert response.status_code == 400
    assert "Confirmez que l&#x27;élève ou ses responsables légaux ont autorisé ce transfert." in (
        response.content.decode()
    )
    assert not ManualAuthorisation.objects.exists()


def test_nothing_is_created_when_one_selected_row_is_invalid(admin_client, page, establishment):
    cfa()
    good, bad = left_student(establishment), left_student(establishment)

    response = submit(admin_client, page, {good: CFA_UAI, bad: "0750001A"})

    assert response.status_code == 400
    assert not ManualAuthorisation.objects.exists()
    # The form comes back as typed, with the registered name next to the valid UAI.
    content = response.content.decode()
    assert 'value="0920131T"' in content
    assert "CFA Auguste-Renoir" in content


def test_selecting_nothing_is_refused(admin_client, page, establishment):
    left_student(establishment)

    response = admin_client.post(page, {"consent": "on"})

    assert response.status_code == 400
    assert "Sélectionnez au moins un élève à transférer." in response.content.decode()


def test_another_schools_student_is_never_accepted(admin_client, page, establishment, other_establishment):
    cfa()
    stranger = left_student(other_establishment)

    response = submit(admin_client, page, {stranger: CFA_UAI})

    assert response.status_code == 400
    assert not ManualAuthorisation.objects.exists()


def test_the_uai_endpoint_names_a_registered_establishment(admin_client, establishment):
    cfa()
    url = reverse("manual-transfers-uai", kwargs={"uai": establishment.uai})

    registered = admin_client.get(url, {"uai": "0920131t"}).json()
    unknown = admin_client.get(url, {"uai": "0752387M"}).json()
    wrong = admin_client.get(url, {"uai": "0750001A"}).json()
    own = admin_client.get(url, {"uai": establishment.uai}).json()

    assert registered == {"valid": True, "name": "CFA Auguste-Renoir", "message": ""}
    assert unknown == {"valid": True, "name": None, "message": ""}
    assert wrong["valid"] is False and "la lettre attendue est U" in wrong["message"]
    assert own["valid"] is False


def test_the_page_loads_its_script_from_a_static_file(admin_client, page, establishment):
    left_student(establishment)

    content = admin_client.get(page).content.decode()

    assert 'src="/static/js/manual_transfers.js"' in content
    assert "<script>" not in content
    assert 'data-uai-lookup-url="/etablissements/0750654D/transferts/manuels/uai/"' in content


def test_the_administrator_withdraws_a_pending_authorisation(admin_client, page, establishment, admin_user):
    pending = authorisation(left_student(establishment))

    response = admin_client.post(page, {"cancel": str(pending.public_id)}, follow=True)

    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.CANCELLED
    assert pending.handled_by == admin_user
    assert "Autorisation annulée." in response.content.decode()


def test_withdrawing_another_schools_authorisation_answers_404(admin_client, page, other_establishment):
    foreign = authorisation(left_student(other_establishment))

    response = admin_client.post(page, {"cancel": str(foreign.public_id)})

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == ManualAuthorisation.Status.PENDING


# --- the service, for what the page cannot reach ----------------------------------------------


def test_a_second_pending_authorisation_for_a_student_is_refused(establishment, admin_user):
    student = left_student(establishment)
    authorisation(student)

    with pytest.raises(ValidationError) as error:
        manual.manual_authorisation_create(
            student, destination_uai=CFA_UAI, consent_confirmed=True, user=admin_user, now=timezone.now()
        )

    assert "Un transfert de cet élève est déjà en attente." in str(error.value)
    assert ManualAuthorisation.objects.count() == 1


def test_a_student_who_left_more_than_six_months_ago_cannot_be_authorised(establishment, admin_user):
    now = timezone.now()
    student = left_student(establishment, left=now - datetime.timedelta(days=190))

    with pytest.raises(ValidationError, match="parti depuis plus de six mois"):
        manual.manual_authorisation_create(
            student, destination_uai=CFA_UAI, consent_confirmed=True, user=admin_user, now=now
        )


def test_execution_is_refused_while_the_destination_is_not_registered(establishment, staff_user):
    pending = authorisation(left_student(establishment))

    with pytest.raises(ValidationError, match="n'est pas enregistré"):
        manual.manual_authorisation_execute(pending, user=staff_user, now=timezone.now(), create_student=True)

    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.PENDING


def test_execution_refuses_a_student_of_another_establishment(establishment, other_establishment, staff_user):
    cfa()
    pending = authorisation(left_student(establishment))
    wrong = StudentFactory(establishment=other_establishment)

    with pytest.raises(ValidationError, match="n'appartient pas à l'établissement de destination"):
        manual.manual_authorisation_execute(
            pending, user=staff_user, now=timezone.now(), destination_student=wrong
        )

    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.PENDING
    assert pending.transfer is None


def test_execution_refuses_a_pair_already_in_the_history(establishment, staff_user):
    destination = cfa()
    origin = left_student(establishment)
    arrived = StudentFactory(establishment=destination, ine=origin.ine)
    decided(origin, arrived, done=False, cause="changement_diplome")
    pending = authorisation(origin)

    with pytest.raises(ValidationError, match="figure déjà dans l'historique"):
        manual.manual_authorisation_execute(
            pending, user=staff_user, now=timezone.now(), destination_student=arrived
        )

    pending.refresh_from_db()
    assert pending.status == ManualAuthorisation.Status.PENDING


def test_a_cancelled_authorisation_cannot_be_executed(establishment, staff_user):
    cfa()
    pending = authorisation(left_student(establishment))
    manual.manual_authorisation_cancel(pending, user=staff_user, now=timezone.now(), reason="Doublon")

    with pytest.raises(ValidationError, match="n'est plus en attente"):
        manual.manual_authorisation_execute(pending, user=staff_user, now=timezone.now(), create_student=True)
