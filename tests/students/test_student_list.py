"""The student list for the establishment's staff, and the students' pages in the Django admin."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import SiecleImportFactory, StudentFactory


def list_page(client, establishment, **params):
    return client.get(reverse("student-list", args=[establishment.uai]), params)


@pytest.fixture
def students(establishment, other_establishment):
    return {
        "lea": StudentFactory(
            establishment=establishment, last_name="MARTIN", first_name="Léa", class_code="2GA1"
        ),
        "noah": StudentFactory(
            establishment=establishment, last_name="DURAND", first_name="Noah", class_code="1MELEC"
        ),
        "gone": StudentFactory(
            establishment=establishment,
            last_name="PETIT",
            first_name="Inès",
            class_code="2GA1",
            is_active=False,
            deactivated_at=timezone.now(),
        ),
        "stranger": StudentFactory(establishment=other_establishment, last_name="MARTINEZ", first_name="Zoé"),
    }


def test_the_list_shows_the_active_students_of_the_establishment_only(
    client_for, teacher, establishment, students
):
    page = list_page(client_for(teacher), establishment).content.decode()

    assert "MARTIN" in page and "DURAND" in page
    assert "PETIT" not in page, "inactive students are filtered out by default"
    assert "MARTINEZ" not in page, "never another school's students"
    assert "2 élèves" in page


def test_the_list_searches_by_name_and_filters_by_class_and_status(
    client_for, teacher, establishment, students
):
    client = client_for(teacher)

    assert "DURAND" not in list_page(client, establishment, q="léa").content.decode()
    by_class = list_page(client, establishment, classe="1MELEC").content.decode()
    assert "DURAND" in by_class and "MARTIN" not in by_class
    inactive = list_page(client, establishment, statut="inactifs").content.decode()
    assert "PETIT" in inactive and "Parti le" in inactive and "DURAND" not in inactive
    nobody = list_page(client, establishment, q="MARTINEZ", statut="tous").content.decode()
    assert "Aucun élève ne correspond à ces critères." in nobody


def test_the_list_is_paginated_with_a_constant_number_of_queries(
    client_for, teacher, establishment, django_assert_max_num_queries
):
    StudentFactory.create_batch(120, establishment=establishment)
    client = client_for(teacher)

    with django_assert_max_num_queries(8):
        first = list_page(client, establishment).content.decode()
    third = list_page(client, establishment, page=3).content.decode()

    assert "Page 1 sur 3" in first and "Page 3 sur 3" in third


def test_technical_staff_find_students_and_imports_in_the_admin(client_for, staff_user, establishment):
    student = StudentFactory(establishment=establishment, ine="070832327JA")
    SiecleImportFactory(establishment=establishment, status="applique")
    client = client_for(staff_user)

    found = client.get(reverse("admin:students_student_changelist"), {"q": "070832327JA"}).content.decode()
    assert student.last_name in found
    assert client.get(reverse("admin:students_student_change", args=[student.pk])).status_code == 200
    assert client.get(reverse("admin:students_siecleimport_changelist")).status_code == 200


def test_the_transfers_tab_lists_the_active_students_without_ine(
    client_for, principal, establishment, students
):
    StudentFactory(
        establishment=establishment, ine="", last_name="Sansine", first_name="Yanis", class_code="TCAP1"
    )
    StudentFactory(
        establishment=establishment, ine="", last_name="Parti", is_active=False, deactivated_at=timezone.now()
    )

    page = client_for(principal).get(reverse("settings-transfers", args=[establishment.uai])).content.decode()

    assert "Élèves sans INE (1)" in page
    assert "SANSINE Yanis (TCAP1)" in page
    assert "PARTI" not in page
