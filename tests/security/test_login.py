"""Login: throttling with a French lockout page, no open redirect through ``next``, password rules,
and sessions that expire."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cerisepro.security import client_ip

from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
WRONG = "pas-le-bon-mot-de-passe"


def attempt(client: Client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def fail_until_locked(client: Client, username: str = "admin") -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, username, WRONG).status_code == 200


def test_five_failed_logins_lock_the_account_out_with_a_french_page(client, admin_user):
    fail_until_locked(client)

    response = attempt(client, "admin", WRONG)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Connexion temporairement bloquée" in page and "15 minutes" in page
    assert "admin" not in page.replace("administrateur", "")  # the username is not echoed back


def test_a_locked_out_user_is_refused_even_with_the_right_password(client, admin_user):
    fail_until_locked(client)
    attempt(client, "admin", WRONG)

    response = attempt(client, "admin", PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_locked_account_does_not_lock_the_other_users_of_the_same_computer(client, admin_user, principal):
    fail_until_locked(client)
    attempt(client, "admin", WRONG)

    assert attempt(client, "chef", PASSWORD).status_code == 302


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def test_guesses_spread_over_addresses_lock_the_account(admin_user):
    """Five failures from one address, more from others, then the right password: refused."""
    fail_until_locked(from_address("192.0.2.1"))
    attempt(from_address("192.0.2.1"), "admin", WRONG)
    for n in range(2, 6):
        attempt(from_address(f"192.0.2.{n}"), "admin", WRONG)

    response = attempt(from_address("198.51.100.7"), "admin", PASSWORD)

    assert response.status_code == 429
    assert "pour ce compte" in response.content.decode()


def test_five_failures_from_five_addresses_lock_the_account(admin_user):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(from_address(f"192.0.2.{n + 1}"), "admin", WRONG)

    assert attempt(from_address("198.51.100.7"), "admin", PASSWORD).status_code == 429


def test_guesses_over_many_accounts_from_one_address_lock_the_address(establishment):
    """32 guesses over 8 accounts (4 each, under the account limit) from one address."""
    users = [UserFactory(username=f"user-{n}", establishment=establishment) for n in range(8)]
    attacker = from_address("203.0.113.5")
    statuses = [attempt(attacker, user.username, WRONG).status_code for user in users for _ in range(4)]

    assert statuses.count(429) == 32 - settings.AXES_IP_FAILURE_LIMIT + 1
    assert attempt(attacker, users[0].username, PASSWORD).status_code == 429
    assert "depuis votre réseau" in attempt(attacker, users[1].username, PASSWORD).content.decode()
    assert attempt(from_address("198.51.100.7"), users[0].username, PASSWORD).status_code == 302, (
        "the accounts themselves are not locked: their owners log in from elsewhere"
    )


def test_a_school_behind_one_address_survives_its_pupils_typos(establishment):
    pupils = [UserFactory(username=f"eleve-{n}", establishment=establishment) for n in range(25)]
    school = from_address("203.0.113.9")
    for pupil in pupils:
        attempt(school, pupil.username, WRONG)

    assert attempt(school, pupils[0].username, PASSWORD).status_code == 302


def test_attempts_during_a_lock_do_not_extend_it(client, admin_user):
    """A pupil behind the school's address cannot keep a teacher locked out for ever."""
    fail_until_locked(client)
    attempt(client, "admin", WRONG)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=10))
    for _ in range(10):
        assert attempt(client, "admin", WRONG).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - datetime.timedelta(minutes=6))

    assert attempt(client, "admin", PASSWORD).status_code == 302


def test_the_lockout_page_says_how_long_is_left(client, admin_user):
    fail_until_locked(client)
    attempt(client, "admin", WRONG)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=10))

    page = attempt(client, "admin", WRONG).content.decode()

    assert "bloquée pendant 5 minutes" in page


def test_the_owner_of_a_locked_account_is_emailed_once_in_french(client, admin_user, mailoutbox):
    admin_user.email = "camille.martin@example.org"
    admin_user.save()
    fail_until_locked(client)
    assert mailoutbox == []

    attempt(client, "admin", WRONG)
    for _ in range(3):
        attempt(client, "admin", WRONG)
        attempt(from_address("192.0.2.44"), "admin", PASSWORD)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["camille.martin@example.org"]
    assert "temporairement bloquée" in message.subject
    assert "bloquée pendant 15 minutes" in message.body
    for personal in ("admin", "Camille", "Martin", "127.0.0.1", "192.0.2.44"):
        assert personal not in message.body.replace("administrateur", "")


def test_the_owner_is_emailed_again_for_a_later_lock(client, admin_user, mailoutbox):
    admin_user.email = "camille.martin@example.org"
    admin_user.save()
    fail_until_locked(client)
    attempt(client, "admin", WRONG)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))

    fail_until_locked(client)
    attempt(client, "admin", WRONG)

    assert len(mailoutbox) == 2


def test_no_email_for_a_username_nobody_has_or_an_address_lock(client, establishment, mailoutbox):
    users = [
        UserFactory(username=f"u{n}", email=f"u{n}@example.org", establishment=establishment)
        for n in range(8)
    ]
    for user in users:
        for _ in range(4):
            attempt(client, user.username, WRONG)
    for _ in range(5):
        attempt(from_address("192.0.2.80"), "personne", WRONG)

    assert mailoutbox == []


