"""*Paramètres › Utilisateurs* through the pages: what the administrator and the principal see and
do, and what nobody outside the establishment can (the tenancy matrix pins every URL's status)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from establishments.models import AuditLogEntry, Role, User

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def users_url(establishment, *parts):
    return reverse("settings-users", args=[establishment.uai]) + "".join(f"{part}/" for part in parts)


NEW_TEACHER = {
    "last_name": "Durand",
    "first_name": "Claire",
    "email": "claire.durand@ac-paris.fr",
    "username": "c.durand",
    "role": Role.TEACHER,
}


def test_the_list_shows_this_schools_staff_with_role_address_login_and_state(
    client, establishment, admin_user, principal, teacher, student_user, outsider
):
    teacher.email, teacher.is_active = "prof@ac-paris.fr", False
    teacher.save()
    client.force_login(principal)

    page = client.get(users_url(establishment)).content.decode()

    for text in (
        "chef",
        "prof",
        "Enseignant",
        "Chef d&#x27;établissement",
        "prof@ac-paris.fr",
        "Désactivé",
        "jamais",
    ):
        assert text in page
    assert "<td>prof</td>" in page
    assert "<td>eleve</td>" not in page and "<td>autre</td>" not in page  # students, another school's users
    assert "Créer un utilisateur" not in page  # the principal reads


def test_the_list_costs_the_same_queries_for_many_users(
    client, establishment, admin_user, django_assert_max_num_queries
):
    for n in range(30):
        UserFactory(username=f"prof{n}", establishment=establishment, role=Role.TEACHER)
    client.force_login(admin_user)
    with django_assert_max_num_queries(8):
        assert client.get(users_url(establishment)).status_code == 200


def test_an_administrator_creates_a_teacher_from_the_page(
    client, establishment, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(users_url(establishment, "nouveau"), NEW_TEACHER, follow=True)

    assert (
        "Compte créé : Claire Durand recevra à claire.durand@ac-paris.fr un lien" in response.content.decode()
    )
    assert User.objects.get(username="c.durand").establishment == establishment
    assert len(mailoutbox) == 1


def test_an_address_of_another_schools_user_is_refused_like_any_taken_one(
    client, establishment, admin_user, outsider
):
    outsider.email = "claire.durand@ac-paris.fr"
    outsider.save()
    client.force_login(admin_user)

    response = client.post(users_url(establishment, "nouveau"), NEW_TEACHER)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Cette adresse e-mail est déjà utilisée par un autre compte." in page
    assert other_school_name(outsider) not in page
    assert not User.objects.filter(username="c.durand").exists()


def other_school_name(user) -> str:
    return user.establishment.name.replace("'", "&#x27;")


def test_a_principal_cannot_create_nor_change(client, establishment, principal, teacher):
    client.force_login(principal)

    assert client.get(users_url(establishment, "nouveau")).status_code == 403
    assert (
        client.post(
            users_url(establishment, "nouveau"), NEW_TEACHER | {"role": Role.ADMINISTRATOR}
        ).status_code
        == 403
    )
    edit = {"last_name": "X", "first_name": "Y", "email": "x@y.fr", "role": Role.ADMINISTRATOR}
    assert client.post(users_url(establishment, teacher.pk), edit).status_code == 403
    assert (
        client.post(users_url(establishment, teacher.pk, "activation"), {"active": "non"}).status_code == 403
    )
    teacher.refresh_from_db()
    assert (teacher.role, teacher.is_active) == (Role.TEACHER, True)
    assert not User.objects.filter(username="c.durand").exists() and not AuditLogEntry.objects.exists()


def test_the_principal_reads_a_user_without_a_form_to_send(client, establishment, principal, teacher):
    client.force_login(principal)
    page = client.get(users_url(establishment, teacher.pk)).content.decode()
    assert "disabled" in page and "Réinitialiser le mot de passe" not in page and "Désactiver" not in page


def test_another_schools_administrator_finds_none_of_our_users_even_through_their_own_school(
    client, establishment, other_establishment, outsider, teacher
):
    client.force_login(outsider)
    own_school = reverse("settings-user", args=[other_establishment.uai, teacher.pk])

    assert client.get(own_school).status_code == 404
    assert (
        client.post(
            own_school, {"last_name": "X", "first_name": "Y", "email": "x@y.fr", "role": "chef"}
        ).status_code
        == 404
    )
    assert client.post(f"{own_school}activation/", {"active": "non"}).status_code == 404
    assert client.post(f"{own_school}mot-de-passe/").status_code == 404
    teacher.refresh_from_db()
    assert teacher.is_active and teacher.last_name == "Martin"


def test_a_students_account_is_not_managed_here(client, establishment, admin_user, student_user):
    client.force_login(admin_user)
    assert client.get(users_url(establishment, student_user.pk)).status_code == 404
    assert (
        client.post(users_url(establishment, student_user.pk, "activation"), {"active": "non"}).status_code
        == 404
    )


def test_the_last_administrator_is_told_why_they_cannot_leave(client, establishment, admin_user):
    client.force_login(admin_user)

    response = client.post(
        users_url(establishment, admin_user.pk, "activation"), {"active": "non"}, follow=True
    )

    assert "dernier administrateur actif" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_a_role_change_from_the_page_is_saved_and_recorded(client, establishment, admin_user, teacher):
    client.force_login(admin_user)
    data = {
        "last_name": "Martin",
        "first_name": "Camille",
        "email": "prof@ac-paris.fr",
        "role": Role.PRINCIPAL,
    }

    response = client.post(users_url(establishment, teacher.pk), data, follow=True)

    assert "Modifications enregistrées." in response.content.decode()
    teacher.refresh_from_db()
    assert (teacher.role, teacher.email) == (Role.PRINCIPAL, "prof@ac-paris.fr")
    assert AuditLogEntry.objects.get().changes["role"] == [Role.TEACHER, Role.PRINCIPAL]


def test_a_reset_from_the_page_emails_the_user(
    client, establishment, admin_user, teacher, mailoutbox, django_capture_on_commit_callbacks
):
    teacher.email = "prof@ac-paris.fr"
    teacher.save()
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(users_url(establishment, teacher.pk, "mot-de-passe"), follow=True)

    assert "un lien pour en choisir un nouveau a été envoyé à prof@ac-paris.fr" in response.content.decode()
    assert [message.to for message in mailoutbox] == [["prof@ac-paris.fr"]]
    assert "http://testserver/mot-de-passe-oublie/" in mailoutbox[0].body


def test_hostile_names_are_shown_as_text(client, establishment, admin_user):
    hostile = UserFactory(
        username="hostile",
        establishment=establishment,
        role=Role.TEACHER,
        last_name="<script>alert(1)</script>",
    )
    client.force_login(admin_user)

    for url in (users_url(establishment), users_url(establishment, hostile.pk)):
        page = client.get(url).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
