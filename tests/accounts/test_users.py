"""The rules of *Paramètres › Utilisateurs*, on the services (accounts/users.py, docs/accounts.md §Users)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from accounts import users
from establishments.models import AuditLogEntry, Role, User

from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
TAKEN_EMAIL = "Cette adresse e-mail est déjà utilisée par un autre compte."


def create(establishment, actor, **overrides):
    fields = {
        "username": "c.durand",
        "first_name": "Claire",
        "last_name": "Durand",
        "email": "claire.durand@ac-paris.fr",
        "role": Role.TEACHER,
    }
    return users.staff_user_create(establishment, actor, **(fields | overrides))


def logs_in(username: str, password: str = PASSWORD) -> bool:
    """Through the login form, as a user would (django-axes needs a request)."""
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def messages_of(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict


def test_an_administrator_creates_a_teacher_who_is_emailed_a_link(
    establishment, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        teacher = create(establishment, admin_user, username="C.Durand ", email="claire.durand@AC-PARIS.FR")

    teacher.refresh_from_db()
    assert (teacher.username, teacher.role, teacher.establishment) == (
        "c.durand",
        Role.TEACHER,
        establishment,
    )
    assert teacher.email == "claire.durand@ac-paris.fr"
    assert not teacher.has_usable_password()  # chosen by the teacher, never known to the administrator
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["claire.durand@ac-paris.fr"]
    assert "c.durand" in message.body and "/mot-de-passe-oublie/" in message.body
    assert "Lycée professionnel Henri-IV" in message.subject
    entry = AuditLogEntry.objects.get(establishment=establishment)
    assert (entry.action, entry.user) == ("Utilisateur créé", admin_user)
    assert entry.changes["role"] == [None, Role.TEACHER]


def test_no_email_leaves_when_the_creation_is_rolled_back(
    establishment, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        create(establishment, admin_user, username="ab")  # too short
    assert mailoutbox == [] and not User.objects.filter(email="claire.durand@ac-paris.fr").exists()


@pytest.mark.parametrize("login", ["PROF", "Prof", "prof "])
def test_a_login_already_used_is_refused_whatever_its_case(establishment, admin_user, teacher, login):
    with pytest.raises(ValidationError) as refused:
        create(establishment, admin_user, username=login)

    assert messages_of(refused.value) == {
        "username": ["Cet identifiant est déjà utilisé : choisissez-en un autre."]
    }
    assert User.objects.count() == 2 and not AuditLogEntry.objects.exists()


def test_a_login_with_accents_or_spaces_is_refused(establishment, admin_user):
    with pytest.raises(ValidationError) as refused:
        create(establishment, admin_user, username="hélène martin")
    assert "lettres sans accent" in messages_of(refused.value)["username"][0]


def test_an_address_of_this_school_or_of_another_gets_the_same_refusal(
    establishment, admin_user, teacher, outsider
):
    teacher.email, outsider.email = "prof@ac-paris.fr", "autre@ac-versailles.fr"
    teacher.save()
    outsider.save()

    refusals = []
    for email in ("PROF@ac-paris.fr", "Autre@AC-VERSAILLES.fr"):
        with pytest.raises(ValidationError) as refused:
            create(establishment, admin_user, email=email)
        refusals.append(messages_of(refused.value))

    assert refusals == [{"email": [TAKEN_EMAIL]}, {"email": [TAKEN_EMAIL]}]
    assert not User.objects.filter(username="c.durand").exists()


def test_a_principal_creates_nobody(establishment, principal):
    with pytest.raises(PermissionDenied):
        create(establishment, principal, role=Role.ADMINISTRATOR)
    assert not User.objects.filter(username="c.durand").exists()


def test_an_administrator_of_another_school_creates_nobody_here(establishment, outsider):
    with pytest.raises(PermissionDenied):
        create(establishment, outsider)


@pytest.mark.parametrize("role", [Role.STUDENT, "", "superuser"])
def test_a_role_outside_the_three_staff_roles_is_refused(establishment, admin_user, role):
    with pytest.raises(ValidationError) as refused:
        create(establishment, admin_user, role=role)
    assert messages_of(refused.value) == {"role": ["Vous ne pouvez pas attribuer ce rôle."]}


def test_a_role_change_is_recorded_with_old_and_new(establishment, admin_user, teacher):
    changes = users.staff_user_update(establishment, admin_user, teacher, {"role": Role.PRINCIPAL})

    assert changes == {"role": [Role.TEACHER, Role.PRINCIPAL]}
    teacher.refresh_from_db()
    assert teacher.role == Role.PRINCIPAL
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.changes["role"], entry.changes["user_id"]) == (
        "Utilisateur modifié",
        [Role.TEACHER, Role.PRINCIPAL],
        teacher.pk,
    )


def test_an_update_changing_nothing_records_nothing(establishment, admin_user, teacher):
    assert users.staff_user_update(establishment, admin_user, teacher, {"role": Role.TEACHER}) == {}
    assert not AuditLogEntry.objects.exists()


def test_an_address_taken_elsewhere_cannot_be_given_on_update(establishment, admin_user, teacher, outsider):
    outsider.email = "autre@ac-versailles.fr"
    outsider.save()
    with pytest.raises(ValidationError) as refused:
        users.staff_user_update(establishment, admin_user, teacher, {"email": "AUTRE@ac-versailles.fr"})
    assert messages_of(refused.value) == {"email": [TAKEN_EMAIL]}
    teacher.refresh_from_db()
    assert teacher.email == "" and not AuditLogEntry.objects.exists()


def test_the_last_active_administrator_cannot_be_demoted(establishment, admin_user):
    with pytest.raises(ValidationError) as refused:
        users.staff_user_update(establishment, admin_user, admin_user, {"role": Role.TEACHER})

    assert "dernier administrateur actif" in refused.value.messages[0]
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMINISTRATOR and not AuditLogEntry.objects.exists()


def test_the_last_active_administrator_cannot_be_deactivated(establishment, admin_user):
    # An inactive administrator does not count as another one.
    UserFactory(username="ancien", establishment=establishment, role=Role.ADMINISTRATOR, is_active=False)

    with pytest.raises(ValidationError):
        users.staff_user_set_active(establishment, admin_user, admin_user, active=False)

    admin_user.refresh_from_db()
    assert admin_user.is_active and not AuditLogEntry.objects.exists()


def test_with_a_second_administrator_the_first_may_step_down(establishment, admin_user):
    UserFactory(username="admin2", establishment=establishment, role=Role.ADMINISTRATOR)

    users.staff_user_update(establishment, admin_user, admin_user, {"role": Role.TEACHER})

    admin_user.refresh_from_db()
    assert admin_user.role == Role.TEACHER


def test_a_deactivated_user_cannot_log_in_and_a_reactivated_one_can(establishment, admin_user, teacher):
    assert users.staff_user_set_active(establishment, admin_user, teacher, active=False)
    assert not logs_in("prof")

    assert users.staff_user_set_active(establishment, admin_user, teacher, active=True)
    assert logs_in("prof")
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["Utilisateur désactivé", "Utilisateur réactivé"]
    assert User.objects.filter(pk=teacher.pk).exists()  # nothing is deleted


def test_deactivating_twice_records_once(establishment, admin_user, teacher):
    users.staff_user_set_active(establishment, admin_user, teacher, active=False)
    assert not users.staff_user_set_active(establishment, admin_user, teacher, active=False)
    assert AuditLogEntry.objects.count() == 1


def test_a_reset_stops_the_old_password_and_emails_a_link(
    establishment, admin_user, teacher, mailoutbox, django_capture_on_commit_callbacks
):
    teacher.email = "prof@ac-paris.fr"
    teacher.save()

    with django_capture_on_commit_callbacks(execute=True):
        users.staff_user_reset_password(establishment, admin_user, teacher)

    assert not logs_in("prof")
    assert [message.to for message in mailoutbox] == [["prof@ac-paris.fr"]]
    assert "réinitialisé" in mailoutbox[0].subject
    assert AuditLogEntry.objects.get().action == "Mot de passe réinitialisé"


def test_a_reset_without_an_address_is_refused_and_changes_nothing(establishment, admin_user, teacher):
    with pytest.raises(ValidationError) as refused:
        users.staff_user_reset_password(establishment, admin_user, teacher)

    assert "n'a pas d'adresse e-mail" in refused.value.messages[0]
    assert logs_in("prof")
    assert not AuditLogEntry.objects.exists()


def test_the_list_holds_this_schools_staff_only(
    establishment, admin_user, principal, teacher, student_user, outsider
):
    listed = set(users.establishment_staff_users(establishment).values_list("username", flat=True))
    assert listed == {"admin", "chef", "prof"}
    assert users.establishment_staff_user(establishment, outsider.pk) is None
    assert users.establishment_staff_user(establishment, student_user.pk) is None
