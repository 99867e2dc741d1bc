"""No INE or name ends up in a URL (hence in access logs): the admin's student search goes by POST."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import StudentFactory

INE = "070832327JA"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_student_search_posts_the_ine_and_redirects_to_a_url_without_it(staff_client, establishment):
    StudentFactory(establishment=establishment, ine=INE, last_name="ISSILAHI")
    StudentFactory(establishment=establishment, last_name="AUTRE")
    url = reverse("admin:students_student_changelist")

    response = staff_client.post(url, {"recherche": INE, "rechercher": "Rechercher"})

    assert response.status_code == 302 and INE not in response["Location"]
    page = staff_client.get(response["Location"]).content.decode()
    assert "ISSILAHI" in page and "AUTRE" not in page
    assert 'method="post" role="search"' in page and f'value="{INE}"' in page


def test_a_search_in_the_query_string_is_ignored(staff_client, establishment):
    StudentFactory(establishment=establishment, last_name="ISSILAHI", ine=INE)
    StudentFactory(establishment=establishment, last_name="AUTRE")

    page = staff_client.get(reverse("admin:students_student_changelist"), {"q": INE}).content.decode()

    assert "ISSILAHI" in page and "AUTRE" in page


def test_the_search_can_be_cleared(staff_client, establishment):
    StudentFactory(establishment=establishment, last_name="ISSILAHI", ine=INE)
    StudentFactory(establishment=establishment, last_name="AUTRE")
    url = reverse("admin:students_student_changelist")
    staff_client.post(url, {"recherche": INE, "rechercher": "Rechercher"})

    staff_client.post(url, {"effacer": "Effacer la recherche"})

    assert "AUTRE" in staff_client.get(url).content.decode()


def test_the_eligibility_diagnostic_takes_the_ine_by_post_only(staff_client):
    url = reverse("admin:transfers_transfer_diagnostic")

    response = staff_client.post(url, {"ine": INE})

    assert response.status_code == 200 and INE not in response.request["PATH_INFO"]
    form = staff_client.get(url).content.decode()
    assert 'method="post"' in form
