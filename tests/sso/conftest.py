"""Fixtures of the connector tests: the protocol servers, a school that logs in through its ENT,
and a client that follows redirects across cerisepro and those servers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from establishments.models import Role
from sso.models import CasLink, LoginMode, LoginSettings
from tests.factories import EstablishmentFactory, UserFactory

from .servers import CasServer, OidcProvider


@pytest.fixture
def cas_server(settings):
    settings.SSO_ALLOW_HTTP = True  # the fixture speaks plain http on 127.0.0.1
    server = CasServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def oidc_provider(settings, db):
    settings.SSO_ALLOW_HTTP = True
    provider = OidcProvider()
    provider.start()
    settings.PROCONNECT_DISCOVERY_URL = f"{provider.url}/.well-known/openid-configuration"
    settings.PROCONNECT_CLIENT_ID = provider.client_id
    settings.PROCONNECT_CLIENT_SECRET = provider.client_secret
    yield provider
    provider.stop()


@pytest.fixture
def ent_school(establishment, cas_server):
    LoginSettings.objects.create(
        establishment=establishment, mode=LoginMode.BOTH, cas_server_url=cas_server.server_url
    )
    return establishment


@pytest.fixture
def other_ent_school(db, cas_server):
    """Another establishment on the same ENT (one region's ENT serves many schools)."""
    school = EstablishmentFactory(uai="0750656F", name="Lycée Voltaire")
    LoginSettings.objects.create(
        establishment=school, mode=LoginMode.BOTH, cas_server_url=cas_server.server_url
    )
    return school


@pytest.fixture
def linked_teacher(ent_school):
    teacher = UserFactory(username="prof-ent", establishment=ent_school, role=Role.TEACHER)
    CasLink.objects.create(establishment=ent_school, user=teacher, cas_user="jdupont")
    return teacher


def follow(client, response, limit: int = 10):
    """Follow redirects as a browser would: cerisepro's through the test client, the fixture
    servers' over HTTP. Returns the last response (cerisepro's, or the fixture's)."""
    for _ in range(limit):
        if response.status_code not in (301, 302, 303):
            return response
        location = response.headers["Location"]
        parts = urlsplit(location)
        if not parts.netloc or parts.hostname == "testserver":
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = client.get(path)
        else:
            response = requests.get(location, allow_redirects=False, timeout=5)
    raise AssertionError("too many redirects")


def cas_login(client, uai: str):
    """ "Se connecter avec l'ENT" for the establishment, through the ENT, back to cerisepro."""
    return follow(client, client.get(f"/etablissements/{uai}/connexion/ent/"))


def ticket_for(cas_server: CasServer, user: str, service: str) -> str:
    """A real ticket the ENT issued for ``user`` and ``service`` (as after a login there)."""
    return urlsplit(cas_server.issue(user, service)).query.split("ticket=")[1]


def text(response) -> str:
    """The page's text as a user reads it (entities such as &#x27; decoded)."""
    import html

    return html.unescape(response.content.decode())
