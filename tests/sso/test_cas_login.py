"""The ENT (CAS 3.0) login, against a real CAS server running in the test (tests/sso/servers.py)."""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from establishments.models import Role
from sso.models import CasLink, CasSession, LoginMode, LoginSettings
from tests.factories import PASSWORD, UserFactory

from .conftest import cas_login, follow, text, ticket_for

SERVICE = "http://testserver/etablissements/{uai}/connexion/ent/"


def _home(uai):
    return reverse("establishment-home", args=[uai])


def test_a_linked_ent_identity_logs_its_user_in(client, cas_server, linked_teacher):
    cas_server.signed_in = "jdupont"
    response = cas_login(client, linked_teacher.establishment.uai)
    assert response.status_code == 200
    assert response.wsgi_request.user == linked_teacher
    assert response.wsgi_request.path == _home(linked_teacher.establishment.uai)
    assert cas_server.validations == 1


def test_the_login_page_offers_the_ent_and_the_establishment_is_chosen_first(
    client, cas_server, linked_teacher
):
    page = client.get(reverse("login"))
    assert "Se connecter avec l'ENT" in text(page)
    cas_server.signed_in = "jdupont"
    choose = client.get(reverse("sso-ent-choose"), {"uai": linked_teacher.establishment.uai.lower()})
    assert choose.status_code == 200 and linked_teacher.establishment.name in text(choose)
    response = follow(client, client.get(choose.context["ent_url"]))
    assert response.wsgi_request.user == linked_teacher


def test_choosing_a_school_without_ent_login_says_so_without_telling_whether_it_exists(client, establishment):
    for uai in (establishment.uai, "0999999Z"):
        response = client.get(reverse("sso-ent-choose"), {"uai": uai})
        assert response.status_code == 400
        assert "ne propose pas la connexion par l'ENT" in text(response)


def test_an_ent_identity_linked_to_nobody_logs_nobody_in_and_creates_no_user(client, cas_server, ent_school):
    users = get_user_model().objects.count()
    cas_server.signed_in = "inconnu"
    response = cas_login(client, ent_school.uai)
    assert response.status_code == 403
    assert "n'est relié à aucun compte cerisepro" in text(response)
    assert not response.wsgi_request.user.is_authenticated
    assert get_user_model().objects.count() == users


def test_an_identity_linked_in_another_establishment_gives_no_access_here(
    client, cas_server, linked_teacher, other_ent_school
):
    # Same ENT, same identifier: linked in A, it opens nothing in B.
    cas_server.signed_in = "jdupont"
    response = cas_login(client, other_ent_school.uai)
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated


def test_a_forged_ticket_is_refused(client, linked_teacher, cas_server):
    url = reverse("sso-cas-login", args=[linked_teacher.establishment.uai])
    response = client.get(url, {"ticket": "ST-forged-by-an-attacker"})
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated
    assert cas_server.validations == 1  # asked to the ENT, which refused it


def test_a_replayed_ticket_is_refused(client, cas_server, linked_teacher):
    uai = linked_teacher.establishment.uai
    ticket = ticket_for(cas_server, "jdupont", SERVICE.format(uai=uai))
    url = reverse("sso-cas-login", args=[uai])
    assert client.get(url, {"ticket": ticket}).status_code == 302
    client.logout()
    replay = client.get(url, {"ticket": ticket})
    assert replay.status_code == 403
    assert not replay.wsgi_request.user.is_authenticated


def test_a_ticket_issued_for_another_service_is_refused(client, cas_server, linked_teacher):
    ticket = ticket_for(cas_server, "jdupont", "https://pronote.example.fr/cas")
    url = reverse("sso-cas-login", args=[linked_teacher.establishment.uai])
    response = client.get(url, {"ticket": ticket})
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated


