"""Student accounts, the pages: creating them from the list, the sheets, the forced password change
and the list's empty states (docs/accounts.md, "Student accounts")."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import InitialPassword
from accounts.sessions import AUTHENTICATED_AT
from establishments.models import AuditLogEntry, Role, User
from tests.factories import PASSWORD, EstablishmentFactory, StudentFactory, UserFactory

PASSWORD_ON_SHEET = re.compile(r'class="mono">([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})<')


def create_url(establishment):
    return reverse("student-accounts-create", args=[establishment.uai])


def sheet_url(establishment, class_code):
    return f"{reverse('student-login-sheet', args=[establishment.uai])}?classe={class_code}"


@pytest.fixture
def a_class(establishment):
    return [
        StudentFactory(establishment=establishment, class_code="2MV1", first_name="Léa", last_name="DURAND"),
        StudentFactory(establishment=establishment, class_code="2MV1", first_name="Noé", last_name="N'GUYEN"),
    ]


def test_the_administrator_creates_a_class_s_accounts_and_gets_the_sheet_once(
    client_for, admin_user, establishment, a_class, settings
):
    settings.SITE_URL = "https://cerisepro.example.org"
    StudentFactory(establishment=establishment, class_code="2MV2")  # another class: untouched
    client = client_for(admin_user)

    response = client.post(create_url(establishment), {"portee": "classe", "classe": "2MV1"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "lea.durand" in page and "noe.nguyen" in page and "https://cerisepro.example.org" in page
    passwords = PASSWORD_ON_SHEET.findall(page)
    assert len(set(passwords)) == 2
    assert "ne seront plus jamais affichés" in page
    assert "no-store" in response["Cache-Control"]  # not kept by the browser or a proxy
    assert User.objects.filter(role=Role.STUDENT).count() == 2
    # Printing again shows the logins only: the passwords are gone for good.
    again = client.get(sheet_url(establishment, "2MV1")).content.decode()
    assert "lea.durand" in again and not any(password in again for password in passwords)


def test_the_administrator_creates_one_ticked_student_s_account(
    client_for, admin_user, establishment, a_class
):
    response = client_for(admin_user).post(
        create_url(establishment), {"portee": "selection", "eleves": [a_class[1].public_id]}
    )

    assert response.status_code == 200 and "noe.nguyen" in response.content.decode()
    assert list(User.objects.filter(role=Role.STUDENT).values_list("username", flat=True)) == ["noe.nguyen"]


def test_existing_accounts_are_skipped_and_said_so_unless_reset(
    client_for, admin_user, establishment, a_class
):
    client = client_for(admin_user)
    client.post(create_url(establishment), {"portee": "classe", "classe": "2MV1"})

    response = client.post(create_url(establishment), {"portee": "classe", "classe": "2MV1"}, follow=True)
    page = response.content.decode()
    assert "2 élèves ont déjà un compte, laissé tel quel" in page and "DURAND Léa" in page
    assert not PASSWORD_ON_SHEET.search(page)

    reset = client.post(
        create_url(establishment), {"portee": "classe", "classe": "2MV1", "reinitialiser": "on"}
    )
    assert len(PASSWORD_ON_SHEET.findall(reset.content.decode())) == 2
    assert "2 mots de passe réinitialisés" in reset.content.decode()


def test_an_account_for_a_student_of_another_school_is_404_and_creates_nothing(
    client_for, admin_user, establishment, other_establishment, a_class
):
    theirs = StudentFactory(establishment=other_establishment)

    response = client_for(admin_user).post(
        create_url(establishment), {"portee": "selection", "eleves": [a_class[0].public_id, theirs.public_id]}
    )

    assert response.status_code == 404
    assert not User.objects.filter(role=Role.STUDENT).exists() and not AuditLogEntry.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"portee": "selection"}, "Cochez au moins un élève dans la liste."),
        ({"portee": "classe"}, "Choisissez d&#x27;abord une classe"),
        ({"portee": "classe", "classe": "9ZZ9"}, "Aucun élève actif dans cette classe."),
        ({"portee": "selection", "eleves": ["pas-un-uuid"]}, "La sélection d&#x27;élèves est invalide"),
    ],
)
def test_an_incomplete_request_says_why_in_french_and_changes_nothing(
    client_for, admin_user, establishment, a_class, data, message
):
    response = client_for(admin_user).post(create_url(establishment), data, follow=True)

    assert message in response.content.decode()
    assert not User.objects.filter(role=Role.STUDENT).exists()


@pytest.mark.parametrize("persona", ["principal", "teacher"])
def test_teachers_and_principals_print_the_logins_but_create_nothing(
    client_for, personas, admin_user, establishment, a_class, persona
):
    client_for(admin_user).post(
        create_url(establishment), {"portee": "selection", "eleves": [a_class[0].public_id]}
    )
    client = client_for(personas[persona])

    sheet = client.get(sheet_url(establishment, "2MV1")).content.decode()
    refused = client.post(create_url(establishment), {"portee": "classe", "classe": "2MV1"})

    assert "lea.durand" in sheet and "Mot de passe initial" not in sheet
    assert "Sans compte (1)" in sheet and "N&#x27;GUYEN Noé" in sheet
    assert refused.status_code == 403
    assert list(User.objects.filter(student_record__in=a_class).values_list("username", flat=True)) == [
        "lea.durand"
    ]


def test_a_class_of_another_school_is_not_a_class_here(
    client_for, teacher, establishment, other_establishment
):
    StudentFactory(establishment=other_establishment, class_code="TERM9")

    response = client_for(teacher).get(sheet_url(establishment, "TERM9"), follow=True)

    assert "Choisissez une classe" in response.content.decode()


def test_the_first_login_with_an_initial_password_must_set_a_new_one(
    client, client_for, admin_user, establishment, a_class
):
    page = client_for(admin_user).post(
        create_url(establishment), {"portee": "selection", "eleves": [a_class[0].public_id]}
    )
    password = PASSWORD_ON_SHEET.search(page.content.decode()).group(1)
    client.logout()

    client.post(reverse("login"), {"username": "lea.durand", "password": password})
    home = client.get(reverse("establishment-home", args=[establishment.uai]))
    assert home.status_code == 302 and home["Location"] == reverse("password_change")
    assert "Première connexion" in client.get(reverse("password_change")).content.decode()

    same_again = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": password, "new_password2": password},
    )
    assert "différent du mot de passe initial" in same_again.content.decode()
    assert client.get(reverse("my-passport", args=[establishment.uai]))["Location"] == reverse(
        "password_change"
    )
    new_password = "mon passeport pro, rien qu'à moi"
    changed = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": new_password, "new_password2": new_password},
    )
    assert changed.status_code == 302
    assert client.get(reverse("my-passport", args=[establishment.uai])).status_code == 302
    passport = client.get(reverse("my-passport", args=[establishment.uai]), follow=True)
    assert passport.status_code == 200 and "DURAND" in passport.content.decode()
    assert not InitialPassword.objects.exists()


# --- the list ----------------------------------------------------------------------------------


def test_a_new_school_s_list_tells_the_administrator_to_import_siecle(client_for, db):
    school = EstablishmentFactory()
    admin = UserFactory(establishment=school, role=Role.ADMINISTRATOR)
    teacher = UserFactory(establishment=school, role=Role.TEACHER)
    url = reverse("student-list", args=[school.uai])

    for_admin = client_for(admin).get(url).content.decode()
    assert "importez votre export SIECLE" in for_admin
    assert reverse("siecle-import", args=[school.uai]) in for_admin
    for_teacher = client_for(teacher).get(url).content.decode()
    assert "l'administrateur de l'établissement doit d'abord importer" in for_teacher
    assert reverse("siecle-import", args=[school.uai]) not in for_teacher


def test_a_filter_without_result_offers_to_clear_it(client_for, teacher, establishment, a_class):
    page = (
        client_for(teacher)
        .get(reverse("student-list", args=[establishment.uai]), {"q": "zzz"})
        .content.decode()
    )

    assert "Aucun élève ne correspond à ces critères." in page and "Afficher tous les élèves actifs" in page


def test_the_list_shows_accounts_and_offers_the_actions_by_role(
    client_for, admin_user, teacher, establishment, a_class
):
    departed = StudentFactory(
        establishment=establishment, class_code="2MV1", is_active=False, deactivated_at=timezone.now()
    )
    client_for(admin_user).post(
        create_url(establishment), {"portee": "selection", "eleves": [a_class[0].public_id]}
    )
    url = reverse("student-list", args=[establishment.uai])

    for_admin = client_for(admin_user).get(url, {"classe": "2MV1", "statut": "tous"}).content.decode()
    assert "Créer les comptes de toute la classe 2MV1" in for_admin
    assert f'value="{a_class[1].public_id}"' in for_admin
    assert f'value="{departed.public_id}"' not in for_admin  # a departed student gets no account
    assert "lea.durand" in for_admin and "Imprimer les identifiants de la classe 2MV1" in for_admin
    for_teacher = client_for(teacher).get(url, {"classe": "2MV1"}).content.decode()
    assert "Créer les comptes" not in for_teacher and 'name="eleves"' not in for_teacher
    assert "lea.durand" in for_teacher and "Imprimer les identifiants de la classe 2MV1" in for_teacher


def test_creating_accounts_long_after_the_login_asks_for_the_password_again(
    client_for, admin_user, establishment, a_class, settings
):
    client = client_for(admin_user)
    session = client.session
    session[AUTHENTICATED_AT] = int(time.time()) - settings.REAUTHENTICATION_MINUTES * 60 - 5
    session.save()
    data = {"portee": "classe", "classe": "2MV1"}

    asked = client.post(create_url(establishment), data)
    assert asked.status_code == 200 and "reauth-password" in asked.content.decode()
    assert not User.objects.filter(student_record__in=a_class).exists()

    sheet = client.post(create_url(establishment), {**data, "reauth-password": PASSWORD})
    assert len(PASSWORD_ON_SHEET.findall(sheet.content.decode())) == 2


def test_a_login_without_a_password_is_not_held_on_the_password_page(
    client, client_for, admin_user, establishment, a_class
):
    """An ENT or ProConnect login types no password (docs/connexion.md): the initial one is unused."""
    client_for(admin_user).post(
        create_url(establishment), {"portee": "selection", "eleves": [a_class[0].public_id]}
    )
    student_account = User.objects.get(student_record=a_class[0])

    client.force_login(student_account)  # a login that is not the password form's

    assert client.get(reverse("my-passport", args=[establishment.uai]), follow=True).status_code == 200
    assert InitialPassword.objects.filter(user=student_account).exists()  # still due at a password login
