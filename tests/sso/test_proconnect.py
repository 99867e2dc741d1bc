"""ProConnect (OpenID Connect) for technical staff, against a real provider running in the test
(tests/sso/servers.py: discovery, PKCE, RS256 ID tokens signed with an RSA key, JWKS)."""

from __future__ import annotations

from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from establishments.models import Role
from sso.models import StaffEmailAllowance
from tests.factories import StaffFactory, UserFactory

from .conftest import follow, text

AGENT_EMAIL = "agent@numerique.gouv.fr"


def _proconnect(client):
    return follow(client, client.get(reverse("sso-proconnect-login")))


def _allow(user, email=AGENT_EMAIL, **fields):
    return StaffEmailAllowance.objects.create(email=email, user=user, **fields)


def test_an_allowed_address_logs_its_staff_account_in_and_the_second_factor_follows(client, oidc_provider):
    staff = StaffFactory(username="agent")
    TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    _allow(staff)
    response = _proconnect(client)
    assert response.wsgi_request.user == staff
    assert response.wsgi_request.path == reverse("otp-verify")
    # The admin stays closed until the code is typed (the provider asserted only a password).
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 302 and admin.headers["Location"].startswith(reverse("otp-verify"))
    allowance = StaffEmailAllowance.objects.get()
    assert allowance.subject == "agent-0001" and allowance.last_login_at is not None


def test_staff_without_a_second_factor_are_sent_to_set_one_up(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    assert _proconnect(client).wsgi_request.path == reverse("otp-setup")


def test_the_flow_uses_pkce_and_a_nonce(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    start = client.get(reverse("sso-proconnect-login"))
    authorize = start.headers["Location"]
    assert "code_challenge_method=S256" in authorize and "nonce=" in authorize and "state=" in authorize
    follow(client, start)
    (token_request,) = oidc_provider.token_requests
    assert token_request["code_verifier"] and token_request["grant_type"] == "authorization_code"


def test_the_address_is_compared_without_case(client, oidc_provider):
    staff = StaffFactory(username="agent")
    _allow(staff, email="Agent@Numerique.gouv.fr")
    assert _proconnect(client).wsgi_request.user == staff


def test_an_address_nobody_allowed_logs_nobody_in(client, oidc_provider):
    StaffFactory(username="agent", email=AGENT_EMAIL)  # same address on the account: not enough
    response = _proconnect(client)
    assert response.status_code == 403
    assert "n'est pas autorisée" in text(response)
    assert not response.wsgi_request.user.is_authenticated


def test_an_allowance_for_a_school_account_opens_nothing(client, oidc_provider, establishment):
    school_admin = UserFactory(username="adm", establishment=establishment, role=Role.ADMINISTRATOR)
    _allow(school_admin)
    assert _proconnect(client).status_code == 403


def test_an_id_token_with_a_wrong_nonce_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.tamper = {"nonce": "a-nonce-of-another-login"}
    response = _proconnect(client)
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated


def test_an_id_token_for_another_client_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.tamper = {"aud": "another-service"}
    response = _proconnect(client)
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated


def test_an_id_token_signed_by_another_key_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.tamper = {"foreign_key": True}
    response = _proconnect(client)
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated


def test_an_id_token_from_another_issuer_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.tamper = {"iss": "https://idp.example.org"}
    assert _proconnect(client).status_code == 403


def test_an_expired_id_token_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.tamper = {"exp": 1_000_000_000, "iat": 999_999_000}
    assert _proconnect(client).status_code == 403


def test_a_state_that_is_not_the_sessions_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.tamper = {"state": "state-of-an-attackers-login"}
    response = _proconnect(client)
    assert response.status_code == 403
    assert not response.wsgi_request.user.is_authenticated
    assert oidc_provider.token_requests == []  # the code was never exchanged


def test_a_return_without_a_started_login_is_refused(client, oidc_provider):
    response = client.get(reverse("sso-proconnect-callback"), {"code": "x", "state": "y"})
    assert response.status_code == 403


def test_an_address_handed_over_to_another_agent_opens_nothing(client, oidc_provider):
    _allow(StaffFactory(username="agent"), subject="agent-0001")
    oidc_provider.agent = {"sub": "agent-0002", "email": AGENT_EMAIL}
    assert _proconnect(client).status_code == 403


def test_only_a_superuser_allows_addresses_in_the_admin(client_for, staff_user, db):
    from django.contrib.auth.models import Permission

    add = reverse("admin:sso_staffemailallowance_add")
    helpdesk = StaffFactory(username="helpdesk", is_superuser=False)
    # Even with Django's permissions on the model, a staff member who is not a superuser cannot.
    helpdesk.user_permissions.set(Permission.objects.filter(content_type__app_label="sso"))
    assert client_for(helpdesk).get(add).status_code == 403
    superuser = staff_user  # StaffFactory's accounts are superusers
    client = client_for(superuser)
    assert client.get(add).status_code == 200
    response = client.post(add, {"email": "Agent@Numerique.gouv.fr", "user": staff_user.pk})
    assert response.status_code == 302
    allowance = StaffEmailAllowance.objects.get()
    assert allowance.email == AGENT_EMAIL and allowance.created_by == superuser


def test_the_login_page_offers_proconnect_only_when_configured(client, settings, db):
    assert "ProConnect" not in text(client.get(reverse("login")))
    settings.PROCONNECT_DISCOVERY_URL = "https://idp.example.org/.well-known/openid-configuration"
    settings.PROCONNECT_CLIENT_ID = "x"
    assert "Se connecter avec ProConnect" in text(client.get(reverse("login")))


def test_the_address_may_come_from_a_signed_userinfo_as_proconnect_sends_it(client, oidc_provider):
    staff = StaffFactory(username="agent")
    _allow(staff)
    oidc_provider.email_in_userinfo = True
    assert _proconnect(client).wsgi_request.user == staff


def test_a_userinfo_for_another_agent_or_signed_by_another_key_is_refused(client, oidc_provider):
    _allow(StaffFactory(username="agent"))
    oidc_provider.email_in_userinfo = True
    for tamper in ({"userinfo_sub": "agent-0002"}, {"userinfo_foreign_key": True}):
        client.logout()
        oidc_provider.tamper = dict(tamper)
        response = _proconnect(client)
        assert response.status_code == 403
        assert not response.wsgi_request.user.is_authenticated
