"""CSRF: every state-changing form refuses a POST without the token (403), for the persona who is
allowed to post it; the login, logout and password forms and the Django admin's forms too.

The project's URLs come from tests/test_tenancy.py's MATRIX, so a new form is covered as soon as it
is pinned there.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ..test_tenancy import MATRIX, PERSONAS, ctx  # noqa: F401
from ..transfers.manual_factories import authorisation, left_student, refused_for_diploma

REFUSED = {403, 404, 405}


def _allowed_poster(post_statuses: dict[str, int]) -> str:
    return next(p for p in PERSONAS if p != "anonymous" and post_statuses[p] not in REFUSED)


MATRIX_POSTS = [
    pytest.param(name, _allowed_poster(post), id=f"{name}-{_allowed_poster(post)}")
    for name, (_kwargs, _get, post) in MATRIX.items()
    if post and any(p != "anonymous" and s not in REFUSED for p, s in post.items())
]


def csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def assert_csrf_refused(response) -> None:
    assert response.status_code == 403
    assert "CSRF" in response.content.decode()


def test_every_form_of_the_matrix_is_walked():
    names = {param.values[0] for param in MATRIX_POSTS}
    assert {"settings-details", "siecle-import", "passport-entry-create", "manual-transfers"} <= names


@pytest.mark.parametrize("name,persona", MATRIX_POSTS)
def test_a_post_without_the_token_is_refused(name, persona, personas, ctx):  # noqa: F811
    url = reverse(name, kwargs=MATRIX[name][0](ctx))

    assert_csrf_refused(csrf_client(personas[persona]).post(url, {}))


@pytest.mark.parametrize("name,persona", MATRIX_POSTS)
def test_the_same_post_with_the_token_gets_through(name, persona, personas, ctx):  # noqa: F811
    client = csrf_client(personas[persona])
    url = reverse(name, kwargs=MATRIX[name][0](ctx))
    client.get(reverse("password_change"))  # any form page sets the CSRF cookie

    response = client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert response.status_code == MATRIX[name][2][persona]


def test_the_login_form_refuses_a_post_without_the_token(admin_user):
    assert_csrf_refused(csrf_client().post(reverse("login"), {"username": "admin", "password": "x"}))


def test_logout_refuses_a_post_without_the_token(admin_user):
    client = csrf_client(admin_user)

    assert_csrf_refused(client.post(reverse("logout")))
    assert "_auth_user_id" in client.session


def test_the_password_change_form_refuses_a_post_without_the_token(admin_user):
    assert_csrf_refused(csrf_client(admin_user).post(reverse("password_change"), {}))


def test_the_admin_login_refuses_a_post_without_the_token(staff_user):
    assert_csrf_refused(csrf_client().post(reverse("admin:login"), {"username": "support", "password": "x"}))


@pytest.fixture
def admin_urls(staff_user, establishment, other_establishment, admin_user):
    origin = left_student(establishment)
    refused = refused_for_diploma(left_student(other_establishment), left_student(establishment))
    pending = authorisation(origin, destination_uai=other_establishment.uai)
    return {
        "change form": reverse("admin:establishments_establishment_change", args=[establishment.pk]),
        "add form": reverse("admin:establishments_establishment_add"),
        "user password": reverse("admin:auth_user_password_change", args=[admin_user.pk]),
        "delete": reverse("admin:establishments_user_delete", args=[admin_user.pk]),
        "bulk action": reverse("admin:establishments_user_changelist"),
        "run matching": reverse("admin:transfers_matchingrun_run"),
        "force transfer": reverse("admin:transfers_transfer_force", args=[refused.pk]),
        "execute authorisation": reverse("admin:transfers_manualauthorisation_execute", args=[pending.pk]),
        "cancel authorisation": reverse("admin:transfers_manualauthorisation_cancel", args=[pending.pk]),
        "diagnostic": reverse("admin:transfers_transfer_diagnostic"),
        "logout": reverse("admin:logout"),
    }


ADMIN_FORMS = [
    "change form",
    "add form",
    "user password",
    "delete",
    "bulk action",
    "run matching",
    "force transfer",
    "execute authorisation",
    "cancel authorisation",
    "diagnostic",
    "logout",
]


@pytest.mark.parametrize("form", ADMIN_FORMS)
def test_every_admin_form_refuses_a_post_without_the_token(form, admin_urls, staff_user):
    data = (
        {"action": "delete_selected", "_selected_action": ["1"], "post": "yes"}
        if form == "bulk action"
        else {}
    )

    assert_csrf_refused(csrf_client(staff_user).post(admin_urls[form], data))