def test_a_ticket_of_another_establishments_service_url_is_refused(
    client, cas_server, linked_teacher, other_ent_school
):
    # Issued for B's service URL, presented to A's: the ENT refuses it (INVALID_SERVICE).
    ticket = ticket_for(cas_server, "jdupont", SERVICE.format(uai=other_ent_school.uai))
    response = client.get(
        reverse("sso-cas-login", args=[linked_teacher.establishment.uai]), {"ticket": ticket}
    )
    assert response.status_code == 403


def test_an_ent_that_does_not_answer_leaves_the_password_login(client, cas_server, linked_teacher):
    cas_server.stop()
    url = reverse("sso-cas-login", args=[linked_teacher.establishment.uai])
    response = client.get(url, {"ticket": "ST-whatever"})
    assert response.status_code == 503
    assert "L'ENT ne répond pas" in text(response)
    assert "mot de passe cerisepro" in text(response)
    cas_server.start()  # the fixture stops it again


def test_an_establishment_without_ent_login_has_no_ent_page(client, establishment):
    assert client.get(reverse("sso-cas-login", args=[establishment.uai])).status_code == 404


def test_an_inactive_account_is_not_logged_in(client, cas_server, linked_teacher):
    linked_teacher.is_active = False
    linked_teacher.save()
    cas_server.signed_in = "jdupont"
    assert cas_login(client, linked_teacher.establishment.uai).status_code == 403


def test_a_user_with_a_second_factor_still_types_the_code(client, cas_server, ent_school):
    admin = UserFactory(username="admin-ent", establishment=ent_school, role=Role.ADMINISTRATOR)
    TOTPDevice.objects.create(user=admin, name="app", confirmed=True)
    CasLink.objects.create(establishment=ent_school, user=admin, cas_user="admin.ent")
    cas_server.signed_in = "admin.ent"
    response = cas_login(client, ent_school.uai)
    assert response.wsgi_request.path == reverse("otp-verify")
    home = client.get(_home(ent_school.uai))
    assert home.status_code == 302 and home.headers["Location"].startswith(reverse("otp-verify"))


def test_the_next_page_is_kept_through_the_ent(client, cas_server, linked_teacher):
    uai = linked_teacher.establishment.uai
    cas_server.signed_in = "jdupont"
    target = reverse("student-list", args=[uai])
    response = follow(client, client.get(reverse("sso-cas-login", args=[uai]), {"next": target}))
    assert response.wsgi_request.path == target


def test_logout_goes_through_the_ent_logout(client, cas_server, linked_teacher):
    cas_server.signed_in = "jdupont"
    cas_login(client, linked_teacher.establishment.uai)
    response = client.post(reverse("logout"))
    assert response.headers["Location"] == reverse("sso-ent-logout")
    page = client.get(response.headers["Location"])
    assert not page.wsgi_request.user.is_authenticated
    logout_url = page.context["logout_url"]
    assert logout_url.startswith(f"{cas_server.server_url}logout?service=")
    assert f'content="0;url={logout_url}"' in text(page)  # goes on to the ENT at once
    requests.get(logout_url, timeout=5)
    assert cas_server.logouts == ["http://testserver/connexion/"]
    # Shown once: the next visit is a plain login page.
    assert client.get(reverse("sso-ent-logout")).headers["Location"] == reverse("login")


def test_a_password_session_logs_out_as_before(client, admin_user):
    client.post(reverse("login"), {"username": "admin", "password": PASSWORD})
    response = client.post(reverse("logout"))
    assert response.headers["Location"] == reverse("login")


def test_the_ents_single_logout_request_ends_the_session(client, cas_server, linked_teacher):
    uai = linked_teacher.establishment.uai
    ticket = ticket_for(cas_server, "jdupont", SERVICE.format(uai=uai))
    url = reverse("sso-cas-login", args=[uai])
    client.get(url, {"ticket": ticket})
    assert client.get(_home(uai)).status_code == 200
    # The ENT's back-channel POST (no CSRF token, no cookie: another client).
    from django.test import Client

    ent = Client(enforce_csrf_checks=True)
    assert ent.post(url, {"logoutRequest": cas_server.logout_request(ticket)}).status_code == 200
    assert client.get(_home(uai)).status_code == 302
    assert not CasSession.objects.exists()


