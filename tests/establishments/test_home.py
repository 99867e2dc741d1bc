"""The home page of each role (docs/home.md): what each sees, and what each never sees."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from establishments.models import Role

from ..factories import PassportEntryFactory, SiecleImportFactory, StudentFactory, UserFactory
from ..transfers.factories import RefusedTransferFactory, TransferFactory
from ..transfers.manual_factories import authorisation, left_student

pytestmark = pytest.mark.django_db


@pytest.fixture
def home(establishment):
    return reverse("establishment-home", args=[establishment.uai])


def page(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def finish_first_steps(establishment, admin_user):
    establishment.phone, establishment.address = "01 44 32 00 00", "23 rue Clovis"
    establishment.postal_code, establishment.city = "75005", "Paris"
    establishment.logo, establishment.stamp = "establishments/x/logo.png", "establishments/x/stamp.png"
    establishment.transfer_enabled, establishment.cnil_declaration_number = True, "1929152 V0"
    establishment.save()
    SiecleImportFactory(
        establishment=establishment, status="applique", created_at=timezone.now(), applied_at=timezone.now()
    )
    UserFactory(establishment=establishment, role=Role.TEACHER)


def test_a_new_schools_administrator_sees_the_first_steps_each_linking_to_its_page(
    client, home, establishment, admin_user
):
    content = page(client, admin_user, home)

    assert "Premiers pas" in content
    assert "Étapes faites : 0 sur 5" in content
    for name in (
        "settings-details",
        "settings-logo",
        "siecle-import",
        "settings-transfers",
        "settings-users",
    ):
        assert f'href="{reverse(name, args=[establishment.uai])}"' in content
    assert "État de l'établissement" in content


def test_the_first_steps_disappear_once_all_are_done(client, home, establishment, admin_user):
    finish_first_steps(establishment, admin_user)

    content = page(client, admin_user, home)

    assert "Premiers pas" not in content
    assert "État de l'établissement" in content
    assert "activé (déclaration CNIL 1929152 V0)" in content


def test_the_administrator_sees_the_state_of_the_school(client, home, establishment, admin_user):
    StudentFactory(establishment=establishment, ine="")
    TransferFactory(destination_establishment=establishment)
    authorisation(left_student(establishment))
    SiecleImportFactory(
        establishment=establishment,
        status="applique",
        created_at=timezone.now() - datetime.timedelta(days=3),
        applied_at=timezone.now() - datetime.timedelta(days=3),
    )

    content = page(client, admin_user, home)

    assert "2 élèves actifs, dont 1 sans INE" in content  # one arrived by the transfer
    assert "1 passeport reçu" in content
    assert "0 passeport envoyé" in content
    assert "1 autorisation en attente de l&#x27;équipe technique" in content
    assert f'href="{reverse("manual-transfers", args=[establishment.uai])}"' in content


def test_the_principal_reads_the_state_and_the_last_history_rows_without_the_hidden_origin(
    client, home, establishment, other_establishment, principal
):
    TransferFactory(
        origin_establishment=other_establishment,
        destination_establishment=establishment,
        destination_student__last_name="ARRIVEE",
    )
    hidden = RefusedTransferFactory(
        destination_establishment=establishment, destination_student__last_name="REFUSE"
    )
    TransferFactory(origin_establishment=establishment, origin_student__last_name="PARTIE")

    content = page(client, principal, home)

    assert "État de l'établissement" in content and "Premiers pas" not in content
    assert "ARRIVEE" in content and "REFUSE" in content and "PARTIE" in content
    assert other_establishment.name in content
    assert hidden.origin_establishment.name not in content
    assert "Non communiqué" in content
    # Read-only: no link to the administrator's pages.
    for name in ("siecle-import", "manual-transfers"):
        assert reverse(name, args=[establishment.uai]) not in content


def test_a_principal_without_transfers_is_told_when_passports_arrive(client, home, principal):
    content = page(client, principal, home)

    assert "Aucun élève reçu pour l'instant : les passeports arrivent après l'import SIECLE" in content


def test_the_teacher_sees_the_classes_and_a_search_box_but_never_the_transfers(
    client, home, establishment, teacher
):
    StudentFactory.create_batch(2, establishment=establishment, class_code="2GA2")
    StudentFactory(establishment=establishment, class_code="1 AGORA")
    TransferFactory(destination_establishment=establishment, destination_student__class_code="TMA")
    authorisation(left_student(establishment))

    content = page(client, teacher, home)

    list_url = reverse("student-list", args=[establishment.uai])
    assert f'href="{list_url}?classe=2GA2">2GA2</a> — 2 élèves' in content
    assert f'href="{list_url}?classe=1%20AGORA"' in content
    assert f'action="{list_url}"' in content and 'name="q"' in content
    for absent in (
        "État de l'établissement",
        "passeport reçu",
        "autorisation",
        "Premiers pas",
        "Derniers transferts",
    ):
        assert absent not in content


def test_a_teacher_of_a_school_without_students_is_told_where_they_come_from(client, home, teacher):
    assert "Aucun élève pour l'instant : l'administrateur" in page(client, teacher, home)


def test_the_student_sees_their_passport_and_where_its_entries_came_from(
    client, home, establishment, other_establishment, student_user
):
    student = StudentFactory(establishment=establishment, user=student_user)
    PassportEntryFactory(student=student)
    PassportEntryFactory(
        student=student, produced_uai=other_establishment.uai, produced_by="Lycée Louis-le-Grand"
    )
    StudentFactory(establishment=establishment, last_name="AUTRE")
    TransferFactory(destination_establishment=establishment)

    content = page(client, student_user, home)

    assert reverse("passport", args=[establishment.uai, student.public_id]) in content
    assert "1 produite par votre établissement" in content
    assert "1 produite par Lycée Louis-le-Grand (0750655E)" in content
    for absent in ("AUTRE", "État de l'établissement", "passeport reçu", "Classes"):
        assert absent not in content


def test_a_student_with_an_empty_passport_is_told_who_writes_in_it(client, home, establishment, student_user):
    StudentFactory(establishment=establishment, user=student_user)

    assert "vos enseignants y inscrivent" in page(client, student_user, home)


@pytest.mark.parametrize("size", [1, 15])
def test_the_administrators_home_takes_a_fixed_number_of_queries(
    client, home, establishment, admin_user, size, django_assert_max_num_queries
):
    for _ in range(size):
        TransferFactory(destination_establishment=establishment)
        authorisation(left_student(establishment))
        UserFactory(establishment=establishment, role=Role.TEACHER)
    client.force_login(admin_user)

    with django_assert_max_num_queries(16):
        response = client.get(home)

    assert response.status_code == 200
