""" "Mot de passe oublié ?": the link by e-mail, the same answer for any address, the throttling, and
the lockout page and e-mail that point to it (docs/accounts.md §Password reset, §Lockout)."""

from __future__ import annotations

import datetime
import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import Client
from django.urls import reverse

from accounts.password_reset import password_reset_request, password_reset_throttle
from establishments.models import Role

from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "une-phrase-de-passe-pour-la-rentree"
WRONG = "pas-le-bon-mot-de-passe"
LINK = re.compile(r"https?://\S+/mot-de-passe-oublie/\S+/\S+/")
SENT = "Si un compte cerisepro actif correspond à cette adresse"
EXPIRED = "Ce lien a déjà servi ou il a expiré"


@pytest.fixture
def teacher_with_email(teacher):
    teacher.email = "claire.durand@ac-paris.fr"
    teacher.save()
    return teacher


def ask(client: Client, email: str):
    return client.post(reverse("password_reset"), {"email": email}, follow=True)


def link_in(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(0)


def choose(client: Client, link: str, password: str, confirmation: str | None = None):
    page = client.get(link, follow=True)  # Django moves the token into the session first
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    data = {"new_password1": password, "new_password2": confirmation or password}
    return client.post(form_url, data, follow=True)


def logs_in(username: str, password: str) -> bool:
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def test_a_reset_by_email_ends_in_a_successful_login(client, teacher_with_email, mailoutbox):
    page = ask(client, "Claire.Durand@AC-PARIS.fr")

    assert SENT in page.content.decode()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["claire.durand@ac-paris.fr"]
    assert "prof" in mailoutbox[0].body  # the login, which the user may have forgotten too
    done = choose(client, link_in(mailoutbox[0]), NEW_PASSWORD)
    assert "Mot de passe enregistré" in done.content.decode()
    assert logs_in("prof", NEW_PASSWORD)
    assert not logs_in("prof", PASSWORD)


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, teacher_with_email, mailoutbox):
    known = ask(client, "claire.durand@ac-paris.fr")
    unknown = ask(Client(), "personne@ac-paris.fr")

    assert unknown.redirect_chain == known.redirect_chain == [(reverse("password_reset_done"), 302)]
    assert unknown.content == known.content
    assert len(mailoutbox) == 1


def test_a_deactivated_account_gets_no_email(client, teacher_with_email, mailoutbox):
    teacher_with_email.is_active = False
    teacher_with_email.save()
    assert SENT in ask(client, "claire.durand@ac-paris.fr").content.decode()
    assert mailoutbox == []


def test_a_weak_password_is_refused_in_french_and_the_link_still_works(
    client, teacher_with_email, mailoutbox
):
    ask(client, "claire.durand@ac-paris.fr")
    link = link_in(mailoutbox[0])

    refused = choose(client, link, "court-2026")

    assert refused.status_code == 200
    assert "trop court" in refused.content.decode() and "12 caractères" in refused.content.decode()
    teacher_with_email.refresh_from_db()
    assert teacher_with_email.check_password(PASSWORD)  # nothing changed (a login would void the link)
    assert "Mot de passe enregistré" in choose(client, link, NEW_PASSWORD).content.decode()


def test_a_link_used_twice_is_refused_the_second_time(client, teacher_with_email, mailoutbox):
    ask(client, "claire.durand@ac-paris.fr")
    link = link_in(mailoutbox[0])
    choose(client, link, NEW_PASSWORD)

    again = choose(Client(), link, "encore-une-autre-phrase-de-passe")

    assert EXPIRED in again.content.decode()
    assert logs_in("prof", NEW_PASSWORD)


def test_an_expired_link_is_refused(client, teacher_with_email, mailoutbox, monkeypatch):
    ask(client, "claire.durand@ac-paris.fr")
    link = link_in(mailoutbox[0])
    later = datetime.datetime.now() + datetime.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)

    page = choose(Client(), link, NEW_PASSWORD)

    assert EXPIRED in page.content.decode()
    assert logs_in("prof", PASSWORD)


def test_the_link_of_an_account_deactivated_since_is_refused(client, teacher_with_email, mailoutbox):
    ask(client, "claire.durand@ac-paris.fr")
    teacher_with_email.is_active = False
    teacher_with_email.save()

    assert EXPIRED in choose(Client(), link_in(mailoutbox[0]), NEW_PASSWORD).content.decode()


def test_a_new_account_without_a_password_may_use_the_form(client, establishment, mailoutbox):
    user = UserFactory(username="nouveau", email="nouveau@ac-paris.fr", establishment=establishment)
    user.set_unusable_password()  # as created on Paramètres › Utilisateurs, its welcome link expired
    user.save()

    ask(client, "nouveau@ac-paris.fr")
    choose(client, link_in(mailoutbox[0]), NEW_PASSWORD)

    assert logs_in("nouveau", NEW_PASSWORD)


