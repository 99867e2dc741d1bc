"""Security headers on every response: CSP, HSTS, framing, referrer, content sniffing, cookies."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return {name: value for name, value in directives}


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_pages_carry_the_strict_content_security_policy(client, url_name):
    response = client.get(reverse(url_name), secure=True)

    assert policy(response) == POLICY
    assert "unsafe" not in response["Content-Security-Policy"]


def test_school_pages_carry_the_policy_and_the_other_headers(client, admin_user):
    client.force_login(admin_user)

    response = client.get(reverse("student-list", args=[admin_user.establishment.uai]), secure=True)

    assert policy(response) == POLICY
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_error_pages_carry_the_policy(client, admin_user, other_establishment):
    client.force_login(admin_user)

    response = client.get(reverse("student-list", args=[other_establishment.uai]), secure=True)

    assert response.status_code == 404 and policy(response) == POLICY


def test_the_csrf_cookie_is_secure(client):
    response = client.get(reverse("login"), secure=True)

    assert response.cookies["csrftoken"]["secure"]
