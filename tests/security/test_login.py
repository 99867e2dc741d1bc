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
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ..factories import PASSWORD

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


def test_the_lockout_is_per_username_and_address(client, admin_user, principal):
    fail_until_locked(client)
    attempt(client, "admin", WRONG)

    assert attempt(client, "chef", PASSWORD).status_code == 302, "another user of the same computer"
    other_computer = Client(REMOTE_ADDR="192.0.2.10")
    assert attempt(other_computer, "admin", PASSWORD).status_code == 302, "the same user elsewhere"


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


@pytest.mark.parametrize("password", ["court-2026", "123456789012345", "password1234", "camillemartin2026"])
def test_weak_passwords_are_refused(admin_user, password):
    admin_user.first_name, admin_user.last_name = "Camille", "Martin2026"
    with pytest.raises(ValidationError):
        validate_password(password, admin_user)


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