@pytest.mark.parametrize(
    "remote,forwarded,expected",
    [
        ("203.0.113.5", "", "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not from our proxy: the header is ignored
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own entry is ignored
        ("127.0.0.1", "198.51.100.1, 10.0.0.2", "198.51.100.1"),  # two proxies of ours
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "not-an-address", "127.0.0.1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(remote, forwarded, expected, rf, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_a_forged_x_forwarded_for_does_not_escape_the_address_lock(establishment, settings):
    settings.TRUSTED_PROXIES = []
    users = [UserFactory(username=f"user-{n}", establishment=establishment) for n in range(8)]
    for n, user in enumerate(users):
        for k in range(4):
            Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"10.1.{n}.{k}").post(
                reverse("login"), {"username": user.username, "password": WRONG}
            )

    assert attempt(from_address("203.0.113.5"), users[0].username, PASSWORD).status_code == 429


def test_behind_our_proxy_each_client_is_counted_on_its_own(establishment, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    users = [UserFactory(username=f"user-{n}", establishment=establishment) for n in range(8)]
    for n, user in enumerate(users):
        for _ in range(4):
            Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").post(
                reverse("login"), {"username": user.username, "password": WRONG}
            )

    proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert attempt(proxied, users[0].username, PASSWORD).status_code == 302


def test_the_lockout_ends_after_fifteen_minutes(client, admin_user):
    fail_until_locked(client)
    attempt(client, "admin", WRONG)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))

    assert attempt(client, "admin", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_failure_count(client, admin_user):
    fail_until_locked(client)
    assert attempt(client, "admin", PASSWORD).status_code == 302
    client.logout()

    fail_until_locked(client)

    assert attempt(client, "admin", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client, staff_user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("admin:login"), {"username": "support", "password": WRONG})

    response = client.post(reverse("admin:login"), {"username": "support", "password": WRONG})

    assert response.status_code == 429


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "http:evil.example",
        "https://evil.example@testserver/",
        "javascript:alert(1)",
    ],
)
def test_login_ignores_a_next_that_leaves_the_site(client, admin_user, target):
    response = client.post(
        reverse("login") + "?next=x", {"username": "admin", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_login_ignores_a_next_in_the_query_string_that_leaves_the_site(client, admin_user):
    response = client.post(
        reverse("login") + "?next=https://evil.example/", {"username": "admin", "password": PASSWORD}
    )

    assert response["Location"] == reverse("home")


def test_login_follows_a_next_inside_the_site(client, admin_user):
    target = reverse("student-list", args=[admin_user.establishment.uai])

    response = client.post(reverse("login"), {"username": "admin", "password": PASSWORD, "next": target})

    assert response["Location"] == target


def test_logout_ignores_a_next_that_leaves_the_site(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("logout"), {"next": "https://evil.example/"})

    assert response.status_code == 302 and "evil" not in response["Location"]


@pytest.mark.parametrize(
    "password",
    [
        "court-2026",
        "123456789012345",
        "password1234",
        "camillemartin2026",
        "adminadminadmin",
        "admin-2026-admin",
    ],
)
def test_weak_passwords_are_refused(admin_user, password):
    admin_user.first_name, admin_user.last_name = "Camille", "Martin2026"
    with pytest.raises(ValidationError):
        validate_password(password, admin_user)


@pytest.mark.parametrize(
    "password", ["loginlogin", "LoginLogin!!", "login-2026-login", "nigolnigol12", "Lôgin.Login.26"]
)
def test_a_password_made_of_the_login_is_refused_in_french(password):
    user = UserFactory.build(username="login", first_name="Camille", last_name="Martin")

    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)

    assert "ressemble trop à votre identifiant" in " ".join(refused.value.messages)


def test_a_passphrase_that_contains_the_login_among_other_words_is_accepted():
    user = UserFactory.build(username="prof", first_name="Camille", last_name="Martin")

    validate_password("professeur-de-cuisine-au-lycee", user)


def test_the_password_change_page_refuses_the_login_written_twice(client, admin_user):
    admin_user.username = "cmartin"
    admin_user.save()
    client.force_login(admin_user)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "cmartincmartin", "new_password2": "cmartincmartin"},
    )

    assert response.status_code == 200
    assert "ressemble trop à votre identifiant" in response.content.decode()


def test_a_long_passphrase_is_accepted(admin_user):
    validate_password("une-cerise-sur-le-gateau-2026", admin_user)


def test_a_session_lasts_eight_hours_at_most_and_ends_with_the_browser(client, admin_user):
    response = attempt(client, "admin", PASSWORD)

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["max-age"] and not cookie["expires"], "a browser-session cookie"
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    expires = Session.objects.get().expire_date
    assert abs(expires - (timezone.now() + datetime.timedelta(hours=8))) < datetime.timedelta(minutes=1)


def test_an_expired_session_sends_back_to_the_login_page(client, admin_user):
    attempt(client, "admin", PASSWORD)
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))

    response = client.get(reverse("student-list", args=[admin_user.establishment.uai]))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
