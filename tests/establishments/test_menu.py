"""The header's menu is rendered once per process for what it shows (establishments.templatetags.ui):
what changes must show on the next page, and nothing of one user or request may reach another."""

from __future__ import annotations

import lxml.html
import pytest
from django.test import Client
from django.urls import reverse

from establishments.models import Role
from tests.factories import EstablishmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def menu(client: Client, url: str) -> tuple[list[tuple[str, str | None]], str]:
    """The menu's links as (text, aria-current), and who it says is signed in."""
    document = lxml.html.fromstring(client.get(url).content.decode())
    nav = document.xpath('//nav[@aria-label="Navigation principale"]')[0]
    links = [(" ".join(a.text_content().split()), a.get("aria-current")) for a in nav.xpath(".//a")]
    who = " ".join(document.xpath('//span[@class="user-name"]')[0].text_content().split())
    return links, who


def test_a_renamed_school_and_a_changed_role_show_on_the_next_page(client_for, admin_user, establishment):
    client = client_for(admin_user)
    url = reverse("student-list", args=[establishment.uai])
    assert menu(client, url)[0] == [
        ("Lycée professionnel Henri-IV", None),
        ("Élèves", "page"),
        ("Paramètres", None),
        ("Transferts", None),
    ]

    establishment.name = "Lycée des métiers Henri-IV"
    establishment.save()
    admin_user.role = Role.TEACHER
    admin_user.first_name, admin_user.last_name = "Anne", "Martin"
    admin_user.save()

    links, who = menu(client, url)
    assert links == [("Lycée des métiers Henri-IV", None), ("Élèves", "page")]
    assert who == "Anne Martin · Enseignant"


def test_each_user_sees_their_own_school_and_name_on_the_same_page(client_for, establishment):
    other = EstablishmentFactory(uai="0750655E", name="Lycée Louis-le-Grand")
    first = UserFactory(username="a", first_name="Inès", last_name="Bernard", establishment=establishment,
                        role=Role.PRINCIPAL)  # fmt: skip
    second = UserFactory(username="b", first_name="Paul", last_name="Durand", establishment=other,
                         role=Role.PRINCIPAL)  # fmt: skip
    url = reverse("accessibility")  # one path for both: only the user differs

    assert menu(client_for(first), url) == ([("Lycée professionnel Henri-IV", None), ("Élèves", None),
                                             ("Paramètres", None), ("Transferts", None)],
                                            "Inès Bernard · Chef d'établissement")  # fmt: skip
    assert menu(client_for(second), url) == ([("Lycée Louis-le-Grand", None), ("Élèves", None),
                                              ("Paramètres", None), ("Transferts", None)],
                                             "Paul Durand · Chef d'établissement")  # fmt: skip


def test_the_logout_form_carries_the_requests_own_csrf_token(admin_user, establishment):
    # The menu is shared between requests; the logout form beside it must not be.
    url = reverse("establishment-home", args=[establishment.uai])
    for _ in range(2):
        client = Client(enforce_csrf_checks=True)
        client.force_login(admin_user)
        document = lxml.html.fromstring(client.get(url).content.decode())
        token = document.xpath(
            "//form[@action=$url]/input[@name='csrfmiddlewaretoken']/@value", url=reverse("logout")
        )

        response = client.post(reverse("logout"), {"csrfmiddlewaretoken": token[0]})

        assert response.status_code == 302
        assert "_auth_user_id" not in client.session