# --- Throttling ---------------------------------------------------------------------------------


def test_a_fourth_request_for_one_address_within_the_hour_sends_nothing(teacher_with_email, mailoutbox):
    answers = [ask(Client(REMOTE_ADDR=f"192.0.2.{n}"), "claire.durand@ac-paris.fr") for n in range(4)]

    assert all(SENT in answer.content.decode() for answer in answers)  # the same answer each time
    assert len(mailoutbox) == settings.PASSWORD_RESET_PER_ADDRESS == 3


def test_the_address_limit_ends_with_its_window(teacher_with_email, mailoutbox):
    now = 1_800_000_000.0
    for _ in range(4):
        password_reset_request("claire.durand@ac-paris.fr", "192.0.2.1", now)
    assert len(mailoutbox) == 3

    password_reset_request("claire.durand@ac-paris.fr", "192.0.2.1", now + 3600)
    assert len(mailoutbox) == 4


def test_one_client_asking_for_many_addresses_is_told_to_wait(teacher_with_email, mailoutbox):
    client = Client(REMOTE_ADDR="192.0.2.7")
    for n in range(settings.PASSWORD_RESET_PER_CLIENT):
        assert ask(client, f"personne{n}@ac-paris.fr").status_code == 200

    refused = client.post(reverse("password_reset"), {"email": "claire.durand@ac-paris.fr"})

    assert refused.status_code == 429
    assert "Trop de demandes de réinitialisation depuis votre réseau" in refused.content.decode()
    assert mailoutbox == []
    # Another client is not held back.
    assert SENT in ask(Client(REMOTE_ADDR="198.51.100.3"), "claire.durand@ac-paris.fr").content.decode()


def test_the_limits_count_unknown_addresses_too(db):
    now = 1_800_000_000.0
    results = [password_reset_throttle("personne@ac-paris.fr", f"192.0.2.{n}", now) for n in range(4)]
    assert [result.address_blocked for result in results] == [False, False, False, True]


# --- Lockout ------------------------------------------------------------------------------------


def lock(username: str, client: Client | None = None) -> Client:
    client = client or Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": username, "password": WRONG})
    return client


def test_the_lockout_page_points_to_the_reset_but_names_nobody(establishment, admin_user, teacher):
    admin_user.first_name, admin_user.last_name = "Hélène", "Proviseure-Adjointe"
    admin_user.save()
    client = lock("prof")

    page = client.post(reverse("login"), {"username": "prof", "password": WRONG}).content.decode()

    assert reverse("password_reset") in page
    assert "Proviseure-Adjointe" not in page and establishment.name not in page


def test_the_same_lockout_page_for_a_username_nobody_has(establishment, admin_user):
    known = lock("admin").post(reverse("login"), {"username": "admin", "password": WRONG})
    unknown = lock("personne").post(reverse("login"), {"username": "personne", "password": WRONG})
    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content


def test_the_lockout_email_names_the_other_administrators_and_the_reset(
    establishment, admin_user, teacher_with_email, mailoutbox
):
    UserFactory(
        username="admin2",
        establishment=establishment,
        role=Role.ADMINISTRATOR,
        first_name="Paul",
        last_name="N'Diaye",
    )
    UserFactory(
        username="parti",
        establishment=establishment,
        role=Role.ADMINISTRATOR,
        is_active=False,
        last_name="Ancien",
    )

    lock("prof")

    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    assert "Camille Martin, Paul N'Diaye" in body  # unescaped: a plain-text e-mail
    assert "Ancien" not in body
    assert reverse("password_reset") in body


def test_a_reset_lifts_the_accounts_lock(client, teacher_with_email, mailoutbox):
    lock("prof")
    assert not logs_in("prof", PASSWORD)

    ask(client, "claire.durand@ac-paris.fr")
    choose(client, link_in(mailoutbox[-1]), NEW_PASSWORD)

    assert not AccessAttempt.objects.filter(username="prof").exists()
    assert logs_in("prof", NEW_PASSWORD)


def test_a_signed_in_user_locked_at_the_confirmation_sees_the_administrators(
    client, establishment, admin_user, teacher, settings
):
    """The re-authentication page: there the school is known from the session, not from a name typed."""
    settings.REAUTHENTICATION_MINUTES = 0
    UserFactory(username="admin2", establishment=establishment, role=Role.ADMINISTRATOR, last_name="Bernard")
    client.force_login(admin_user)
    url = reverse("settings-user-active", args=[establishment.uai, teacher.pk])
    response = None
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {"active": "non", "reauth-password": WRONG})

    assert response is not None and response.status_code == 429
    page = response.content.decode()
    assert "Camille Bernard" in page and reverse("password_reset") in page
    teacher.refresh_from_db()
    assert teacher.is_active