def test_the_single_logout_also_ends_a_session_whose_key_changed_at_the_second_factor(
    client, cas_server, ent_school
):
    from django.test import Client

    from tests.security.otp import current_code

    admin = UserFactory(username="admin-ent", establishment=ent_school, role=Role.ADMINISTRATOR)
    device = TOTPDevice.objects.create(user=admin, name="app", confirmed=True)
    CasLink.objects.create(establishment=ent_school, user=admin, cas_user="admin.ent")
    ticket = ticket_for(cas_server, "admin.ent", SERVICE.format(uai=ent_school.uai))
    url = reverse("sso-cas-login", args=[ent_school.uai])
    client.get(url, {"ticket": ticket})
    client.post(reverse("otp-verify"), {"otp_token": current_code(device)})  # a new session key
    assert client.get(_home(ent_school.uai)).status_code == 200
    Client().post(url, {"logoutRequest": cas_server.logout_request(ticket)})
    response = client.get(_home(ent_school.uai))
    assert response.status_code == 302 and response.headers["Location"] == reverse("login")
    assert "déconnecté depuis l'ENT" in text(client.get(reverse("login")))


def test_a_single_logout_request_for_an_unknown_ticket_ends_nothing(client, cas_server, linked_teacher):
    uai = linked_teacher.establishment.uai
    cas_server.signed_in = "jdupont"
    cas_login(client, uai)
    url = reverse("sso-cas-login", args=[uai])
    assert client.post(url, {"logoutRequest": cas_server.logout_request("ST-other")}).status_code == 200
    assert client.post(url, {"logoutRequest": "<not xml"}).status_code == 200
    assert client.get(_home(uai)).status_code == 200


@pytest.mark.parametrize(
    "role,allowed",
    [(Role.TEACHER, False), (Role.STUDENT, False), (Role.ADMINISTRATOR, True), (Role.PRINCIPAL, True)],
)
def test_ent_only_refuses_passwords_except_to_the_management(client, ent_school, role, allowed):
    LoginSettings.objects.filter(establishment=ent_school).update(mode=LoginMode.ENT)
    UserFactory(username="someone", establishment=ent_school, role=role)
    response = client.post(reverse("login"), {"username": "someone", "password": PASSWORD})
    assert (response.status_code == 302) is allowed


def test_during_the_transition_passwords_still_work(client, ent_school, teacher):
    response = client.post(reverse("login"), {"username": "prof", "password": PASSWORD})
    assert response.status_code == 302


def test_the_idle_timeout_applies_to_an_ent_session(client, cas_server, linked_teacher, settings):
    import time

    from accounts.sessions import LAST_ACTIVITY

    cas_server.signed_in = "jdupont"
    cas_login(client, linked_teacher.establishment.uai)
    session = client.session
    session[LAST_ACTIVITY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 - 5
    session.save()
    response = client.get(_home(linked_teacher.establishment.uai))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("login"))


def test_an_ent_answering_something_else_than_cas_is_treated_as_down(client, cas_server, linked_teacher):
    # The address of a page that is not a CAS server (an error page, a portal's home page).
    LoginSettings.objects.update(cas_server_url=f"{cas_server.url}/ailleurs/")
    url = reverse("sso-cas-login", args=[linked_teacher.establishment.uai])
    response = client.get(url, {"ticket": "ST-whatever"})
    assert response.status_code == 503
    assert not response.wsgi_request.user.is_authenticated


def test_a_next_that_leaves_the_site_is_ignored(client, cas_server, linked_teacher):
    cas_server.signed_in = "jdupont"
    url = reverse("sso-cas-login", args=[linked_teacher.establishment.uai])
    response = follow(client, client.get(url, {"next": "https://evil.example/"}))
    assert response.wsgi_request.path == _home(linked_teacher.establishment.uai)
